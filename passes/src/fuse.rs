//! Epilogue fusion: the elementwise op right after a Conv, Gemm, MatMul or pooling op (Relu, Clip,
//! Sigmoid, Tanh, SiLU, LeakyRelu, HardSigmoid, HardSwish, Gelu, or a residual Add of a tensor of
//! the same type) moves into the producer's epilogue list and disappears as a node, together
//! with the buffer between them. After an elementwise op (Unary, Activation, Add/Sub/Mul/
//! Div) the same steps but the residual Add fuse too, so a chain becomes one loop.

use crate::rewrite::{absorb, sole_consumer};
use kiln_ir::ops::{BinaryOp, Epilogue, EpilogueHost, UnaryOp};
use kiln_ir::{DType, Graph, NodeId, Op};

/// The epilogue step that node `c` (reading the producer's output at `slot`) amounts to,
/// and the extra input it needs.
fn as_epilogue(g: &Graph, c: NodeId, slot: usize) -> Option<(Epilogue, Option<kiln_ir::ValueId>)> {
    let node = g.node(c);
    match &node.op {
        Op::Unary(UnaryOp::Relu) => Some((Epilogue::Relu, None)),
        Op::Unary(UnaryOp::Sigmoid) => Some((Epilogue::Sigmoid, None)),
        Op::Unary(UnaryOp::Tanh) => Some((Epilogue::Tanh, None)),
        Op::Activation(a) => Some((Epilogue::Act(*a), None)),
        Op::Clip(a) => {
            // Bounds from constant inputs (opset ≥ 11) or attributes (opset 6).
            let bound = |k: usize, attr: Option<f32>, none: f64| -> Option<f64> {
                match node.inputs.get(k).copied().flatten() {
                    Some(v) => {
                        let t = g.value(v).const_tensor()?;
                        if t.numel() == 0 {
                            Some(none)
                        } else {
                            t.data.to_f64_vec().first().copied()
                        }
                    }
                    None => Some(attr.map_or(none, f64::from)),
                }
            };
            let min = bound(1, a.min, f64::NEG_INFINITY)?;
            let max = bound(2, a.max, f64::INFINITY)?;
            Some((Epilogue::Clip { min, max }, None))
        }
        Op::Binary(op @ (BinaryOp::Mul | BinaryOp::Add | BinaryOp::Sub)) => {
            // A one-element constant on the other side: a scale or a shift. Sub only with
            // the constant second (x - c is exactly x + (-c); c - x is not a shift).
            if let Some(by) = scalar_operand(g, c, 1 - slot) {
                return match op {
                    BinaryOp::Mul => Some((Epilogue::Scale { by }, None)),
                    BinaryOp::Add => Some((Epilogue::Shift { by }, None)),
                    _ if slot == 0 => Some((Epilogue::Shift { by: -by }, None)),
                    _ => None,
                };
            }
            // Otherwise only an Add fuses: a residual.
            if *op != BinaryOp::Add {
                return None;
            }
            let other = node.inputs.get(1 - slot).copied().flatten()?;
            let y = node.inputs.get(slot).copied().flatten()?;
            (other != y && g.value(other).ty == g.value(y).ty)
                .then_some((Epilogue::Add { slot: 0 }, Some(other)))
        }
        _ => None,
    }
}

/// The value of input `slot` of `n` when it is a one-element float constant.
fn scalar_operand(g: &Graph, n: NodeId, slot: usize) -> Option<f64> {
    let t = crate::rewrite::const_input(g, n, slot)?;
    if t.numel() != 1 || !matches!(t.dtype(), DType::F32 | DType::F64) {
        return None;
    }
    t.data.to_f64_vec().first().copied()
}

