//! Ops whose result follows from shapes and constants: Shape (1, 13, 15: `start`/`end`
//! from 15, 19, 21, 23), Size (1, 13, 19, 21, 23), ConstantOfShape (9, 20, 21, 23), Range
//! (11), EyeLike (9, 22), and Trilu (14), which keeps one triangle of its input.
//! Specs: https://onnx.ai/onnx/operators/onnx__Shape.html, .../onnx__Size.html,
//! .../onnx__ConstantOfShape.html, .../onnx__Range.html, .../onnx__EyeLike.html,
//! .../onnx__Trilu.html
//!
//! kiln's shapes are static, so Shape, Size and EyeLike are constants of their input's
//! type ([`from_type`]); the loader folds them (and Range and ConstantOfShape of constants)
//! at import.

use super::common::{Arith, Elem, infer_on, numeric_dispatch, output};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType};

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ShapeAttrs {
    pub start: i64,
    pub end: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConstantOfShapeAttrs {
    /// The fill value: a one-element tensor (its type is the output's).
    pub value: Tensor,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EyeLikeAttrs {
    /// The output type; `None`: the input's.
    pub dtype: Option<DType>,
    pub k: i64,
}

/// Trilu with its `k` operand folded in (the loader requires it constant).
#[derive(Clone, Debug, PartialEq)]
pub struct TriluAttrs {
    pub upper: bool,
    pub k: i64,
}

/// The dimensions Shape reports: `[start, end)` of the input's, clamped.
pub fn shape_range(a: &ShapeAttrs, rank: usize) -> (usize, usize) {
    let r = rank as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(a.start);
    let end = clamp(a.end.unwrap_or(r));
    (start, end.max(start))
}

fn i64s(v: Vec<i64>) -> TensorData {
    TensorData::I64(v)
}

pub(crate) fn infer_shape(
    a: &ShapeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let (s, e) = shape_range(a, x.rank());
    Ok(vec![TensorType::new(DType::I64, vec![e - s])])
}

/// Shape's value: only the input's type matters.
pub fn shape_value(a: &ShapeAttrs, x: &TensorType) -> Result<Tensor, String> {
    let (s, e) = shape_range(a, x.rank());
    Tensor::new(
        vec![e - s],
        i64s(x.shape[s..e].iter().map(|&d| d as i64).collect()),
    )
}

pub(crate) fn eval_shape(
    a: &ShapeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    Ok(vec![shape_value(a, &tensor(inputs, 0, "data")?.ty())?])
}

pub(crate) fn infer_size(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    input(inputs, 0, "data")?;
    Ok(vec![TensorType::new(DType::I64, vec![])])
}

pub fn size_value(x: &TensorType) -> Result<Tensor, String> {
    Tensor::new(vec![], i64s(vec![x.numel() as i64]))
}

pub(crate) fn eval_size(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    Ok(vec![size_value(&tensor(inputs, 0, "data")?.ty())?])
}

/// A constant shape operand (ConstantOfShape's input, Expand's and Range's bounds).
fn shape_operand(i: InferInput, what: &str) -> Result<Vec<usize>, String> {
    let v = i.value.and_then(Tensor::as_i64_vec).ok_or_else(|| {
        format!(
            "the `{what}` operand is only known at run time; kiln needs it as a constant \
             (an initializer or Constant node)"
        )
    })?;
    if i.ty.rank() > 1 {
        return Err(format!(
            "the `{what}` operand must be 1-D, but it is {}",
            i.ty
        ));
    }
    v.iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("{what} {v:?} has a negative dimension")))
        .collect()
}

pub(crate) fn infer_constant_of_shape(
    a: &ConstantOfShapeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let shape = shape_operand(input(inputs, 0, "input")?, "input")?;
    if a.value.numel() != 1 {
        return Err(format!(
            "value must hold one element, but it is {}",
            a.value.ty()
        ));
    }
    Ok(vec![TensorType::new(a.value.dtype(), shape)])
}

/// `n` copies of the single element of `v`.
fn fill(v: &TensorData, n: usize) -> TensorData {
    super::common::gather(v, &vec![0; n])
}

pub(crate) fn eval_constant_of_shape(
    a: &ConstantOfShapeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_constant_of_shape(a, ii))?.remove(0);
    Ok(vec![output(&ty, fill(&a.value.data, ty.numel()))?])
}

/// Range's element count: `max(ceil((limit - start) / delta), 0)`, computed in f64 as the
/// ONNX reference does.
fn range_len(start: f64, limit: f64, delta: f64) -> Result<usize, String> {
    if delta == 0.0 || !delta.is_finite() || !start.is_finite() || !limit.is_finite() {
        return Err(format!(
            "start {start}, limit {limit} and delta {delta} must be finite with a non-zero delta"
        ));
    }
    let n = ((limit - start) / delta).ceil().max(0.0);
    if n > u32::MAX as f64 {
        return Err(format!("the range has {n} elements, too many"));
    }
    Ok(n as usize)
}

