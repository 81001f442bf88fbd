//! Assembles the generated module: the interface (ports), `run` with one block per
//! scheduled node, the kernels in use and the constants as statics.
//!
//! Storage follows the memory plan's aliases: a value shared with another (a view's
//! output, an in-place output) is bound to the storage of the value it aliases, with its
//! own length (the same element count); a value stored in part of it (an input of a
//! Concat written in place) is bound to that part. View nodes emit a comment and no code;
//! in-place nodes call the in-place kernels, which read and write the one `&mut` slice of
//! the buffer they overwrite; a Concat whose inputs were all written in place emits a
//! comment, one with some copies the others.

use crate::borrow::{Slice, bind_in, bind_pool};
use crate::kernels::KernelSet;
use crate::literal;
use crate::lower::{self as ops, NodeCx};
use crate::namer::{Case, Namer, escape, quote};
use crate::writer::Writer;

pub(crate) mod templates;
use crate::{CodegenError, NodeError, Port, Provenance, RustOptions, Signature};
use kiln_ir::{DType, Graph, Node, NodeId, Op, ValueId, ValueKind, VerifiedGraph};
use kiln_passes::memory::Part;
use kiln_passes::{MemoryPlan, Placement};
use std::collections::BTreeMap;

/// Everything the file templates need.
pub(crate) struct Module {
    pub signature: Signature,
    /// The `//!` provenance header.
    pub header: String,
    /// The module's items: interface, `run`, kernels, statics.
    pub body: String,
    pub pools: Vec<PoolInfo>,
    pub arena_bytes: usize,
    pub lower_bound_bytes: usize,
    pub weight_bytes: usize,
    pub provenance: Provenance,
}

/// One non-empty pool of the arena.
pub(crate) struct PoolInfo {
    pub dtype: DType,
    pub len: usize,
    pub lower_bound: usize,
}

impl PoolInfo {
    pub(crate) fn bytes(&self) -> usize {
        self.len * self.dtype.size_bytes()
    }
}

/// Where a value lives while `run` executes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Home {
    /// `inputs.<ident>`.
    Input(String),
    /// `outputs.<ident>`: the first port of a graph output, written by its producer; with a
    /// part, the elements of it a value stored there occupies (an input of a Concat written
    /// in place in the caller's array).
    Output(String, Option<Part>),
    /// The `static` of this constant.
    Const(ValueId),
    Arena(Placement),
    /// No elements: nothing to store.
    Empty,
}

/// The constants `run` refers to, named in order of first use.
struct Statics {
    namer: Namer,
    names: BTreeMap<ValueId, String>,
    order: Vec<ValueId>,
}

impl Statics {
    fn name(&mut self, g: &Graph, v: ValueId) -> String {
        if let Some(n) = self.names.get(&v) {
            return n.clone();
        }
        let n = self.namer.name(&g.value(v).name);
        self.names.insert(v, n.clone());
        self.order.push(v);
        n
    }

    /// The statics as Rust items, and their total size in bytes.
    fn render(&self, g: &Graph) -> Result<(String, usize), CodegenError> {
        let mut w = Writer::new(0);
        let mut bytes = 0;
        for (i, &v) in self.order.iter().enumerate() {
            let val = g.value(v);
            let t = val
                .const_tensor()
                .ok_or_else(|| CodegenError::Plan(format!("value %{} is not a constant", v.0)))?;
            let elem = literal::elem(t.dtype()).map_err(|message| CodegenError::Port {
                what: "constant",
                name: val.name.clone(),
                message,
            })?;
            bytes += t.numel() * t.dtype().size_bytes();
            if i > 0 {
                w.line("");
            }
            w.line(format!("/// Constant {} ({}).", quote(&val.name), val.ty));
            if t.dtype().is_float() {
                // Weights are data: one may happen to be close to pi.
                w.line("#[allow(clippy::approx_constant)]");
            }
            w.open(format!(
                "static {}: [{elem}; {}] = [",
                self.names[&v],
                t.numel()
            ));
            let per_line = if t.dtype().is_float() { 8 } else { 16 };
            for line in literal::array_lines(&t.data, per_line) {
                w.line(line);
            }
            w.close("];");
        }
        Ok((w.finish(), bytes))
    }
}

