//! Data movement: Reshape (opsets 5, 13, 14, 19, 21; `allowzero`), Flatten (1, 9, 11, 13,
//! 21), Transpose (1, 13, 21), Concat (4, 11, 13). The result shapes are static; Reshape's
//! `shape` operand must be a compile-time constant.

use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReshapeAttrs {
    pub allowzero: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FlattenAttrs {
    pub axis: i64,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct TransposeAttrs {
    /// `None`: reverse the axes.
    pub perm: Option<Vec<i64>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConcatAttrs {
    pub axis: i64,
}

/// Resolves Reshape's requested shape (with `0` and `-1`) against the input shape.
pub fn reshape_target(
    input: &[usize],
    requested: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, String> {
    let numel: usize = input.iter().product();
    let mut out = Vec::with_capacity(requested.len());
    let mut infer_at = None;
    for (i, &r) in requested.iter().enumerate() {
        match r {
            -1 => {
                if infer_at.replace(i).is_some() {
                    return Err(format!("shape {requested:?} has more than one -1"));
                }
                out.push(1);
            }
            0 if !allowzero => {
                let d = *input.get(i).ok_or_else(|| {
                    format!(
                        "shape {requested:?} copies dimension {i} (0) but the input has rank {}",
                        input.len()
                    )
                })?;
                out.push(d);
            }
            r if r < 0 => return Err(format!("shape {requested:?} has negative dimension {r}")),
            r => out.push(usize::try_from(r).map_err(|_| format!("dimension {r} is too large"))?),
        }
    }
    let known = out
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != infer_at)
        .try_fold(1usize, |a, (_, &d)| a.checked_mul(d))
        .ok_or_else(|| format!("shape {requested:?} overflows"))?;
    if let Some(i) = infer_at {
        if known == 0 || numel % known != 0 {
            return Err(format!(
                "cannot infer -1 in {requested:?}: {numel} elements do not divide by {known}"
            ));
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(format!(
            "cannot reshape {input:?} ({numel} elements) to {requested:?} ({known} elements)"
        ));
    }
    Ok(out)
}

pub(crate) fn infer_reshape(
    a: &ReshapeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let s = input(inputs, 1, "shape")?;
    let requested = s
        .value
        .and_then(Tensor::as_i64_vec)
        .ok_or("the `shape` operand is only known at run time; kiln needs it as a constant (an initializer or Constant node)")?;
    Ok(vec![TensorType::new(
        x.dtype,
        reshape_target(&x.shape, &requested, a.allowzero)?,
    )])
}

pub(crate) fn infer_flatten(
    a: &FlattenAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    let r = x.rank() as i64;
    let axis = if a.axis < 0 { a.axis + r } else { a.axis };
    if !(0..=r).contains(&axis) {
        return Err(format!("axis {} is out of range for {x}", a.axis));
    }
    let axis = axis as usize;
    let outer: usize = x.shape[..axis].iter().product();
    let inner: usize = x.shape[axis..].iter().product();
    Ok(vec![TensorType::new(x.dtype, vec![outer, inner])])
}

/// The permutation, defaulted and validated against `rank`.
pub fn transpose_perm(a: &TransposeAttrs, rank: usize) -> Result<Vec<usize>, String> {
    let perm: Vec<usize> = match &a.perm {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&i| {
                normalize_axis(i, rank)
                    .ok_or_else(|| format!("perm {p:?} is out of range for rank {rank}"))
            })
            .collect::<Result<_, _>>()?,
    };
    let mut seen = vec![false; rank];
    if perm.len() != rank {
        return Err(format!("perm {perm:?} must have {rank} entries"));
    }
    for &p in &perm {
        if std::mem::replace(&mut seen[p], true) {
            return Err(format!("perm {perm:?} is not a permutation"));
        }
    }
    Ok(perm)
}

pub(crate) fn infer_transpose(
    a: &TransposeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let perm = transpose_perm(a, x.rank())?;
    Ok(vec![TensorType::new(
        x.dtype,
        perm.iter().map(|&p| x.shape[p]).collect::<Vec<_>>(),
    )])
}

pub(crate) fn infer_concat(
    a: &ConcatAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let first = input(inputs, 0, "inputs")?.ty;
    let axis = normalize_axis(a.axis, first.rank())
        .ok_or_else(|| format!("axis {} is out of range for {first}", a.axis))?;
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for (i, t) in inputs.iter().enumerate() {
        let t = t.ok_or_else(|| format!("input {i} is missing"))?.ty;
        let same_rest = t.rank() == first.rank()
            && (0..t.rank()).all(|d| d == axis || t.shape[d] == first.shape[d]);
        if t.dtype != first.dtype || !same_rest {
            return Err(format!(
                "input {i} {t} does not match {first} outside axis {axis}"
            ));
        }
        shape[axis] += t.shape[axis];
    }
    Ok(vec![TensorType::new(first.dtype, shape)])
}

pub(crate) fn eval_reshape(
    a: &ReshapeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "data")?);
    Err("reference Reshape is not written yet".into())
}

pub(crate) fn eval_flatten(
    a: &FlattenAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "input")?);
    Err("reference Flatten is not written yet".into())
}

pub(crate) fn eval_transpose(
    a: &TransposeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "data")?);
    Err("reference Transpose is not written yet".into())
}

pub(crate) fn eval_concat(
    a: &ConcatAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "inputs")?);
    Err("reference Concat is not written yet".into())
}
