//! Pooling: MaxPool (opsets 1, 8, 10, 11, 12, 22; optional Indices output),
//! AveragePool (1, 7, 10, 11, 19, 22; `count_include_pad`), GlobalAveragePool (1, 22).
//! Window geometry (pads, auto_pad, dilations, ceil_mode) comes from [`super::window`].
//! Specs: https://onnx.ai/onnx/operators/onnx__MaxPool.html, .../onnx__AveragePool.html,
//! .../onnx__GlobalAveragePool.html
//!
//! Reference semantics: MaxPool on every numeric type (padding never wins; Indices are flat
//! indices into X including the batch and channel offset, spatial part row-major or, with
//! `storage_order = 1`, column-major); AveragePool and GlobalAveragePool on float types in
//! f64. With `count_include_pad` the divisor counts explicit padding but not the positions
//! past it that only `ceil_mode` windows reach.

use super::common::{Elem, floats, from_f64s, infer_on, numeric_dispatch, output, unravel};
use super::window::{Tap, WindowAttrs, WindowGeometry};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
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
    if x.dtype == DType::Bool {
        return Err(format!("MaxPool is not defined for bool tensors, got {x}"));
    }
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
    if !x.dtype.is_float() {
        return Err(format!(
            "GlobalAveragePool is defined for floating-point tensors, got {x}"
        ));
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
    let tys = infer_on(inputs, |ii| infer_max(a, ii))?;
    let x = tensor(inputs, 0, "X")?;
    if !matches!(a.storage_order, 0 | 1) {
        return Err(format!(
            "storage_order must be 0 or 1, got {}",
            a.storage_order
        ));
    }
    let g = a.window.geometry(&x.shape[2..], None)?;
    let (y, indices) = numeric_dispatch!(x.dtype(), T => max_pool::<T>(x, &g, a.storage_order == 1)?,
        bool => return Err("MaxPool is not defined for bool tensors".into()));
    Ok(vec![
        output(&tys[0], y)?,
        output(&tys[1], TensorData::I64(indices))?,
    ])
}

/// Max over each window and the flat index of the first maximum (row-major kernel order).
/// A window lying wholly in padding yields the type's lowest value and index -1.
fn max_pool<T: Elem>(
    x: &Tensor,
    g: &WindowGeometry,
    column_major: bool,
) -> Result<(TensorData, Vec<i64>), String> {
    let xv = super::common::elems::<T>(x, "X")?;
    let taps = g.taps();
    let planes = x.shape[0] * x.shape[1];
    let in_len: usize = g.input.iter().product();
    let (out_len, k_len) = (g.output_len(), g.kernel_len());
    // Column-major spatial strides, for storage_order = 1.
    let mut col_strides = vec![1; g.input.len()];
    for d in 1..g.input.len() {
        col_strides[d] = col_strides[d - 1] * g.input[d - 1];
    }
    let mut coord = vec![0; g.input.len()];
    let mut y = Vec::with_capacity(planes * out_len);
    let mut idx = Vec::with_capacity(planes * out_len);
    for p in 0..planes {
        let plane = &xv[p * in_len..][..in_len];
        for o in 0..out_len {
            let mut best: Option<(T, usize)> = None;
            for tap in &taps[o * k_len..][..k_len] {
                if let Tap::Inside(i) = *tap
                    && best.is_none_or(|(b, _)| plane[i] > b)
                {
                    best = Some((plane[i], i));
                }
            }
            match best {
                Some((v, i)) => {
                    let spatial = if column_major {
                        unravel(i, &g.input, &mut coord);
                        coord.iter().zip(&col_strides).map(|(c, s)| c * s).sum()
                    } else {
                        i
                    };
                    y.push(v);
                    idx.push((p * in_len + spatial) as i64);
                }
                None => {
                    y.push(T::LOWEST);
                    idx.push(-1);
                }
            }
        }
    }
    Ok((T::wrap(y), idx))
}

