//! Small graph-editing helpers shared by the passes.

use kiln_ir::{Graph, NodeId, Tensor, ValueId, ValueKind};

/// Points every reader of `old` at `new`. Graph outputs are not touched: they are the
/// caller's arrays, named by the model.
pub fn replace_uses(g: &mut Graph, old: ValueId, new: ValueId) {
    for c in g.consumers(old) {
        let slots: Vec<usize> = g
            .node(c)
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, i)| **i == Some(old))
            .map(|(k, _)| k)
            .collect();
        for k in slots {
            g.set_input(c, k, Some(new));
        }
    }
}

/// The one node reading `v`, if exactly one node reads it (once or more) and it is not a
/// graph output: the condition for folding `v`'s producer into that reader.
pub fn sole_consumer(g: &Graph, v: ValueId) -> Option<NodeId> {
    if g.outputs.contains(&v) {
        return None;
    }
    match g.consumers(v).as_slice() {
        [c] => Some(*c),
        _ => None,
    }
}

/// The constant behind input `slot` of `n`.
pub fn const_input(g: &Graph, n: NodeId, slot: usize) -> Option<&Tensor> {
    let v = (*g.node(n).inputs.get(slot)?)?;
    g.value(v).const_tensor()
}

/// Adds a constant value named after `like` and returns it.
pub fn add_const(g: &mut Graph, like: &str, t: Tensor) -> ValueId {
    g.add_value(format!("{like}.folded"), t.ty(), ValueKind::Const(t))
}

/// Removes node `second`, which reads `first`'s output 0, and makes `first` write
/// `second`'s output 0 instead. The caller has checked that `second` is the sole reader of
/// `first`'s output 0 and has moved whatever else `second` computed onto `first`. `how`
/// (`folded`, `fused`, ...) is recorded with `second`'s name in `first`'s `merged` list.
pub fn absorb(g: &mut Graph, first: NodeId, second: NodeId, how: &'static str) {
    let out = g.node(second).outputs[0];
    record_merge(g, first, second, how);
    g.remove_node(second);
    g.set_output(first, 0, out);
}

/// Records in `into`'s `merged` list that node `n` (and whatever was merged into it) now
/// runs as part of it.
pub fn record_merge(g: &mut Graph, into: NodeId, n: NodeId, how: &'static str) {
    let node = g.node(n);
    let mut merged = vec![kiln_ir::graph::Merged {
        op: node.onnx_op.clone(),
        name: node.name.clone(),
        how,
    }];
    merged.extend(node.merged.iter().cloned());
    g.node_mut(into).merged.extend(merged);
}

/// Sets node `n`'s inputs to exactly `inputs`: those slots set, later ones dropped.
pub fn replace_inputs(g: &mut Graph, n: NodeId, inputs: &[Option<ValueId>]) {
    set_inputs(g, n, inputs);
    for k in inputs.len()..g.node(n).inputs.len() {
        g.set_input(n, k, None);
    }
    g.node_mut(n).inputs.truncate(inputs.len());
}

/// Sets node `n`'s leading inputs to `inputs`, appending slots as needed.
pub fn set_inputs(g: &mut Graph, n: NodeId, inputs: &[Option<ValueId>]) {
    let len = g.node(n).inputs.len();
    for (k, v) in inputs.iter().enumerate() {
        if k < len {
            g.set_input(n, k, *v);
        } else if let Some(v) = v {
            g.push_input(n, *v);
        } else {
            g.node_mut(n).inputs.push(None);
        }
    }
}