/// `Mul(y, Sigmoid(y))` (either operand order) reading producer output `y`: the Sigmoid and
/// the Mul, when they are `y`'s only readers and the Sigmoid's output feeds only the Mul.
fn silu_pattern(g: &Graph, y: kiln_ir::ValueId) -> Option<(NodeId, NodeId)> {
    if g.outputs.contains(&y) {
        return None;
    }
    let readers = g.consumers(y);
    let [a, b] = readers[..] else { return None };
    let (s, m) = if g.node(a).op == Op::Unary(UnaryOp::Sigmoid) {
        (a, b)
    } else {
        (b, a)
    };
    let sn = g.node(s);
    let mn = g.node(m);
    let so = *sn.outputs.first()?;
    let ok = sn.op == Op::Unary(UnaryOp::Sigmoid)
        && sn.epilogue.is_empty()
        && mn.op == Op::Binary(BinaryOp::Mul)
        && sole_consumer(g, so) == Some(m)
        && (mn.inputs[..] == [Some(y), Some(so)] || mn.inputs[..] == [Some(so), Some(y)])
        && g.value(mn.outputs[0]).ty == g.value(y).ty;
    ok.then_some((s, m))
}

/// The nodes and constants of HardSwish written in parts, `Div(Mul(y, Clip(Add(y, a), lo,
/// hi)), d)` (either operand order of the Add and the Mul), reading producer output `y`:
/// the four nodes and the step, when `y` has no other reader, each intermediate feeds only
/// the next node, all are of `y`'s type and carry no epilogue (the Div may: it follows).
fn hardswish_parts(g: &Graph, y: kiln_ir::ValueId) -> Option<([NodeId; 4], Epilogue)> {
    if g.outputs.contains(&y) {
        return None;
    }
    let readers = g.consumers(y);
    let [r0, r1] = readers[..] else { return None };
    let is_add = |n: NodeId| g.node(n).op == Op::Binary(BinaryOp::Add);
    let (add, mul) = if is_add(r0) { (r0, r1) } else { (r1, r0) };
    let ty = &g.value(y).ty;
    let plain = |n: NodeId, op: &Op| {
        let node = g.node(n);
        (node.op == *op
            && node.epilogue.is_empty()
            && node.outputs.len() == 1
            && g.value(node.outputs[0]).ty == *ty)
            .then_some(node.outputs[0])
    };
    let ao = plain(add, &Op::Binary(BinaryOp::Add))?;
    let a = match g.node(add).inputs[..] {
        [Some(p), Some(_)] if p == y => scalar_operand(g, add, 1)?,
        [Some(_), Some(q)] if q == y => scalar_operand(g, add, 0)?,
        _ => return None,
    };
    let clip = sole_consumer(g, ao)?;
    let Op::Clip(_) = g.node(clip).op else {
        return None;
    };
    if g.node(clip).inputs.first() != Some(&Some(ao)) {
        return None;
    }
    let co = plain(clip, &g.node(clip).op.clone())?;
    let Some((Epilogue::Clip { min, max }, None)) = as_epilogue(g, clip, 0) else {
        return None;
    };
    if sole_consumer(g, co) != Some(mul) {
        return None;
    }
    let mo = plain(mul, &Op::Binary(BinaryOp::Mul))?;
    let mn = g.node(mul);
    if mn.inputs[..] != [Some(y), Some(co)] && mn.inputs[..] != [Some(co), Some(y)] {
        return None;
    }
    let div = sole_consumer(g, mo)?;
    let dn = g.node(div);
    if dn.op != Op::Binary(BinaryOp::Div)
        || dn.inputs.first() != Some(&Some(mo))
        || dn.outputs.len() != 1
        || g.value(dn.outputs[0]).ty != *ty
    {
        return None;
    }
    let d = scalar_operand(g, div, 1)?;
    Some((
        [add, clip, mul, div],
        Epilogue::HardSwishParts {
            add: a,
            min,
            max,
            div: d,
        },
    ))
}

