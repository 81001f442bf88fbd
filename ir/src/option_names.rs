//! How messages name the options a user can change. The same compiler runs behind kiln's
//! command line and behind `kiln::Build` in a build script, and an error that tells a
//! build.rs author to pass `--input-shape` points at a flag they cannot pass. Every message
//! that asks for an option spells it through [`OptionNames`], which the caller sets.

/// Whose spelling of the options messages use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptionNames {
    /// The `kiln` command's flags: `--input-shape x=1x3x32x32`.
    #[default]
    Cli,
    /// The methods of `kiln::Build`: `.input_shape("x", &[1, 3, 32, 32])`.
    Build,
}

/// The limits on untrusted models, each an option of both interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    FileBytes,
    TensorElements,
    Nodes,
    Depth,
    ArenaBytes,
}

impl OptionNames {
    /// The option pinning input shapes, to name it (`--input-shape`, `Build::input_shape`).
    pub fn input_shape_option(self) -> &'static str {
        match self {
            OptionNames::Cli => "--input-shape",
            OptionNames::Build => "Build::input_shape",
        }
    }

    /// Pinning input `name` to `dims` as the user would write it; `None` writes a
    /// placeholder for the dimensions.
    pub fn input_shape(self, name: &str, dims: Option<&[usize]>) -> String {
        let join = |sep: &str| -> String {
            dims.map_or_else(
                || {
                    if sep == "x" {
                        "DIMS".into()
                    } else {
                        "..".into()
                    }
                },
                |d| {
                    d.iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(sep)
                },
            )
        };
        match self {
            OptionNames::Cli => format!("--input-shape {name}={}", join("x")),
            OptionNames::Build => format!(".input_shape({name:?}, &[{}])", join(", ")),
        }
    }

    /// The option fixing inputs at compile time, to name it.
    pub fn bind_input_option(self) -> &'static str {
        match self {
            OptionNames::Cli => "--bind-input",
            OptionNames::Build => "Build::bind_input",
        }
    }

    /// Binding input `name` (`None`: a placeholder) to a tensor file as the user would write it.
    pub fn bind_input(self, name: Option<&str>) -> String {
        match (self, name) {
            (OptionNames::Cli, n) => format!("--bind-input {}=FILE.pb", n.unwrap_or("NAME")),
            (OptionNames::Build, Some(n)) => format!(".bind_input({n:?}, \"FILE.pb\")"),
            (OptionNames::Build, None) => ".bind_input(NAME, \"FILE.pb\")".into(),
        }
    }

    /// The option raising `limit`.
    pub fn limit(self, limit: Limit) -> &'static str {
        match (self, limit) {
            (OptionNames::Cli, Limit::FileBytes) => "--max-file-bytes",
            (OptionNames::Cli, Limit::TensorElements) => "--max-tensor-elements",
            (OptionNames::Cli, Limit::Nodes) => "--max-nodes",
            (OptionNames::Cli, Limit::Depth) => "--max-depth",
            (OptionNames::Cli, Limit::ArenaBytes) => "--max-arena-bytes",
            (OptionNames::Build, Limit::FileBytes) => ".max_file_bytes(..)",
            (OptionNames::Build, Limit::TensorElements) => ".max_tensor_elements(..)",
            (OptionNames::Build, Limit::Nodes) => ".max_nodes(..)",
            (OptionNames::Build, Limit::Depth) => ".max_depth(..)",
            (OptionNames::Build, Limit::ArenaBytes) => ".max_arena_bytes(..)",
        }
    }

    /// Fused multiply-add kernels (which need `std`).
    pub fn fma(self) -> &'static str {
        match self {
            OptionNames::Cli => "--fma",
            OptionNames::Build => ".fma(true)",
        }
    }

    /// `core::arch` intrinsics in the kernels (which make the code contain `unsafe`).
    pub fn intrinsics(self) -> &'static str {
        match self {
            OptionNames::Cli => "--intrinsics",
            OptionNames::Build => ".intrinsics(true)",
        }
    }

    /// Turning every optimisation off.
    pub fn no_optimisation(self) -> &'static str {
        match self {
            OptionNames::Cli => "-O0",
            OptionNames::Build => ".opt_level(OptLevel::O0)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_interface_spells_its_own_options() {
        let (cli, build) = (OptionNames::Cli, OptionNames::Build);
        assert_eq!(
            cli.input_shape("x", Some(&[1, 3, 32, 32])),
            "--input-shape x=1x3x32x32"
        );
        assert_eq!(
            build.input_shape("x", Some(&[1, 3, 32, 32])),
            ".input_shape(\"x\", &[1, 3, 32, 32])"
        );
        assert_eq!(cli.input_shape("x", None), "--input-shape x=DIMS");
        assert_eq!(build.input_shape("x", None), ".input_shape(\"x\", &[..])");
        assert_eq!(cli.bind_input(Some("s")), "--bind-input s=FILE.pb");
        assert_eq!(
            build.bind_input(Some("s")),
            ".bind_input(\"s\", \"FILE.pb\")"
        );
        // A name that needs escaping stays a valid Rust string literal.
        assert_eq!(
            build.input_shape("a\"b", Some(&[2])),
            ".input_shape(\"a\\\"b\", &[2])"
        );
        for l in [
            Limit::FileBytes,
            Limit::TensorElements,
            Limit::Nodes,
            Limit::Depth,
            Limit::ArenaBytes,
        ] {
            assert!(cli.limit(l).starts_with("--max-"));
            assert!(build.limit(l).starts_with(".max_"));
        }
    }
}