pub(crate) fn eval_average(
    a: &AveragePoolAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_average(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let y = pool_windows(x, &a.window, |plane, taps| {
        let (mut sum, mut count) = (0.0, 0usize);
        for tap in taps {
            match *tap {
                Tap::Inside(i) => {
                    sum += plane[i];
                    count += 1;
                }
                Tap::Pad if a.count_include_pad => count += 1,
                Tap::Pad | Tap::Beyond => {}
            }
        }
        // A window with nothing to count (all padding, pads excluded) is 0/0 = NaN.
        sum / count as f64
    })?;
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

/// f64 pooling of `x` (N x C x spatial) over `window`: `f(plane, taps)` gives the output
/// of one window from its plane and its taps.
fn pool_windows(
    x: &Tensor,
    window: &WindowAttrs,
    f: impl Fn(&[f64], &[Tap]) -> f64,
) -> Result<Vec<f64>, String> {
    let g = window.geometry(&x.shape[2..], None)?;
    let taps = g.taps();
    let xv = floats(x, "X")?;
    let planes = x.shape[0] * x.shape[1];
    let in_len: usize = g.input.iter().product();
    let (out_len, k_len) = (g.output_len(), g.kernel_len());
    let mut y = Vec::with_capacity(planes * out_len);
    for p in 0..planes {
        let plane = &xv[p * in_len..][..in_len];
        for o in 0..out_len {
            y.push(f(plane, &taps[o * k_len..][..k_len]));
        }
    }
    Ok(y)
}

pub(crate) fn eval_global_average(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_global_average)?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let xv = floats(x, "X")?;
    let in_len: usize = x.shape[2..].iter().product();
    let planes = x.shape[0] * x.shape[1];
    let y = (0..planes)
        .map(|p| xv[p * in_len..][..in_len].iter().sum::<f64>() / in_len as f64)
        .collect();
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

/// GlobalMaxPool (opsets 1, 22): the maximum over the spatial axes of X [N, C, ...], kept
/// as 1s; ReduceMax over axes 2.. (see reduce.rs for the semantics).
/// Spec: https://onnx.ai/onnx/operators/onnx__GlobalMaxPool.html
pub fn global_max_attrs(rank: usize) -> super::ReduceAttrs {
    super::ReduceAttrs {
        axes: Some((2..rank as i64).collect()),
        keepdims: true,
        // A rank-2 X has no spatial axes: the identity.
        noop_with_empty_axes: true,
    }
}

pub(crate) fn infer_global_max(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.rank() < 2 || x.dtype == crate::DType::Bool {
        return Err(format!(
            "X must be a numeric tensor of rank ≥ 2 (N, C, ...), got {x}"
        ));
    }
    super::reduce::infer(
        super::ReduceKind::Max,
        &global_max_attrs(x.rank()),
        &inputs[..1],
    )
}

pub(crate) fn eval_global_max(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let x = tensor(inputs, 0, "X")?;
    infer_on(inputs, infer_global_max)?;
    super::reduce::eval(
        super::ReduceKind::Max,
        &global_max_attrs(x.shape.len()),
        &inputs[..1],
    )
}

/// LpPool (opsets 1, 2, 11, 18, 22): `(sum of |x|^p over the window)^(1/p)` (p default 2);
/// padding adds nothing (the node tests pad with zeros).
/// Spec: https://onnx.ai/onnx/operators/onnx__LpPool.html
#[derive(Clone, Debug, PartialEq)]
pub struct LpPoolAttrs {
    pub window: WindowAttrs,
    /// At least 1.
    pub p: u32,
}

pub(crate) fn infer_lp_pool(
    a: &LpPoolAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "LpPool is defined for floating-point tensors, got {x}"
        ));
    }
    if a.p == 0 {
        return Err("p is 0; it must be at least 1".into());
    }
    Ok(vec![pooled(&a.window, x)?])
}

