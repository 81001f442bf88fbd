//! Lowerings the Rust emitter needs at every optimisation level (they are not optimisations,
//! so they run at `-O0` too).

use kiln_ir::ops::{CastAttrs, InferInput};
use kiln_ir::{DType, Graph, Node, NodeId, Op, ValueId, ValueKind};
use std::collections::HashMap;

fn is_half(d: DType) -> bool {
    matches!(d, DType::F16 | DType::BF16)
}

/// Stable Rust has no f16/bf16 arithmetic, and the generated code stores them as bits. So
/// every node other than Cast that reads or writes a 16-bit float computes in f32 instead:
/// Casts to f32 go in front of it and Casts back behind it. Rounding to 16 bits once per op
/// is also how numpy evaluates f16 ops. A node whose op would not compute in f32 (its output
/// type is fixed by an attribute) is left alone; its kernel only moves bits.
pub fn widen_half(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut changes = Vec::new();
    let mut widened: HashMap<ValueId, ValueId> = HashMap::new();
    let nodes: Vec<NodeId> = g.node_ids().collect();
    for n in nodes {
        let node = g.node(n).clone();
        let Some((half_in, half_out)) = widen_plan(g, &node) else {
            continue;
        };
        for &k in &half_in {
            let v = node.inputs[k].expect("half_in holds present inputs");
            let w = match widened.get(&v) {
                Some(&w) => w,
                None => {
                    let w = widen_value(g, v, &node)?;
                    widened.insert(v, w);
                    w
                }
            };
            g.set_input(n, k, Some(w));
        }
        for &k in &half_out {
            let old = node.outputs[k];
            let (name, ty) = (g.value(old).name.clone(), g.value(old).ty.clone());
            // The node now writes `old` as f32; a Cast writes the 16-bit value under the
            // original name, which graph outputs keep.
            g.value_mut(old).ty.dtype = DType::F32;
            g.value_mut(old).name = format!("{name}.f32");
            let readers: Vec<(NodeId, usize)> = g
                .consumers(old)
                .into_iter()
                .flat_map(|c| {
                    let ins = g.node(c).inputs.clone();
                    (0..ins.len())
                        .filter(move |&s| ins[s] == Some(old))
                        .map(move |s| (c, s))
                })
                .collect();
            let narrow = g.add_value(name, ty.clone(), ValueKind::Activation);
            g.add_node(cast_node(
                &node,
                &format!("narrow{k}"),
                old,
                narrow,
                ty.dtype,
            ));
            for (c, s) in readers {
                g.set_input(c, s, Some(narrow));
            }
            for o in g.outputs.iter_mut().filter(|o| **o == old) {
                *o = narrow;
            }
        }
        changes.push(format!("{} ({}) computes in f32", node.name, node.onnx_op));
    }
    Ok(changes)
}

/// Whether `node` computes on 16-bit floats that `widen_half` would move to f32 (the
/// emitter refuses such a node: it has no f16 arithmetic).
pub fn computes_in_half(g: &Graph, node: &Node) -> bool {
    widen_plan(g, node).is_some()
}

/// The half-precision input and output slots of `node` to widen, if it has any and its op
/// computes in f32 given f32 operands.
fn widen_plan(g: &Graph, node: &Node) -> Option<(Vec<usize>, Vec<usize>)> {
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

/// The f32 copy of `v`: a constant converted now, or a Cast node.
fn widen_value(g: &mut Graph, v: ValueId, reader: &Node) -> Result<ValueId, String> {
    let val = g.value(v).clone();
    let mut ty = val.ty.clone();
    ty.dtype = DType::F32;
    let name = format!("{}.f32", val.name);
    let cast = Op::Cast(CastAttrs { to: DType::F32 });
    if let Some(t) = val.const_tensor() {
        let t = cast
            .eval(&[Some(t)])?
            .pop()
            .ok_or("Cast returned no tensor")?;
        return Ok(g.add_value(name, ty, ValueKind::Const(t)));
    }
    let w = g.add_value(name, ty, ValueKind::Activation);
    g.add_node(cast_node(
        reader,
        &format!("widen.{}", val.name),
        v,
        w,
        DType::F32,
    ));
    Ok(w)
}

fn cast_node(near: &Node, what: &str, from: ValueId, to: ValueId, dtype: DType) -> Node {
    Node {
        name: format!("{}.{what}", near.name),
        op: Op::Cast(CastAttrs { to: dtype }),
        inputs: vec![Some(from)],
        outputs: vec![to],
        onnx_op: "Cast".into(),
        opset: near.opset,
        epilogue: Vec::new(),
        merged: Vec::new(),
    }
}
