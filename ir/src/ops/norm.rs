//! BatchNormalization in inference mode (opsets 9, 14, 15):
//! `Y = (X - mean) / sqrt(var + epsilon) * scale + B`, per channel (axis 1).
//! `training_mode = 1` is refused at import.
//! Spec: https://onnx.ai/onnx/operators/onnx__BatchNormalization.html
//!
//! Reference semantics on float types (opset 15 lets scale/B and mean/var have their own
//! float types), any rank ≥ 2, computed in f64.
//!
//! LayerNormalization (opset 17): over the axes from `axis` on, `Y = (X - mean) /
//! sqrt(var + epsilon) * Scale + B` with the biased variance; Scale and B broadcast to X's
//! shape (as in the spec's function body, where they are a Mul and an Add). Only output Y:
//! the Mean and InvStdDev outputs are refused at import.
//! Spec: https://onnx.ai/onnx/operators/onnx__LayerNormalization.html
//! Reference semantics on floats, computed in f64 (so `stash_type` does not matter).

use super::common::{broadcast_index, floats, from_f64s, infer_on, output};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormAttrs {
    pub epsilon: f32,
}

pub(crate) fn infer(
    _a: &BatchNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    if !x.dtype.is_float() {
        return Err(format!(
            "BatchNormalization is defined for floating-point tensors, got {x}"
        ));
    }
    let c = x.shape[1];
    for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
        let t = input(inputs, i, what)?.ty;
        if t.shape != [c] {
            return Err(format!("{what} {t} must have shape [{c}]"));
        }
        if !t.dtype.is_float() {
            return Err(format!("{what} must be a floating-point tensor, got {t}"));
        }
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval(a: &BatchNormAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    let param = |i: usize, what: &str| floats(tensor(inputs, i, what)?, what);
    let (scale, bias) = (param(1, "scale")?, param(2, "B")?);
    let (mean, var) = (param(3, "input_mean")?, param(4, "input_var")?);
    let channels = ty.shape[1];
    let inner: usize = ty.shape[2..].iter().product();
    // Per channel, y = x * k + (B - mean * k) with k = scale / sqrt(var + eps) would round
    // differently; keep the spec's form.
    let eps = a.epsilon as f64;
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner.max(1)) % channels.max(1);
            (v - mean[c]) / (var[c] + eps).sqrt() * scale[c] + bias[c]
        })
        .collect();
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormAttrs {
    /// The first normalised axis (negative counts from the end).
    pub axis: i64,
    pub epsilon: f32,
}

/// `(outer, len)`: the rows of a LayerNormalization of `x` at `axis` and their length.
pub fn layer_norm_rows(a: &LayerNormAttrs, x: &TensorType) -> Result<(usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    Ok((
        x.shape[..axis].iter().product(),
        x.shape[axis..].iter().product(),
    ))
}

