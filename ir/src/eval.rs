//! Whole-graph reference evaluation on the op-level semantics in [`crate::ops`].

use crate::graph::{Graph, NodeId, ValueId, ValueKind};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// Runs `graph` on `inputs` (one tensor per graph input, in order) and returns the graph
/// outputs in order. Errors name the node that failed.
pub fn run(graph: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
    run_observed(graph, inputs, &mut |_, _, _| Ok(()))
}

/// What [`run_observed`] shows its observer after each node: the node, its arguments
/// (constants included) and its outputs.
pub type Observer<'a> = dyn FnMut(NodeId, &[Option<&Tensor>], &[Tensor]) -> Result<(), String> + 'a;

/// [`run`], calling `observe` after each node with what the node read and wrote (for
/// calibration, which needs every intermediate value and the arguments that made it).
pub fn run_observed(
    graph: &Graph,
    inputs: &[Tensor],
    observe: &mut Observer<'_>,
) -> Result<Vec<Tensor>, String> {
    if inputs.len() != graph.inputs.len() {
        return Err(format!(
            "the graph has {} inputs but {} were given",
            graph.inputs.len(),
            inputs.len()
        ));
    }
    let mut env: HashMap<ValueId, Tensor> = HashMap::new();
    for (&v, t) in graph.inputs.iter().zip(inputs) {
        let want = &graph.value(v).ty;
        if t.ty() != *want {
            return Err(format!(
                "input {:?} must be {want}, got {}",
                graph.value(v).name,
                t.ty()
            ));
        }
        env.insert(v, t.clone());
    }
    let schedule = graph
        .schedule()
        .map_err(|_| "the graph has a cycle".to_string())?;
    for n in schedule {
        let node = graph.node(n);
        let args: Vec<Option<&Tensor>> = node
            .inputs
            .iter()
            .map(|i| {
                i.map(|v| match &graph.value(v).kind {
                    ValueKind::Const(t) => Ok(t),
                    _ => env
                        .get(&v)
                        .ok_or_else(|| format!("value %{} is not computed", v.0)),
                })
                .transpose()
            })
            .collect::<Result<_, _>>()?;
        let outs = node.eval(&args).map_err(|e| {
            format!(
                "node {:?} ({} opset {}): {e}",
                node.name, node.onnx_op, node.opset
            )
        })?;
        observe(n, &args, &outs)?;
        for (&v, t) in node.outputs.iter().zip(outs) {
            env.insert(v, t);
        }
    }
    graph
        .outputs
        .iter()
        .map(|&v| match &graph.value(v).kind {
            ValueKind::Const(t) => Ok(t.clone()),
            // `get`, not `remove`: a graph may list the same value as an output twice.
            _ => env
                .get(&v)
                .cloned()
                .ok_or_else(|| format!("output {:?} was not computed", graph.value(v).name)),
        })
        .collect()
}
