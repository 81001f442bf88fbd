//! The graph: nodes on a petgraph `StableGraph`, values beside it.
//!
//! Edges run from the node producing a value to each node consuming it and carry the
//! [`ValueId`]; they exist so that scheduling (`toposort`) and cycle detection come from
//! petgraph. Node and value indices stay valid across removals, so passes can hold them.

use crate::ops::Op;
use crate::tensor::Tensor;
use crate::types::TensorType;
use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableGraph};
use petgraph::visit::EdgeRef;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt::Write as _;

pub type NodeId = NodeIndex<u32>;

/// Index of a value in [`Graph::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// Supplied by the caller at run time.
    Input,
    /// Known at compile time (an initializer or a `Constant` node): becomes a static.
    Const(Tensor),
    /// Produced by a node at run time.
    Activation,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The model's name for the tensor (unsanitised; codegen makes identifiers from it).
    pub name: String,
    pub ty: TensorType,
    pub kind: ValueKind,
    /// For 8-bit values that stand for reals (`real = (q - zero_point) * scale`), their
    /// per-tensor quantization: set by the quantize pass on the values its integer ops
    /// read and write, since those ops hold only the factors derived from it.
    pub quant: Option<Quantization>,
}

/// A per-tensor affine quantization: `real = (q - zero_point) * scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantization {
    pub scale: f32,
    pub zero_point: i32,
}

impl Value {
    pub fn const_tensor(&self) -> Option<&Tensor> {
        match &self.kind {
            ValueKind::Const(t) => Some(t),
            _ => None,
        }
    }
}

/// One operation. `inputs` keeps ONNX positions; `None` is an omitted optional input.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op: Op,
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<ValueId>,
    /// The ONNX op type and opset version the node was imported from, for messages.
    pub onnx_op: String,
    pub opset: i64,
    /// Elementwise work fused onto output 0, in order (empty until a pass fuses some).
    /// Inputs an epilogue reads are appended after the op's own inputs.
    pub epilogue: Vec<crate::ops::Epilogue>,
    /// The ONNX nodes the passes merged into this one, in order: a
    /// folded BatchNormalization, a fused activation or residual Add. For readers of the
    /// generated code and `kiln inspect`; no semantics.
    pub merged: Vec<Merged>,
}

/// An ONNX node a pass merged into another (see [`Node::merged`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// Its ONNX op type and node name.
    pub op: String,
    pub name: String,
    /// How it was merged: `folded` (into the weights), `fused` (an epilogue step),
    /// `removed` (a no-op), `bias of Gemm`.
    pub how: &'static str,
}

impl Node {
    /// The inputs of the op itself, without those its epilogue reads.
    pub fn op_inputs(&self) -> &[Option<ValueId>] {
        let n = crate::ops::epilogue::first_extra_slot(&self.epilogue)
            .unwrap_or(self.inputs.len())
            .min(self.inputs.len());
        &self.inputs[..n]
    }

