//! Softmax. Opsets 1 and 11 coerce the input to 2-D at `axis` (default 1) and normalise over
//! the flattened trailing block; opset 13 normalises along `axis` alone (default -1).
//! Spec: https://onnx.ai/onnx/operators/onnx__Softmax.html
//!
//! LogSoftmax (same opsets and axis rules) is the log of Softmax, `x - max - ln(sum(e^(x -
//! max)))`; Hardmax (same rules) puts 1 at the first maximum of each group and 0 elsewhere.
//! Spec: https://onnx.ai/onnx/operators/onnx__LogSoftmax.html,
//! https://onnx.ai/onnx/operators/onnx__Hardmax.html
//!
//! Reference semantics on every float type, computed in f64 with the maximum subtracted
//! first so large inputs do not overflow.

use super::common::{floats, from_f64s, infer_on, output};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxAttrs {
    pub axis: i64,
    /// Opset < 13: normalise over all axes from `axis` on (the 2-D coercion).
    pub coerce_2d: bool,
}

pub(crate) fn infer(
    a: &SoftmaxAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "the softmax family is defined for floating-point tensors, got {x}"
        ));
    }
    normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    Ok(vec![x.clone()])
}

/// Applies `f` to each normalised group of the input (as f64), in place.
fn each_group(
    a: &SoftmaxAttrs,
    inputs: &[Option<&Tensor>],
    f: impl Fn(&mut [f64]),
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "input")?;
    let axis = normalize_axis(a.axis, ty.rank())
        .ok_or_else(|| format!("axis {} is out of range for {ty}", a.axis))?;
    let shape = &ty.shape;
    let outer: usize = shape[..axis].iter().product();
    // Each normalised group is `len` elements `inner` apart; the 2-D coercion makes the
    // whole trailing block one contiguous group.
    let (len, inner) = if a.coerce_2d {
        (shape[axis..].iter().product::<usize>(), 1)
    } else {
        (shape[axis], shape[axis + 1..].iter().product::<usize>())
    };
    let mut v = floats(x, "input")?;
    let mut group = vec![0.0; len];
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            for (j, g) in group.iter_mut().enumerate() {
                *g = v[base + j * inner];
            }
            f(&mut group);
            for (j, g) in group.iter().enumerate() {
                v[base + j * inner] = *g;
            }
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, v)?)?])
}

fn max_of(g: &[f64]) -> f64 {
    g.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

pub(crate) fn eval(a: &SoftmaxAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    each_group(a, inputs, |g| {
        let max = max_of(g);
        let mut sum = 0.0;
        for v in g.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in g.iter_mut() {
            *v /= sum;
        }
    })
}

pub(crate) fn eval_log(
    a: &SoftmaxAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    each_group(a, inputs, |g| {
        let max = max_of(g);
        let sum: f64 = g.iter().map(|v| (v - max).exp()).sum();
        let ln = sum.ln();
        for v in g.iter_mut() {
            *v = *v - max - ln;
        }
    })
}

pub(crate) fn eval_hardmax(
    a: &SoftmaxAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    each_group(a, inputs, |g| {
        // The first maximum (numpy's argmax: a NaN wins).
        let mut best = 0;
        for j in 1..g.len() {
            if !g[best].is_nan() && (g[j].is_nan() || g[j] > g[best]) {
                best = j;
            }
        }
        for (j, v) in g.iter_mut().enumerate() {
            *v = if j == best { 1.0 } else { 0.0 };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

    fn softmax(axis: i64, coerce_2d: bool) -> Op {
        Op::Softmax(SoftmaxAttrs { axis, coerce_2d })
    }

    #[test]
    fn spec_example() {
        // test_softmax_example: [-1, 0, 1] -> [0.0900, 0.2447, 0.6652].
        let x = f32s(&[1, 3], &[-1.0, 0.0, 1.0]);
        let y = run1(&softmax(-1, false), &[&x]);
        assert_close(&as_f32(&y), &[0.090_030_57, 0.244_728_48, 0.665_240_94]);
    }

    #[test]
    fn groups_along_the_axis_sum_to_one() {
        let x = iota(&[2, 3, 4]);
        for axis in [0i64, 1, 2, -1] {
            let y = as_f32(&run1(&softmax(axis, false), &[&x]));
            let a = normalize_axis(axis, 3).unwrap();
            let shape = [2usize, 3, 4];
            let inner: usize = shape[a + 1..].iter().product();
            let outer: usize = shape[..a].iter().product();
            for o in 0..outer {
                for i in 0..inner {
                    let s: f32 = (0..shape[a])
                        .map(|j| y[(o * shape[a] + j) * inner + i])
                        .sum();
                    assert!((s - 1.0).abs() < 1e-6, "axis {axis}: sum {s}");
                }
            }
        }
    }

    #[test]
    fn coerced_2d_normalises_the_whole_trailing_block() {
        let x = iota(&[2, 3, 4]);
        let y = as_f32(&run1(&softmax(1, true), &[&x]));
        for row in y.chunks(12) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // Per-axis softmax at axis 1 is a different function.
        let z = as_f32(&run1(&softmax(1, false), &[&x]));
        assert!(y.iter().zip(&z).any(|(a, b)| (a - b).abs() > 1e-3));
        // With axis at the last dim the two agree.
        assert_eq!(
            run1(&softmax(2, true), &[&x]),
            run1(&softmax(-1, false), &[&x])
        );
    }

    #[test]
    fn large_numbers_do_not_overflow() {
        // test_softmax_large_number.
        let x = f32s(&[1, 4], &[10000.0, 10001.0, 10002.0, 10003.0]);
        let y = as_f32(&run1(&softmax(-1, false), &[&x]));
        assert_close(&y, &[0.032_058_6, 0.087_144_32, 0.236_882_82, 0.643_914_3]);
    }

    #[test]
    fn log_softmax_and_hardmax() {
        // test_logsoftmax_example_1: [-1, 0, 1] -> [-2.4076, -1.4076, -0.4076].
        let x = f32s(&[1, 3], &[-1.0, 0.0, 1.0]);
        let log = Op::LogSoftmax(SoftmaxAttrs {
            axis: -1,
            coerce_2d: false,
        });
        assert_close(
            &as_f32(&run1(&log, &[&x])),
            &[-2.407_606, -1.407_606, -0.407_606],
        );
        let big = f32s(&[1, 2], &[10000.0, 10000.0]);
        assert_close(&as_f32(&run1(&log, &[&big])), &[-(2f32.ln()); 2]);
        let hard = |axis| {
            Op::Hardmax(SoftmaxAttrs {
                axis,
                coerce_2d: false,
            })
        };
        let x = f32s(&[2, 3], &[3.0, 1.0, 3.0, -1.0, 2.0, 0.0]);
        assert_eq!(
            as_f32(&run1(&hard(1), &[&x])),
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        );
        assert_eq!(
            as_f32(&run1(&hard(0), &[&x])),
            [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
        );
    }

    #[test]
    fn integers_and_bad_axes_are_errors() {
        let x = Tensor::new(vec![2], TensorData::I32(vec![1, 2])).unwrap();
        assert!(run(&softmax(0, false), &[Some(&x)]).is_err());
        assert!(run(&softmax(2, false), &[Some(&iota(&[2, 2]))]).is_err());
    }
}
