//! ReduceMean (opsets 1, 11, 13, 18): the mean over `axes`, which is an attribute before
//! opset 18 and an optional input from 18 on; `keepdims` (default 1) keeps the reduced axes
//! with size 1; without axes every axis is reduced, unless `noop_with_empty_axes` (18) makes
//! the op the identity.
//! Spec: https://onnx.ai/onnx/operators/onnx__ReduceMean.html
//!
//! Reference semantics on floats, summed in f64 and rounded once (an empty reduction is
//! 0 / 0 = NaN, as in numpy).

use super::common::{floats, from_f64s, infer_on, output, strides_of, unravel};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct ReduceAttrs {
    /// The `axes` attribute of opsets < 18; `None` when absent (from opset 18 the axes are
    /// the optional input 1).
    pub axes: Option<Vec<i64>>,
    pub keepdims: bool,
    /// With no axes, reduce nothing (the identity) instead of everything.
    pub noop_with_empty_axes: bool,
}

impl Default for ReduceAttrs {
    fn default() -> Self {
        ReduceAttrs {
            axes: None,
            keepdims: true,
            noop_with_empty_axes: false,
        }
    }
}

/// The reduced axes (normalised, ascending) of a reduction over a rank-`rank` input, from
/// the attribute or the `axes` operand (input 1). An operand known only at run time is
/// accepted when it has no elements (its value is then known: empty).
pub fn reduced_axes(
    a: &ReduceAttrs,
    rank: usize,
    operand: Option<InferInput>,
) -> Result<Vec<usize>, String> {
    let listed: Vec<i64> = match (&a.axes, operand) {
        (Some(v), _) => v.clone(),
        (None, None) => Vec::new(),
        (None, Some(i)) => match i.value {
            Some(t) => t
                .as_i64_vec()
                .filter(|_| t.shape.len() <= 1)
                .ok_or_else(|| format!("`axes` must be a 1-D integer tensor, got {}", i.ty))?,
            None if i.ty.numel() == 0 => Vec::new(),
            None => {
                return Err(
                    "the `axes` operand is only known at run time; kiln needs it as a \
                            constant (an initializer or Constant node): it decides the output \
                            shape"
                        .into(),
                );
            }
        },
    };
    if listed.is_empty() {
        return Ok(if a.noop_with_empty_axes {
            Vec::new()
        } else {
            (0..rank).collect()
        });
    }
    let mut axes = Vec::with_capacity(listed.len());
    for &ax in &listed {
        let d = normalize_axis(ax, rank)
            .ok_or_else(|| format!("axis {ax} is out of range for rank {rank}"))?;
        if axes.contains(&d) {
            return Err(format!("axis {ax} is listed twice in {listed:?}"));
        }
        axes.push(d);
    }
    axes.sort_unstable();
    Ok(axes)
}

pub(crate) fn infer_mean(
    a: &ReduceAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "kiln's ReduceMean is defined for floating-point tensors, got {x}"
        ));
    }
    let axes = reduced_axes(a, x.rank(), inputs.get(1).copied().flatten())?;
    let shape: Vec<usize> = (0..x.rank())
        .filter_map(|d| match (axes.contains(&d), a.keepdims) {
            (false, _) => Some(x.shape[d]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_mean(
    a: &ReduceAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_mean(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let operand = inputs.get(1).copied().flatten();
    let operand_ty = operand.map(Tensor::ty);
    let axes = reduced_axes(
        a,
        x.shape.len(),
        operand
            .zip(operand_ty.as_ref())
            .map(|(t, ty)| InferInput { ty, value: Some(t) }),
    )?;
    let v = floats(x, "data")?;
    // The output index of each input element: its coordinates with the reduced ones zeroed,
    // in the strides of the output with the reduced axes kept as 1.
    let kept: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .map(|(d, &n)| if axes.contains(&d) { 1 } else { n })
        .collect();
    let out_strides = strides_of(&kept);
    let mut sums = vec![0.0f64; ty.numel()];
    let mut coord = vec![0usize; x.shape.len()];
    for (i, &e) in v.iter().enumerate() {
        unravel(i, &x.shape, &mut coord);
        let o: usize = coord
            .iter()
            .zip(&out_strides)
            .enumerate()
            .filter(|(d, _)| !axes.contains(d))
            .map(|(_, (&c, &s))| c * s)
            .sum();
        sums[o] += e;
    }
    let count: usize = axes.iter().map(|&d| x.shape[d]).product();
    let means = sums.into_iter().map(|s| s / count as f64).collect();
    Ok(vec![output(&ty, from_f64s(ty.dtype, means)?)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

    fn mean(axes: Option<Vec<i64>>, keepdims: bool) -> Op {
        Op::ReduceMean(ReduceAttrs {
            axes,
            keepdims,
            noop_with_empty_axes: false,
        })
    }

    #[test]
    fn spec_example() {
        // test_reduce_mean_keepdims_example: axes [1] of [3, 2, 2].
        let x = f32s(
            &[3, 2, 2],
            &[
                5.0, 1.0, 20.0, 2.0, 30.0, 1.0, 40.0, 2.0, 55.0, 1.0, 60.0, 2.0,
            ],
        );
        let y = run1(&mean(Some(vec![1]), true), &[&x]);
        assert_eq!(y.shape, vec![3, 1, 2]);
        assert_close(&as_f32(&y), &[12.5, 1.5, 35.0, 1.5, 57.5, 1.5]);
        let y = run1(&mean(Some(vec![-2]), false), &[&x]);
        assert_eq!(y.shape, vec![3, 2]);
        // No axes: everything.
        let y = run1(&mean(None, true), &[&x]);
        assert_eq!(y.shape, vec![1, 1, 1]);
        assert_close(&as_f32(&y), &[18.25]);
    }

    #[test]
    fn axes_from_the_operand() {
        let x = iota(&[2, 3, 4]);
        let axes = Tensor::new(vec![2], TensorData::I64(vec![0, 2])).unwrap();
        let y = run1(&mean(None, false), &[&x, &axes]);
        assert_eq!(y.shape, vec![3]);
        // Means of {0..3, 12..15}, {4..7, 16..19}, {8..11, 20..23}.
        assert_close(&as_f32(&y), &[7.5, 11.5, 15.5]);
        // An empty operand: everything, or nothing with noop_with_empty_axes.
        let none = Tensor::new(vec![0], TensorData::I64(vec![])).unwrap();
        let y = run1(&mean(None, true), &[&x, &none]);
        assert_close(&as_f32(&y), &[11.5]);
        let noop = Op::ReduceMean(ReduceAttrs {
            axes: None,
            keepdims: true,
            noop_with_empty_axes: true,
        });
        assert_eq!(run1(&noop, &[&x, &none]), x);
    }

    #[test]
    fn bad_axes_and_types_are_errors() {
        let x = iota(&[2, 3]);
        assert!(run(&mean(Some(vec![2]), true), &[Some(&x)]).is_err());
        assert!(run(&mean(Some(vec![1, -1]), true), &[Some(&x)]).is_err());
        let xi = Tensor::new(vec![2], TensorData::I32(vec![1, 2])).unwrap();
        assert!(run(&mean(None, true), &[Some(&xi)]).is_err());
        // A run-time operand with elements cannot be resolved.
        let ty = TensorType::new(crate::DType::I64, vec![1]);
        let op = InferInput {
            ty: &ty,
            value: None,
        };
        assert!(reduced_axes(&ReduceAttrs::default(), 2, Some(op)).is_err());
    }
}