pub(crate) fn eval_lp_pool(
    a: &LpPoolAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_lp_pool(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let p = a.p as f64;
    let y = pool_windows(x, &a.window, |plane, taps| {
        let sum: f64 = taps
            .iter()
            .map(|tap| match *tap {
                Tap::Inside(i) => plane[i].abs().powf(p),
                Tap::Pad | Tap::Beyond => 0.0,
            })
            .sum();
        sum.powf(1.0 / p)
    })?;
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::ops::window::AutoPad;

    fn window(kernel: &[usize], strides: &[usize], pads: &[usize]) -> WindowAttrs {
        WindowAttrs {
            kernel_shape: kernel.to_vec(),
            strides: strides.to_vec(),
            pads: pads.to_vec(),
            ..Default::default()
        }
    }

    fn max_op(window: WindowAttrs, storage_order: i64) -> Op {
        Op::MaxPool(MaxPoolAttrs {
            window,
            storage_order,
        })
    }

    fn avg_op(window: WindowAttrs, count_include_pad: bool) -> Op {
        Op::AveragePool(AveragePoolAttrs {
            window,
            count_include_pad,
        })
    }

    fn indices(t: &Tensor) -> Vec<i64> {
        match &t.data {
            TensorData::I64(v) => v.clone(),
            other => panic!("indices are {}", other.dtype()),
        }
    }

    #[test]
    fn maxpool_values_and_indices_point_at_the_max() {
        // Two batches, three channels: indices include the batch and channel offsets.
        let x = f32s(
            &[2, 3, 3, 3],
            &(0..54)
                .map(|i| ((i * 37) % 23) as f32 - 11.0)
                .collect::<Vec<_>>(),
        );
        let op = max_op(window(&[2, 2], &[1, 1], &[1, 0, 0, 1]), 0);
        let out = run(&op, &[Some(&x)]).unwrap();
        assert_eq!(out[0].shape, vec![2, 3, 3, 3]);
        let (y, idx) = (as_f32(&out[0]), indices(&out[1]));
        let xv = as_f32(&x);
        for (o, (&v, &i)) in y.iter().zip(&idx).enumerate() {
            assert_eq!(xv[i as usize], v, "output {o}");
            // The index stays inside this output's (batch, channel) plane.
            assert_eq!(i as usize / 9, o / 9);
        }
    }

    #[test]
    fn maxpool_column_major_indices() {
        // test_maxpool_with_argmax_2d_precomputed_strides: 5x5 input 1..25, kernel 2,
        // stride 2, storage_order 1.
        let x = f32s(
            &[1, 1, 5, 5],
            &(1..=25).map(|i| i as f32).collect::<Vec<_>>(),
        );
        let out = run(&max_op(window(&[2, 2], &[2, 2], &[]), 1), &[Some(&x)]).unwrap();
        assert_close(&as_f32(&out[0]), &[7.0, 9.0, 17.0, 19.0]);
        assert_eq!(indices(&out[1]), vec![6, 16, 8, 18]);
        let out = run(&max_op(window(&[2, 2], &[2, 2], &[]), 0), &[Some(&x)]).unwrap();
        assert_eq!(indices(&out[1]), vec![6, 8, 16, 18]);
    }

    #[test]
    fn maxpool_ignores_padding_and_takes_integers() {
        let x = f32s(&[1, 1, 3], &[-5.0, -3.0, -4.0]);
        let y = run1(&max_op(window(&[2], &[1], &[1, 1]), 0), &[&x]);
        assert_close(&as_f32(&y), &[-5.0, -3.0, -3.0, -4.0]);
        // u8 (as in test_maxpool_2d_uint8): each output is the max of its in-range part.
        let u = Tensor::new(vec![1, 1, 2, 2], TensorData::U8(vec![1, 200, 3, 4])).unwrap();
        let y = run1(&max_op(window(&[2, 2], &[], &[1, 1, 1, 1]), 0), &[&u]);
        assert_eq!(
            y.data,
            TensorData::U8(vec![1, 200, 200, 3, 200, 200, 3, 4, 4])
        );
        let i = Tensor::new(vec![1, 1, 3], TensorData::I8(vec![-128, -1, -2])).unwrap();
        let y = run1(&max_op(window(&[2], &[], &[]), 0), &[&i]);
        assert_eq!(y.data, TensorData::I8(vec![-1, -1]));
    }

    #[test]
    fn maxpool_dilations_and_ceil_mode() {
        // Dilation 2 over 1..=5 picks (x0, x2), (x1, x3), (x2, x4).
        let x = f32s(&[1, 1, 5], &[5.0, 1.0, 2.0, 7.0, 3.0]);
        let w = WindowAttrs {
            dilations: vec![2],
            ..window(&[2], &[], &[])
        };
        assert_close(&as_f32(&run1(&max_op(w, 0), &[&x])), &[5.0, 7.0, 3.0]);
        // test_maxpool_2d_ceil: 4x4, kernel 3, stride 2, ceil -> 2x2.
        let x = f32s(
            &[1, 1, 4, 4],
            &(1..=16).map(|i| i as f32).collect::<Vec<_>>(),
        );
        let w = WindowAttrs {
            ceil_mode: true,
            ..window(&[3, 3], &[2, 2], &[])
        };
        assert_close(
            &as_f32(&run1(&max_op(w, 0), &[&x])),
            &[11.0, 12.0, 15.0, 16.0],
        );
    }

    #[test]
    fn average_of_a_constant_is_the_constant() {
        let x = f32s(&[1, 2, 4, 5], &[3.5; 40]);
        for auto_pad in [AutoPad::NotSet, AutoPad::SameUpper, AutoPad::SameLower] {
            let w = WindowAttrs {
                auto_pad,
                ceil_mode: auto_pad == AutoPad::NotSet,
                ..window(
                    &[3, 2],
                    &[2, 1],
                    if auto_pad == AutoPad::NotSet {
                        &[1, 1, 1, 0]
                    } else {
                        &[]
                    },
                )
            };
            let y = as_f32(&run1(&avg_op(w, false), &[&x]));
            assert!(y.iter().all(|&v| v == 3.5), "{auto_pad:?}: {y:?}");
        }
    }

    #[test]
    fn count_include_pad_counts_padding_but_not_ceil_overhang() {
        // Input [1, 2, 3, 4], kernel 3, stride 2, pads 1/1, ceil: windows over padded
        // positions [0..3), [2..5), [4..7); the last reaches one past the end padding.
        let x = f32s(&[1, 1, 4], &[1.0, 2.0, 3.0, 4.0]);
        let w = WindowAttrs {
            ceil_mode: true,
            ..window(&[3], &[2], &[1, 1])
        };
        let incl = as_f32(&run1(&avg_op(w.clone(), true), &[&x]));
        assert_close(&incl, &[1.0, 3.0, 2.0]);
        let excl = as_f32(&run1(&avg_op(w, false), &[&x]));
        assert_close(&excl, &[1.5, 3.0, 4.0]);
    }

    #[test]
    fn average_pool_spec_cases() {
        // test_averagepool_2d_ceil: 4x4 of 1..=16, kernel 3, stride 2, ceil.
        let x = f32s(
            &[1, 1, 4, 4],
            &(1..=16).map(|i| i as f32).collect::<Vec<_>>(),
        );
        let w = WindowAttrs {
            ceil_mode: true,
            ..window(&[3, 3], &[2, 2], &[])
        };
        assert_close(
            &as_f32(&run1(&avg_op(w, false), &[&x])),
            &[6.0, 7.5, 12.0, 13.5],
        );
        // test_averagepool_2d_ceil_last_window_starts_on_pad: the second window would start
        // in the end padding and is dropped; the first counts all nine positions.
        let x = iota(&[1, 3, 2, 2]);
        let w = WindowAttrs {
            ceil_mode: true,
            ..window(&[3, 3], &[3, 3], &[1, 1, 1, 1])
        };
        let y = run1(&avg_op(w, true), &[&x]);
        assert_eq!(y.shape, vec![1, 3, 1, 1]);
        assert_close(&as_f32(&y), &[6.0 / 9.0, 22.0 / 9.0, 38.0 / 9.0]);
    }

    #[test]
    fn global_average_pool_means_each_plane() {
        let x = iota(&[2, 2, 2, 3]);
        let y = run1(&Op::GlobalAveragePool, &[&x]);
        assert_eq!(y.shape, vec![2, 2, 1, 1]);
        assert_close(&as_f32(&y), &[2.5, 8.5, 14.5, 20.5]);
        let x3 = Tensor::new(
            vec![1, 1, 2, 1, 2],
            TensorData::F64(vec![1.0, 2.0, 3.0, 6.0]),
        )
        .unwrap();
        assert_eq!(
            run1(&Op::GlobalAveragePool, &[&x3]).data,
            TensorData::F64(vec![3.0])
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let xi = Tensor::new(vec![1, 1, 2], TensorData::I32(vec![1, 2])).unwrap();
        assert!(run(&avg_op(window(&[2], &[], &[]), false), &[Some(&xi)]).is_err());
        assert!(run(&Op::GlobalAveragePool, &[Some(&xi)]).is_err());
        let b = Tensor::new(vec![1, 1, 2], TensorData::Bool(vec![true, false])).unwrap();
        assert!(run(&max_op(window(&[2], &[], &[]), 0), &[Some(&b)]).is_err());
        let x = iota(&[1, 1, 2]);
        assert!(run(&max_op(window(&[3], &[], &[]), 0), &[Some(&x)]).is_err());
        assert!(run(&max_op(window(&[2, 2], &[], &[]), 0), &[Some(&x)]).is_err());
        assert!(run(&max_op(window(&[2], &[], &[]), 2), &[Some(&x)]).is_err());
        assert!(run(&Op::GlobalAveragePool, &[Some(&iota(&[2, 2]))]).is_err());
    }
}
