//! kiln: an ahead-of-time compiler from ONNX models to dependency-free `#![no_std]` Rust
//! with a static memory plan.
//!
//! From a firmware crate's `build.rs`:
//!
//! ```no_run
//! // build.rs
//! let out = std::env::var("OUT_DIR").unwrap();
//! kiln::Build::new("model.onnx")
//!     .input_shape("input_1", &[1, 3, 32, 32])
//!     .emit(&out)
//!     .expect("kiln could not compile the model");
//! ```
//!
//! and in the crate: `#[forbid(unsafe_code)] mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }`.
//!
//! The stages live in their own crates, re-exported here: [`frontend`] (ONNX to IR), [`ir`]
//! (graph, shape inference, reference semantics), [`passes`] (memory planning) and
//! [`codegen`] (Rust emitter).

pub mod bench;
#[doc(hidden)]
pub mod fuzzing;
pub mod harness;
pub mod report;

pub use kiln_codegen as codegen;
pub use kiln_frontend as frontend;
pub use kiln_ir as ir;
pub use kiln_passes as passes;

use kiln_codegen::{EmitKind, Generated, Provenance, RustOptions};
use kiln_ir::{Graph, Target, Tensor};
use kiln_passes::MemoryPlan;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything that can go wrong, by stage. Each message names the node, op and opset where
/// there is one, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Frontend(#[from] kiln_frontend::FrontendError),
    #[error("the graph is not valid:\n{}", .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"))]
    Verify(Vec<kiln_ir::Diagnostic>),
    #[error(transparent)]
    Codegen(#[from] kiln_codegen::CodegenError),
    #[error("{0}")]
    Pass(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file at `path` is not what it should be (not an ONNX model, not a tensor file):
    /// the frontend's error, which does not know the path, naming the file.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        // Boxed: the frontend's error is large, and this variant would make every
        // `Result<_, Error>` as large.
        source: Box<kiln_frontend::FrontendError>,
    },
    #[error("{0}")]
    Usage(String),
    #[error(
        "the model needs an activation arena of {arena} bytes (lower bound {lower_bound}), more \
         than the limit of {limit} bytes; the largest activation is {largest}. Use a smaller \
         input shape or model, or raise the limit with --max-arena-bytes"
    )]
    ArenaTooLarge {
        arena: u64,
        lower_bound: u64,
        limit: u64,
        largest: String,
    },
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Options of one compilation.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Shapes for graph inputs whose dimensions the model leaves symbolic.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Graph inputs fixed at compile time (`--bind-input NAME=FILE.pb`), with the file
    /// they came from for the generated header: see `LoadOptions::bound_inputs`.
    pub bound_inputs: BTreeMap<String, (Tensor, String)>,
    /// Name of the generated crate (`--emit crate`); defaults to the model file's stem.
    pub crate_name: Option<String>,
    /// What kiln accepts before refusing a model as too big or too strange.
    pub limits: Limits,
    /// `-O0` (no passes, no aliasing) or `-O2` (the default: everything).
    pub opt_level: kiln_passes::OptLevel,
    /// What the generated code may assume (`--target`; default: the machine kiln runs on).
    pub target: Target,
}

/// Default for [`Limits::arena_bytes`]: 4 GiB, more than a 32-bit device can address.
pub const DEFAULT_MAX_ARENA_BYTES: u64 = 1 << 32;

/// Limits that protect kiln (and the build it runs in) from hostile or broken models. Each
/// has a `kiln` flag of the same name (`--max-file-bytes`, ...); raise one only for a model
/// you trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest model file, in bytes (default 2 GiB, protobuf's own limit).
    pub file_bytes: u64,
    /// Largest element count of any one tensor (default 2^31).
    pub tensor_elements: u64,
    /// Most nodes, counting subgraphs (default 100,000).
    pub nodes: usize,
    /// Deepest subgraph nesting (default 16; the decoder refuses more than about 30).
    pub depth: usize,
    /// Largest activation arena the memory plan may need (default 4 GiB).
    pub arena_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: kiln_frontend::DEFAULT_MAX_FILE_BYTES,
            tensor_elements: kiln_frontend::DEFAULT_MAX_TENSOR_ELEMENTS,
            nodes: kiln_frontend::DEFAULT_MAX_NODES,
            depth: kiln_frontend::DEFAULT_MAX_DEPTH,
            arena_bytes: DEFAULT_MAX_ARENA_BYTES,
        }
    }
}

