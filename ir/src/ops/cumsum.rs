//! CumSum (opsets 11, 14): running sums along `axis`; `exclusive` leaves each element out of
//! its own sum (the first output is 0), `reverse` sums from the end. The axis is an input in
//! ONNX; kiln needs it constant and the import folds it into the attributes.
//! Spec: https://onnx.ai/onnx/operators/onnx__CumSum.html
//!
//! Reference semantics in the element type's own arithmetic, as numpy's cumsum (integers
//! wrap).

use super::common::{Arith, Elem, elems, infer_on, numeric_dispatch, output};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct CumSumAttrs {
    pub axis: i64,
    pub exclusive: bool,
    pub reverse: bool,
}

/// `(outer, len, inner)`: the sums run over `len` elements `inner` apart.
pub fn cumsum_layout(a: &CumSumAttrs, x: &TensorType) -> Result<(usize, usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    Ok((
        x.shape[..axis].iter().product(),
        x.shape[axis],
        x.shape[axis + 1..].iter().product(),
    ))
}

pub(crate) fn infer(
    a: &CumSumAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "x")?.ty;
    if x.dtype == DType::Bool {
        return Err(format!("CumSum is defined for numeric tensors, got {x}"));
    }
    cumsum_layout(a, x)?;
    Ok(vec![x.clone()])
}

fn run<T: Arith>(v: &[T], a: &CumSumAttrs, (outer, len, inner): (usize, usize, usize)) -> Vec<T> {
    let mut y = vec![T::default(); v.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let mut sum = T::default();
            for k in 0..len {
                let j = if a.reverse { len - 1 - k } else { k };
                if a.exclusive {
                    y[at(j)] = sum;
                    sum = sum.add(v[at(j)]);
                } else {
                    sum = sum.add(v[at(j)]);
                    y[at(j)] = sum;
                }
            }
        }
    }
    y
}

pub(crate) fn eval(a: &CumSumAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "x")?;
    let layout = cumsum_layout(a, &ty)?;
    let data = numeric_dispatch!(ty.dtype, T => {
        T::wrap(run(&elems::<T>(x, "x")?, a, layout))
    }, bool => return Err("CumSum is not defined for bool tensors".into()));
    Ok(vec![output(&ty, data)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, f32s, run1};
    use crate::tensor::TensorData;

    fn cumsum(axis: i64, exclusive: bool, reverse: bool) -> Op {
        Op::CumSum(CumSumAttrs {
            axis,
            exclusive,
            reverse,
        })
    }

    #[test]
    fn spec_examples() {
        // The spec's examples on [1, 2, 3].
        let x = f32s(&[3], &[1.0, 2.0, 3.0]);
        assert_eq!(
            as_f32(&run1(&cumsum(0, false, false), &[&x])),
            [1.0, 3.0, 6.0]
        );
        assert_eq!(
            as_f32(&run1(&cumsum(0, true, false), &[&x])),
            [0.0, 1.0, 3.0]
        );
        assert_eq!(
            as_f32(&run1(&cumsum(0, false, true), &[&x])),
            [6.0, 5.0, 3.0]
        );
        assert_eq!(
            as_f32(&run1(&cumsum(0, true, true), &[&x])),
            [5.0, 3.0, 0.0]
        );
        // Along the first axis of [2, 3], and integers wrapping.
        let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            as_f32(&run1(&cumsum(-2, false, false), &[&x])),
            [1.0, 2.0, 3.0, 5.0, 7.0, 9.0]
        );
        let xi = Tensor::new(vec![2], TensorData::I32(vec![i32::MAX, 1])).unwrap();
        assert_eq!(
            run1(&cumsum(0, false, false), &[&xi]).data,
            TensorData::I32(vec![i32::MAX, i32::MIN])
        );
        let xb = Tensor::new(vec![1], TensorData::Bool(vec![true])).unwrap();
        assert!(
            crate::ops::common::test_util::run(&cumsum(0, false, false), &[Some(&xb)]).is_err()
        );
        assert!(
            crate::ops::common::test_util::run(&cumsum(1, false, false), &[Some(&xi)]).is_err()
        );
    }
}
