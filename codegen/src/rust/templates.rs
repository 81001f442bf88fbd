//! The tera templates under `templates/rust/`, embedded so the binary is self-contained.
//! Rendering an undefined variable is an error (tera's behaviour), never an empty string.

use crate::api::CodegenError;
use crate::api::{Provenance, Signature};
use crate::kernels::{Cap, KernelSet};
use crate::literal;
use crate::namer::{escape, quote};
use crate::namer::{port_const, shape_const};
use crate::program::PoolInfo;
use std::collections::BTreeMap;
use tera::{Context, Tera};

const TEMPLATES: [(&str, &str); 6] = [
    (
        "num.rs",
        include_str!("../../templates/rust/kernels/num.rs.tera"),
    ),
    (
        "module.rs",
        include_str!("../../templates/rust/module.rs.tera"),
    ),
    (
        "model.rs",
        include_str!("../../templates/rust/model.rs.tera"),
    ),
    ("lib.rs", include_str!("../../templates/rust/lib.rs.tera")),
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.tera"),
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md.tera"),
    ),
];

fn render(name: &str, ctx: &Context) -> Result<String, CodegenError> {
    let err = |e: tera::Error| CodegenError::Template {
        name: name.to_string(),
        message: error_chain(&e),
    };
    let mut tera = Tera::new();
    let (_, text) =
        TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| CodegenError::Template {
                name: name.to_string(),
                message: "no such template".into(),
            })?;
    tera.add_raw_template(name, text).map_err(err)?;
    tera.render(name, ctx).map_err(err)
}

/// A tera error with its causes (the top level alone often just says "failed to render").
fn error_chain(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

pub(crate) fn render_num(set: &KernelSet) -> Result<String, CodegenError> {
    render("num.rs", &num_context(set))
}

/// A port's template fields.
fn port_maps(ports: &[crate::Port]) -> Vec<BTreeMap<&'static str, String>> {
    ports
        .iter()
        .map(|p| {
            let elem = literal::elem(p.dtype).unwrap_or("()");
            // Empty when the port is not quantized (tera reads "" as false).
            let (scale, zero_point) = p.quant.map_or_else(Default::default, |q| {
                (
                    literal::f32_lit(q.scale),
                    literal::from_f64(p.dtype, q.zero_point as f64).unwrap_or_default(),
                )
            });
            BTreeMap::from([
                ("ident", p.ident.clone()),
                ("elem", elem.to_string()),
                ("zero", zero_of(p.dtype).to_string()),
                ("len", p.len.to_string()),
                ("rank", p.shape.len().to_string()),
                ("shape", literal::usizes(&p.shape)),
                ("shape_const", shape_const(&p.ident)),
                ("elements_const", port_const(&p.ident, "ELEMENTS")),
                ("scale_const", port_const(&p.ident, "SCALE")),
                ("zero_point_const", port_const(&p.ident, "ZERO_POINT")),
                ("scale", scale),
                ("zero_point", zero_point),
                (
                    "doc",
                    format!(
                        "{} ({}{}).",
                        quote(&p.model_name),
                        elem,
                        literal::usizes(&p.shape)
                    ),
                ),
                // Markdown table cell: quoted and escaped, `|` would end the cell.
                ("model_name", quote(&p.model_name).replace('|', "\\|")),
            ])
        })
        .collect()
}

fn zero_of(dtype: kiln_ir::DType) -> &'static str {
    if dtype == kiln_ir::DType::Bool {
        "false"
    } else {
        literal::zero(dtype)
    }
}

