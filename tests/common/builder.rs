//! Graphs built node by node for the kernel tests.

use kiln::ir::{Graph, Op, Tensor};
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

/// Each family's drawn cases, labelled `<family> #<i>`.
pub fn labelled<T, const N: usize>(families: [(&str, Vec<T>); N]) -> Vec<(String, T)> {
    families
        .into_iter()
        .flat_map(|(family, drawn)| {
            drawn
                .into_iter()
                .enumerate()
                .map(move |(i, c)| (format!("{family} #{i}"), c))
        })
        .collect()
}

/// A graph built node by node: inputs fed at run time, constants stored. A layer over
/// the IR's own builder (names and shape inference) that also keeps each input's tensor.
pub struct Builder {
    b: kiln::ir::builder::Builder,
    pub feed: Vec<Tensor>,
    count: usize,
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            b: kiln::ir::builder::Builder::new("case"),
            feed: Vec::new(),
            count: 0,
        }
    }

    pub fn graph(&self) -> &Graph {
        &self.b.g
    }

    pub fn input(&mut self, t: Tensor) -> kiln::ir::ValueId {
        let name = format!("x{}", self.feed.len());
        let v = self.b.input(&name, t.dtype(), &t.shape);
        self.feed.push(t);
        v
    }

    pub fn constant(&mut self, t: Tensor) -> kiln::ir::ValueId {
        self.count += 1;
        let name = format!("c{}", self.count);
        self.b.constant(&name, &t.shape, t.data)
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

    /// Adds `op` on `inputs` if its shapes infer; returns its output. `onnx` is the op type
    /// messages name (an integer op stands for the ONNX op it came from).
    pub fn try_node(
        &mut self,
        op: Op,
        onnx: &str,
        inputs: Vec<Option<kiln::ir::ValueId>>,
    ) -> Option<kiln::ir::ValueId> {
        let y = self.b.try_node(op, &inputs, 1).ok()?.pop()?;
        let n = self.b.g.producer(y).expect("just added");
        self.b.g.node_mut(n).onnx_op = onnx.into();
        Some(y)
    }

    pub fn finish(mut self, y: kiln::ir::ValueId) -> (Graph, Vec<Tensor>) {
        self.b.output(y);
        (self.b.g, self.feed)
    }
}
