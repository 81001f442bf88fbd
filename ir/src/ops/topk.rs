//! TopK (opsets 1, 10, 11): the `k` largest (or, with `largest = 0`, smallest) elements along
//! `axis` (default -1) and their indices (int64), best first; equal elements keep their
//! order (the lower index first). `k` is an attribute in opset 1 and an input from 10 on;
//! kiln needs it constant and the import folds it into the attributes. kiln always sorts
//! (`sorted = 0` leaves the order to the implementation).
//! Spec: https://onnx.ai/onnx/operators/onnx__TopK.html
//!
//! NaN ranks after every number in both directions (numpy's sort puts it last, which the
//! ONNX reference inherits for `largest` too).

use super::common::{Elem, elems, infer_on, numeric_dispatch, output};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct TopKAttrs {
    pub axis: i64,
    pub k: usize,
    pub largest: bool,
}

/// `(outer, len, inner)`: each selection is among `len` elements `inner` apart.
pub fn topk_layout(a: &TopKAttrs, x: &TensorType) -> Result<(usize, usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    if a.k > x.shape[axis] {
        return Err(format!(
            "k = {} is more than the {} elements along axis {} of {x}",
            a.k, x.shape[axis], a.axis
        ));
    }
    Ok((
        x.shape[..axis].iter().product(),
        x.shape[axis],
        x.shape[axis + 1..].iter().product(),
    ))
}

pub(crate) fn infer(
    a: &TopKAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.dtype == DType::Bool {
        return Err(format!("TopK is defined for numeric tensors, got {x}"));
    }
    topk_layout(a, x)?;
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let mut shape = x.shape.clone();
    shape[axis] = a.k;
    Ok(vec![
        TensorType::new(x.dtype, shape.clone()),
        TensorType::new(DType::I64, shape),
    ])
}

/// Whether element `(a, i)` ranks before `(b, j)`.
fn before<T: Elem>(largest: bool, (a, i): (T, usize), (b, j): (T, usize)) -> bool {
    #[allow(clippy::eq_op)]
    let nan = |v: T| v != v;
    match (nan(a), nan(b)) {
        (true, true) => i < j,
        (true, false) => false,
        (false, true) => true,
        (false, false) => {
            let better = if largest { a > b } else { a < b };
            better || (a == b && i < j)
        }
    }
}

fn select<T: Elem>(
    v: &[T],
    a: &TopKAttrs,
    (outer, len, inner): (usize, usize, usize),
) -> (Vec<T>, Vec<i64>) {
    let n = outer * a.k * inner;
    let (mut values, mut indices) = (vec![T::default(); n], vec![0i64; n]);
    for o in 0..outer {
        for i in 0..inner {
            let mut group: Vec<(T, usize)> = (0..len)
                .map(|j| (v[(o * len + j) * inner + i], j))
                .collect();
            group.sort_by(|&p, &q| {
                if before(a.largest, p, q) {
                    std::cmp::Ordering::Less
                } else if before(a.largest, q, p) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            for (r, &(x, j)) in group.iter().take(a.k).enumerate() {
                let at = (o * a.k + r) * inner + i;
                values[at] = x;
                indices[at] = j as i64;
            }
        }
    }
    (values, indices)
}

pub(crate) fn eval(a: &TopKAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let tys = infer_on(inputs, |ii| infer(a, ii))?;
    let x = tensor(inputs, 0, "X")?;
    let layout = topk_layout(a, &x.ty())?;
    let (values, indices) = numeric_dispatch!(x.dtype(), T => {
        let (v, i) = select(&elems::<T>(x, "X")?, a, layout);
        (T::wrap(v), i)
    }, bool => return Err("TopK is not defined for bool tensors".into()));
    Ok(vec![
        output(&tys[0], values)?,
        output(&tys[1], TensorData::I64(indices))?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, f32s, run};

    fn topk(axis: i64, k: usize, largest: bool) -> Op {
        Op::TopK(TopKAttrs { axis, k, largest })
    }

    #[test]
    fn largest_and_smallest_with_ties_and_nan() {
        let x = f32s(&[2, 4], &[1.0, 3.0, 3.0, 2.0, f32::NAN, 0.0, 5.0, 0.0]);
        let out = run(&topk(1, 3, true), &[Some(&x)]).unwrap();
        assert_eq!(out[0].shape, vec![2, 3]);
        let v = as_f32(&out[0]);
        assert_eq!(v[..3], [3.0, 3.0, 2.0]);
        assert_eq!(v[3..], [5.0, 0.0, 0.0]);
        assert_eq!(out[1].data, TensorData::I64(vec![1, 2, 3, 2, 1, 3]));
        let out = run(&topk(-1, 2, false), &[Some(&x)]).unwrap();
        assert_eq!(out[1].data, TensorData::I64(vec![0, 3, 1, 3]));
        // Along axis 0.
        let out = run(&topk(0, 1, true), &[Some(&x)]).unwrap();
        assert_eq!(out[1].data, TensorData::I64(vec![0, 0, 1, 0]));
        assert!(run(&topk(1, 5, true), &[Some(&x)]).is_err());
    }
}
