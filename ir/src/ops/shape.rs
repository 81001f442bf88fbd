//! Data movement: Reshape (opsets 5, 13, 14, 19, 21; `allowzero`), Flatten (1, 9, 11, 13,
//! 21), Transpose (1, 13, 21), Concat (4, 11, 13), Squeeze and Unsqueeze (1, 11, 13, 21,
//! 23: `axes` an attribute before 13, a constant input from 13), Dropout in inference (7,
//! 10, 12, 13, 22: the identity, and an all-true mask). The result shapes are static; Reshape's
//! `shape` operand must be a compile-time constant.
//! Specs: https://onnx.ai/onnx/operators/onnx__Reshape.html, .../onnx__Flatten.html,
//! .../onnx__Transpose.html, .../onnx__Concat.html
//!
//! The reference semantics only move elements, so they work for every element type.

use super::common::{concat_data, gather, infer_on, output, strided_index, strides_of};
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
        if known == 0 || !numel.is_multiple_of(known) {
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
    let ty = infer_on(inputs, |ii| infer_reshape(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    Ok(vec![output(&ty, x.data.clone())?])
}

pub(crate) fn eval_flatten(
    a: &FlattenAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_flatten(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "input")?;
    Ok(vec![output(&ty, x.data.clone())?])
}

pub(crate) fn eval_transpose(
    a: &TransposeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_transpose(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let perm = transpose_perm(a, x.shape.len())?;
    // Output axis i walks input axis perm[i]: permute the input strides and read through them.
    let in_strides = strides_of(&x.shape);
    let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let idx = strided_index(&ty.shape, &strides);
    Ok(vec![output(&ty, gather(&x.data, &idx))?])
}

pub(crate) fn eval_concat(
    a: &ConcatAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_concat(a, ii))?.remove(0);
    let parts: Vec<&Tensor> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| t.ok_or_else(|| format!("input {i} is missing")))
        .collect::<Result<_, _>>()?;
    let axis = normalize_axis(a.axis, ty.rank())
        .ok_or_else(|| format!("axis {} is out of range for {ty}", a.axis))?;
    // Row-major: the output is, for each index over the axes before `axis`, the blocks of
    // the inputs one after another.
    let outer: usize = ty.shape[..axis].iter().product();
    let blocks: Vec<usize> = parts
        .iter()
        .map(|t| t.shape[axis..].iter().product())
        .collect();
    let offsets: Vec<usize> = parts
        .iter()
        .scan(0, |acc, t| {
            let at = *acc;
            *acc += t.numel();
            Some(at)
        })
        .collect();
    let mut idx = Vec::with_capacity(ty.numel());
    for o in 0..outer {
        for (&start, &len) in offsets.iter().zip(&blocks) {
            idx.extend(start + o * len..start + (o + 1) * len);
        }
    }
    let all = concat_data(&parts.iter().map(|t| &t.data).collect::<Vec<_>>())?;
    let data = gather(&all, &idx);
    Ok(vec![output(&ty, data)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{f32s, iota, run, run1};
    use crate::tensor::TensorData;

    fn shape_tensor(v: &[i64]) -> Tensor {
        Tensor::new(vec![v.len()], TensorData::I64(v.to_vec())).unwrap()
    }

    fn transpose(perm: Option<Vec<i64>>) -> Op {
        Op::Transpose(TransposeAttrs { perm })
    }

    fn concat(axis: i64) -> Op {
        Op::Concat(ConcatAttrs { axis })
    }

    /// Elements `[start, start + len)` along `axis`, by plain index arithmetic.
    fn slice_axis(t: &Tensor, axis: usize, start: usize, len: usize) -> Tensor {
        let outer: usize = t.shape[..axis].iter().product();
        let inner: usize = t.shape[axis + 1..].iter().product();
        let d = t.shape[axis];
        let idx: Vec<usize> = (0..outer)
            .flat_map(|o| {
                (start..start + len)
                    .flat_map(move |j| (0..inner).map(move |i| (o * d + j) * inner + i))
            })
            .collect();
        let mut shape = t.shape.clone();
        shape[axis] = len;
        Tensor::new(shape, gather(&t.data, &idx)).unwrap()
    }

    #[test]
    fn reshape_copies_zero_and_infers_minus_one() {
        let x = iota(&[2, 3, 4]);
        let op = Op::Reshape(ReshapeAttrs::default());
        let y = run1(&op, &[&x, &shape_tensor(&[0, -1])]);
        assert_eq!(y.shape, vec![2, 12]);
        assert_eq!(y.data, x.data);
        let y = run1(&op, &[&x, &shape_tensor(&[4, 0, 2])]);
        assert_eq!(y.shape, vec![4, 3, 2]);
        // allowzero: a 0 is a real zero-length dimension.
        let empty = f32s(&[0, 3], &[]);
        let allow = Op::Reshape(ReshapeAttrs { allowzero: true });
        let y = run1(&allow, &[&empty, &shape_tensor(&[3, 0])]);
        assert_eq!(y.shape, vec![3, 0]);
        assert!(run(&op, &[Some(&x), Some(&shape_tensor(&[5, -1]))]).is_err());
        assert!(run(&op, &[Some(&x)]).is_err());
    }

    #[test]
    fn flatten_at_every_axis() {
        let x = iota(&[2, 3, 4]);
        for (axis, want) in [
            (0, [1, 24]),
            (1, [2, 12]),
            (2, [6, 4]),
            (3, [24, 1]),
            (-1, [6, 4]),
        ] {
            let y = run1(&Op::Flatten(FlattenAttrs { axis }), &[&x]);
            assert_eq!(y.shape, want);
            assert_eq!(y.data, x.data);
        }
        assert!(run(&Op::Flatten(FlattenAttrs { axis: 4 }), &[Some(&x)]).is_err());
    }

    #[test]
    fn transpose_matches_index_arithmetic() {
        let x = iota(&[2, 3, 4]);
        let y = run1(&transpose(Some(vec![1, 2, 0])), &[&x]);
        assert_eq!(y.shape, vec![3, 4, 2]);
        let (TensorData::F32(xv), TensorData::F32(yv)) = (&x.data, &y.data) else {
            unreachable!()
        };
        for a in 0..3 {
            for b in 0..4 {
                for c in 0..2 {
                    // y[a, b, c] = x[c, a, b]
                    assert_eq!(yv[(a * 4 + b) * 2 + c], xv[(c * 3 + a) * 4 + b]);
                }
            }
        }
        // Default: reversed axes, so a matrix is transposed.
        let m = iota(&[2, 3]);
        let t = run1(&transpose(None), &[&m]);
        assert_eq!(t.data, TensorData::F32(vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]));
    }

    #[test]
    fn transpose_then_inverse_is_identity_for_any_type() {
        let x = Tensor::new(vec![2, 1, 3, 2], TensorData::I8((0..12).collect())).unwrap();
        let perm = [2i64, 0, 3, 1];
        let mut inv = [0i64; 4];
        for (i, &p) in perm.iter().enumerate() {
            inv[p as usize] = i as i64;
        }
        let y = run1(&transpose(Some(perm.to_vec())), &[&x]);
        let z = run1(&transpose(Some(inv.to_vec())), &[&y]);
        assert_eq!(z, x);
        let b = Tensor::new(vec![1, 2], TensorData::Bool(vec![true, false])).unwrap();
        assert_eq!(run1(&transpose(None), &[&b]).shape, vec![2, 1]);
        assert!(run(&transpose(Some(vec![0, 0])), &[Some(&iota(&[2, 2]))]).is_err());
    }

    #[test]
    fn concat_then_slice_gives_the_inputs_back() {
        let a = iota(&[2, 1, 3]);
        let b = f32s(
            &[2, 2, 3],
            &(100..112).map(|i| i as f32).collect::<Vec<_>>(),
        );
        let c = f32s(
            &[2, 3, 3],
            &(200..218).map(|i| i as f32).collect::<Vec<_>>(),
        );
        let y = run1(&concat(-2), &[&a, &b, &c]);
        assert_eq!(y.shape, vec![2, 6, 3]);
        assert_eq!(slice_axis(&y, 1, 0, 1), a);
        assert_eq!(slice_axis(&y, 1, 1, 2), b);
        assert_eq!(slice_axis(&y, 1, 3, 3), c);
        // Axis 0 is plain appending.
        let y = run1(&concat(0), &[&a, &a]);
        assert_eq!(y.shape, vec![4, 1, 3]);
        assert_eq!(slice_axis(&y, 0, 2, 2), a);
    }

    #[test]
    fn concat_any_type_and_refuses_mismatches() {
        let h = Tensor::new(vec![1], TensorData::F16(vec![0x3c00])).unwrap();
        let y = run1(&concat(0), &[&h, &h]);
        assert_eq!(y.data, TensorData::F16(vec![0x3c00, 0x3c00]));
        let b = Tensor::new(vec![1], TensorData::Bool(vec![true])).unwrap();
        assert_eq!(run1(&concat(0), &[&b]).data, TensorData::Bool(vec![true]));
        let i = Tensor::new(vec![1], TensorData::I8(vec![1])).unwrap();
        assert!(run(&concat(0), &[Some(&h), Some(&i)]).is_err());
        assert!(run(&concat(1), &[Some(&iota(&[2, 2])), Some(&iota(&[3, 2]))]).is_err());
        assert!(run(&concat(0), &[Some(&h), None]).is_err());
    }

    #[test]
    fn identity_copies() {
        let x = iota(&[2, 2]);
        assert_eq!(run1(&Op::Identity, &[&x]), x);
    }
}

/// Squeeze: `axes` from the attribute (opsets < 13) or the constant input 1; `None` and no
/// input removes every axis of size 1.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SqueezeAttrs {
    pub axes: Option<Vec<i64>>,
}

/// Unsqueeze: `axes` from the attribute (opsets < 13) or the constant input 1.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct UnsqueezeAttrs {
    pub axes: Option<Vec<i64>>,
}