    /// Runs the node on its inputs (all of them, epilogue inputs included): the op, then
    /// the epilogue on output 0.
    pub fn eval(&self, args: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
        let n = self.op_inputs().len().min(args.len());
        let mut outs = self.op.eval(&args[..n])?;
        if let Some(y) = outs.first_mut() {
            crate::ops::epilogue::apply(&self.epilogue, y, args)?;
        }
        Ok(outs)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    pub name: String,
    graph: StableGraph<Node, ValueId>,
    values: Vec<Value>,
    producers: HashMap<ValueId, NodeId>,
    /// Graph inputs in declaration order (only run-time inputs, not initializers).
    pub inputs: Vec<ValueId>,
    /// Graph outputs in declaration order.
    pub outputs: Vec<ValueId>,
    /// Preferred position of nodes among those ready at once (see [`Graph::schedule`]).
    schedule_hint: HashMap<NodeId, usize>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            ..Default::default()
        }
    }

    pub fn add_value(
        &mut self,
        name: impl Into<String>,
        ty: TensorType,
        kind: ValueKind,
    ) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(Value {
            name: name.into(),
            ty,
            kind,
            quant: None,
        });
        id
    }

    /// Adds a node. Its inputs must already exist (an input whose producer is added later
    /// would make the edge set incomplete), so callers add nodes in dependency order.
    pub fn add_node(&mut self, node: Node) -> NodeId {
        let inputs: Vec<ValueId> = node.inputs.iter().flatten().copied().collect();
        let outputs = node.outputs.clone();
        let id = self.graph.add_node(node);
        for v in inputs {
            if let Some(&p) = self.producers.get(&v) {
                self.graph.add_edge(p, id, v);
            }
        }
        for v in outputs {
            self.producers.insert(v, id);
        }
        id
    }

    /// Removes a node; its output values stay (a pass rewires or drops them).
    pub fn remove_node(&mut self, id: NodeId) -> Option<Node> {
        let node = self.graph.remove_node(id)?;
        for v in &node.outputs {
            if self.producers.get(v) == Some(&id) {
                self.producers.remove(v);
            }
        }
        Some(node)
    }

    /// Replaces input `slot` of `node` with `value`, keeping the edges in step.
    pub fn set_input(&mut self, node: NodeId, slot: usize, value: Option<ValueId>) {
        let old = self.graph[node].inputs[slot];
        self.graph[node].inputs[slot] = value;
        if let Some(old) = old {
            let still_used = self.graph[node].inputs.contains(&Some(old));
            if !still_used {
                let stale: Vec<_> = self
                    .graph
                    .edges_directed(node, Direction::Incoming)
                    .filter(|e| *e.weight() == old)
                    .map(|e| e.id())
                    .collect();
                for e in stale {
                    self.graph.remove_edge(e);
                }
            }
        }
        if let Some(v) = value
            && let Some(&p) = self.producers.get(&v)
        {
            self.graph.add_edge(p, node, v);
        }
    }

    /// Appends an input to `node` (an epilogue's operand), keeping the edges in step.
    /// Returns its slot.
    pub fn push_input(&mut self, node: NodeId, value: ValueId) -> usize {
        self.graph[node].inputs.push(Some(value));
        if let Some(&p) = self.producers.get(&value) {
            self.graph.add_edge(p, node, value);
        }
        self.graph[node].inputs.len() - 1
    }

    /// Makes `node` write `value` as its output `slot`, in place of the value it wrote
    /// before (which is left without a producer; rewire its readers first). Readers of
    /// `value` get their edges from `node`.
    pub fn set_output(&mut self, node: NodeId, slot: usize, value: ValueId) {
        let old = self.graph[node].outputs[slot];
        self.graph[node].outputs[slot] = value;
        if self.producers.get(&old) == Some(&node) {
            self.producers.remove(&old);
        }
        let stale: Vec<_> = self
            .graph
            .edges_directed(node, Direction::Outgoing)
            .filter(|e| *e.weight() == old)
            .map(|e| e.id())
            .collect();
        for e in stale {
            self.graph.remove_edge(e);
        }
        if let Some(p) = self.producers.insert(value, node)
            && p != node
        {
            let stale: Vec<_> = self
                .graph
                .edges_directed(p, Direction::Outgoing)
                .filter(|e| *e.weight() == value)
                .map(|e| e.id())
                .collect();
            for e in stale {
                self.graph.remove_edge(e);
            }
        }
        // Scanned: the edges for `value` were removed above, so they cannot be asked.
        for c in self.scan_consumers(value) {
            self.graph.add_edge(node, c, value);
        }
    }

    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn value_mut(&mut self, id: ValueId) -> &mut Value {
        &mut self.values[id.index()]
    }

    pub fn values(&self) -> impl Iterator<Item = (ValueId, &Value)> {
        self.values
            .iter()
            .enumerate()
            .map(|(i, v)| (ValueId(i as u32), v))
    }

    pub fn value_count(&self) -> usize {
        self.values.len()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.graph[id]
    }

    /// Node ids in insertion order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.graph.node_indices()
    }

    /// Whether `id` is a node of the graph (passes hold ids across removals).
    pub fn contains_node(&self, id: NodeId) -> bool {
        self.graph.contains_node(id)
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn producer(&self, v: ValueId) -> Option<NodeId> {
        self.producers.get(&v).copied()
    }

    /// Nodes reading `v`, each once, in id order. A value with a producer is looked up
    /// through the producer's edges (passes ask this for every value, so a scan of all
    /// nodes each time would make them quadratic); inputs and constants have no edges and
    /// are scanned for.
    pub fn consumers(&self, v: ValueId) -> Vec<NodeId> {
        let Some(&p) = self.producers.get(&v) else {
            return self.scan_consumers(v);
        };
        let set: BTreeSet<NodeId> = self
            .graph
            .edges_directed(p, Direction::Outgoing)
            .filter(|e| *e.weight() == v)
            .map(|e| e.target())
            .collect();
        let found: Vec<NodeId> = set.into_iter().collect();
        // The edges are kept in step by every input-changing method; tests check it.
        debug_assert_eq!(
            found,
            self.scan_consumers(v),
            "stale edges for value %{}",
            v.0
        );
        found
    }

    /// Nodes reading `v`, found by looking at every node.
    fn scan_consumers(&self, v: ValueId) -> Vec<NodeId> {
        let set: BTreeSet<NodeId> = self
            .graph
            .node_indices()
            .filter(|&n| self.graph[n].inputs.contains(&Some(v)))
            .collect();
        set.into_iter().collect()
    }

    /// Asks [`Graph::schedule`] to follow `order` wherever dependencies allow (a memory-aware
    /// order, say). Nodes not in `order` come after those that are, by insertion order.
    pub fn set_schedule_hint(&mut self, order: &[NodeId]) {
        self.schedule_hint = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    }

    pub fn has_schedule_hint(&self) -> bool {
        !self.schedule_hint.is_empty()
    }

    pub fn clear_schedule_hint(&mut self) {
        self.schedule_hint.clear();
    }

    /// The execution order: a topological order that, among ready nodes, keeps the order of
    /// the schedule hint if one is set, else the order in which nodes were added (so
    /// schedules are deterministic and follow the model file). On a cycle, returns the
    /// nodes that could not be scheduled.
    pub fn schedule(&self) -> Result<Vec<NodeId>, Vec<NodeId>> {
        let rank = |n: NodeId| (self.schedule_hint.get(&n).copied().unwrap_or(usize::MAX), n);
        let mut indegree: HashMap<NodeId, usize> = HashMap::new();
        for n in self.graph.node_indices() {
            let preds: BTreeSet<NodeId> = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .collect();
            indegree.insert(n, preds.len());
        }
        let mut ready: BinaryHeap<std::cmp::Reverse<(usize, NodeId)>> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(n, _)| std::cmp::Reverse(rank(*n)))
            .collect();
        let mut order = Vec::with_capacity(indegree.len());
        while let Some(std::cmp::Reverse((_, n))) = ready.pop() {
            order.push(n);
            let succs: BTreeSet<NodeId> = self
                .graph
                .neighbors_directed(n, Direction::Outgoing)
                .collect();
            for s in succs {
                // Cannot fail: `indegree` has an entry for every node of the graph, and
                // petgraph only returns nodes of this graph. Both sides count distinct
                // neighbours, so `*d` is never decremented below zero.
                let d = indegree
                    .get_mut(&s)
                    .expect("successor is a node of this graph");
                *d -= 1;
                if *d == 0 {
                    ready.push(std::cmp::Reverse(rank(s)));
                }
            }
        }
        if order.len() == indegree.len() {
            Ok(order)
        } else {
            let done: BTreeSet<NodeId> = order.into_iter().collect();
            Err(self
                .graph
                .node_indices()
                .filter(|n| !done.contains(n))
                .collect())
        }
    }

    /// A readable, stable text form of the graph (`kiln inspect --ir`).
    pub fn dump(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "graph {:?} {{", self.name);
        for &v in &self.inputs {
            let val = self.value(v);
            let _ = writeln!(s, "  input %{} {:?}: {}", v.0, val.name, val.ty);
        }
        for (id, val) in self.values() {
            if let ValueKind::Const(_) = val.kind {
                let _ = writeln!(s, "  const %{} {:?}: {}", id.0, val.name, val.ty);
            }
        }
        let order = self
            .schedule()
            .unwrap_or_else(|_| self.node_ids().collect());
        for n in order {
            let node = self.node(n);
            let ins: Vec<String> = node
                .inputs
                .iter()
                .map(|i| i.map_or_else(|| "_".to_string(), |v| format!("%{}", v.0)))
                .collect();
            let outs: Vec<String> = node
                .outputs
                .iter()
                .map(|&v| format!("%{}: {}", v.0, self.value(v).ty))
                .collect();
            let epi: String = node.epilogue.iter().map(|e| format!(" +{e}")).collect();
            let _ = writeln!(
                s,
                "  {} = {}({}){epi} {:?}",
                outs.join(", "),
                node.op,
                ins.join(", "),
                node.name
            );
        }
        let outs: Vec<String> = self.outputs.iter().map(|v| format!("%{}", v.0)).collect();
        let _ = writeln!(s, "  output {}", outs.join(", "));
        s.push_str("}\n");
        s
    }
}
