//! Cleanup: constant folding through the reference semantics, removal of identity-like
//! ops, and dead-code elimination.

use crate::rewrite::{absorb, replace_uses, sole_consumer};
use kiln_ir::ops::TransposeAttrs;
use kiln_ir::ops::shape::transpose_perm;
use kiln_ir::{Graph, NodeId, Op, Tensor, ValueKind};

/// Constant results bigger than this stay computed at run time: folding would trade a
/// little code for a lot of static data (a model's flash is usually its tightest budget).
const MAX_FOLDED_ELEMENTS: usize = 1 << 20;

/// Evaluates every node whose inputs are all constants and makes its outputs constants.
/// Returns the names of the folded nodes.
pub fn fold_constants(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut folded = Vec::new();
    let order = g.schedule().map_err(|_| "the graph has a cycle")?;
    for n in order {
        let node = g.node(n);
        let all_const = node
            .inputs
            .iter()
            .flatten()
            .all(|&v| matches!(g.value(v).kind, ValueKind::Const(_)));
        let small = node
            .outputs
            .iter()
            .all(|&v| g.value(v).ty.numel() <= MAX_FOLDED_ELEMENTS);
        if !all_const || !small {
            continue;
        }
        let args: Vec<Option<&Tensor>> = node
            .inputs
            .iter()
            .map(|i| i.and_then(|v| g.value(v).const_tensor()))
            .collect();
        let outs = node
            .eval(&args)
            .map_err(|e| format!("folding node {:?} ({}): {e}", node.name, node.onnx_op))?;
        let outputs = node.outputs.clone();
        folded.push(node.name.clone());
        g.remove_node(n);
        for (v, t) in outputs.into_iter().zip(outs) {
            g.value_mut(v).kind = ValueKind::Const(t);
        }
    }
    Ok(folded)
}

/// Whether `n` passes its input 0 through unchanged (same type, same elements in order).
fn is_identity(g: &Graph, n: NodeId) -> bool {
    let node = g.node(n);
    let (Some(Some(x)), Some(&y)) = (node.inputs.first(), node.outputs.first()) else {
        return false;
    };
    if !node.epilogue.is_empty() || g.value(*x).ty != g.value(y).ty {
        return false;
    }
    match &node.op {
        Op::Identity | Op::Reshape(_) | Op::Flatten(_) | Op::Squeeze(_) | Op::Unsqueeze(_) => true,
        // A Cast to the type it already has (the types were compared above).
        Op::Cast(_) => true,
        // Dropout in inference, unless its mask is read.
        Op::Dropout => node.outputs.len() == 1,
        Op::Transpose(a) => transpose_perm(a, g.value(*x).ty.rank())
            .is_ok_and(|p| p.iter().enumerate().all(|(i, &d)| i == d)),
        _ => false,
    }
}

/// The composition of two transposes applied in order (`first`, then `second`).
fn composed(first: &[usize], second: &[usize]) -> Vec<usize> {
    second.iter().map(|&d| first[d]).collect()
}

/// Removes a node whose output equals its input 0, rewiring its readers. When its output is
/// a graph output, the input's producer writes it instead (if it may); otherwise the node
/// stays, as the copy into the caller's array.
fn bypass(g: &mut Graph, n: NodeId) -> bool {
    let node = g.node(n);
    let (Some(Some(x)), Some(&y)) = (node.inputs.first(), node.outputs.first()) else {
        return false;
    };
    let x = *x;
    if !g.outputs.contains(&y) {
        g.remove_node(n);
        replace_uses(g, y, x);
        return true;
    }
    // y is the caller's array: let x's producer write it, if nothing else reads x.
    match g.producer(x) {
        Some(p) if sole_consumer(g, x) == Some(n) && g.node(p).outputs.len() == 1 => {
            absorb(g, p, n, "removed");
            true
        }
        _ => false,
    }
}

