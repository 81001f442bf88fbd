//! Which nodes compute on 16-bit floats. Stable Rust has no f16/bf16 arithmetic, so such
//! a node computes in f32 between Casts (`kiln_passes::lower::widen_half`), and an emitter
//! refuses one that was not lowered: both ask [`computes_in_half`].

use crate::graph::{Graph, Node};
use crate::ops::InferInput;
use crate::{DType, Op};

/// Whether `d` is a 16-bit float.
pub fn is_half(d: DType) -> bool {
    matches!(d, DType::F16 | DType::BF16)
}

/// Whether `node` computes on 16-bit floats that it would compute on in f32 instead, given
/// f32 operands.
pub fn computes_in_half(g: &Graph, node: &Node) -> bool {
    half_slots(g, node).is_some()
}

/// The 16-bit float input and output slots of `node` to widen to f32, if it has any and its
/// op computes in f32 given f32 operands. A node whose output type is fixed by an attribute
/// (it would not compute in f32) has none: its kernel only moves bits.
pub fn half_slots(g: &Graph, node: &Node) -> Option<(Vec<usize>, Vec<usize>)> {
    // QLinearMatMul reads f16 scales itself, to round its factor in f16.
    if matches!(node.op, Op::Cast(_) | Op::QLinearMatMul) {
        return None;
    }
    let half_in: Vec<usize> = (0..node.inputs.len())
        .filter(|&k| node.inputs[k].is_some_and(|v| is_half(g.value(v).ty.dtype)))
        .collect();
    let half_out: Vec<usize> = (0..node.outputs.len())
        .filter(|&k| is_half(g.value(node.outputs[k]).ty.dtype))
        .collect();
    if half_in.is_empty() && half_out.is_empty() {
        return None;
    }
    // Would the op compute in f32 with f32 operands?
    let f32_types: Vec<_> = node
        .inputs
        .iter()
        .map(|v| {
            v.map(|v| {
                let mut t = g.value(v).ty.clone();
                if is_half(t.dtype) {
                    t.dtype = DType::F32;
                }
                t
            })
        })
        .collect();
    let infer_in: Vec<Option<InferInput>> = node
        .inputs
        .iter()
        .zip(&f32_types)
        .map(|(v, t)| {
            t.as_ref().map(|ty| InferInput {
                ty,
                // Constant operands that are not widened keep their values (shapes, axes).
                value: v
                    .and_then(|v| g.value(v).const_tensor())
                    .filter(|c| !is_half(c.dtype())),
            })
        })
        .collect();
    let out_types = node.op.infer(&infer_in).ok()?;
    if half_out
        .iter()
        .any(|&k| out_types.get(k).map(|t| t.dtype) != Some(DType::F32))
    {
        return None;
    }
    Some((half_in, half_out))
}