impl CompileOptions {
    /// The options the middle of the compilation takes.
    pub fn passes_options(&self) -> kiln_passes::CompileOptions {
        kiln_passes::CompileOptions {
            opt_level: self.opt_level,
            target: self.target,
        }
    }

    /// The options as provenance lines for the generated header.
    fn describe(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .input_shapes
            .iter()
            .map(|(k, v)| {
                let dims: Vec<String> = v.iter().map(|d| d.to_string()).collect();
                format!("--input-shape {k}={}", dims.join("x"))
            })
            .collect();
        for (k, (_, from)) in &self.bound_inputs {
            v.push(format!("--bind-input {k}={from}"));
        }
        if self.opt_level == kiln_passes::OptLevel::O0 {
            v.push("-O0".into());
        }
        v
    }
}

/// A compiled model: the IR, its memory plan and the generated files.
pub struct Compiled {
    /// The graph after optimisation.
    pub graph: Graph,
    /// Nodes as imported, before optimisation.
    pub nodes_before: usize,
    /// What each pass did, in order (empty at `-O0`).
    pub passes: Vec<kiln_passes::PassReport>,
    pub plan: MemoryPlan,
    pub generated: Generated,
    pub model_sha256: String,
    /// What the generated code may assume.
    pub target: Target,
}

/// Parses a shape written as `1x3x32x32`.
pub fn parse_dims(s: &str) -> Result<Vec<usize>, Error> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(['x', 'X', ','])
        .map(|d| {
            d.trim().parse::<usize>().map_err(|_| {
                Error::Usage(format!(
                    "bad dimension {d:?} in shape {s:?}; write e.g. 1x3x32x32"
                ))
            })
        })
        .collect()
}

/// Parses a byte count as the size flags take it (`--max-arena-bytes 128K`): plain bytes,
/// or a number with a suffix K, M, G (powers of 1024, as most firmware tools read them) or
/// KiB, MiB, GiB (the same), in any case, with an optional `B` (`128KB`, `64kib`).
pub fn parse_bytes(s: &str) -> Result<u64, Error> {
    let bad = || {
        Error::Usage(format!(
            "bad size {s:?}: write bytes (131072) or a number with K, M or G (powers of 1024, \
             also KiB, MiB, GiB), e.g. 128K or 4MiB"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| {
        Error::Usage(format!(
            "size {s:?} is too large (more than {} bytes)",
            u64::MAX
        ))
    })
}

/// Parses `--input-shape NAME=1x3x32x32`.
pub fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>), Error> {
    let (name, dims) = s.rsplit_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--input-shape {s:?}: write NAME=DIMS, e.g. input=1x3x32x32"
        ))
    })?;
    Ok((name.to_string(), parse_dims(dims)?))
}

/// Loads a model into IR: the front half of [`compile`], also used by `kiln inspect`.
/// The graph is not verified here; [`compile_graph`] and `kiln inspect` verify it.
pub fn load(model: &Path, opts: &CompileOptions) -> Result<(Graph, String), Error> {
    let bytes = kiln_frontend::read_model_file(model, opts.limits.file_bytes)?;
    let sha = hex(&Sha256::digest(&bytes));
    let load_opts = kiln_frontend::LoadOptions {
        input_shapes: opts.input_shapes.clone(),
        bound_inputs: opts
            .bound_inputs
            .iter()
            .map(|(k, (t, _))| (k.clone(), t.clone()))
            .collect(),
        max_file_bytes: opts.limits.file_bytes,
        max_tensor_elements: opts.limits.tensor_elements,
        max_nodes: opts.limits.nodes,
        max_depth: opts.limits.depth,
    };
    // A bare file name's parent is "", which the external-data checks cannot canonicalize.
    let base = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let graph = kiln_frontend::load_model_bytes(&bytes, Some(base), &load_opts)
        .map_err(|e| with_bind_hint(model_file_error(model, e)))?;
    Ok((graph, sha))
}

