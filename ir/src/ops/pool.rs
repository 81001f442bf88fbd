//! Pooling: MaxPool (opsets 1, 8, 10, 11, 12, 22; optional Indices output),
//! AveragePool (1, 7, 10, 11, 19, 22; `count_include_pad`), GlobalAveragePool (1, 22).
//! Window geometry (pads, auto_pad, dilations, ceil_mode) comes from [`super::window`].

use super::window::WindowAttrs;
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType};

#[derive(Clone, Debug, PartialEq)]
pub struct MaxPoolAttrs {
    pub window: WindowAttrs,
    /// 0: row-major Indices, 1: column-major.
    pub storage_order: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AveragePoolAttrs {
    pub window: WindowAttrs,
    pub count_include_pad: bool,
}

fn pooled(window: &WindowAttrs, x: &TensorType) -> Result<TensorType, String> {
    if x.rank() < 3 {
        return Err(format!("X must have rank ≥ 3 (N, C, spatial...), got {x}"));
    }
    let g = window.geometry(&x.shape[2..], None)?;
    let mut shape = x.shape[..2].to_vec();
    shape.extend(g.output);
    Ok(TensorType::new(x.dtype, shape))
}

pub(crate) fn infer_max(
    a: &MaxPoolAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    let y = pooled(&a.window, x)?;
    let indices = TensorType::new(DType::I64, y.shape.clone());
    Ok(vec![y, indices])
}

pub(crate) fn infer_average(
    a: &AveragePoolAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "AveragePool is defined for floating-point tensors, got {x}"
        ));
    }
    Ok(vec![pooled(&a.window, x)?])
}

pub(crate) fn infer_global_average(
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.rank() < 3 {
        return Err(format!("X must have rank ≥ 3 (N, C, spatial...), got {x}"));
    }
    let mut shape = x.shape.clone();
    for d in &mut shape[2..] {
        *d = 1;
    }
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_max(
    a: &MaxPoolAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "X")?);
    Err("reference MaxPool is not written yet".into())
}

pub(crate) fn eval_average(
    a: &AveragePoolAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "X")?);
    Err("reference AveragePool is not written yet".into())
}

pub(crate) fn eval_global_average(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = tensor(inputs, 0, "X")?;
    Err("reference GlobalAveragePool is not written yet".into())
}