/// The state of one emission.
struct Emitter<'g> {
    graph: &'g Graph,
    plan: &'g MemoryPlan,
    homes: BTreeMap<ValueId, Home>,
    statics: Statics,
    kernels: KernelSet,
    uses_inputs: bool,
    /// Idents of the input fields the code reads.
    read_inputs: std::collections::BTreeSet<String>,
    uses_outputs: bool,
    uses_arena: bool,
}

pub(crate) fn emit_module(
    graph: &VerifiedGraph,
    plan: &MemoryPlan,
    opts: &RustOptions,
) -> Result<Module, CodegenError> {
    let g = graph.graph();
    if plan.schedule != graph.schedule() {
        return Err(CodegenError::Plan(
            "it was made for a different schedule".into(),
        ));
    }
    let signature = signature(g)?;
    let mut statics_namer = Namer::new(Case::Screaming);
    statics_namer.reserve("ARENA_BYTES");
    let mut homes = BTreeMap::new();
    for (&v, p) in g.inputs.iter().zip(&signature.inputs) {
        statics_namer.reserve(&shape_const(&p.ident));
        homes.entry(v).or_insert(Home::Input(p.ident.clone()));
    }
    for (&v, p) in g.outputs.iter().zip(&signature.outputs) {
        statics_namer.reserve(&shape_const(&p.ident));
        if matches!(g.value(v).kind, ValueKind::Activation) {
            homes
                .entry(v)
                .or_insert(Home::Output(p.ident.clone(), None));
        }
    }
    let mut em = Emitter {
        graph: g,
        plan,
        homes,
        statics: Statics {
            namer: statics_namer,
            names: BTreeMap::new(),
            order: Vec::new(),
        },
        kernels: KernelSet::default(),
        uses_inputs: false,
        read_inputs: Default::default(),
        uses_outputs: false,
        uses_arena: false,
    };
    let mut nodes = Writer::new(0);
    let mut errors = Vec::new();
    for (step, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        match em.node(step, n, node) {
            Ok(text) => nodes.append(&text),
            Err(message) => errors.push(NodeError {
                node: node.name.clone(),
                op: node.onnx_op.clone(),
                opset: node.opset,
                message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(CodegenError::Nodes(errors));
    }
    let copies = em.output_copies(&signature)?;
    let mut run = Writer::new(1);
    for (used, name) in [
        (em.uses_inputs, "inputs"),
        (em.uses_outputs, "outputs"),
        (em.uses_arena, "arena"),
    ] {
        if !used {
            run.line(format!("let _ = {name};"));
        }
    }
    // An input no node reads (Dropout's ratio, say) is still part of the signature; touch
    // it so an unread field does not warn.
    {
        for p in &signature.inputs {
            if !em.read_inputs.contains(&p.ident) {
                run.line(format!(
                    "let _ = inputs.{}; // not read by the model",
                    p.ident
                ));
            }
        }
    }
    run.append(&nodes.finish());
    run.append(&copies);
    let kernels = em.kernels.render()?;
    let (statics, weight_bytes) = em.statics.render(g)?;
    let pools: Vec<PoolInfo> = plan
        .pools
        .iter()
        .filter(|p| p.len > 0)
        .map(|p| PoolInfo {
            dtype: p.dtype,
            len: p.len,
            lower_bound: p.lower_bound,
        })
        .collect();
    for p in &pools {
        literal::elem(p.dtype).map_err(CodegenError::Plan)?;
    }
    let mut module = Module {
        signature,
        header: String::new(),
        body: String::new(),
        pools,
        arena_bytes: plan.arena_bytes(),
        lower_bound_bytes: plan.lower_bound_bytes(),
        weight_bytes,
        provenance: opts.provenance.clone(),
    };
    module.header = header(&module, plan.algorithm);
    module.body = templates::render_body(&module, &run.finish(), &kernels, &statics)?;
    Ok(module)
}

/// `<IDENT>_SHAPE`.
pub(crate) fn shape_const(ident: &str) -> String {
    format!("{}_SHAPE", ident.trim_end_matches('_').to_ascii_uppercase())
}

/// The ports of the graph, with field names unique across inputs and outputs.
fn signature(g: &Graph) -> Result<Signature, CodegenError> {
    let mut namer = Namer::new(Case::Snake);
    namer.reserve("_marker");
    let mut port = |what: &'static str, v: ValueId| -> Result<Port, CodegenError> {
        let val = g.value(v);
        literal::elem(val.ty.dtype).map_err(|message| CodegenError::Port {
            what,
            name: val.name.clone(),
            message,
        })?;
        Ok(Port {
            model_name: val.name.clone(),
            ident: namer.name(&val.name),
            dtype: val.ty.dtype,
            shape: val.ty.shape.clone(),
            len: val.ty.numel(),
        })
    };
    let inputs = g
        .inputs
        .iter()
        .map(|&v| port("input", v))
        .collect::<Result<_, _>>()?;
    let outputs = g
        .outputs
        .iter()
        .map(|&v| port("output", v))
        .collect::<Result<_, _>>()?;
    Ok(Signature { inputs, outputs })
}

impl Emitter<'_> {
    /// Where `v` lives: where the value whose storage it shares lives (see
    /// `MemoryPlan::aliases`), which has the same element type; all of it, with the same
    /// element count, or the part of it the plan gives `v` (`MemoryPlan::parts`).
    fn home(&self, v: ValueId) -> Result<Home, String> {
        let s = self.plan.storage(v);
        let (tv, ts) = (&self.graph.value(v).ty, &self.graph.value(s).ty);
        let part = self.plan.part(v);
        let mismatch = || {
            format!(
                "the memory plan stores {:?} ({tv}) in {:?} ({ts})",
                self.graph.value(v).name,
                self.graph.value(s).name
            )
        };
        let whole = part.is_none() && tv.numel() == ts.numel();
        if tv.dtype != ts.dtype {
            return Err(mismatch());
        }
        let val = self.graph.value(s);
        if let Some(h) = self.homes.get(&s) {
            return match (h, part) {
                (_, None) if whole => Ok(h.clone()),
                (Home::Output(id, None), Some(p))
                    if p.len == tv.numel() && p.end() <= ts.numel() =>
                {
                    Ok(Home::Output(id.clone(), Some(p)))
                }
                _ => Err(mismatch()),
            };
        }
        if val.ty.numel() == 0 && whole {
            return Ok(Home::Empty);
        }
        match &val.kind {
            ValueKind::Const(_) if whole => Ok(Home::Const(s)),
            ValueKind::Const(_) => Err(mismatch()),
            // The buffer may be longer than its root (a Concat's): the placement, narrowed
            // to the value's part, has the value's length.
            ValueKind::Activation => match self.plan.placement(v) {
                Some(p)
                    if p.len == tv.numel()
                        && p.dtype == kiln_passes::memory::storage_dtype(tv.dtype) =>
                {
                    Ok(Home::Arena(p))
                }
                Some(_) => Err(format!(
                    "the memory plan's placement of {:?} does not match its type {}",
                    self.graph.value(v).name,
                    tv
                )),
                None => Err(format!("the memory plan has no place for {:?}", val.name)),
            },
            ValueKind::Input => Err(format!("{:?} is not a graph input", val.name)),
        }
    }

    /// One node: a comment, then a block binding its operands and calling its kernel; for
    /// a view (see `MemoryPlan::views`) the comment alone.
    fn node(&mut self, step: usize, id: NodeId, node: &Node) -> Result<String, String> {
        let outs: Vec<String> = node
            .outputs
            .iter()
            .map(|&v| self.graph.value(v).ty.to_string())
            .collect();
        let mut w = Writer::new(1);
        w.line(format!(
            "// {step}: {} {} -> {}",
            node.op.name(),
            quote(&node.name),
            outs.join(", ")
        ));
        if self.plan.views.contains(&id) {
            let (x, y) = match (node.inputs.first(), node.outputs.first()) {
                (Some(Some(x)), Some(&y)) => (*x, y),
                _ => return Err("a view without an input or output".into()),
            };
            if self.plan.storage(x) != self.plan.storage(y)
                || self.plan.part(x) != self.plan.part(y)
            {
                return Err("the memory plan makes it a view of another value".into());
            }
            literal::elem(self.graph.value(y).ty.dtype)?;
            self.home(y)?;
            w.line("// (a view of its input's storage: nothing to compute)");
            return Ok(w.finish());
        }
        let mut copies_only = None;
        if self.plan.concats.contains(&id) {
            let (a, placed) = self.concat_in_place(node)?;
            let numel = |x: &Option<ValueId>| x.map_or(0, |x| self.graph.value(x).ty.numel());
            let all =
                (0..node.inputs.len()).all(|k| placed.contains(&k) || numel(&node.inputs[k]) == 0);
            if all {
                if let Some(&y) = node.outputs.first() {
                    literal::elem(self.graph.value(y).ty.dtype)?;
                    self.home(y)?;
                }
                w.line("// (its inputs were written in place in its output: nothing to copy)");
                return Ok(w.finish());
            }
            copies_only = Some((a, placed));
        }
        let mut cx = NodeCx::new(self.graph, node, &mut self.kernels);
        if self.plan.in_place.contains(&id) {
            let target = node
                .outputs
                .first()
                .map(|&y| (self.plan.storage(y), self.plan.part(y)));
            let slot = node
                .op_inputs()
                .iter()
                .position(|x| {
                    x.is_some_and(|x| Some((self.plan.storage(x), self.plan.part(x))) == target)
                })
                .ok_or("the memory plan has it overwrite none of its inputs")?;
            ops::emit_in_place(&mut cx, slot)?;
        } else if let Some((a, placed)) = copies_only {
            ops::emit_concat(&mut cx, a, &placed)?;
        } else {
            ops::emit(&mut cx)?;
        }
        let code = cx.finish();
        if code.body.is_empty() {
            w.line("// (the output is empty: nothing to compute)");
            return Ok(w.finish());
        }
        if code.reads.is_empty() && code.writes.is_empty() {
            // Nothing to bind (an identity in place): the body is a comment.
            for line in code.body.lines() {
                w.line(line.trim_start());
            }
            return Ok(w.finish());
        }
        let bindings = self.bindings(node, &code.reads, &code.writes)?;
        w.open("{");
        for line in bindings {
            w.line(line);
        }
        w.append(&code.body);
        w.close("}");
        Ok(w.finish())
    }

    /// The attributes of `node`, a Concat of `MemoryPlan::concats`, and the slots of the
    /// inputs its producers wrote in place, after checking that the inputs are contiguous
    /// runs of the output and each of those sits at its offset in the output's storage.
    fn concat_in_place<'n>(
        &self,
        node: &'n Node,
    ) -> Result<(&'n kiln_ir::ops::ConcatAttrs, Vec<usize>), String> {
        let Op::Concat(a) = &node.op else {
            return Err("the memory plan writes its inputs in place, but it is no Concat".into());
        };
        let &y = node.outputs.first().ok_or("a Concat without an output")?;
        let ty = &self.graph.value(y).ty;
        let placed = self.plan.concat_inputs_in_place(self.graph, node);
        let axis = kiln_ir::types::normalize_axis(a.axis, ty.rank())
            .ok_or_else(|| format!("axis {} is out of range for {ty}", a.axis))?;
        if !placed.is_empty() && ty.shape[..axis].iter().any(|&d| d != 1) {
            return Err(format!(
                "the memory plan writes inputs in place, but on axis {axis} of {ty} they are \
                 not contiguous runs of the output"
            ));
        }
        let base = self.plan.range(self.graph, y).offset;
        let mut offset = 0;
        for (k, x) in node.inputs.iter().enumerate() {
            let Some(x) = *x else { continue };
            if placed.contains(&k) {
                self.home(x)?;
                if self.plan.range(self.graph, x).offset != base + offset {
                    return Err(format!(
                        "the memory plan stores input {k} at the wrong offset in the output"
                    ));
                }
            }
            offset += self.graph.value(x).ty.numel();
        }
        Ok((a, placed))
    }

    /// `let` lines giving each operand of `node` a slice of its storage.
    fn bindings(
        &mut self,
        node: &Node,
        reads: &[(usize, String)],
        writes: &[(usize, String)],
    ) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        let mut pools: BTreeMap<DType, Vec<Slice>> = BTreeMap::new();
        let operands: Vec<(ValueId, &String, bool, Home)> = reads
            .iter()
            .map(|(slot, local)| (node.inputs.get(*slot).copied().flatten(), local, false))
            .chain(
                writes
                    .iter()
                    .map(|(slot, local)| (node.outputs.get(*slot).copied(), local, true)),
            )
            .map(|(v, local, mutable)| {
                let v = v.ok_or_else(|| format!("operand {local} does not exist"))?;
                Ok((v, local, mutable, self.home(v)?))
            })
            .collect::<Result<_, String>>()?;
        // Graph outputs' arrays the node uses in pieces, or more than once, are cut like a
        // pool (at the first use, so the usual single binding keeps its place).
        let mut arrays: BTreeMap<String, Vec<(Slice, bool)>> = BTreeMap::new();
        for (v, local, mutable, home) in &operands {
            if let Home::Output(id, part) = home {
                let len = self.graph.value(self.plan.storage(*v)).ty.numel();
                let piece = part.unwrap_or(Part { offset: 0, len });
                let slice = Slice {
                    local: (*local).clone(),
                    offset: piece.offset,
                    len: piece.len,
                    mutable: *mutable,
                };
                arrays
                    .entry(id.clone())
                    .or_default()
                    .push((slice, part.is_none()));
            }
        }
        arrays.retain(|_, slices| !matches!(slices[..], [(_, true)]));
        let cut: Vec<String> = arrays.keys().cloned().collect();
        for (v, local, mutable, home) in operands {
            let elem = literal::elem(self.graph.value(v).ty.dtype)?;
            let (r, m) = if mutable {
                ("&mut ", "mut ")
            } else {
                ("&", "")
            };
            match (home, mutable) {
                (Home::Arena(p), _) => {
                    self.uses_arena = true;
                    pools.entry(p.dtype).or_default().push(Slice {
                        local: local.clone(),
                        offset: p.offset,
                        len: p.len,
                        mutable,
                    });
                }
                (Home::Empty, _) => lines.push(format!("let {local}: &{m}[{elem}] = {r}[];")),
                (Home::Output(id, _), _) => {
                    self.uses_outputs = true;
                    if !cut.contains(&id) {
                        lines.push(format!("let {local}: &{m}[{elem}] = {r}outputs.{id}[..];"));
                    } else if let Some(slices) = arrays.remove(&id) {
                        let slices: Vec<Slice> = slices.into_iter().map(|(s, _)| s).collect();
                        let pool = format!("outputs.{id}");
                        let whole = format!("&mut outputs.{id}[..]");
                        lines.extend(bind_in(&pool, &whole, elem, &slices)?);
                    }
                }
                (Home::Input(id), false) => {
                    self.uses_inputs = true;
                    lines.push(format!("let {local}: &[{elem}] = inputs.{id};"));
                    self.read_inputs.insert(id);
                }
                (Home::Const(c), false) => {
                    let name = self.statics.name(self.graph, c);
                    lines.push(format!("let {local}: &[{elem}] = &{name};"));
                }
                (Home::Input(_) | Home::Const(_), true) => {
                    return Err(format!(
                        "output {:?} is a graph input or constant",
                        self.graph.value(v).name
                    ));
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

    /// Copies for graph outputs no node writes: outputs that are graph inputs or constants,
    /// and second ports of a value that is an output twice.
    fn output_copies(&mut self, sig: &Signature) -> Result<String, CodegenError> {
        let mut w = Writer::new(1);
        for (&v, port) in self.graph.outputs.iter().zip(&sig.outputs) {
            if self.graph.value(v).ty.numel() == 0 {
                // An empty output has nothing to write; touching it keeps the field "used"
                // where the module is private to a binary.
                self.uses_outputs = true;
                w.line(format!("let _ = &outputs.{};", port.ident));
                continue;
            }
            let home = self.home(v).map_err(CodegenError::Plan)?;
            let src = match home {
                Home::Output(id, None) if id == port.ident => continue,
                Home::Empty => continue,
                Home::Output(id, None) => format!("&outputs.{id}[..]"),
                Home::Output(_, Some(_)) => {
                    return Err(CodegenError::Plan(format!(
                        "graph output {:?} is stored in part of another",
                        port.model_name
                    )));
                }
                Home::Input(id) => {
                    self.uses_inputs = true;
                    self.read_inputs.insert(id.clone());
                    format!("inputs.{id}")
                }
                Home::Const(c) => format!("&{}", self.statics.name(self.graph, c)),
                Home::Arena(_) => {
                    return Err(CodegenError::Plan(format!(
                        "graph output {:?} is placed in the arena",
                        port.model_name
                    )));
                }
            };
            self.uses_outputs = true;
            if w.is_empty() {
                w.line("// Graph outputs no node writes.");
            }
            w.line(format!("outputs.{}.copy_from_slice({src});", port.ident));
        }
        Ok(w.finish())
    }
}

/// The `//!` provenance header: version, model, options, memory summary.
fn header(m: &Module, algorithm: &str) -> String {
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
    }
    lines.push(String::new());
    lines.push(format!(
        "Memory: arena {} bytes ({algorithm}); lower bound {} bytes.",
        m.arena_bytes, m.lower_bound_bytes
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