/// A loading error, naming the model file when the error is about the file as a whole (it
/// is not an ONNX model); errors about a node name the node instead.
pub fn model_file_error(model: &Path, e: kiln_frontend::FrontendError) -> Error {
    use kiln_frontend::FrontendError as F;
    match e {
        F::Decode(_) | F::NotOnnx { .. } => Error::File {
            path: model.to_path_buf(),
            source: Box::new(e),
        },
        e => e.into(),
    }
}

/// Reads a tensor file (`--bind-input`, [`Build::bind_input`]): a serialized `TensorProto`.
/// Every error names the file.
pub fn read_tensor_file(path: &Path) -> Result<Tensor, Error> {
    use kiln_frontend::FrontendError as F;
    kiln_frontend::read_tensor_pb(path)
        .map(|(_, t)| t)
        .map_err(|e| match e {
            // These name the file already.
            e @ (F::Io { .. } | F::FileTooLarge { .. }) => e.into(),
            e => Error::File {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
        })
}

/// What to do about a value kiln needs at compile time that a graph input leaves to run time.
pub const BIND_INPUT_HINT: &str = "if it is a graph input, fix its value at compile time \
     with --bind-input NAME=FILE.pb (Build::bind_input in build.rs)";

/// Makes an error saying a value is "only known at run time" name `--bind-input` and
/// [`Build::bind_input`], wherever in the compiler it was raised.
fn with_bind_hint(mut e: Error) -> Error {
    fn hint(s: &mut String) {
        if !s.contains("only known at run time") {
            return;
        }
        if !s.contains("--bind-input") {
            s.push_str("; ");
            s.push_str(BIND_INPUT_HINT);
        } else if !s.contains("Build::bind_input") {
            s.push_str(" (Build::bind_input in build.rs)");
        }
    }
    use kiln_frontend::FrontendError as F;
    match &mut e {
        Error::Frontend(
            F::Node { message: s, .. }
            | F::Attribute { message: s, .. }
            | F::Tensor { message: s, .. }
            | F::Graph(s)
            | F::InputShape(s)
            | F::Limit(s),
        )
        | Error::Pass(s) => hint(s),
        Error::Frontend(F::Unsupported(list)) => {
            for u in list {
                if let Some(r) = &mut u.reason {
                    hint(r);
                }
            }
        }
        Error::Verify(diags) => {
            for d in diags {
                hint(&mut d.message);
            }
        }
        _ => {}
    }
    e
}

/// Compiles a model to Rust source in memory.
pub fn compile(model: &Path, kind: EmitKind, opts: &CompileOptions) -> Result<Compiled, Error> {
    let (graph, sha) = load(model, opts)?;
    let file_name = model
        .file_name()
        .map_or_else(|| "model.onnx".into(), |f| f.to_string_lossy().into_owned());
    compile_graph(graph, &file_name, sha, kind, opts)
}

/// Verifies, lowers, optimises and plans an imported graph ([`kiln_passes::compile`]):
/// the middle of [`compile_graph`], also used by `kiln inspect`.
pub fn plan(graph: Graph, opts: &CompileOptions) -> Result<kiln_passes::Planned, Error> {
    kiln_passes::compile(graph, &opts.passes_options()).map_err(|e| with_bind_hint(e.into()))
}

impl From<kiln_passes::CompileError> for Error {
    fn from(e: kiln_passes::CompileError) -> Self {
        match e {
            kiln_passes::CompileError::Verify(d) => Error::Verify(d),
            other => Error::Pass(other.to_string()),
        }
    }
}

/// Compiles an IR graph that did not come from a file (tests, other frontends).
/// `model_file` and `sha256` only go into the provenance header.
pub fn compile_graph(
    graph: Graph,
    model_file: &str,
    sha256: String,
    kind: EmitKind,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    emit_planned(plan(graph, opts)?, model_file, sha256, kind, opts)
}

/// The back half of [`compile_graph`]: checks the arena against the limit, then lowers the
/// planned graph and prints it as Rust.
pub fn emit_planned(
    planned: kiln_passes::Planned,
    model_file: &str,
    sha256: String,
    kind: EmitKind,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    let arena = planned.plan.arena_bytes() as u64;
    if arena > opts.limits.arena_bytes {
        return Err(Error::ArenaTooLarge {
            arena,
            lower_bound: planned.plan.lower_bound_bytes() as u64,
            limit: opts.limits.arena_bytes,
            largest: largest_buffer(planned.graph(), &planned.plan),
        });
    }
    let stem = Path::new(model_file)
        .file_stem()
        .map_or_else(|| "model".into(), |f| f.to_string_lossy().into_owned());
    let rust_opts = RustOptions {
        step_hook: false,
        module_name: opts.crate_name.clone().unwrap_or(stem),
        provenance: Provenance {
            kiln_version: env!("CARGO_PKG_VERSION").to_string(),
            model_file: model_file.to_string(),
            model_sha256: sha256.clone(),
            options: opts.describe(),
        },
        target: planned.target,
        kernels: kernel_choice(planned.opt_level),
    };
    let generated = kiln_codegen::emit_rust(&planned.verified(), &planned.plan, kind, &rust_opts)
        .map_err(|e| with_bind_hint(e.into()))?;
    Ok(Compiled {
        graph: planned.graph.into_graph(),
        nodes_before: planned.nodes_before,
        passes: planned.passes,
        plan: planned.plan,
        generated,
        model_sha256: sha256,
        target: planned.target,
    })
}

/// The biggest activation of a plan, as `"name" (N bytes, output of node "n" (Op))`.
/// The kernels the lowering may pick at `level`: the reference kernels at `-O0`, the
/// fastest the target has above.
pub fn kernel_choice(level: kiln_passes::OptLevel) -> kiln_codegen::KernelChoice {
    if level == kiln_passes::OptLevel::O0 {
        kiln_codegen::KernelChoice::Reference
    } else {
        kiln_codegen::KernelChoice::Fast
    }
}

fn largest_buffer(graph: &Graph, plan: &MemoryPlan) -> String {
    let Some(b) = plan
        .buffers
        .iter()
        .max_by_key(|b| b.len * b.dtype.size_bytes())
    else {
        return "none".into();
    };
    let bytes = b.len * b.dtype.size_bytes();
    let producer = b
        .producer(graph)
        .map(|n| {
            let node = graph.node(n);
            let what = if b.scratch_of.is_some() {
                "scratch space"
            } else {
                "output"
            };
            format!(", {what} of node {:?} ({})", node.name, node.onnx_op)
        })
        .unwrap_or_default();
    format!("{:?} ({bytes} bytes{producer})", b.name(graph))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes generated files under `out` so that a reader never sees a half-written result:
/// everything goes to a sibling temporary directory first, which is renamed into place.
/// For [`EmitKind::Module`] `out` is the `.rs` file; for [`EmitKind::Crate`] a directory,
/// which may exist only if kiln generated it.
pub fn write_output(generated: &Generated, kind: EmitKind, out: &Path) -> Result<(), Error> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".kiln-tmp-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    for f in &generated.files {
        let p = tmp.path().join(&f.path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        std::fs::write(&p, &f.contents).map_err(|e| Error::io(&p, e))?;
    }
    match kind {
        EmitKind::Module => {
            let file = generated
                .files
                .first()
                .ok_or_else(|| Error::Usage("the emitter produced no file".into()))?;
            let src = tmp.path().join(&file.path);
            std::fs::rename(&src, out).map_err(|e| Error::io(out, e))?;
        }
        EmitKind::Crate => {
            if out.exists() {
                let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap_or_default();
                if !manifest.contains("generated by kiln") {
                    return Err(Error::Usage(format!(
                        "{} exists and is not a crate kiln generated; choose another output directory or remove it",
                        out.display()
                    )));
                }
                std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
            }
            let kept = tmp.keep();
            std::fs::rename(&kept, out).map_err(|e| Error::io(out, e))?;
        }
    }
    Ok(())
}

/// The build.rs entry point: compiles a model into `OUT_DIR` on every build.
#[derive(Clone, Debug)]
pub struct Build {
    model: PathBuf,
    opts: CompileOptions,
    /// Set by [`Build::target`]; otherwise cargo's target when run from a build script.
    target: Option<Target>,
    file_name: String,
    /// Inputs bound to `.pb` files, read when the model is compiled.
    bind_files: Vec<(String, PathBuf)>,
}

/// A value for [`Build::bind_input`]: a tensor, or the path of a `.pb` file holding one.
#[derive(Clone, Debug)]
pub enum BoundValue {
    Tensor(Tensor),
    File(PathBuf),
}

impl From<Tensor> for BoundValue {
    fn from(t: Tensor) -> Self {
        BoundValue::Tensor(t)
    }
}

impl From<&Path> for BoundValue {
    fn from(p: &Path) -> Self {
        BoundValue::File(p.to_path_buf())
    }
}

impl From<PathBuf> for BoundValue {
    fn from(p: PathBuf) -> Self {
        BoundValue::File(p)
    }
}

impl From<&str> for BoundValue {
    fn from(p: &str) -> Self {
        BoundValue::File(p.into())
    }
}

impl Build {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Build {
            model: model.into(),
            opts: CompileOptions::default(),
            target: None,
            file_name: "model.rs".into(),
            bind_files: Vec::new(),
        }
    }

    /// Pins the shape of an input whose dimensions the model leaves symbolic.
    pub fn input_shape(mut self, name: &str, dims: &[usize]) -> Self {
        self.opts
            .input_shapes
            .insert(name.to_string(), dims.to_vec());
        self
    }

    /// Fixes a graph input to a value at compile time (the CLI's `--bind-input NAME=FILE.pb`),
    /// so the values it decides (a shape, axes, pads, starts...) are folded and it is no
    /// longer an input of the generated code. `value` is a [`Tensor`] or the path of a
    /// `.pb` file (TensorProto); a file that cannot be read fails [`Build::emit`].
    pub fn bind_input(mut self, name: &str, value: impl Into<BoundValue>) -> Self {
        match value.into() {
            BoundValue::Tensor(t) => {
                self.opts
                    .bound_inputs
                    .insert(name.to_string(), (t, "Build::bind_input".into()));
            }
            BoundValue::File(p) => {
                self.bind_files.push((name.to_string(), p));
            }
        }
        self
    }

    /// Replaces the default [`Limits`] (e.g. to state the device's RAM as
    /// [`Limits::arena_bytes`], so the build fails when the model does not fit).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.opts.limits = limits;
        self
    }

    /// `OptLevel::O0` turns every optimisation off (default: `O2`, all of them).
    pub fn opt_level(mut self, level: kiln_passes::OptLevel) -> Self {
        self.opts.opt_level = level;
        self
    }

    /// What the generated code may assume. Default: inside a build script, the target cargo
    /// builds for (`TARGET` and `CARGO_CFG_TARGET_FEATURE`); elsewhere the machine kiln runs on.
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// The options with the target decided: the one set, else cargo's.
    fn options(&self) -> Result<CompileOptions, Error> {
        let mut opts = self.opts.clone();
        for (name, path) in &self.bind_files {
            println!("cargo:rerun-if-changed={}", path.display());
            let t = read_tensor_file(path)?;
            opts.bound_inputs
                .insert(name.clone(), (t, path.display().to_string()));
        }
        let env = |k| std::env::var(k).ok();
        let (target, warning) = default_target(
            self.target,
            env("TARGET").as_deref(),
            env("CARGO_CFG_TARGET_FEATURE").as_deref(),
        );
        if let Some(w) = warning {
            println!("cargo:warning={w}");
        }
        opts.target = target;
        Ok(opts)
    }

    /// Name of the generated file inside the output directory (default `model.rs`).
    pub fn file_name(mut self, name: &str) -> Self {
        self.file_name = name.to_string();
        self
    }

    /// Compiles the model and writes `<out_dir>/<file_name>` (a module). Prints
    /// `cargo:rerun-if-changed` for the model so cargo rebuilds when it changes.
    pub fn emit(self, out_dir: impl AsRef<Path>) -> Result<Compiled, Error> {
        println!("cargo:rerun-if-changed={}", self.model.display());
        let compiled = compile(&self.model, EmitKind::Module, &self.options()?)?;
        write_output(
            &compiled.generated,
            EmitKind::Module,
            &out_dir.as_ref().join(&self.file_name),
        )?;
        Ok(compiled)
    }

    /// Compiles the model into a standalone crate at `dir`.
    pub fn emit_crate(self, dir: impl AsRef<Path>) -> Result<Compiled, Error> {
        println!("cargo:rerun-if-changed={}", self.model.display());
        let compiled = compile(&self.model, EmitKind::Crate, &self.options()?)?;
        write_output(&compiled.generated, EmitKind::Crate, dir.as_ref())?;
        Ok(compiled)
    }
}

