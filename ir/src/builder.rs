//! Building graphs by hand (tests, tools, other frontends): each node's output types come
//! from the IR's own shape inference.

use crate::graph::{Graph, Node, ValueId, ValueKind};
use crate::ops::{InferInput, Op, WindowAttrs};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType};

pub struct Builder {
    pub g: Graph,
    nodes: usize,
}

impl Builder {
    pub fn new(name: &str) -> Self {
        Builder {
            g: Graph::new(name),
            nodes: 0,
        }
    }

    pub fn input(&mut self, name: &str, dtype: DType, shape: &[usize]) -> ValueId {
        let v = self
            .g
            .add_value(name, TensorType::new(dtype, shape), ValueKind::Input);
        self.g.inputs.push(v);
        v
    }

    /// A constant. Panics if `data` does not fit `shape` (a bug in the caller).
    pub fn constant(&mut self, name: &str, shape: &[usize], data: TensorData) -> ValueId {
        // Not model data: a mismatch is a bug in the calling test or tool.
        let t = Tensor::new(shape.to_vec(), data).expect("constant matches its shape");
        self.g.add_value(name, t.ty(), ValueKind::Const(t))
    }

    /// f32 constant with deterministic values `scale * ((i * 7 + seed) % 11 - 5)`.
    pub fn weights(&mut self, name: &str, shape: &[usize], seed: usize, scale: f32) -> ValueId {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|i| scale * (((i * 7 + seed) % 11) as f32 - 5.0))
            .collect();
        self.constant(name, shape, TensorData::F32(v))
    }

    /// Adds a node; its outputs get the types shape inference gives. Returns them, or the
    /// inference error.
    pub fn try_node(
        &mut self,
        op: Op,
        inputs: &[Option<ValueId>],
        n_out: usize,
    ) -> Result<Vec<ValueId>, String> {
        let ins: Vec<Option<InferInput>> = inputs
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
        let types = op.infer(&ins).map_err(|e| format!("{op}: {e}"))?;
        self.nodes += 1;
        let name = format!("{}_{}", op.name().to_lowercase(), self.nodes);
        let outputs: Vec<ValueId> = types
            .into_iter()
            .take(n_out)
            .enumerate()
            .map(|(k, t)| {
                self.g
                    .add_value(format!("{name}:{k}"), t, ValueKind::Activation)
            })
            .collect();
        let onnx_op = op.name().to_string();
        self.g.add_node(Node {
            name,
            op,
            inputs: inputs.to_vec(),
            outputs: outputs.clone(),
            onnx_op,
            opset: 13,
            epilogue: Vec::new(),
            merged: Vec::new(),
        });
        Ok(outputs)
    }

    /// [`Builder::try_node`], panicking on an inference error (a bug in the caller).
    pub fn node(&mut self, op: Op, inputs: &[Option<ValueId>], n_out: usize) -> Vec<ValueId> {
        self.try_node(op, inputs, n_out)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn one(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        let ins: Vec<Option<ValueId>> = inputs.iter().map(|&v| Some(v)).collect();
        self.node(op, &ins, 1)[0]
    }

    pub fn output(&mut self, v: ValueId) {
        self.g.outputs.push(v);
    }
}

/// Window attributes with explicit kernel, strides and pads (the rest default).
pub fn window(kernel: &[usize], strides: &[usize], pads: &[usize]) -> WindowAttrs {
    WindowAttrs {
        kernel_shape: kernel.to_vec(),
        strides: strides.to_vec(),
        pads: pads.to_vec(),
        ..Default::default()
    }
}

/// An i64 vector constant (shapes, axes).
pub fn i64s(b: &mut Builder, name: &str, v: &[i64]) -> ValueId {
    b.constant(name, &[v.len()], TensorData::I64(v.to_vec()))
}