/// HardSwish in parts (see [`hardswish_parts`]) into the node before it, first: the chain
/// loop below would otherwise fuse the Clip into the Add, and the pattern be gone.
fn fuse_hardswish_parts(g: &mut Graph, fused: &mut Vec<String>) {
    // Until none is left: one fused into a node makes that node's output the next one's
    // input.
    let mut changed = true;
    while changed {
        changed = false;
        let ids: Vec<NodeId> = g.node_ids().collect();
        for p in ids {
            if !g.contains_node(p) || g.node(p).op.epilogue_host().is_none() {
                continue;
            }
            let node = g.node(p);
            if node.outputs.len() != 1
                || !matches!(g.value(node.outputs[0]).ty.dtype, DType::F32 | DType::F64)
            {
                continue;
            }
            let Some(([add, clip, mul, div], step)) = hardswish_parts(g, node.outputs[0]) else {
                continue;
            };
            let label = format!(
                "HardSwish in parts {:?}, {:?}, {:?}, {:?} into {:?}",
                g.node(add).name,
                g.node(clip).name,
                g.node(mul).name,
                g.node(div).name,
                g.node(p).name
            );
            let tail = g.node(div).epilogue.clone();
            g.node_mut(p).epilogue.push(step);
            g.node_mut(p).epilogue.extend(tail);
            for n in [add, clip, mul] {
                crate::rewrite::record_merge(g, p, n, "fused");
                g.remove_node(n);
            }
            absorb(g, p, div, "fused");
            fused.push(label);
            changed = true;
        }
    }
}

/// Fuses chains of elementwise ops into the Conv, Gemm and MatMul before them.
pub fn fuse_epilogues(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut fused = Vec::new();
    fuse_hardswish_parts(g, &mut fused);
    loop {
        let mut changed = false;
        let ids: Vec<NodeId> = g.node_ids().collect();
        for p in ids {
            if !g.contains_node(p) {
                continue;
            }
            let node = g.node(p);
            // Conv, Gemm, MatMul and pooling take any epilogue; an elementwise op takes the
            // steps that need no index, so a chain of them runs as one loop.
            let Some(host) = node.op.epilogue_host() else {
                continue;
            };
            let kernel_op = host == EpilogueHost::Any;
            if node.outputs.len() != 1 {
                continue;
            }
            let y = node.outputs[0];
            if !matches!(g.value(y).ty.dtype, DType::F32 | DType::F64) {
                continue;
            }
            if let Some((s, m)) = silu_pattern(g, y) {
                let label = format!(
                    "SiLU {:?} * {:?} into {:?}",
                    g.node(s).name,
                    g.node(m).name,
                    g.node(p).name
                );
                let tail = g.node(m).epilogue.clone();
                g.node_mut(p).epilogue.push(Epilogue::Silu);
                g.node_mut(p).epilogue.extend(tail);
                crate::rewrite::record_merge(g, p, s, "fused");
                g.remove_node(s);
                absorb(g, p, m, "fused");
                fused.push(label);
                changed = true;
                continue;
            }
            let Some(c) = sole_consumer(g, y) else {
                continue;
            };
            if g.node(c).outputs.len() != 1 || g.value(g.node(c).outputs[0]).ty != g.value(y).ty {
                continue;
            }
            let Some(slot) = g.node(c).inputs.iter().position(|i| *i == Some(y)) else {
                continue;
            };
            let Some((mut step, extra)) = as_epilogue(g, c, slot) else {
                continue;
            };
            if extra.is_some() && !kernel_op {
                continue;
            }
            let label = format!(
                "{} {:?} into {:?}",
                g.node(c).onnx_op,
                g.node(c).name,
                g.node(p).name
            );
            if let Some(v) = extra {
                let s = g.push_input(p, v);
                step = Epilogue::Add { slot: s };
            }
            // The consumer may carry a fused chain of its own (index-free steps): it follows.
            let tail = g.node(c).epilogue.clone();
            g.node_mut(p).epilogue.push(step);
            g.node_mut(p).epilogue.extend(tail);
            absorb(g, p, c, "fused");
            fused.push(label);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    Ok(fused)
}