/// The axes of an op: the attribute, or the constant input 1 (an error if it is only known
/// at run time), or `None` if neither is given.
fn axes_operand(
    attr: &Option<Vec<i64>>,
    inputs: &[Option<InferInput>],
) -> Result<Option<Vec<i64>>, String> {
    if let Some(a) = attr {
        return Ok(Some(a.clone()));
    }
    match inputs.get(1).copied().flatten() {
        None => Ok(None),
        Some(i) => i
            .value
            .and_then(Tensor::as_i64_vec)
            .map(Some)
            .ok_or_else(|| {
                "the `axes` operand is only known at run time; kiln needs it as a constant (an \
             initializer or Constant node)"
                    .to_string()
            }),
    }
}

pub(crate) fn infer_squeeze(
    a: &SqueezeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let r = x.rank();
    let axes = match axes_operand(&a.axes, inputs)? {
        Some(axes) => {
            let mut out = Vec::with_capacity(axes.len());
            for &ax in &axes {
                let d = normalize_axis(ax, r)
                    .ok_or_else(|| format!("axis {ax} is out of range for {x}"))?;
                if x.shape[d] != 1 {
                    return Err(format!("axis {ax} of {x} has size {}, not 1", x.shape[d]));
                }
                if out.contains(&d) {
                    return Err(format!("axis {ax} is listed twice in {axes:?}"));
                }
                out.push(d);
            }
            out
        }
        None => (0..r).filter(|&d| x.shape[d] == 1).collect(),
    };
    let shape: Vec<usize> = (0..r)
        .filter(|d| !axes.contains(d))
        .map(|d| x.shape[d])
        .collect();
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn infer_unsqueeze(
    a: &UnsqueezeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let axes = axes_operand(&a.axes, inputs)?.ok_or("Unsqueeze needs `axes`")?;
    let r = x.rank() + axes.len();
    let mut new_axes = Vec::with_capacity(axes.len());
    for &ax in &axes {
        let d = normalize_axis(ax, r)
            .ok_or_else(|| format!("axis {ax} is out of range for the rank-{r} output"))?;
        if new_axes.contains(&d) {
            return Err(format!("axis {ax} is listed twice in {axes:?}"));
        }
        new_axes.push(d);
    }
    let mut it = x.shape.iter();
    let shape: Vec<usize> = (0..r)
        .map(|d| {
            if new_axes.contains(&d) {
                1
            } else {
                // r = rank + the new axes, so the input has exactly one dim per other axis.
                it.next().copied().unwrap_or(1)
            }
        })
        .collect();
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_squeeze(
    a: &SqueezeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_squeeze(a, ii))?.remove(0);
    Ok(vec![output(&ty, tensor(inputs, 0, "data")?.data.clone())?])
}

pub(crate) fn eval_unsqueeze(
    a: &UnsqueezeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_unsqueeze(a, ii))?.remove(0);
    Ok(vec![output(&ty, tensor(inputs, 0, "data")?.data.clone())?])
}