pub(crate) fn infer_layer_norm(
    a: &LayerNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "LayerNormalization is defined for floating-point tensors, got {x}"
        ));
    }
    layer_norm_rows(a, x)?;
    for (i, what) in [(1, "Scale"), (2, "B")] {
        let Some(t) = inputs.get(i).copied().flatten() else {
            if i == 1 {
                return Err("required input 1 (Scale) is missing".into());
            }
            continue;
        };
        let t = t.ty;
        if t.dtype != x.dtype {
            return Err(format!("{what} {t} must have the element type of X {x}"));
        }
        // Unidirectional broadcasting to X.
        let fits = t.rank() <= x.rank()
            && t.shape
                .iter()
                .rev()
                .zip(x.shape.iter().rev())
                .all(|(&s, &n)| s == n || s == 1);
        if !fits {
            return Err(format!("{what} {t} does not broadcast to X {x}"));
        }
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_layer_norm(
    a: &LayerNormAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_layer_norm(a, ii))?.remove(0);
    let (outer, len) = layer_norm_rows(a, &ty)?;
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    // Scale and B spread over X.
    let spread = |i: usize, what: &str, none: f64| -> Result<Vec<f64>, String> {
        match inputs.get(i).copied().flatten() {
            Some(t) => {
                let v = floats(t, what)?;
                Ok(broadcast_index(&t.shape, &ty.shape)
                    .into_iter()
                    .map(|k| v[k])
                    .collect())
            }
            None => Ok(vec![none; x.len()]),
        }
    };
    let (scale, bias) = (spread(1, "Scale", 1.0)?, spread(2, "B", 0.0)?);
    let mut y = Vec::with_capacity(x.len());
    let eps = a.epsilon as f64;
    for r in 0..outer {
        let row = &x[r * len..(r + 1) * len];
        let mean = row.iter().sum::<f64>() / len as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / len as f64;
        let den = (var + eps).sqrt();
        y.extend(row.iter().enumerate().map(|(j, v)| {
            let k = r * len + j;
            (v - mean) / den * scale[k] + bias[k]
        }));
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

    #[test]
    fn layer_norm_normalises_each_row() {
        let ln = |axis| Op::LayerNormalization(LayerNormAttrs { axis, epsilon: 0.0 });
        let x = f32s(&[2, 4], &[1.0, 2.0, 3.0, 4.0, -2.0, 0.0, 2.0, 4.0]);
        let ones = f32s(&[4], &[1.0; 4]);
        let y = run1(&ln(-1), &[&x, &ones]);
        // Row 1: mean 2.5, variance 1.25.
        let k = 1.0 / 1.25f64.sqrt();
        let r1: Vec<f32> = [-1.5, -0.5, 0.5, 1.5]
            .iter()
            .map(|v| (v * k) as f32)
            .collect();
        assert_close(&as_f32(&y)[..4], &r1);
        // Row 2 is row 1 times 2 shifted: the same normalised values.
        assert_close(&as_f32(&y)[4..], &r1);
        // Scale and bias per feature; a scalar scale broadcasts.
        let s = f32s(&[4], &[1.0, 2.0, 3.0, 4.0]);
        let b = f32s(&[1, 4], &[0.5; 4]);
        let y = run1(&ln(1), &[&x, &s, &b]);
        let want: Vec<f32> = r1
            .iter()
            .zip([1.0, 2.0, 3.0, 4.0])
            .map(|(v, g)| v * g + 0.5)
            .collect();
        assert_close(&as_f32(&y)[..4], &want);
        // axis 0: the whole tensor is one row.
        let two = f32s(&[], &[2.0]);
        let y = run1(&ln(0), &[&x, &two]);
        let all: f64 = 14.0 / 8.0;
        let v0 = as_f32(&x)[0] as f64 - all;
        let var = as_f32(&x)
            .iter()
            .map(|&v| (v as f64 - all).powi(2))
            .sum::<f64>()
            / 8.0;
        assert!((as_f32(&y)[0] as f64 - 2.0 * v0 / var.sqrt()).abs() < 1e-5);
    }

    #[test]
    fn layer_norm_errors() {
        let ln = Op::LayerNormalization(LayerNormAttrs {
            axis: 2,
            epsilon: 1e-5,
        });
        let x = iota(&[2, 3]);
        let s = f32s(&[3], &[1.0; 3]);
        assert!(run(&ln, &[Some(&x), Some(&s)]).is_err());
        let ln = Op::LayerNormalization(LayerNormAttrs {
            axis: -1,
            epsilon: 1e-5,
        });
        assert!(run(&ln, &[Some(&x)]).is_err());
        assert!(run(&ln, &[Some(&x), Some(&f32s(&[2], &[1.0; 2]))]).is_err());
        assert!(run(&ln, &[Some(&x), Some(&f32s(&[1, 2, 3], &[1.0; 6]))]).is_err());
    }

    fn bn(epsilon: f32) -> Op {
        Op::BatchNormalization(BatchNormAttrs { epsilon })
    }

    #[test]
    fn spec_example() {
        // test_batchnorm_example's formula on a hand-sized input.
        let x = f32s(&[1, 2, 1, 3], &[-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        let s = f32s(&[2], &[1.0, 1.5]);
        let b = f32s(&[2], &[0.0, 1.0]);
        let mean = f32s(&[2], &[0.0, 3.0]);
        let var = f32s(&[2], &[1.0, 1.5]);
        let y = run1(&bn(1e-5), &[&x, &s, &b, &mean, &var]);
        let k0 = 1.0 / (1.0f64 + 1e-5).sqrt();
        let k1 = 1.5 / (1.5f64 + 1e-5).sqrt();
        let want: Vec<f32> = [-k0, 0.0, k0, -k1 + 1.0, 1.0, k1 + 1.0]
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_close(&as_f32(&y), &want);
    }

    #[test]
    fn unit_statistics_are_the_identity_at_any_rank() {
        for shape in [vec![2, 3], vec![2, 3, 4], vec![1, 3, 2, 2, 2]] {
            let x = iota(&shape);
            let ones = f32s(&[3], &[1.0; 3]);
            let zeros = f32s(&[3], &[0.0; 3]);
            let y = run1(&bn(0.0), &[&x, &ones, &zeros, &zeros, &ones]);
            assert_eq!(y, x);
        }
    }

    #[test]
    fn wrong_shapes_and_types_are_errors() {
        let x = iota(&[2, 3]);
        let p = f32s(&[2], &[1.0; 2]);
        assert!(
            run(
                &bn(1e-5),
                &[Some(&x), Some(&p), Some(&p), Some(&p), Some(&p)]
            )
            .is_err()
        );
        let xi = Tensor::new(vec![1, 1], TensorData::I32(vec![1])).unwrap();
        let q = f32s(&[1], &[1.0]);
        assert!(
            run(
                &bn(1e-5),
                &[Some(&xi), Some(&q), Some(&q), Some(&q), Some(&q)]
            )
            .is_err()
        );
        assert!(run(&bn(1e-5), &[Some(&x)]).is_err());
    }
}
