//! Graph validation. Emitters take a [`VerifiedGraph`], which only [`verify`] produces, so
//! code is never generated from a graph that has not been checked.

use crate::graph::{Graph, NodeId, ValueId, ValueKind};
use crate::ops::InferInput;
use std::collections::HashMap;
use std::fmt;

/// One problem found in a graph, with the node it concerns (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub node: Option<String>,
    pub op: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.node, &self.op) {
            (Some(n), Some(op)) => write!(f, "node {n:?} ({op}): {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// A graph that passed [`verify`], with its schedule.
#[derive(Debug)]
pub struct VerifiedGraph<'g> {
    graph: &'g Graph,
    schedule: Vec<NodeId>,
}

impl<'g> VerifiedGraph<'g> {
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// The execution order.
    pub fn schedule(&self) -> &[NodeId] {
        &self.schedule
    }
}

/// A graph that passed [`verify`], owned with its schedule: what a compilation hands from
/// one stage to the next without verifying again.
#[derive(Clone, Debug)]
pub struct OwnedVerifiedGraph {
    graph: Graph,
    schedule: Vec<NodeId>,
}

impl OwnedVerifiedGraph {
    /// Verifies `graph` and keeps it.
    pub fn new(graph: Graph) -> Result<OwnedVerifiedGraph, Vec<Diagnostic>> {
        let schedule = verify(&graph)?.schedule;
        Ok(OwnedVerifiedGraph { graph, schedule })
    }

    /// The borrowed form the emitters and the planner take.
    pub fn verified(&self) -> VerifiedGraph<'_> {
        VerifiedGraph {
            graph: &self.graph,
            schedule: self.schedule.clone(),
        }
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn schedule(&self) -> &[NodeId] {
        &self.schedule
    }

    pub fn into_graph(self) -> Graph {
        self.graph
    }

    /// The same graph in its plain order (the schedule hint cleared). Still verified: what
    /// `verify` checks holds in every topological order.
    pub fn without_schedule_hint(&self) -> OwnedVerifiedGraph {
        let mut graph = self.graph.clone();
        graph.clear_schedule_hint();
        let schedule = graph
            .schedule()
            .expect("a verified graph has no cycle, whatever its order");
        debug_assert!(verify(&graph).is_ok());
        OwnedVerifiedGraph { graph, schedule }
    }
}

/// Checks that the graph is well formed: acyclic, every value produced once before use, and
/// every node's recorded output types equal to what shape inference computes. Collects all
/// problems rather than stopping at the first.
pub fn verify(graph: &Graph) -> Result<VerifiedGraph<'_>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let schedule = match graph.schedule() {
        Ok(s) => s,
        Err(stuck) => {
            let names: Vec<String> = stuck
                .iter()
                .map(|&n| format!("{:?}", graph.node(n).name))
                .collect();
            diags.push(Diagnostic {
                node: None,
                op: None,
                message: format!("the graph has a cycle through nodes {}", names.join(", ")),
            });
            return Err(diags);
        }
    };
    let mut producer: HashMap<ValueId, NodeId> = HashMap::new();
    let mut available: Vec<bool> = graph
        .values()
        .map(|(_, v)| matches!(v.kind, ValueKind::Input | ValueKind::Const(_)))
        .collect();
    for &n in &schedule {
        let node = graph.node(n);
        let here = |message: String| Diagnostic {
            node: Some(node.name.clone()),
            op: Some(format!("{} (opset {})", node.onnx_op, node.opset)),
            message,
        };
        for v in node.inputs.iter().flatten() {
            if v.index() >= graph.value_count() || !available[v.index()] {
                diags.push(here(format!(
                    "input %{} is used before it is produced",
                    v.0
                )));
            }
        }
        for &v in &node.outputs {
            if v.index() >= graph.value_count() {
                diags.push(here(format!("output %{} does not exist", v.0)));
                continue;
            }
            if let Some(other) = producer.insert(v, n) {
                diags.push(here(format!(
                    "value {:?} is also produced by node {:?}",
                    graph.value(v).name,
                    graph.node(other).name
                )));
            }
            if !matches!(graph.value(v).kind, ValueKind::Activation) {
                diags.push(here(format!(
                    "output {:?} is an input or constant",
                    graph.value(v).name
                )));
            }
            available[v.index()] = true;
        }
        if diags.iter().any(|d| d.node.as_deref() == Some(&node.name)) {
            continue;
        }
        let ins: Vec<Option<InferInput>> = node
            .op_inputs()
            .iter()
            .map(|i| {
                i.map(|v| {
                    let val = graph.value(v);
                    InferInput {
                        ty: &val.ty,
                        value: val.const_tensor(),
                    }
                })
            })
            .collect();
        for e in &node.epilogue {
            if let crate::ops::Epilogue::Add { slot } = e {
                let ok = match (node.inputs.get(*slot), node.outputs.first()) {
                    (Some(Some(r)), Some(&y)) => graph.value(*r).ty == graph.value(y).ty,
                    _ => false,
                };
                if !ok {
                    diags.push(here(format!(
                        "epilogue add reads input {slot}, which is missing or not of the \
                         output's type"
                    )));
                }
            }
        }
        if !node.epilogue.is_empty()
            && let Some(&y) = node.outputs.first()
            && !matches!(
                graph.value(y).ty.dtype,
                crate::DType::F32 | crate::DType::F64
            )
        {
            diags.push(here(
                "epilogues apply to f32 and f64 outputs only".to_string(),
            ));
        }
        match node.op.infer(&ins) {
            Ok(types) => {
                for (k, &v) in node.outputs.iter().enumerate() {
                    match types.get(k) {
                        Some(t) if *t == graph.value(v).ty => {}
                        Some(t) => diags.push(here(format!(
                            "output {k} is recorded as {} but inference gives {t}",
                            graph.value(v).ty
                        ))),
                        None => diags.push(here(format!("output {k} does not exist for this op"))),
                    }
                }
            }
            Err(e) => diags.push(here(e)),
        }
    }
    for &v in &graph.outputs {
        if v.index() >= graph.value_count() || !available[v.index()] {
            diags.push(Diagnostic {
                node: None,
                op: None,
                message: format!("graph output %{} is never produced", v.0),
            });
        }
    }
    if diags.is_empty() {
        Ok(VerifiedGraph { graph, schedule })
    } else {
        Err(diags)
    }
}
