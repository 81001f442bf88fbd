//! Lowers a planned graph into a [`Program`]: walks the schedule once, gives every operand
//! its storage from the memory plan, and asks the op's family for its kernel calls.
//!
//! Storage follows the memory plan's aliases: a value shared with another (a view's output,
//! an in-place output) lives where the value it aliases lives, with its own length (the
//! same element count); a value stored in part of it (an input of a Concat written in place)
//! lives in that part. View nodes lower to [`StepKind::View`]; in-place nodes call the
//! in-place kernels, which read and write the one operand of the buffer they overwrite; a
//! Concat whose inputs were all written in place lowers to [`StepKind::ConcatInPlace`], one
//! with some copies the others.

use super::NodeCx;
use crate::api::{CodegenError, NodeError, Port, QuantParams, Signature};
use crate::kernels::KernelSet;
use crate::literal;
use crate::namer::{Case, Namer};
use crate::program::{
    Access, Home, Operand, OutputCopy, Packing, PoolInfo, Program, Static, Step, StepKind,
};
use kiln_ir::{Graph, Node, NodeId, Op, ValueId, ValueKind, VerifiedGraph};
use kiln_passes::MemoryPlan;
use kiln_passes::memory::Part;
use std::collections::{BTreeMap, BTreeSet};

/// Where a value lives, before operands are cut from it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Input(String),
    /// The first port of a graph output, written by its producer; with a part, the elements
    /// of it a value stored there occupies (an input of a Concat written in place).
    Output(String, Option<Part>),
    Const(ValueId),
    Arena(kiln_passes::Placement),
    Empty,
}

/// The constants the program refers to, named in order of first use: each as the model
/// has it, or packed for a kernel (then a static of its own).
struct Statics {
    namer: Namer,
    names: BTreeMap<(ValueId, Option<Packing>), String>,
    order: Vec<(ValueId, Option<Packing>)>,
}

impl Statics {
    fn name(&mut self, g: &Graph, v: ValueId, packing: Option<Packing>) -> String {
        if let Some(n) = self.names.get(&(v, packing)) {
            return n.clone();
        }
        let name = &g.value(v).name;
        let n = match packing {
            None => self.namer.name(name),
            Some(_) => self.namer.name(&format!("{name}_packed")),
        };
        self.names.insert((v, packing), n.clone());
        self.order.push((v, packing));
        n
    }
}

struct Lowerer<'g> {
    graph: &'g Graph,
    plan: &'g MemoryPlan,
    places: BTreeMap<ValueId, Place>,
    statics: Statics,
    kernels: KernelSet,
    tiling: Option<crate::kernels::Tiling>,
    target: kiln_ir::Target,
    dsp_pairs: bool,
    /// The step that produced each value (for operand comments).
    producers: BTreeMap<ValueId, usize>,
    uses_inputs: bool,
    read_inputs: BTreeSet<String>,
    uses_outputs: bool,
    uses_arena: bool,
}

