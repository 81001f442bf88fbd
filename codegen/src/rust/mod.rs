//! The Rust printer: turns a [`Program`] into the generated module's text and decides
//! nothing. It spells the interface (ports), `run` with one block per step (operands
//! bound to slices of their storage, then the step's kernel calls), the kernels in use and
//! the constants as statics (`weights.rs`: literals, or packed words unpacked by a `const fn`).

mod call;
mod elem;
mod elem_data;
mod gemm;
mod library;
pub(crate) mod templates;
mod weights;

pub(crate) use templates::Module;

use crate::api::{CodegenError, RustOptions};
use crate::borrow::{Slice, bind_in, bind_pool};
use crate::literal;
use crate::namer::{escape, quote};
use crate::program::{Access, Home, Operand, Program, Step, StepKind};
use crate::writer::Writer;
use kiln_ir::{DType, Tensor};
use std::collections::{BTreeMap, BTreeSet};

/// Prints `program`; `data` gives each static's tensor.
pub(crate) fn print(
    program: &Program,
    data: &dyn Fn(kiln_ir::ValueId) -> Option<Tensor>,
    opts: &RustOptions,
) -> Result<Module, CodegenError> {
    let mut run = Writer::new(1);
    for (used, name) in [
        (program.uses_inputs, "inputs"),
        (program.uses_outputs, "outputs"),
        (program.uses_arena, "arena"),
    ] {
        if !used {
            run.line(format!("let _ = {name};"));
        }
    }
    // An input no step reads (Dropout's ratio, say) is still part of the signature; touch
    // it so an unread field does not warn.
    for ident in &program.unread_inputs {
        run.line(format!("let _ = inputs.{ident}; // not read by the model"));
    }
    let mut errors = Vec::new();
    if opts.step_hook && program.steps.is_empty() {
        run.line("let _ = hook;");
    }
    let bytes = weights::byte_statics(program, opts.weights_file.as_deref());
    for step in &program.steps {
        match print_step(step, &bytes) {
            Ok(text) => {
                run.append(&text);
                if opts.step_hook {
                    run.line(format!("hook({});", step.index));
                }
            }
            Err(message) => errors.push(crate::api::NodeError {
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
    run.append(&output_copies(program)?);
    let kernels = library::render(
        &program.library,
        opts.intrinsics,
        program.target,
        !bytes.is_empty(),
    )?;
    let (statics, weight_file_bytes) =
        weights::statics(program, data, opts.weights_file.as_deref())?;
    let mut module = Module {
        signature: program.signature.clone(),
        header: String::new(),
        body: String::new(),
        pools: program.pools.clone(),
        arena_bytes: program.arena_bytes,
        arena_align: weights::vector_align(program.target),
        lower_bound_bytes: program.lower_bound_bytes,
        weight_bytes: program.weight_bytes(),
        provenance: opts.provenance.clone(),
        profiled_steps: opts.step_hook.then_some(program.steps.len()),
        model_name: opts.module_name.clone(),
        macs: program.macs(),
        needs_std: program.library.needs_std(),
        fuses_at_build: opts.target.has_fma()
            && program
                .library
                .tiling
                .is_some_and(|t| t.lanes > 1 && !t.fused),
        has_unsafe: program.library.has_unsafe(opts.intrinsics),
        unsafe_module: program.library.unsafe_module(opts.intrinsics).unwrap_or(""),
        weights: weight_file_bytes,
        weights_file: opts.weights_file.clone(),
    };
    module.header = header(&module, program);
    module.body = templates::render_body(&module, &run.finish(), &kernels, &statics)?;
    Ok(module)
}

/// The comment naming a step: its node, what was merged into it, its epilogue.
fn step_comment(w: &mut Writer, step: &Step) {
    w.line(format!(
        "// {}: {} {} -> {}",
        step.index,
        step.op,
        quote(&step.node),
        step.outputs.join(", ")
    ));
    for m in &step.merged {
        w.line(format!(
            "//   + {} {} ({})",
            escape(&m.op),
            quote(&m.name),
            m.how
        ));
    }
    if !step.epilogue.is_empty() {
        let steps: Vec<String> = step.epilogue.iter().map(|e| e.to_string()).collect();
        w.line(format!("//   epilogue: {}", steps.join(", ")));
    }
}

/// Where an operand comes from, for the comment above its binding.
fn operand_comment(o: &Operand) -> String {
    let what = match (&o.home, o.producer) {
        (_, Some(p)) => format!("output of step {p}"),
        (Home::Input { .. }, _) => "graph input".to_string(),
        (Home::Output { .. }, _) => "graph output".to_string(),
        (Home::Static { name }, _) => format!("weights {name}"),
        (Home::Arena { .. }, _) | (Home::Empty, _) => "arena".to_string(),
    };
    let rw = match o.access {
        Access::Read => "",
        Access::Write => "writes ",
    };
    format!("// {}: {rw}{} ({what})", o.local, quote(&o.value))
}

/// The entry point of driver `func` whose body a large call shares with the program's
/// other large calls (`{name}_dyn`, see `gemm::shared_head`) rather than taking a copy of
/// its own; `None` for the other kernels.
fn shared_body(func: &str) -> Option<&'static str> {
    Some(match func {
        "conv_split" => "conv_split_dyn",
        "conv_split_mid" => "conv_split_mid_dyn",
        "conv_split_narrow" => "conv_split_narrow_dyn",
        "conv_split_t" => "conv_split_t_dyn",
        "conv_pointwise" => "conv_pointwise_dyn",
        "conv_pointwise_t" => "conv_pointwise_t_dyn",
        "conv_winograd" => "conv_winograd_dyn",
        _ => return None,
    })
}

/// From this many multiply-adds a step calls the shared body of its driver. A copy per call
/// site, with the call's constants propagated into the driver's loops, saves about a
/// microsecond a call (MobileNet v1's 28 steps, of 0.1-4.7 M MACs: 8% slower all shared),
/// nothing a large call notices, and costs build time: ddddocr_det's 23 `conv_split`, 40
/// `gemm_a` and 8 `conv_winograd` copies were 40-70% of its LLVM IR.
const SHARED_BODY_MACS: u64 = 8_000_000;

fn print_step(step: &Step, bytes: &BTreeSet<String>) -> Result<String, String> {
    let mut w = Writer::new(1);
    step_comment(&mut w, step);
    let (operands, calls) = match &step.kind {
        StepKind::View => {
            w.line("// (a view of its input's storage: nothing to compute)");
            return Ok(w.finish());
        }
        StepKind::ConcatInPlace => {
            w.line("// (its inputs were written in place in its output: nothing to copy)");
            return Ok(w.finish());
        }
        StepKind::Empty => {
            w.line("// (the output is empty: nothing to compute)");
            return Ok(w.finish());
        }
        StepKind::IdentityInPlace => {
            w.line("// The identity, in place: nothing to do.");
            return Ok(w.finish());
        }
        StepKind::Call { operands, calls } => (operands, calls),
    };
    for o in operands {
        w.line(operand_comment(o));
    }
    w.open("{");
    for line in bindings(operands, bytes)? {
        w.line(line);
    }
    for c in calls {
        let shared;
        let c = match shared_body(c.func).filter(|_| step.macs >= SHARED_BODY_MACS) {
            Some(func) => {
                shared = crate::program::Call { func, ..c.clone() };
                &shared
            }
            None => c,
        };
        call::print(&mut w, c)?;
    }
    w.close("}");
    Ok(w.finish())
}

/// `let` lines giving each operand a slice of its storage.
/// `bytes`: the statics stored in the weights file (see `weights::byte_statics`), each a
/// `&[Wt]` already.
fn bindings(operands: &[Operand], bytes: &BTreeSet<String>) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut pools: BTreeMap<DType, Vec<Slice>> = BTreeMap::new();
    // Graph outputs' arrays the step uses in pieces, or more than once, are cut like a
    // pool (at the first use, so the usual single binding keeps its place).
    let mut arrays: BTreeMap<String, Vec<(Slice, bool)>> = BTreeMap::new();
    for o in operands {
        if let Home::Output {
            ident,
            offset,
            len,
            whole,
        } = &o.home
        {
            let slice = Slice {
                local: o.local.clone(),
                offset: *offset,
                len: *len,
                mutable: o.access == Access::Write,
            };
            arrays
                .entry(ident.clone())
                .or_default()
                .push((slice, *whole));
        }
    }
    arrays.retain(|_, slices| !matches!(slices[..], [(_, true)]));
    let cut: Vec<String> = arrays.keys().cloned().collect();
    for o in operands {
        let local = &o.local;
        let elem = literal::elem(o.dtype)?;
        let mutable = o.access == Access::Write;
        let (r, m) = if mutable {
            ("&mut ", "mut ")
        } else {
            ("&", "")
        };
        match &o.home {
            Home::Arena { pool, offset, len } => {
                pools.entry(*pool).or_default().push(Slice {
                    local: local.clone(),
                    offset: *offset,
                    len: *len,
                    mutable,
                });
            }
            Home::Empty => lines.push(format!("let {local}: &{m}[{elem}] = {r}[];")),
            Home::Output { ident, .. } => {
                if !cut.contains(ident) {
                    lines.push(format!(
                        "let {local}: &{m}[{elem}] = {r}outputs.{ident}[..];"
                    ));
                } else if let Some(slices) = arrays.remove(ident) {
                    let slices: Vec<Slice> = slices.into_iter().map(|(s, _)| s).collect();
                    let pool = format!("outputs.{ident}");
                    let whole = format!("&mut outputs.{ident}[..]");
                    lines.extend(bind_in(&pool, &whole, elem, &slices)?);
                }
            }
            Home::Input { ident } => {
                lines.push(format!("let {local}: &[{elem}] = inputs.{ident};"));
            }
            Home::Static { name } if bytes.contains(name) => {
                lines.push(format!("let {local}: &[Wt] = {name};"));
            }
            Home::Static { name } => {
                lines.push(format!("let {local}: &[{elem}] = &{name}.0;"));
            }
        }
    }
    let mut pool_lines = Vec::new();
    for (dtype, slices) in pools {
        let elem = literal::elem(dtype)?;
        pool_lines.extend(bind_pool(&format!("arena.{elem}"), elem, &slices)?);
    }
    pool_lines.extend(lines);
    Ok(pool_lines)
}

/// Copies for graph outputs no step writes.
fn output_copies(program: &Program) -> Result<String, CodegenError> {
    let mut w = Writer::new(1);
    let mut copied = false;
    for c in &program.output_copies {
        let src = match &c.from {
            Home::Empty => {
                // An empty output has nothing to write; touching it keeps the field "used"
                // where the module is private to a binary.
                w.line(format!("let _ = &outputs.{};", c.ident));
                continue;
            }
            Home::Output { ident, .. } => format!("&outputs.{ident}[..]"),
            Home::Input { ident } => format!("inputs.{ident}"),
            Home::Static { name } => format!("&{name}.0"),
            Home::Arena { .. } => {
                return Err(CodegenError::Plan(format!(
                    "graph output {} is placed in the arena",
                    c.ident
                )));
            }
        };
        if !copied {
            w.line("// Graph outputs no node writes.");
            copied = true;
        }
        w.line(format!("outputs.{}.copy_from_slice({src});", c.ident));
    }
    Ok(w.finish())
}

/// The `//!` provenance header: version, model, options, memory summary.
fn header(m: &Module, program: &Program) -> String {
    let p = &m.provenance;
    let mut lines = vec![
        format!(
            "Generated by kiln {}. Do not edit: regenerate it from the model.",
            escape(&p.kiln_version)
        ),
        String::new(),
        format!(
            "Model: {} (sha256 {})",
            quote(&p.model_file),
            escape(&p.model_sha256)
        ),
    ];
    if p.options.is_empty() {
        lines.push("Options: none".into());
    } else {
        lines.push("Options:".into());
        lines.extend(p.options.iter().map(|o| format!("- {}", escape(o))));
        // A blank line ends the list (else, as `//!` docs, the next line continues its
        // last item: clippy's doc_lazy_continuation in a user's crate).
        lines.push(String::new());
    }
    lines.push(format!("Target: {}", program.target));
    if m.needs_std {
        lines.push(
            "Needs std: the fused multiply-add kernels call `f32::mul_add`, which `core` lacks."
                .into(),
        );
    }
    if let (Some(bytes), Some(file)) = (&m.weights, &m.weights_file) {
        lines.push(format!(
            "Weights file: {} ({} bytes, the packed f32 weights), read by `include_bytes!` \
             from beside this file: keep the two together.",
            quote(file),
            bytes.len()
        ));
    }
    if m.has_unsafe {
        lines.push(format!(
            "Contains unsafe: the intrinsics module of `--intrinsics` (`{}`), so this code \
             takes `deny(unsafe_code)`, not `forbid`.",
            m.unsafe_module
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "Memory: arena {} bytes ({}); lower bound {} bytes.",
        m.arena_bytes, program.plan_algorithm, m.lower_bound_bytes
    ));
    for pool in &m.pools {
        lines.push(format!(
            "- {} pool: {} elements, {} bytes (lower bound {} elements)",
            pool.dtype,
            pool.len,
            pool.bytes(),
            pool.lower_bound
        ));
    }
    lines.push(String::new());
    lines.push(format!("Weights: {} bytes of statics.", m.weight_bytes));
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                "//!".to_string()
            } else {
                format!("//! {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
