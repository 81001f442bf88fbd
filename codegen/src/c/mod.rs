//! The C printer: turns a [`Program`] into a C99 `.h`/`.c` pair and a README, and decides
//! nothing. Each step becomes a block that points its operands into their storage (a
//! region of the caller's arena, a weight static, the caller's input or output) and calls
//! its kernels; element functions and epilogues become `static` functions passed by
//! pointer (`elem.rs`); the kernels in use are instantiated per element type
//! (`library.rs`). Anything the C library does not spell yet is an error naming the node,
//! never partial output.
//!
//! Spelling rules for [`Arg`]s, the contract with `templates/c/kernels/`: every sequence is
//! a pointer and its length (an operand `x0, 1234`; sizes `(const size_t[]){..}, 3`); a
//! struct field that is a sequence is the field and `<field>_len`; an optional operand
//! absent is `NULL, 0`; a `Maybe` is a flag and its value; a function is its pointer and
//! its context.

mod call;
mod elem;
mod elem_data;
mod gemm;
mod library;
mod lit;

use crate::api::{CodegenError, NodeError, Provenance};
use crate::namer::escape;
use crate::program::{Access, Home, Operand, Program, Step, StepKind};
use crate::writer::Writer;
use kiln_ir::{DType, Tensor};
use lit::{ctype, unsupported};
use std::collections::{BTreeMap, BTreeSet};

/// The arena's alignment and that of each pool inside it: the largest element type's
/// (`int64_t`, `double`), so every pool's pointer is aligned for its elements.
pub const ARENA_ALIGN: usize = 8;

/// The printed files.
pub(crate) struct CFiles {
    pub(crate) header: String,
    pub(crate) source: String,
    pub(crate) readme: String,
}

/// One pool of the arena at its byte offset.
struct Pool {
    dtype: DType,
    offset: usize,
    bytes: usize,
    len: usize,
}

/// What the printer collects while spelling the steps.
#[derive(Default)]
struct Lib {
    fns: elem::Fns,
    /// Kernel instances in order of first use: name and text.
    instances: Vec<(String, String)>,
    shared: BTreeSet<&'static str>,
    /// Scratch arrays declared so far (each gets a name of its own).
    scratch: usize,
}

impl Lib {
    /// The instance of `func` for these operand types, instantiated on first use.
    fn kernel(&mut self, func: &str, types: &[DType]) -> Result<String, String> {
        // The float micro-kernels' drivers, printed with the program's tiling.
        if gemm::DRIVERS.contains(&func) {
            if let Some(d) = types.iter().find(|&&d| d != DType::F32) {
                return Err(unsupported(&format!("{func} on {d}")));
            }
            return Ok(format!("{func}_f32"));
        }
        let k = library::kernel(func).ok_or_else(|| unsupported(&format!("kernel {func}")))?;
        // A reduction's groups: a type and its iterator per input element type, first.
        if func == "reduce" {
            self.kernel("reduce_group", &types[..types.len().min(1)])?;
        }
        let (name, text) = library::instance(func, &k, types)?;
        if !self.instances.iter().any(|(n, _)| *n == name) {
            self.shared.extend(k.deps.iter().copied());
            self.instances.push((name.clone(), text));
        }
        Ok(name)
    }
}

/// A C identifier from `raw` (the model's stem, say): invalid characters become `_`, a
/// leading digit or a keyword gets a prefix.
pub fn c_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) || is_keyword(&s) {
        s = format!("m_{s}");
    }
    s
}

const KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "_Complex",
    "_Imaginary",
    "arena",
];

fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// The parameter of port `ident`: its name unless that is a C keyword or could shadow a
/// name of the generated code (the step locals `x0`, `y0`, ..., `pool_*`, `kiln_*`).
fn param(ident: &str) -> String {
    let local = ident.len() > 1
        && matches!(ident.as_bytes()[0], b'x' | b'y' | b's')
        && ident[1..].bytes().all(|b| b.is_ascii_digit());
    if local || is_keyword(ident) || ident.starts_with("pool_") || ident.starts_with("kiln_") {
        format!("{ident}_port")
    } else {
        ident.to_string()
    }
}