/// Lowers `graph` with the storage `plan` assigns, for `target`.
pub(crate) fn lower(
    graph: &VerifiedGraph,
    plan: &MemoryPlan,
    target: kiln_ir::Target,
    kernels: crate::api::KernelChoice,
    dsp_pairs: bool,
) -> Result<Program, CodegenError> {
    let g = graph.graph();
    let tiling = match kernels {
        crate::api::KernelChoice::Fast => crate::kernels::Tiling::for_target(target, false),
        // Correct on any target, but slow where `mul_add` is a library call: `kiln`'s
        // options refuse it for a target without FMA.
        crate::api::KernelChoice::FastFused => crate::kernels::Tiling::for_target(target, true),
        crate::api::KernelChoice::Reference => None,
    };
    if plan.schedule != graph.schedule() {
        return Err(CodegenError::Plan(
            "it was made for a different schedule".into(),
        ));
    }
    let signature = signature(g)?;
    let mut statics_namer = Namer::new(Case::Screaming);
    for name in crate::namer::MODULE_CONSTS {
        statics_namer.reserve(name);
    }
    for p in signature.inputs.iter().chain(&signature.outputs) {
        for what in crate::namer::PORT_CONSTS {
            statics_namer.reserve(&crate::namer::port_const(&p.ident, what));
        }
    }
    let mut places = BTreeMap::new();
    for (&v, p) in g.inputs.iter().zip(&signature.inputs) {
        places.entry(v).or_insert(Place::Input(p.ident.clone()));
    }
    for (&v, p) in g.outputs.iter().zip(&signature.outputs) {
        if matches!(g.value(v).kind, ValueKind::Activation) {
            places
                .entry(v)
                .or_insert(Place::Output(p.ident.clone(), None));
        }
    }
    let mut lw = Lowerer {
        graph: g,
        plan,
        places,
        statics: Statics {
            namer: statics_namer,
            names: BTreeMap::new(),
            order: Vec::new(),
        },
        kernels: KernelSet::default(),
        tiling,
        target,
        dsp_pairs,
        producers: BTreeMap::new(),
        uses_inputs: false,
        read_inputs: BTreeSet::new(),
        uses_outputs: false,
        uses_arena: false,
    };
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    for (index, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        match lw.step(index, n, node) {
            Ok(step) => steps.push(step),
            Err(message) => errors.push(NodeError {
                node: node.name.clone(),
                op: node.onnx_op.clone(),
                opset: node.opset,
                message,
            }),
        }
        for &y in &node.outputs {
            lw.producers.insert(y, index);
        }
    }
    if !errors.is_empty() {
        return Err(CodegenError::Nodes(errors));
    }
    let output_copies = lw.output_copies(&signature)?;
    let unread_inputs = signature
        .inputs
        .iter()
        .filter(|p| !lw.read_inputs.contains(&p.ident))
        .map(|p| p.ident.clone())
        .collect();
    let statics = lw.statics()?;
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
    Ok(Program {
        target,
        signature,
        steps,
        statics,
        library: lw.kernels,
        output_copies,
        unread_inputs,
        uses_inputs: lw.uses_inputs,
        uses_outputs: lw.uses_outputs,
        uses_arena: lw.uses_arena,
        pools,
        arena_bytes: plan.arena_bytes(),
        lower_bound_bytes: plan.lower_bound_bytes(),
        plan_algorithm: plan.algorithm,
    })
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
            quant: if what == "input" {
                input_quant(g, v)
            } else {
                output_quant(g, v)
            },
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

/// The quantization the quantize pass recorded on `v` (its integer ops hold only factors).
fn recorded_quant(g: &Graph, v: ValueId) -> Option<QuantParams> {
    g.value(v).quant.map(|q| QuantParams {
        scale: q.scale,
        zero_point: i64::from(q.zero_point),
    })
}

/// A per-tensor scale and zero point read from constant operands `scale` and `zero_point`
/// (absent: 0) of `node`.
fn quant_at(g: &Graph, node: &Node, scale: usize, zero_point: usize) -> Option<QuantParams> {
    let constant = |slot: usize| {
        let v = node.inputs.get(slot).copied().flatten()?;
        g.value(v).const_tensor().filter(|t| t.numel() == 1)
    };
    let scale = constant(scale)?.first_as_f64()? as f32;
    let zero_point = match node.inputs.get(zero_point).copied().flatten() {
        None => 0,
        Some(_) => *constant(zero_point)?.as_i64_vec()?.first()?,
    };
    Some(QuantParams { scale, zero_point })
}

/// The quantization of integer input `v`: the per-tensor scale and zero point every node
/// reading it reads it with, when all read it as quantized values and agree.
fn input_quant(g: &Graph, v: ValueId) -> Option<QuantParams> {
    if g.value(v).ty.dtype.is_float() {
        return None;
    }
    if let Some(q) = recorded_quant(g, v) {
        return Some(q);
    }
    let mut found = None;
    for n in g.consumers(v) {
        let node = g.node(n);
        let inputs = kiln_ir::ops::quant::quant_slots(&node.op).inputs;
        // Every slot reading `v` must be a quantized operand, with the same parameters.
        for (slot, x) in node.inputs.iter().enumerate() {
            if *x != Some(v) {
                continue;
            }
            let &(_, s, z) = inputs.iter().find(|(q, _, _)| *q == slot)?;
            let q = quant_at(g, node, s, z)?;
            if found.is_some_and(|f| f != q) {
                return None;
            }
            found = Some(q);
        }
    }
    found
}

/// The quantization of integer output `v`: its producer's per-tensor output scale and zero
/// point.
fn output_quant(g: &Graph, v: ValueId) -> Option<QuantParams> {
    if g.value(v).ty.dtype.is_float() {
        return None;
    }
    if let Some(q) = recorded_quant(g, v) {
        return Some(q);
    }
    let node = g.node(g.producer(v)?);
    if node.outputs.first() != Some(&v) {
        return None;
    }
    let (s, z) = kiln_ir::ops::quant::quant_slots(&node.op).output?;
    quant_at(g, node, s, z)
}

impl Lowerer<'_> {
    /// Where `v` lives: where the value whose storage it shares lives (see
    /// `MemoryPlan::aliases`), which has the same element type; all of it, with the same
    /// element count, or the part of it the plan gives `v` (`MemoryPlan::parts`).
    fn place(&self, v: ValueId) -> Result<Place, String> {
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
        if let Some(h) = self.places.get(&s) {
            return match (h, part) {
                (_, None) if whole => Ok(h.clone()),
                (Place::Output(id, None), Some(p))
                    if p.len == tv.numel() && p.end() <= ts.numel() =>
                {
                    Ok(Place::Output(id.clone(), Some(p)))
                }
                _ => Err(mismatch()),
            };
        }
        if val.ty.numel() == 0 && whole {
            return Ok(Place::Empty);
        }
        match &val.kind {
            ValueKind::Const(_) if whole => Ok(Place::Const(s)),
            ValueKind::Const(_) => Err(mismatch()),
            // The buffer may be longer than its root (a Concat's): the placement, narrowed
            // to the value's part, has the value's length.
            ValueKind::Activation => match self.plan.placement(v) {
                Some(p)
                    if p.len == tv.numel()
                        && p.dtype == kiln_passes::memory::storage_dtype(tv.dtype) =>
                {
                    Ok(Place::Arena(p))
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

    /// The program's view of a place, naming statics as they are first used.
    fn home(&mut self, v: ValueId, place: Place) -> Home {
        match place {
            Place::Input(ident) => Home::Input { ident },
            Place::Output(ident, part) => {
                let len = self.graph.value(self.plan.storage(v)).ty.numel();
                let p = part.unwrap_or(Part { offset: 0, len });
                Home::Output {
                    ident,
                    offset: p.offset,
                    len: p.len,
                    whole: part.is_none(),
                }
            }
            Place::Const(c) => Home::Static {
                name: self.statics.name(self.graph, c, None),
            },
            Place::Arena(p) => Home::Arena {
                pool: p.dtype,
                offset: p.offset,
                len: p.len,
            },
            Place::Empty => Home::Empty,
        }
    }

    fn step(&mut self, index: usize, id: NodeId, node: &Node) -> Result<Step, String> {
        let g = self.graph;
        let inputs: Vec<Option<&kiln_ir::TensorType>> = node
            .op_inputs()
            .iter()
            .map(|x| x.map(|x| &g.value(x).ty))
            .collect();
        let outputs: Vec<&kiln_ir::TensorType> =
            node.outputs.iter().map(|&y| &g.value(y).ty).collect();
        let macs = node.op.macs(&inputs, &outputs);
        let bytes: u64 = node
            .inputs
            .iter()
            .flatten()
            .chain(&node.outputs)
            .map(|&v| (g.value(v).ty.numel() * g.value(v).ty.dtype.size_bytes()) as u64)
            .sum();
        let kind = self.kind(id, node)?;
        Ok(Step {
            index,
            node: node.name.clone(),
            onnx_op: node.onnx_op.clone(),
            opset: node.opset,
            op: node.op.name().to_string(),
            outputs: outputs.iter().map(|t| t.to_string()).collect(),
            merged: node
                .merged
                .iter()
                .map(|m| crate::program::MergedNode {
                    op: m.op.clone(),
                    name: m.name.clone(),
                    how: m.how,
                })
                .collect(),
            epilogue: node.epilogue.clone(),
            kind,
            layout: layout(node, &outputs),
            macs,
            bytes,
        })
    }

    fn kind(&mut self, id: NodeId, node: &Node) -> Result<StepKind, String> {
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
            self.place(y)?;
            return Ok(StepKind::View);
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
                    self.place(y)?;
                }
                return Ok(StepKind::ConcatInPlace);
            }
            copies_only = Some((a, placed));
        }
        let mut cx = NodeCx::new(
            self.graph,
            node,
            &mut self.kernels,
            self.tiling,
            self.plan.scratch_placement(id).map_or(0, |p| p.len),
        );
        cx.target = self.target;
        cx.dsp_pairs = self.dsp_pairs;
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
            super::emit_in_place(&mut cx, slot)?;
        } else if let Some((a, placed)) = copies_only {
            super::emit_concat(&mut cx, a, &placed)?;
        } else {
            super::emit(&mut cx)?;
        }
        let code = cx.finish();
        if code.calls.is_empty() {
            return Ok(StepKind::Empty);
        }
        if code.reads.is_empty() && code.writes.is_empty() {
            // Nothing to bind: an identity in place.
            return Ok(StepKind::IdentityInPlace);
        }
        let mut operands = Vec::new();
        for (slot, local, access) in code
            .reads
            .iter()
            .map(|(s, l)| (*s, l, Access::Read))
            .chain(code.writes.iter().map(|(s, l)| (*s, l, Access::Write)))
        {
            let v = match access {
                Access::Read => node.inputs.get(slot).copied().flatten(),
                Access::Write => node.outputs.get(slot).copied(),
            }
            .ok_or_else(|| format!("operand {local} does not exist"))?;
            let place = self.place(v)?;
            match (&place, access) {
                (Place::Input(_) | Place::Const(_), Access::Write) => {
                    return Err(format!(
                        "output {:?} is a graph input or constant",
                        self.graph.value(v).name
                    ));
                }
                (Place::Input(id), _) => {
                    self.uses_inputs = true;
                    self.read_inputs.insert(id.clone());
                }
                (Place::Output(..), _) => self.uses_outputs = true,
                (Place::Arena(_), _) => self.uses_arena = true,
                _ => {}
            }
            let val = self.graph.value(v);
            literal::elem(val.ty.dtype)?;
            let packing = match access {
                Access::Read => code.packed.get(&slot).copied(),
                Access::Write => None,
            };
            let (home, len) = match (packing, place) {
                (None, place) => (self.home(v, place), val.ty.numel()),
                (Some(p), Place::Const(c)) => (
                    Home::Static {
                        name: self.statics.name(self.graph, c, Some(p)),
                    },
                    p.len(),
                ),
                (Some(_), _) => {
                    return Err(format!(
                        "operand {local} is packed at compile time but {:?} is not a constant",
                        val.name
                    ));
                }
            };
            operands.push(Operand {
                local: local.clone(),
                access,
                slot,
                value: val.name.clone(),
                dtype: packing.map_or(val.ty.dtype, |p| p.stored_dtype(val.ty.dtype)),
                len,
                home,
                producer: match access {
                    Access::Read => self.producers.get(&v).copied(),
                    Access::Write => None,
                },
            });
        }
        if let Some(local) = &code.scratch {
            let p = self
                .plan
                .scratch_placement(id)
                .ok_or("its kernel needs scratch space the memory plan did not give it")?;
            self.uses_arena = true;
            operands.push(Operand {
                local: local.clone(),
                access: Access::Write,
                slot: node.outputs.len(),
                value: format!("{}:scratch", node.name),
                dtype: p.dtype,
                len: p.len,
                home: Home::Arena {
                    pool: p.dtype,
                    offset: p.offset,
                    len: p.len,
                },
                producer: None,
            });
        }
        check_disjoint(&operands)?;
        Ok(StepKind::Call {
            operands,
            calls: code.calls,
        })
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
                self.place(x)?;
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

    /// Copies for graph outputs no node writes: outputs that are graph inputs or constants,
    /// and second ports of a value that is an output twice.
    fn output_copies(&mut self, sig: &Signature) -> Result<Vec<OutputCopy>, CodegenError> {
        let mut copies = Vec::new();
        for (&v, port) in self.graph.outputs.iter().zip(&sig.outputs) {
            if self.graph.value(v).ty.numel() == 0 {
                // An empty output has nothing to write; the printer still touches it.
                self.uses_outputs = true;
                copies.push(OutputCopy {
                    ident: port.ident.clone(),
                    from: Home::Empty,
                });
                continue;
            }
            let place = self.place(v).map_err(CodegenError::Plan)?;
            match &place {
                Place::Output(id, None) if *id == port.ident => continue,
                Place::Empty => continue,
                Place::Output(_, None) | Place::Const(_) => {}
                Place::Output(_, Some(_)) => {
                    return Err(CodegenError::Plan(format!(
                        "graph output {:?} is stored in part of another",
                        port.model_name
                    )));
                }
                Place::Input(id) => {
                    self.uses_inputs = true;
                    self.read_inputs.insert(id.clone());
                }
                Place::Arena(_) => {
                    return Err(CodegenError::Plan(format!(
                        "graph output {:?} is placed in the arena",
                        port.model_name
                    )));
                }
            }
            self.uses_outputs = true;
            let from = self.home(v, place);
            copies.push(OutputCopy {
                ident: port.ident.clone(),
                from,
            });
        }
        Ok(copies)
    }

    /// The statics in order of first use, with their sizes.
    fn statics(&self) -> Result<Vec<Static>, CodegenError> {
        let g = self.graph;
        self.statics
            .order
            .iter()
            .map(|&(v, packing)| {
                let val = g.value(v);
                let t = val.const_tensor().ok_or_else(|| {
                    CodegenError::Plan(format!("value %{} is not a constant", v.0))
                })?;
                literal::elem(t.dtype()).map_err(|message| CodegenError::Port {
                    what: "constant",
                    name: val.name.clone(),
                    message,
                })?;
                let numel = packing.map_or(t.numel(), |p| p.len());
                Ok(Static {
                    name: self.statics.names[&(v, packing)].clone(),
                    value: val.name.clone(),
                    id: v,
                    ty: val.ty.to_string(),
                    layout: packing.map_or("row-major", |p| p.layout()),
                    packing,
                    bytes: numel
                        * packing
                            .map_or(t.dtype(), |p| p.stored_dtype(t.dtype()))
                            .size_bytes(),
                })
            })
            .collect()
    }
}

/// Refuses a step whose outputs overlap each other or an input in the same storage: the
/// memory plan promised they never do, and safe Rust could not borrow them anyway. (An
/// in-place output's overwritten input is not an operand.)
fn check_disjoint(operands: &[Operand]) -> Result<(), String> {
    let region = |o: &Operand| match &o.home {
        Home::Arena { pool, offset, len } => Some((format!("the {pool} pool"), *offset, *len)),
        Home::Output {
            ident, offset, len, ..
        } => Some((format!("output {ident}"), *offset, *len)),
        _ => None,
    };
    for (i, w) in operands.iter().enumerate() {
        if w.access != Access::Write {
            continue;
        }
        let Some((ws, wo, wl)) = region(w) else {
            continue;
        };
        for (j, o) in operands.iter().enumerate() {
            let Some((s, off, len)) = region(o) else {
                continue;
            };
            let overlap = s == ws && off < wo + wl && wo < off + len && len > 0 && wl > 0;
            if i != j && overlap && (o.access == Access::Read || j > i) {
                let what = if o.access == Access::Read {
                    "input"
                } else {
                    "output"
                };
                return Err(format!(
                    "{what} {} overlaps output {} in {ws}",
                    o.local, w.local
                ));
            }
        }
    }
    Ok(())
}

/// The layout a step's kernel reads and writes its tensors in. Every kernel today works on
/// the model's own row-major layout; for the spatial ops that is NCHW.
fn layout(node: &Node, outputs: &[&kiln_ir::TensorType]) -> &'static str {
    let spatial = matches!(
        node.op,
        Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::ConvInteger(_)
            | Op::QLinearConv(_)
            | Op::MaxPool(_)
            | Op::AveragePool(_)
            | Op::LpPool(_)
            | Op::GlobalAveragePool
            | Op::GlobalMaxPool
            | Op::BatchNormalization(_)
    );
    match (spatial, outputs.first().map(|t| t.rank())) {
        (true, Some(3)) => "NCW",
        (true, Some(4)) => "NCHW",
        (true, Some(5)) => "NCDHW",
        _ => "row-major",
    }
}