/// Removes Identity, Reshape/Flatten to the same shape, identity Transposes, Casts to the
/// type their input already has, and pairs of Transposes that cancel. Returns what it removed.
pub fn remove_identities(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    loop {
        let mut changed = false;
        let order = g.schedule().map_err(|_| "the graph has a cycle")?;
        for n in order {
            if !g.contains_node(n) {
                continue;
            }
            if is_identity(g, n) {
                let label = format!("{} {:?}", g.node(n).onnx_op, g.node(n).name);
                if bypass(g, n) {
                    removed.push(label);
                    changed = true;
                }
                continue;
            }
            // Transpose(Transpose(x)) with perms that compose to the identity: the second
            // becomes an Identity (removed on the next round); the first dies if unused.
            let node = g.node(n);
            if let (Op::Transpose(a2), Some(Some(mid))) = (&node.op, node.inputs.first())
                && let Some(p) = g.producer(*mid)
                && let Op::Transpose(a1) = &g.node(p).op
                && let Some(Some(x)) = g.node(p).inputs.first()
            {
                let rank = g.value(*x).ty.rank();
                if let (Ok(p1), Ok(p2)) = (transpose_perm(a1, rank), transpose_perm(a2, rank))
                    && composed(&p1, &p2).iter().enumerate().all(|(i, &d)| i == d)
                {
                    let x = *x;
                    let label =
                        format!("Transpose pair {:?} / {:?}", g.node(p).name, g.node(n).name);
                    g.node_mut(n).op = Op::Transpose(TransposeAttrs {
                        perm: Some((0..rank as i64).collect()),
                    });
                    g.set_input(n, 0, Some(x));
                    removed.push(label);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(removed)
}

/// Removes nodes none of whose outputs is read or is a graph output, until none is left.
pub fn eliminate_dead_code(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    loop {
        let dead: Vec<NodeId> = g
            .node_ids()
            .filter(|&n| {
                g.node(n)
                    .outputs
                    .iter()
                    .all(|&v| !g.outputs.contains(&v) && g.consumers(v).is_empty())
            })
            .collect();
        if dead.is_empty() {
            break;
        }
        for n in dead {
            if let Some(node) = g.remove_node(n) {
                removed.push(format!("{} {:?}", node.onnx_op, node.name));
            }
        }
    }
    Ok(removed)
}

/// The inputs of `op` that are multiplied into sums: a weight there of subnormal size
/// changes the result by less than one ulp of anything else summed with it.
fn multiplied_inputs(op: &Op) -> &'static [usize] {
    match op {
        Op::Conv(_) | Op::ConvTranspose(_) => &[1],
        Op::Gemm(_) | Op::MatMul => &[0, 1],
        _ => &[],
    }
}

/// Sets the subnormal elements of the f32 weights of Conv, ConvTranspose, Gemm and MatMul
/// to zero (sign kept). Why: on x86 (and Arm cores without flush-to-zero) every vector
/// multiply-add with a subnormal operand takes a microcode assist, about a hundred cycles,
/// and generated code cannot set the FPU's flush mode without `unsafe`. Trained models carry
/// them: ppocrv4_rec has 31,350, whole output channels of its squeeze-excitation 1x1
/// convolutions decayed to about 1e-39, which made two 1x1 steps of 15 and 58 K MACs take
/// 0.2 and 0.6 ms. Each product changes by less than `f32::MIN_POSITIVE * |x|`. A weight
/// shared with another reader is copied, not changed.
pub fn flush_subnormal_weights(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut flushed = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        for &slot in multiplied_inputs(&g.node(n).op) {
            let Some(Some(v)) = g.node(n).inputs.get(slot).copied() else {
                continue;
            };
            let Some(t) = g.value(v).const_tensor() else {
                continue;
            };
            let kiln_ir::TensorData::F32(data) = &t.data else {
                continue;
            };
            let count = data.iter().filter(|x| x.is_subnormal()).count();
            if count == 0 {
                continue;
            }
            let mut t = t.clone();
            if let kiln_ir::TensorData::F32(d) = &mut t.data {
                for x in d.iter_mut().filter(|x| x.is_subnormal()) {
                    *x = 0.0f32.copysign(*x);
                }
            }
            flushed.push(format!(
                "{count} of {} in {:?} of {} {:?}",
                t.numel(),
                g.value(v).name,
                g.node(n).onnx_op,
                g.node(n).name
            ));
            if sole_consumer(g, v) == Some(n) {
                g.value_mut(v).kind = ValueKind::Const(t);
            } else {
                let name = format!("{}.flushed", g.value(v).name);
                let nv = g.add_value(name, t.ty(), ValueKind::Const(t));
                g.set_input(n, slot, Some(nv));
            }
        }
    }
    Ok(flushed)
}

/// The (start, step, length) per axis that Slice `a` takes of a tensor of shape `dims`,
/// if every step is positive.
fn forward_slice(a: &kiln_ir::ops::SliceAttrs, dims: &[usize]) -> Option<Vec<(i64, i64, usize)>> {
    let n = a.starts.len();
    let axes: Vec<i64> = a.axes.clone().unwrap_or_else(|| (0..n as i64).collect());
    let steps: Vec<i64> = a.steps.clone().unwrap_or_else(|| vec![1; n]);
    if a.ends.len() != n || axes.len() != n || steps.len() != n {
        return None;
    }
    let mut per: Vec<(i64, i64, usize)> = dims.iter().map(|&d| (0, 1, d)).collect();
    for i in 0..n {
        let rank = dims.len() as i64;
        let ax = if axes[i] < 0 { axes[i] + rank } else { axes[i] };
        let ax = usize::try_from(ax).ok().filter(|&ax| ax < dims.len())?;
        let s = kiln_ir::ops::view::slice_axis(dims[ax], a.starts[i], a.ends[i], steps[i]).ok()?;
        if s.1 <= 0 {
            return None;
        }
        per[ax] = s;
    }
    Some(per)
}

/// A Slice of a Slice's output (its only reader), both with positive steps, becomes one
/// Slice of the first one's input: start `s1 + s2 * k1`, step `k1 * k2` per axis. One
/// strided copy instead of two, and no intermediate buffer: YOLOv5's space-to-depth
/// ("Focus") slices rows, then columns, four times (ddddocr_det: 0.74 ms for 3 MB of
/// pixels, each written twice).
pub fn merge_slices(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut merged = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        if !g.contains_node(n) {
            continue;
        }
        let Op::Slice(second) = &g.node(n).op else {
            continue;
        };
        let Some(Some(mid)) = g.node(n).inputs.first().copied() else {
            continue;
        };
        let Some(p) = g.producer(mid) else { continue };
        let Op::Slice(first) = &g.node(p).op else {
            continue;
        };
        let Some(Some(x)) = g.node(p).inputs.first().copied() else {
            continue;
        };
        if sole_consumer(g, mid) != Some(n)
            || !g.node(p).epilogue.is_empty()
            || !g.node(n).epilogue.is_empty()
            || g.node(p).outputs.len() != 1
            || g.node(n).outputs.len() != 1
        {
            continue;
        }
        let (dx, dm) = (&g.value(x).ty.shape, &g.value(mid).ty.shape);
        let (Some(a), Some(b)) = (forward_slice(first, dx), forward_slice(second, dm)) else {
            continue;
        };
        if a.len() != b.len() || a.iter().zip(dm).any(|(s, &d)| s.2 != d) {
            continue;
        }
        let (mut starts, mut ends, mut steps) = (Vec::new(), Vec::new(), Vec::new());
        for (&(s1, k1, _), &(s2, k2, len)) in a.iter().zip(&b) {
            let (start, step) = (s1 + s2 * k1, k1 * k2);
            starts.push(start);
            // One past the last index taken (the start itself when none is).
            ends.push(if len == 0 {
                start
            } else {
                start + step * (len as i64 - 1) + 1
            });
            steps.push(step);
        }
        let attrs = kiln_ir::ops::SliceAttrs {
            axes: Some((0..a.len() as i64).collect()),
            starts,
            ends,
            steps: Some(steps),
        };
        merged.push(format!("{:?} into {:?}", g.node(n).name, g.node(p).name));
        g.node_mut(p).op = Op::Slice(attrs);
        absorb(g, p, n, "merged");
    }
    Ok(merged)
}