/// Prints `program`; `data` gives each static's tensor; `name` is a C identifier.
pub(crate) fn print(
    program: &Program,
    data: &dyn Fn(kiln_ir::ValueId) -> Option<Tensor>,
    name: &str,
    provenance: &Provenance,
) -> Result<CFiles, CodegenError> {
    let upper = name.to_ascii_uppercase();
    let mut lib = Lib::default();
    let mut errors = Vec::new();
    let mut run = Writer::new(1);
    for step in &program.steps {
        match print_step(step, &mut lib) {
            Ok(text) => run.append(&text),
            Err(message) => errors.push(NodeError {
                node: step.node.clone(),
                op: step.onnx_op.clone(),
                opset: step.opset,
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(CodegenError::Nodes(errors));
    }
    output_copies(&mut run, program)?;
    let body = run.finish();

    // The pools, one after the other, each aligned.
    let mut pools = Vec::new();
    let mut at = 0;
    for p in &program.pools {
        let bytes = p.bytes();
        pools.push(Pool {
            dtype: p.dtype,
            offset: at,
            bytes,
            len: p.len,
        });
        at += bytes.div_ceil(ARENA_ALIGN) * ARENA_ALIGN;
    }
    let arena_bytes = at;

    let sig = &program.signature;
    let mut params = Vec::new();
    for p in &sig.inputs {
        params.push(format!("const {} *{}", port_type(p)?, param(&p.ident)));
    }
    for p in &sig.outputs {
        params.push(format!("{} *{}", port_type(p)?, param(&p.ident)));
    }
    params.push("void *arena".into());
    let proto = format!("void {name}_run({})", params.join(", "));

    let mut src = String::new();
    src.push_str(&comment_header(provenance, program, arena_bytes));
    src.push_str(&format!(
        "\n#include \"{name}.h\"\n\n#include <float.h>\n#include <stddef.h>\n#include <stdint.h>\n\n"
    ));
    src.push_str(library::PRELUDE);
    src.push('\n');
    // Everything after the math routines; they and the bit casts are emitted where this
    // text (or a routine it needs) names them, so the file has no unused function.
    let mut later = String::new();
    for (n, text, _) in library::HELPERS {
        if lib.fns.helpers.contains(n) {
            later.push_str(text);
            later.push('\n');
        }
    }
    for s in library::SHARED {
        if lib.shared.contains(s) {
            later.push_str(&library::shared(s));
            later.push('\n');
        }
    }
    if let Some(t) = program.library.tiling {
        let fns: Vec<_> = program.library.gemm.iter().copied().collect();
        later.push_str(&gemm::render(t, &fns).map_err(|m| CodegenError::Plan(unsupported(&m)))?);
    }
    for (_, text) in &lib.instances {
        later.push_str(text);
        later.push('\n');
    }
    for f in &lib.fns.defs {
        later.push_str(f);
        later.push('\n');
    }
    later.push_str(&statics(program, data)?);
    let mut math = String::new();
    let mut chosen: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = chosen.len();
        for (name, text) in library::MATH {
            let used = mentions(&later, name)
                || mentions(&body, name)
                || chosen.iter().any(|c| {
                    library::MATH
                        .iter()
                        .any(|(n, t)| n == c && mentions(t, name))
                });
            if used {
                chosen.insert(name);
            }
            let _ = text;
        }
        if chosen.len() == before {
            break;
        }
    }
    for (name, text) in library::MATH {
        if chosen.contains(name) {
            math.push_str(text);
            math.push('\n');
        }
    }
    let rest = format!("{math}{later}{body}");
    for (text, triggers) in library::BITS {
        if triggers.iter().any(|t| mentions(&rest, t)) {
            src.push_str(text);
            src.push('\n');
        }
    }
    src.push_str(&math);
    src.push_str(&later);
    src.push_str(&format!("{proto}\n{{\n"));
    let mut arena_used = false;
    for p in &pools {
        let local = format!("pool_{}", p.dtype.name());
        if mentions(&body, &local) {
            arena_used = true;
            let t = ctype(p.dtype).map_err(CodegenError::Plan)?;
            src.push_str(&format!(
                "    {t} *const {local} = ({t} *)(void *)((unsigned char *)arena + {});\n",
                p.offset
            ));
        }
    }
    if !arena_used {
        src.push_str("    (void)arena;\n");
    }
    for p in &sig.inputs {
        let prm = param(&p.ident);
        if !mentions(&body, &prm) {
            src.push_str(&format!("    (void){prm}; /* not read by the model */\n"));
        }
    }
    for p in &sig.outputs {
        let prm = param(&p.ident);
        if !mentions(&body, &prm) {
            src.push_str(&format!("    (void){prm}; /* empty */\n"));
        }
    }
    src.push_str(&body);
    src.push_str("}\n");

    let header = header_file(name, &upper, &proto, program, provenance, arena_bytes)?;
    let readme = readme(name, &upper, program, &pools, arena_bytes)?;
    Ok(CFiles {
        header,
        source: src,
        readme,
    })
}

fn port_type(p: &crate::api::Port) -> Result<&'static str, CodegenError> {
    ctype(p.dtype).map_err(|message| CodegenError::Port {
        what: "port",
        name: p.model_name.clone(),
        message,
    })
}

/// The comment naming a step: its node, what was merged into it, its epilogue.
fn step_comment(w: &mut Writer, step: &Step) {
    w.line(format!(
        "/* {}: {} {} -> {} */",
        step.index,
        comment(&step.op),
        comment(&step.node),
        comment(&step.outputs.join(", "))
    ));
    for m in &step.merged {
        w.line(format!(
            "/*   + {} {} ({}) */",
            comment(&m.op),
            comment(&m.name),
            m.how
        ));
    }
    if !step.epilogue.is_empty() {
        let steps: Vec<String> = step.epilogue.iter().map(|e| e.to_string()).collect();
        w.line(format!("/*   epilogue: {} */", comment(&steps.join(", "))));
    }
}

/// Model text inside a C comment: printable ASCII, no `*/` or `/*`, no trigraph (`??`), no
/// line splice (a trailing backslash).
fn comment(raw: &str) -> String {
    let s: String = escape(raw)
        .chars()
        .map(|c| match c {
            '*' | '?' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect();
    s
}

fn print_step(step: &Step, lib: &mut Lib) -> Result<String, String> {
    let mut w = Writer::new(1);
    step_comment(&mut w, step);
    let (operands, calls) = match &step.kind {
        StepKind::View => {
            w.line("/* (a view of its input's storage: nothing to compute) */");
            return Ok(w.finish());
        }
        StepKind::ConcatInPlace => {
            w.line("/* (its inputs were written in place in its output: nothing to copy) */");
            return Ok(w.finish());
        }
        StepKind::Empty => {
            w.line("/* (the output is empty: nothing to compute) */");
            return Ok(w.finish());
        }
        StepKind::IdentityInPlace => {
            w.line("/* The identity, in place: nothing to do. */");
            return Ok(w.finish());
        }
        StepKind::Call { operands, calls } => (operands, calls),
    };
    w.open("{");
    for o in operands {
        w.line(binding(o)?);
    }
    let ops: BTreeMap<&str, &Operand> = operands.iter().map(|o| (o.local.as_str(), o)).collect();
    let mut text = Writer::new(0);
    for c in calls {
        call::print(&mut text, c, &ops, lib)?;
    }
    let text = text.finish();
    for o in operands {
        if !mentions(&text, &o.local) {
            w.line(format!("(void){};", o.local));
        }
    }
    for line in text.lines() {
        w.line(line);
    }
    w.close("}");
    Ok(w.finish())
}

/// Whether `text` names `local` as a whole identifier.
fn mentions(text: &str, local: &str) -> bool {
    text.match_indices(local).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + local.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// The line pointing an operand's local into its storage.
fn binding(o: &Operand) -> Result<String, String> {
    let t = ctype(o.dtype)?;
    let cq = if o.access == Access::Read {
        "const "
    } else {
        ""
    };
    let l = &o.local;
    let what = match (&o.home, o.producer) {
        (_, Some(p)) => format!("output of step {p}"),
        (Home::Input { .. }, _) => "graph input".to_string(),
        (Home::Output { .. }, _) => "graph output".to_string(),
        (Home::Static { name }, _) => format!("weights {name}"),
        (Home::Arena { .. }, _) | (Home::Empty, _) => "arena".to_string(),
    };
    let note = format!("/* {} ({what}) */", comment(&o.value));
    Ok(match &o.home {
        Home::Arena { pool, offset, .. } => {
            if *pool != o.dtype {
                return Err(format!("operand {l} of {} in the {pool} pool", o.dtype));
            }
            format!("{cq}{t} *{l} = pool_{} + {offset}; {note}", pool.name())
        }
        Home::Input { ident } => format!("const {t} *{l} = {}; {note}", param(ident)),
        Home::Output { ident, offset, .. } => {
            format!("{cq}{t} *{l} = {} + {offset}; {note}", param(ident))
        }
        Home::Static { name } => format!("const {t} *{l} = {name}; {note}"),
        Home::Empty => return Err(unsupported("empty operands")),
    })
}

/// Copies for graph outputs no step writes.
fn output_copies(w: &mut Writer, program: &Program) -> Result<(), CodegenError> {
    for c in &program.output_copies {
        let len = program
            .signature
            .outputs
            .iter()
            .find(|p| p.ident == c.ident)
            .map_or(0, |p| p.len);
        let src = match &c.from {
            Home::Empty => continue,
            Home::Output { ident, offset, .. } => format!("{} + {offset}", param(ident)),
            Home::Input { ident } => param(ident),
            Home::Static { name } => name.clone(),
            Home::Arena { .. } => {
                return Err(CodegenError::Plan(format!(
                    "graph output {} is placed in the arena",
                    c.ident
                )));
            }
        };
        w.line("/* A graph output no node writes. */");
        w.open("{");
        w.line("size_t i;");
        w.line(format!(
            "for (i = 0; i < {len}; i++) {{ {}[i] = {src}[i]; }}",
            param(&c.ident)
        ));
        w.close("}");
    }
    Ok(())
}

/// The weights as `static const` arrays (in flash on a device), eight elements a line.
fn statics(
    program: &Program,
    data: &dyn Fn(kiln_ir::ValueId) -> Option<Tensor>,
) -> Result<String, CodegenError> {
    let mut out = String::new();
    for s in &program.statics {
        let t = data(s.id).ok_or_else(|| CodegenError::Plan(format!("no data for {}", s.name)))?;
        let t = match &s.packing {
            Some(p) => p.apply(&t).map_err(CodegenError::Plan)?,
            None => t,
        };
        let d = &t.data;
        let ty = ctype(d.dtype()).map_err(|m| static_error(s, m))?;
        out.push_str(&format!(
            "/* {} {}, {} */\nstatic const {ty} {}[{}] = {{\n",
            comment(&s.value),
            comment(&s.ty),
            s.layout,
            s.name,
            d.len().max(1)
        ));
        let mut line = String::new();
        for i in 0..d.len() {
            line.push_str(&lit::element(d, i).map_err(|m| static_error(s, m))?);
            line.push_str(", ");
            if i % 8 == 7 {
                out.push_str("    ");
                out.push_str(line.trim_end());
                out.push('\n');
                line.clear();
            }
        }
        if d.is_empty() {
            line.push('0');
        }
        if !line.is_empty() {
            out.push_str("    ");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str("};\n\n");
    }
    Ok(out)
}

fn static_error(s: &crate::program::Static, message: String) -> CodegenError {
    CodegenError::Port {
        what: "weight",
        name: s.value.clone(),
        message,
    }
}

fn comment_header(p: &Provenance, program: &Program, arena: usize) -> String {
    let mut lines = vec![
        format!(
            "Generated by kiln {}. Do not edit: regenerate it from the model.",
            comment(&p.kiln_version)
        ),
        format!(
            "Model: {} (sha256 {})",
            comment(&p.model_file),
            comment(&p.model_sha256)
        ),
    ];
    if p.options.is_empty() {
        lines.push("Options: none".into());
    } else {
        lines.push("Options:".into());
        lines.extend(p.options.iter().map(|o| format!("- {}", comment(o))));
    }
    lines.push(format!("Target: {}", comment(&program.target.to_string())));
    lines.push(format!(
        "Memory: arena {arena} bytes ({} aligned pools; plan: {}, lower bound {} bytes).",
        program.pools.len(),
        program.plan_algorithm,
        program.lower_bound_bytes
    ));
    lines.push(format!(
        "Weights: {} bytes of static const data. MACs per run: {}.",
        program.weight_bytes(),
        program.macs()
    ));
    let mut s = String::from("/*\n");
    for l in lines {
        s.push_str(&format!(" * {l}\n"));
    }
    s.push_str(" */\n");
    s
}

fn header_file(
    name: &str,
    upper: &str,
    proto: &str,
    program: &Program,
    p: &Provenance,
    arena: usize,
) -> Result<String, CodegenError> {
    let mut h = comment_header(p, program, arena);
    let guard = format!("KILN_{upper}_H");
    h.push_str(&format!("\n#ifndef {guard}\n#define {guard}\n\n"));
    h.push_str("#include <stddef.h>\n#include <stdint.h>\n\n");
    h.push_str("#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    h.push_str(&format!(
        "/* Bytes of the arena {name}_run needs, and its alignment: the caller owns it (a static\n * buffer, not the stack). */\n#define {upper}_ARENA_BYTES {arena}u\n#define {upper}_ARENA_ALIGN {ARENA_ALIGN}u\n"
    ));
    h.push_str(&format!(
        "#define {upper}_WEIGHT_BYTES {}u\n#define {upper}_MACS {}u\n\n",
        program.weight_bytes(),
        program.macs()
    ));
    for (what, ports) in [
        ("Input", &program.signature.inputs),
        ("Output", &program.signature.outputs),
    ] {
        for port in ports.iter() {
            let m = format!("{upper}_{}", port.ident.to_ascii_uppercase());
            let dims: Vec<String> = port.shape.iter().map(|d| d.to_string()).collect();
            h.push_str(&format!(
                "/* {what} {}: {}[{}], row-major. */\n#define {m}_ELEMENTS {}u\n#define {m}_RANK {}u\n#define {m}_SHAPE {{ {} }}\n",
                comment(&port.model_name),
                port_type(port)?,
                dims.join(", "),
                port.len,
                port.shape.len(),
                if dims.is_empty() { "1".to_string() } else { dims.join(", ") }
            ));
            if let Some(q) = port.quant {
                h.push_str(&format!(
                    "#define {m}_SCALE {}\n#define {m}_ZERO_POINT {}\n",
                    lit::f32_lit(q.scale).map_err(CodegenError::Plan)?,
                    q.zero_point
                ));
            }
        }
    }
    h.push_str(&format!(
        "\n/* Runs the model: reads the inputs, writes the outputs; arena points to\n * {upper}_ARENA_BYTES bytes aligned to {upper}_ARENA_ALIGN. Cannot fail. */\n{proto};\n"
    ));
    h.push_str(&format!(
        "\n#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n"
    ));
    Ok(h)
}

fn readme(
    name: &str,
    upper: &str,
    program: &Program,
    pools: &[Pool],
    arena: usize,
) -> Result<String, CodegenError> {
    let sig = &program.signature;
    let mut r = format!(
        "# {name}\n\nGenerated by kiln: C99, `{name}.h` and `{name}.c`, no malloc, no libm, nothing \
         beyond `<stddef.h>` and `<stdint.h>`. Build it with your firmware, e.g. \
         `cc -std=c99 -O2 -c {name}.c`.\n\n## Calling it\n\n```c\n#include \"{name}.h\"\n\n\
         /* The arena: static, not on the stack ({arena} bytes), aligned for every pool. */\n\
         static union {{ unsigned char bytes[{upper}_ARENA_BYTES]; uint64_t u; double d; }} arena;\n"
    );
    for p in sig.inputs.iter().chain(&sig.outputs) {
        r.push_str(&format!(
            "static {} {}[{upper}_{}_ELEMENTS];\n",
            port_type(p)?,
            param(&p.ident),
            p.ident.to_ascii_uppercase()
        ));
    }
    let args: Vec<String> = sig
        .inputs
        .iter()
        .chain(&sig.outputs)
        .map(|p| param(&p.ident))
        .collect();
    r.push_str(&format!(
        "\nvoid infer(void)\n{{\n    /* fill the inputs, then: */\n    {name}_run({}, arena.bytes);\n}}\n```\n\n",
        args.join(", ")
    ));
    r.push_str(&format!(
        "The arena must be {upper}_ARENA_ALIGN ({ARENA_ALIGN}) byte aligned, the alignment of \
         the largest element type: the union above guarantees it. `{name}_run` keeps nothing \
         between calls and cannot fail; it is not reentrant with the same arena.\n\n"
    ));
    r.push_str("## Inputs and outputs\n\nAll tensors are row-major (the model's own layout, e.g. NCHW).\n\n| port | model name | type | shape | elements |\n| --- | --- | --- | --- | --- |\n");
    for (what, ports) in [("in", &sig.inputs), ("out", &sig.outputs)] {
        for p in ports.iter() {
            let dims: Vec<String> = p.shape.iter().map(|d| d.to_string()).collect();
            r.push_str(&format!(
                "| {what} `{}` | `{}` | {} | [{}] | {} |\n",
                param(&p.ident),
                comment(&p.model_name),
                port_type(p)?,
                dims.join(", "),
                p.len
            ));
        }
    }
    r.push_str(&format!(
        "\n## Memory\n\n- Arena: {arena} bytes (`{upper}_ARENA_BYTES`), caller-owned; the \
         memory plan's lower bound is {} bytes.\n- Weights: {} bytes of `static const` data \
         (`{upper}_WEIGHT_BYTES`), in flash on a device.\n- MACs per run: {} (`{upper}_MACS`).\n\n\
         Arena layout (one pool per element type, one after the other):\n\n| pool | byte offset | bytes | elements |\n| --- | --- | --- | --- |\n",
        program.lower_bound_bytes,
        program.weight_bytes(),
        program.macs()
    ));
    for p in pools {
        r.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.dtype, p.offset, p.bytes, p.len
        ));
    }
    r.push_str(&match program.library.tiling {
        Some(t) => format!(
            "\nKernels: register-tiled float kernels ({}x{} accumulators in FPU registers, \
             weights packed in panels at compile time), which sum bias first, then input \
             channels and taps in order; reference kernels for the rest.\n",
            t.mr,
            t.nr()
        ),
        None => "\nKernels: kiln's float reference kernels (the C library has no vector \
                 micro-kernels), which sum in the reference order.\n"
            .to_string(),
    });
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_c_identifiers_that_shadow_nothing() {
        assert_eq!(c_name("3d-model.v2"), "m_3d_model_v2");
        assert_eq!(c_name("int"), "m_int");
        assert_eq!(c_name("resnet8"), "resnet8");
        assert_eq!(param("x0"), "x0_port");
        assert_eq!(param("float"), "float_port");
        assert_eq!(param("pool_f32"), "pool_f32_port");
        assert_eq!(param("x"), "x");
        assert_eq!(param("input_1"), "input_1");
    }

    #[test]
    fn mentions_whole_identifiers_only() {
        assert!(mentions("a = exp_f32(v);", "exp_f32"));
        assert!(!mentions("a = kiln_exp_f32x(v);", "exp_f32"));
        assert!(!mentions("avg_pool_f32(x0, 3)", "pool_f32"));
    }
}