/// The module's items (everything below the header and crate attributes).
pub(crate) fn render_body(
    m: &Module,
    run_body: &str,
    kernels: &str,
    statics: &str,
) -> Result<String, CodegenError> {
    let pools: Vec<BTreeMap<&str, String>> = m
        .pools
        .iter()
        .map(|p| {
            let elem = p.dtype.name().to_string();
            BTreeMap::from([
                ("field", elem.clone()),
                ("elem", elem),
                ("len", p.len.to_string()),
                ("zero", zero_of(p.dtype).to_string()),
            ])
        })
        .collect();
    let p = &m.provenance;
    let mut ctx = Context::new();
    ctx.insert("model_name", &literal::string(&m.model_name));
    ctx.insert("model_file", &literal::string(&p.model_file));
    ctx.insert("model_sha256", &literal::string(&p.model_sha256));
    ctx.insert("macs", &m.macs);
    ctx.insert("arena_bytes", &m.arena_bytes);
    ctx.insert("arena_align", &m.arena_align);
    ctx.insert("pools", &pools);
    ctx.insert("inputs", &port_maps(&m.signature.inputs));
    ctx.insert("outputs", &port_maps(&m.signature.outputs));
    ctx.insert("run_body", run_body);
    ctx.insert("step_hook", &m.profiled_steps.is_some());
    ctx.insert("steps", &m.profiled_steps.unwrap_or(0));
    ctx.insert("kernels", kernels.trim_end());
    ctx.insert("statics", statics.trim_end());
    render("module.rs", &ctx)
}

fn file_context(m: &Module) -> Context {
    let mut ctx = Context::new();
    ctx.insert("header", &m.header);
    ctx.insert("body", m.body.trim_end());
    ctx.insert("has_unsafe", &m.has_unsafe);
    ctx.insert("unsafe_module", &m.unsafe_module);
    ctx
}

pub(crate) fn render_module_file(m: &Module) -> Result<String, CodegenError> {
    // A module is pulled in with `include!`, where inner attributes and `//!` docs are not
    // allowed: the header becomes plain comments and the includer adds `forbid(unsafe_code)`.
    let mut ctx = file_context(m);
    let header: Vec<String> = m
        .header
        .lines()
        .map(|l| {
            l.strip_prefix("//!")
                .map_or_else(|| l.to_string(), |rest| format!("//{rest}"))
        })
        .collect();
    ctx.insert("header", &header.join("\n"));
    render("model.rs", &ctx)
}

pub(crate) fn render_lib_file(m: &Module) -> Result<String, CodegenError> {
    render("lib.rs", &file_context(m))
}

fn crate_context(name: &str, m: &Module) -> Context {
    let p = &m.provenance;
    let mut ctx = Context::new();
    ctx.insert("name", name);
    ctx.insert("lib_name", &name.replace('-', "_"));
    ctx.insert("kiln_version", &escape(&p.kiln_version));
    ctx.insert("model_file", &quote(&p.model_file));
    ctx.insert("model_file_toml", &toml_text(&p.model_file));
    ctx.insert("model_sha256", &escape(&p.model_sha256));
    let options: Vec<String> = p.options.iter().map(|o| escape(o)).collect();
    ctx.insert("options", &options);
    ctx
}

