//! Graphs built node by node for the kernel tests.

use kiln::ir::ops::InferInput;
use kiln::ir::{Graph, Node, Op, Tensor, ValueKind};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// `n` graphs with their inputs, drawn from `s`.
pub fn draw<S: Strategy<Value = (Graph, Vec<Tensor>)>>(
    runner: &mut TestRunner,
    s: S,
    n: usize,
) -> Vec<(Graph, Vec<Tensor>)> {
    (0..n)
        .map(|_| s.new_tree(runner).expect("strategy").current())
        .collect()
}

/// A graph built node by node: inputs fed at run time, constants stored.
pub struct Builder {
    pub g: Graph,
    pub feed: Vec<Tensor>,
    count: usize,
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            g: Graph::new("case"),
            feed: Vec::new(),
            count: 0,
        }
    }

    pub fn input(&mut self, t: Tensor) -> kiln::ir::ValueId {
        let v = self
            .g
            .add_value(format!("x{}", self.feed.len()), t.ty(), ValueKind::Input);
        self.g.inputs.push(v);
        self.feed.push(t);
        v
    }

    pub fn constant(&mut self, t: Tensor) -> kiln::ir::ValueId {
        self.count += 1;
        let name = format!("c{}", self.count);
        self.g.add_value(name, t.ty(), ValueKind::Const(t))
    }

    /// Adds `op` on `inputs`; returns its output.
    pub fn node(
        &mut self,
        op: Op,
        onnx: &str,
        inputs: Vec<Option<kiln::ir::ValueId>>,
    ) -> kiln::ir::ValueId {
        self.try_node(op, onnx, inputs).expect("a valid node")
    }

    /// Adds `op` on `inputs` if its shapes infer; returns its output.
    pub fn try_node(
        &mut self,
        op: Op,
        onnx: &str,
        inputs: Vec<Option<kiln::ir::ValueId>>,
    ) -> Option<kiln::ir::ValueId> {
        let infer: Vec<Option<InferInput>> = inputs
            .iter()
            .map(|i| {
                i.map(|v| {
                    let val = self.g.value(v);
                    InferInput {
                        ty: &val.ty,
                        value: val.const_tensor(),
                    }
                })
            })
            .collect();
        let ty = op.infer(&infer).ok()?.remove(0);
        self.count += 1;
        let name = format!("n{}", self.count);
        let y = self
            .g
            .add_value(format!("{name}_y"), ty, ValueKind::Activation);
        self.g.add_node(Node {
            name,
            op,
            inputs,
            outputs: vec![y],
            onnx_op: onnx.into(),
            opset: 17,
            epilogue: Vec::new(),
            merged: Vec::new(),
        });
        Some(y)
    }

    pub fn finish(mut self, y: kiln::ir::ValueId) -> (Graph, Vec<Tensor>) {
        self.g.outputs.push(y);
        (self.g, self.feed)
    }
}
