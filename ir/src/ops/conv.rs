//! Conv (ONNX opsets 1, 11, 22): N-d convolution with groups (depthwise when
//! `group == C_in`), explicit or automatic padding, strides and dilations.
//! Spec: https://onnx.ai/onnx/operators/onnx__Conv.html

use super::window::WindowAttrs;
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::TensorType;

#[derive(Clone, Debug, PartialEq)]
pub struct ConvAttrs {
    pub window: WindowAttrs,
    pub group: usize,
}

pub(crate) fn infer(
    a: &ConvAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    let w = input(inputs, 1, "W")?.ty;
    if x.rank() < 3 {
        return Err(format!("X must have rank ≥ 3 (N, C, spatial...), got {x}"));
    }
    if w.rank() != x.rank() {
        return Err(format!("W {w} must have the same rank as X {x}"));
    }
    if a.group == 0 || x.shape[1] % a.group != 0 || w.shape[0] % a.group != 0 {
        return Err(format!(
            "group {} must divide C_in {} and M {}",
            a.group, x.shape[1], w.shape[0]
        ));
    }
    if w.shape[1] * a.group != x.shape[1] {
        return Err(format!(
            "W has {} input channels per group but X has {} channels in {} groups",
            w.shape[1], x.shape[1], a.group
        ));
    }
    if let Some(b) = inputs.get(2).copied().flatten()
        && b.ty.shape != [w.shape[0]]
    {
        return Err(format!("bias {} must have shape [{}]", b.ty, w.shape[0]));
    }
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    if g.kernel != w.shape[2..] {
        return Err(format!("kernel_shape {:?} disagrees with W {w}", g.kernel));
    }
    let mut shape = vec![x.shape[0], w.shape[0]];
    shape.extend(g.output);
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval(a: &ConvAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "X")?);
    Err("reference Conv is not written yet".into())
}