fn scalar_operand<'a>(
    inputs: &[Option<InferInput<'a>>],
    i: usize,
    what: &str,
) -> Result<&'a Tensor, String> {
    let x = input(inputs, i, what)?;
    let v = x.value.ok_or_else(|| {
        format!(
            "the `{what}` operand is only known at run time; kiln needs it as a constant \
             (an initializer or Constant node) because it decides the output's length"
        )
    })?;
    if v.numel() != 1 {
        return Err(format!("`{what}` must be a scalar, but it is {}", x.ty));
    }
    Ok(v)
}

pub(crate) fn infer_range(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let s = scalar_operand(inputs, 0, "start")?;
    let l = scalar_operand(inputs, 1, "limit")?;
    let d = scalar_operand(inputs, 2, "delta")?;
    let dt = s.dtype();
    if l.dtype() != dt || d.dtype() != dt || dt == DType::Bool {
        return Err(format!(
            "start, limit and delta must share one numeric type, but they are {}, {} and {}",
            dt,
            l.dtype(),
            d.dtype()
        ));
    }
    let f = |t: &Tensor| t.data.to_f64_vec()[0];
    let n = if dt.is_int() {
        let g = |t: &Tensor| t.as_i64_vec().map(|v| v[0] as f64).unwrap_or_else(|| f(t));
        range_len(g(s), g(l), g(d))?
    } else {
        range_len(f(s), f(l), f(d))?
    };
    Ok(vec![TensorType::new(dt, vec![n])])
}

pub(crate) fn eval_range(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_range)?.remove(0);
    let n = ty.numel();
    let s = tensor(inputs, 0, "start")?;
    let d = tensor(inputs, 2, "delta")?;
    let data = numeric_dispatch!(ty.dtype, T => {
        let start = super::common::elems::<T>(s, "start")?[0];
        let delta = super::common::elems::<T>(d, "delta")?[0];
        // Element i is start + i * delta (numpy's arange, which the reference calls).
        let v: Vec<T> = (0..n)
            .map(|i| Arith::add(start, Arith::mul(<T as Elem>::from_f64(i as f64), delta)))
            .collect();
        <T as Elem>::wrap(v)
    }, bool => return Err("Range has no bool form".into()));
    Ok(vec![output(&ty, data)?])
}

pub(crate) fn infer_eye_like(
    a: &EyeLikeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    if x.rank() != 2 {
        return Err(format!("the input must be 2-D, but it is {x}"));
    }
    Ok(vec![TensorType::new(
        a.dtype.unwrap_or(x.dtype),
        x.shape.clone(),
    )])
}

/// EyeLike's value: ones on diagonal `k` of the input's shape, zeros elsewhere.
pub fn eye_like_value(a: &EyeLikeAttrs, x: &TensorType) -> Result<Tensor, String> {
    let ty = infer_eye_like(a, &[Some(InferInput { ty: x, value: None })])?.remove(0);
    let (r, c) = (ty.shape[0], ty.shape[1]);
    let ones: Vec<usize> = (0..r)
        .filter_map(|i| {
            let j = i as i64 + a.k;
            (j >= 0 && (j as usize) < c).then(|| i * c + j as usize)
        })
        .collect();
    let mut v = vec![0.0; r * c];
    for i in ones {
        v[i] = 1.0;
    }
    let data = match ty.dtype {
        DType::Bool => TensorData::Bool(v.iter().map(|&x| x != 0.0).collect()),
        DType::F16 | DType::BF16 | DType::F32 | DType::F64 => {
            super::common::from_f64s(ty.dtype, v)?
        }
        dt => numeric_dispatch!(dt, T => {
            <T as Elem>::wrap(v.iter().map(|&x| <T as Elem>::from_f64(x)).collect())
        }, bool => unreachable!()),
    };
    output(&ty, data)
}

pub(crate) fn eval_eye_like(
    a: &EyeLikeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    Ok(vec![eye_like_value(a, &tensor(inputs, 0, "input")?.ty())?])
}

/// Whether Trilu keeps element (i, j) of each matrix.
pub fn trilu_keeps(upper: bool, k: i64, i: usize, j: usize) -> bool {
    let d = j as i64 - i as i64;
    if upper { d >= k } else { d <= k }
}

pub(crate) fn infer_trilu(
    _a: &TriluAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    if x.rank() < 2 {
        return Err(format!("the input must have rank 2 or more, but it is {x}"));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_trilu(
    a: &TriluAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_trilu(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "input")?;
    let r = ty.rank();
    let (rows, cols) = (ty.shape[r - 2], ty.shape[r - 1]);
    let zero = TensorData::zeros(ty.dtype, 1);
    let all = super::common::concat_data(&[&x.data, &zero])?;
    let n = x.numel();
    let idx: Vec<usize> = (0..n)
        .map(|f| {
            let (i, j) = ((f / cols) % rows, f % cols);
            if trilu_keeps(a.upper, a.k, i, j) {
                f
            } else {
                n
            }
        })
        .collect();
    Ok(vec![output(&ty, super::common::gather(&all, &idx))?])
}

/// The constant value of an op that depends only on its input's type (Shape, Size,
/// EyeLike); `None` for other ops.
pub fn from_type(op: &super::Op, x: &TensorType) -> Option<Result<Tensor, String>> {
    match op {
        super::Op::Shape(a) => Some(shape_value(a, x)),
        super::Op::Size => Some(size_value(x)),
        super::Op::EyeLike(a) => Some(eye_like_value(a, x)),
        _ => None,
    }
}