/// Dropout in inference: inputs data, ratio?, training_mode? (a constant false, or absent);
/// outputs the data and, if asked for, an all-true mask.
pub(crate) fn infer_dropout(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    if let Some(t) = inputs.get(2).copied().flatten() {
        match t.value.map(|v| v.data.to_f64_vec()) {
            Some(v) if v.iter().all(|&b| b == 0.0) => {}
            // Training with a dropout ratio of 0 drops nothing: still the identity.
            Some(_)
                if inputs
                    .get(1)
                    .copied()
                    .flatten()
                    .and_then(|r| r.value)
                    .is_some_and(|r| r.data.to_f64_vec().iter().all(|&v| v == 0.0)) => {}
            Some(_) => {
                return Err(
                    "training_mode is true: kiln compiles inference, where Dropout passes its \
                     input through; export the model in eval mode"
                        .into(),
                );
            }
            None => {
                return Err(
                    "training_mode is only known at run time; kiln needs it as a constant false"
                        .into(),
                );
            }
        }
    }
    Ok(vec![
        x.clone(),
        TensorType::new(crate::types::DType::Bool, x.shape.clone()),
    ])
}

pub(crate) fn eval_dropout(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, infer_dropout)?;
    let x = tensor(inputs, 0, "data")?;
    let mask = crate::tensor::TensorData::Bool(vec![true; x.numel()]);
    Ok(vec![
        output(&types[0], x.data.clone())?,
        output(&types[1], mask)?,
    ])
}
