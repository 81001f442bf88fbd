//! Elementwise ops. Binary (with multidirectional broadcasting): Add, Sub, Mul, Div
//! (opsets 7, 13, 14). Unary: Relu (6, 13, 14), Sigmoid (6, 13), Tanh (6, 13).
//! Clip (6: attribute bounds; 11, 12, 13: optional `min`/`max` inputs).
//! Integer Div truncates toward zero; integer Add/Sub/Mul wrap (numpy semantics, which the
//! ONNX test data follow).

use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, broadcast_shapes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "Add",
            BinaryOp::Sub => "Sub",
            BinaryOp::Mul => "Mul",
            BinaryOp::Div => "Div",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
    Relu,
    Sigmoid,
    Tanh,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "Relu",
            UnaryOp::Sigmoid => "Sigmoid",
            UnaryOp::Tanh => "Tanh",
        }
    }
}

/// Clip bounds given as attributes (opset 6). From opset 11 the bounds are inputs 1 and 2 and
/// these stay `None`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ClipAttrs {
    pub min: Option<f32>,
    pub max: Option<f32>,
}

pub(crate) fn infer_binary(
    op: BinaryOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let a = input(inputs, 0, "A")?.ty;
    let b = input(inputs, 1, "B")?.ty;
    if a.dtype != b.dtype {
        return Err(format!(
            "{} needs equal element types, got {a} and {b}",
            op.name()
        ));
    }
    let shape = broadcast_shapes(&a.shape, &b.shape)
        .ok_or_else(|| format!("shapes {a} and {b} do not broadcast"))?;
    Ok(vec![TensorType::new(a.dtype, shape)])
}

pub(crate) fn infer_unary(
    op: UnaryOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "{} is defined for floating-point tensors, got {x}",
            op.name()
        ));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn infer_clip(
    _a: &ClipAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    for (i, what) in [(1, "min"), (2, "max")] {
        if let Some(b) = inputs.get(i).copied().flatten() {
            if b.ty.numel() != 1 {
                return Err(format!("{what} must be a scalar, got {}", b.ty));
            }
            if b.ty.dtype != x.dtype {
                return Err(format!(
                    "{what} {} must have the element type of the input {x}",
                    b.ty
                ));
            }
        }
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_binary(op: BinaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (op, tensor(inputs, 0, "A")?);
    Err("reference binary ops are not written yet".into())
}

pub(crate) fn eval_unary(op: UnaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (op, tensor(inputs, 0, "X")?);
    Err("reference unary ops are not written yet".into())
}

pub(crate) fn eval_clip(a: &ClipAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "input")?);
    Err("reference Clip is not written yet".into())
}
