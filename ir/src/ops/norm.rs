//! BatchNormalization in inference mode (opsets 9, 14, 15):
//! `Y = (X - mean) / sqrt(var + epsilon) * scale + B`, per channel (axis 1).
//! `training_mode = 1` is refused at import.
//! Spec: https://onnx.ai/onnx/operators/onnx__BatchNormalization.html
//!
//! Reference semantics on float types (opset 15 lets scale/B and mean/var have their own
//! float types), any rank ≥ 2, computed in f64.

use super::common::{floats, from_f64s, infer_on, output};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::TensorType;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

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
