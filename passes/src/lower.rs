//! Lowerings the Rust emitter needs at every optimisation level (they are not optimisations,
//! so they run at `-O0` too).

use kiln_ir::half::half_slots;
use kiln_ir::ops::CastAttrs;
use kiln_ir::{DType, Graph, Node, NodeId, Op, ValueId, ValueKind};
use std::collections::HashMap;

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
        let Some((half_in, half_out)) = half_slots(g, &node) else {
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
