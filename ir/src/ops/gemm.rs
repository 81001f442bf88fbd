//! Gemm (opsets 1–13: `Y = alpha * A' * B' + beta * C`, C unidirectionally broadcast) and
//! MatMul (opsets 1–13, numpy semantics: 1-D operands promoted, batch dims broadcast).
//! Specs: https://onnx.ai/onnx/operators/onnx__Gemm.html, .../onnx__MatMul.html

use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, broadcast_shapes};

#[derive(Clone, Debug, PartialEq)]
pub struct GemmAttrs {
    pub alpha: f32,
    pub beta: f32,
    pub trans_a: bool,
    pub trans_b: bool,
}

impl Default for GemmAttrs {
    fn default() -> Self {
        GemmAttrs {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: false,
        }
    }
}

pub(crate) fn infer_gemm(
    a: &GemmAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let ta = input(inputs, 0, "A")?.ty;
    let tb = input(inputs, 1, "B")?.ty;
    if ta.rank() != 2 || tb.rank() != 2 {
        return Err(format!("A {ta} and B {tb} must be 2-D"));
    }
    let (m, k) = if a.trans_a {
        (ta.shape[1], ta.shape[0])
    } else {
        (ta.shape[0], ta.shape[1])
    };
    let (k2, n) = if a.trans_b {
        (tb.shape[1], tb.shape[0])
    } else {
        (tb.shape[0], tb.shape[1])
    };
    if k != k2 {
        return Err(format!(
            "inner dimensions differ: A' is {m}x{k}, B' is {k2}x{n}"
        ));
    }
    if let Some(c) = inputs.get(2).copied().flatten() {
        match broadcast_shapes(&c.ty.shape, &[m, n]) {
            Some(s) if s == [m, n] => {}
            _ => return Err(format!("C {} does not broadcast to [{m}, {n}]", c.ty)),
        }
    }
    Ok(vec![TensorType::new(ta.dtype, vec![m, n])])
}

/// Output shape of numpy matmul, or an error.
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    if a.is_empty() || b.is_empty() {
        return Err("MatMul operands must have rank ≥ 1".into());
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return Err(format!("inner dimensions differ: {a:?} x {b:?}"));
    }
    let batch = broadcast_shapes(&a2[..a2.len() - 2], &b2[..b2.len() - 2])
        .ok_or_else(|| format!("batch dimensions of {a:?} and {b:?} do not broadcast"))?;
    let mut out = batch;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Ok(out)
}

pub(crate) fn infer_matmul(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let ta = input(inputs, 0, "A")?.ty;
    let tb = input(inputs, 1, "B")?.ty;
    if ta.dtype != tb.dtype {
        return Err(format!("A {ta} and B {tb} have different element types"));
    }
    Ok(vec![TensorType::new(
        ta.dtype,
        matmul_shape(&ta.shape, &tb.shape)?,
    )])
}

pub(crate) fn eval_gemm(a: &GemmAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "A")?);
    Err("reference Gemm is not written yet".into())
}

pub(crate) fn eval_matmul(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = tensor(inputs, 0, "A")?;
    Err("reference MatMul is not written yet".into())
}