/// The target of a [`Build`]: the one set, else cargo's `TARGET` with
/// `CARGO_CFG_TARGET_FEATURE` (inside a build script), else the host. A cargo target kiln
/// does not know gives `generic` (assume nothing) and a warning, not a failed build.
fn default_target(
    set: Option<Target>,
    cargo_target: Option<&str>,
    cargo_features: Option<&str>,
) -> (Target, Option<String>) {
    if let Some(t) = set {
        return (t, None);
    }
    let Some(triple) = cargo_target else {
        return (Target::Host, None);
    };
    match Target::from_cargo_env(triple, cargo_features.unwrap_or_default()) {
        Ok(t) => (t, None),
        Err(e) => (
            Target::Generic,
            Some(format!(
                "kiln: {e}; the generated code assumes nothing about it (set Build::target)"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_bytes_and_binary_suffixes() {
        for (s, n) in [
            ("0", 0),
            ("131072", 131072),
            ("128K", 128 << 10),
            ("128k", 128 << 10),
            ("128KiB", 128 << 10),
            ("128kib", 128 << 10),
            ("128KB", 128 << 10),
            ("4M", 4 << 20),
            ("4MiB", 4 << 20),
            ("1G", 1 << 30),
            ("2gib", 2 << 30),
            (" 64 B", 64),
            ("512 K", 512 << 10),
        ] {
            assert_eq!(parse_bytes(s).unwrap(), n, "{s}");
        }
        for s in ["", "K", "12Q", "1.5M", "-1", "12 KiBs", "0x10", "M12"] {
            let e = parse_bytes(s).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{s:?}")) && e.contains("KiB"),
                "{s}: {e}"
            );
        }
        assert!(
            parse_bytes("99999999999G")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
    }

    #[test]
    fn build_targets_cargos_target_unless_one_is_set() {
        assert_eq!(default_target(None, None, None), (Target::Host, None));
        assert_eq!(
            default_target(
                None,
                Some("thumbv7em-none-eabihf"),
                Some("dsp,thumb2,vfp4d16sp")
            ),
            (Target::Thumbv7em { fpu: true }, None)
        );
        assert_eq!(
            default_target(
                None,
                Some("x86_64-unknown-linux-gnu"),
                Some("avx2,fma,sse2")
            )
            .0,
            Target::X86_64V3
        );
        assert_eq!(
            default_target(
                Some(Target::Thumbv6m),
                Some("x86_64-unknown-linux-gnu"),
                None
            ),
            (Target::Thumbv6m, None)
        );
        let (t, warning) = default_target(None, Some("wasm32-unknown-unknown"), Some(""));
        assert_eq!(t, Target::Generic);
        assert!(warning.is_some_and(|w| w.contains("wasm32-unknown-unknown")));
    }
}