/// Text safe inside a TOML basic string: printable ASCII other than `"` and backslash.
fn toml_text(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if (' '..='~').contains(&c) && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(crate) fn render_manifest(name: &str, m: &Module) -> Result<String, CodegenError> {
    render("Cargo.toml", &crate_context(name, m))
}

pub(crate) fn render_readme(name: &str, m: &Module) -> Result<String, CodegenError> {
    let mut ctx = crate_context(name, m);
    let pools: Vec<BTreeMap<&str, String>> = m
        .pools
        .iter()
        .map(|p| {
            BTreeMap::from([
                ("elem", p.dtype.name().to_string()),
                ("len", p.len.to_string()),
                ("bytes", p.bytes().to_string()),
                ("lower_bound", p.lower_bound.to_string()),
            ])
        })
        .collect();
    ctx.insert("pools", &pools);
    ctx.insert("needs_std", &m.needs_std);
    ctx.insert("fuses_at_build", &m.fuses_at_build);
    ctx.insert("has_unsafe", &m.has_unsafe);
    ctx.insert("unsafe_module", &m.unsafe_module);
    ctx.insert("arena_bytes", &m.arena_bytes);
    ctx.insert("macs", &m.macs);
    ctx.insert("lower_bound_bytes", &m.lower_bound_bytes);
    ctx.insert("weight_bytes", &m.weight_bytes);
    ctx.insert(
        "weights_file_bytes",
        &m.weights.as_ref().map_or(0, |w| w.len()),
    );
    ctx.insert("inputs", &port_maps(&m.signature.inputs));
    ctx.insert("outputs", &port_maps(&m.signature.outputs));
    let fields = |ports: &[crate::Port], r: &str| -> String {
        if ports.is_empty() {
            return "..Default::default()".into();
        }
        ports
            .iter()
            .map(|p| format!("{}: {r}{}", p.ident, p.ident))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ctx.insert("input_fields", &fields(&m.signature.inputs, "&"));
    ctx.insert("output_fields", &fields(&m.signature.outputs, "&mut "));
    render("README.md", &ctx)
}

/// Everything the file templates need.
pub(crate) struct Module {
    pub signature: Signature,
    /// The `//!` provenance header.
    pub header: String,
    /// The module's items: interface, `run`, kernels, statics.
    pub body: String,
    pub pools: Vec<PoolInfo>,
    pub arena_bytes: usize,
    /// The arena's alignment on a vector target (its vector width), so the planned offsets
    /// keep their alignment in memory; `None` leaves the elements' own.
    pub arena_align: Option<usize>,
    pub lower_bound_bytes: usize,
    pub weight_bytes: usize,
    pub provenance: Provenance,
    /// With the step hook (`RustOptions::step_hook`): the number of steps.
    pub profiled_steps: Option<usize>,
    /// `MODEL_NAME`: the name the user gave, or the model file's stem.
    pub model_name: String,
    /// Multiply-accumulates of one run.
    pub macs: u64,
    /// Whether the code declares `extern crate std;` (fused multiply-add kernels, `--fma`).
    pub needs_std: bool,
    /// Whether the float vector kernels write `c + a * b` for a target with fused
    /// multiply-add units, so that a build with `-C llvm-args=-fp-contract=fast` fuses them
    /// (the crate README says how).
    pub fuses_at_build: bool,
    /// Whether the code contains `unsafe` (`--intrinsics`): its crate root then has
    /// `deny(unsafe_code)` instead of `forbid(unsafe_code)`.
    pub has_unsafe: bool,
    /// The module that holds that `unsafe` code (`kiln_vnni` or `kiln_dsp`; empty without).
    pub unsafe_module: &'static str,
    /// The weights file's bytes (`RustOptions::weights_file`), if any static is there.
    pub weights: Option<Vec<u8>>,
    /// Its name (`RustOptions::weights_file`).
    pub weights_file: Option<String>,
}

/// The context of `num.rs.tera`: capability flags and one entry per element type.
pub(crate) fn num_context(set: &KernelSet) -> tera::Context {
    let mut caps = std::collections::BTreeMap::new();
    for cap in Cap::ALL {
        let floats_only = cap.is_float() && set.float_types.is_empty();
        caps.insert(cap.key(), set.caps.contains(&cap) && !floats_only);
    }
    let types: Vec<std::collections::BTreeMap<&str, String>> = set
        .num_types
        .iter()
        .map(|&t| {
            std::collections::BTreeMap::from([
                ("name", t.name().to_string()),
                ("zero", crate::literal::zero(t).to_string()),
                ("lowest", crate::literal::lowest(t)),
                ("float", t.is_float().to_string()),
            ])
        })
        .collect();
    let floats: Vec<&str> = set.float_types.iter().map(|t| t.name()).collect();
    let mut ctx = tera::Context::new();
    ctx.insert("caps", &caps);
    ctx.insert("num_types", &types);
    ctx.insert("float_types", &floats);
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_errors() {
        let err = render("model.rs", &Context::new()).unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
    }
}
