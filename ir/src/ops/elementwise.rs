//! Elementwise ops. Binary (with multidirectional broadcasting): Add, Sub, Mul, Div
//! (opsets 7, 13, 14). Unary: Relu (6, 13, 14), Sigmoid (6, 13), Tanh (6, 13).
//! Clip (6: attribute bounds; 11, 12, 13: optional `min`/`max` inputs). LeakyRelu,
//! HardSigmoid, HardSwish ([`Activation`]).
//! Integer Div truncates toward zero; integer Add/Sub/Mul wrap (numpy semantics, which the
//! ONNX test data follow).
//! Specs: https://onnx.ai/onnx/operators/onnx__Add.html (Sub, Mul, Div alike),
//! .../onnx__Relu.html, .../onnx__Sigmoid.html, .../onnx__Tanh.html, .../onnx__Clip.html
//!
//! Reference semantics: every numeric type for Add/Sub/Mul/Div and Clip (f16/bf16 computed in
//! f32 and rounded once, which for one arithmetic operation equals the exact rounding);
//! Relu on floats and signed integers (opset 14); Sigmoid and Tanh on floats, computed in f64.

use super::common::{
    Arith, Elem, broadcast_index, elems, floats, from_f64s, infer_on, numeric_dispatch, output,
};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType, broadcast_shapes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "Add",
            BinaryOp::Sub => "Sub",
            BinaryOp::Mul => "Mul",
            BinaryOp::Div => "Div",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
    Relu,
    Sigmoid,
    Tanh,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "Relu",
            UnaryOp::Sigmoid => "Sigmoid",
            UnaryOp::Tanh => "Tanh",
        }
    }
}

/// Piecewise activations with parameters: LeakyRelu (opsets 6, 16), HardSigmoid (6, 22)
/// and HardSwish (14, 22). Floats only; computed in f64 and rounded once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `x < 0 ? alpha * x : x`.
    LeakyRelu { alpha: f32 },
    /// `max(0, min(1, alpha * x + beta))`.
    HardSigmoid { alpha: f32, beta: f32 },
    /// `x * max(0, min(1, x / 6 + 1 / 2))`.
    HardSwish,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::LeakyRelu { .. } => "LeakyRelu",
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::HardSwish => "HardSwish",
        }
    }

    /// The function on one value, in f64.
    pub fn apply(self, x: f64) -> f64 {
        // NaN passes through clamp, as through numpy's clip.
        let hard = |t: f64| t.clamp(0.0, 1.0);
        match self {
            Activation::LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha as f64 * x
                } else {
                    x
                }
            }
            Activation::HardSigmoid { alpha, beta } => hard(alpha as f64 * x + beta as f64),
            Activation::HardSwish => x * hard(x / 6.0 + 0.5),
        }
    }
}

pub(crate) fn infer_activation(
    op: Activation,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "{} is defined for floating-point tensors, got {x}",
            op.name()
        ));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_activation(
    op: Activation,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_activation(op, ii))?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let data = from_f64s(
        ty.dtype,
        floats(x, "X")?.into_iter().map(|v| op.apply(v)).collect(),
    )?;
    Ok(vec![output(&ty, data)?])
}

/// Clip bounds given as attributes (opset 6). From opset 11 the bounds are inputs 1 and 2 and
/// these stay `None`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ClipAttrs {
    pub min: Option<f32>,
    pub max: Option<f32>,
}

pub(crate) fn infer_binary(
    op: BinaryOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let a = input(inputs, 0, "A")?.ty;
    let b = input(inputs, 1, "B")?.ty;
    if a.dtype != b.dtype {
        return Err(format!(
            "{} needs equal element types, got {a} and {b}",
            op.name()
        ));
    }
    if a.dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", op.name()));
    }
    let shape = broadcast_shapes(&a.shape, &b.shape)
        .ok_or_else(|| format!("shapes {a} and {b} do not broadcast"))?;
    Ok(vec![TensorType::new(a.dtype, shape)])
}

pub(crate) fn infer_unary(
    op: UnaryOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    // Relu takes signed integers too from opset 14; unsigned ones are not in its type list.
    let int_ok = op == UnaryOp::Relu && x.dtype.is_int() && x.dtype.is_signed();
    if !x.dtype.is_float() && !int_ok {
        let what = if op == UnaryOp::Relu {
            "floating-point and signed integer"
        } else {
            "floating-point"
        };
        return Err(format!(
            "{} is defined for {what} tensors, got {x}",
            op.name()
        ));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn infer_clip(
    _a: &ClipAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    if x.dtype == DType::Bool {
        return Err(format!("Clip is not defined for bool tensors, got {x}"));
    }
    for (i, what) in [(1, "min"), (2, "max")] {
        if let Some(b) = inputs.get(i).copied().flatten() {
            if b.ty.numel() != 1 {
                return Err(format!("{what} must be a scalar, got {}", b.ty));
            }
            if b.ty.dtype != x.dtype {
                return Err(format!(
                    "{what} {} must have the element type of the input {x}",
                    b.ty
                ));
            }
        }
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_binary(op: BinaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_binary(op, ii))?.remove(0);
    let a = tensor(inputs, 0, "A")?;
    let b = tensor(inputs, 1, "B")?;
    let data = numeric_dispatch!(ty.dtype, T => binary::<T>(op, a, b, &ty.shape)?,
        bool => return Err(format!("{} is not defined for bool tensors", op.name())));
    Ok(vec![output(&ty, data)?])
}

fn binary<T: Arith>(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
) -> Result<TensorData, String> {
    let av = elems::<T>(a, "A")?;
    let bv = elems::<T>(b, "B")?;
    let f = |x: T, y: T| -> Result<T, String> {
        Ok(match op {
            BinaryOp::Add => x.add(y),
            BinaryOp::Sub => x.sub(y),
            BinaryOp::Mul => x.mul(y),
            BinaryOp::Div => x.div(y)?,
        })
    };
    let out: Vec<T> = if a.shape == b.shape {
        av.iter()
            .zip(bv.iter())
            .map(|(&x, &y)| f(x, y))
            .collect::<Result<_, _>>()?
    } else {
        let ia = broadcast_index(&a.shape, out_shape);
        let ib = broadcast_index(&b.shape, out_shape);
        ia.iter()
            .zip(&ib)
            .map(|(&i, &j)| f(av[i], bv[j]))
            .collect::<Result<_, _>>()?
    };
    Ok(T::wrap(out))
}

pub(crate) fn eval_unary(op: UnaryOp, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_unary(op, ii))?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let data = match op {
        UnaryOp::Relu => numeric_dispatch!(ty.dtype, T => relu::<T>(x)?,
            bool => return Err("Relu is not defined for bool tensors".into())),
        UnaryOp::Sigmoid => {
            from_f64s(ty.dtype, floats(x, "X")?.into_iter().map(sigmoid).collect())?
        }
        UnaryOp::Tanh => from_f64s(
            ty.dtype,
            floats(x, "X")?.into_iter().map(f64::tanh).collect(),
        )?,
    };
    Ok(vec![output(&ty, data)?])
}

fn relu<T: Elem>(x: &Tensor) -> Result<TensorData, String> {
    let zero = T::default();
    // `x < 0` rather than `max(x, 0)`: NaN stays NaN, as in numpy.
    let v = elems::<T>(x, "X")?
        .iter()
        .map(|&e| if e < zero { zero } else { e })
        .collect();
    Ok(T::wrap(v))
}

/// Logistic function without overflow: exp of a non-positive number only.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub(crate) fn eval_clip(a: &ClipAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_clip(a, ii))?.remove(0);
    let data = numeric_dispatch!(ty.dtype, T => clip::<T>(a, inputs)?,
        bool => return Err("Clip is not defined for bool tensors".into()));
    Ok(vec![output(&ty, data)?])
}

fn clip<T: Elem>(a: &ClipAttrs, inputs: &[Option<&Tensor>]) -> Result<TensorData, String> {
    let x = tensor(inputs, 0, "input")?;
    // Input bounds (opset >= 11) win over attribute bounds (opset 6); neither means unbounded.
    let bound = |i: usize, what: &str, attr: Option<f32>| -> Result<Option<T>, String> {
        match inputs.get(i).copied().flatten() {
            Some(t) => Ok(elems::<T>(t, what)?.first().copied()),
            None => Ok(attr.map(|v| T::from_f64(v as f64))),
        }
    };
    let lo = bound(1, "min", a.min)?;
    let hi = bound(2, "max", a.max)?;
    // max then min, like numpy.clip: when min > max every element becomes max.
    let v = elems::<T>(x, "input")?
        .iter()
        .map(|&e| {
            let e = match lo {
                Some(l) if e < l => l,
                _ => e,
            };
            match hi {
                Some(h) if e > h => h,
                _ => e,
            }
        })
        .collect();
    Ok(T::wrap(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};

    fn t(shape: &[usize], data: TensorData) -> Tensor {
        Tensor::new(shape.to_vec(), data).unwrap()
    }

    fn bin(op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor, String> {
        run(&Op::Binary(op), &[Some(a), Some(b)]).map(|mut v| v.remove(0))
    }

    #[test]
    fn broadcasting_add_sub_mul_div() {
        let a = iota(&[2, 3]);
        let b = f32s(&[3], &[1.0, 2.0, 4.0]);
        let add = bin(BinaryOp::Add, &a, &b).unwrap();
        assert_close(&as_f32(&add), &[1.0, 3.0, 6.0, 4.0, 6.0, 9.0]);
        // Scalar on the left, [2, 1] against [3]: both sides broadcast.
        let s = f32s(&[], &[10.0]);
        let sub = bin(BinaryOp::Sub, &s, &a).unwrap();
        assert_close(&as_f32(&sub), &[10.0, 9.0, 8.0, 7.0, 6.0, 5.0]);
        let col = f32s(&[2, 1], &[1.0, -1.0]);
        let mul = bin(BinaryOp::Mul, &col, &b).unwrap();
        assert_eq!(mul.shape, vec![2, 3]);
        assert_close(&as_f32(&mul), &[1.0, 2.0, 4.0, -1.0, -2.0, -4.0]);
        let div = bin(BinaryOp::Div, &a, &b).unwrap();
        assert_close(&as_f32(&div), &[0.0, 0.5, 0.5, 3.0, 2.0, 1.25]);
    }

    #[test]
    fn integers_wrap_like_numpy() {
        let a = t(&[2], TensorData::I8(vec![127, -128]));
        let one = t(&[1], TensorData::I8(vec![1]));
        assert_eq!(
            bin(BinaryOp::Add, &a, &one).unwrap().data,
            TensorData::I8(vec![-128, -127])
        );
        assert_eq!(
            bin(BinaryOp::Sub, &a, &one).unwrap().data,
            TensorData::I8(vec![126, 127])
        );
        let u = t(&[2], TensorData::U8(vec![0, 200]));
        let two = t(&[], TensorData::U8(vec![2]));
        assert_eq!(
            bin(BinaryOp::Sub, &u, &two).unwrap().data,
            TensorData::U8(vec![254, 198])
        );
        assert_eq!(
            bin(BinaryOp::Mul, &u, &two).unwrap().data,
            TensorData::U8(vec![0, 144])
        );
        let big = t(&[1], TensorData::U64(vec![u64::MAX]));
        let one64 = t(&[1], TensorData::U64(vec![1]));
        assert_eq!(
            bin(BinaryOp::Add, &big, &one64).unwrap().data,
            TensorData::U64(vec![0])
        );
        for data in [
            TensorData::I16(vec![3]),
            TensorData::I32(vec![3]),
            TensorData::I64(vec![3]),
            TensorData::U16(vec![3]),
            TensorData::U32(vec![3]),
        ] {
            let x = t(&[1], data.clone());
            let y = bin(BinaryOp::Mul, &x, &x).unwrap();
            assert_eq!(y.data.to_f64_vec(), vec![9.0]);
            assert_eq!(y.dtype(), data.dtype());
        }
    }

    #[test]
    fn integer_division_truncates_and_refuses_zero() {
        let a = t(&[4], TensorData::I32(vec![7, -7, 7, -7]));
        let b = t(&[4], TensorData::I32(vec![2, 2, -2, -2]));
        assert_eq!(
            bin(BinaryOp::Div, &a, &b).unwrap().data,
            TensorData::I32(vec![3, -3, -3, 3])
        );
        let z = t(&[1], TensorData::I32(vec![0]));
        let e = bin(BinaryOp::Div, &a, &z).unwrap_err();
        assert!(e.contains("division by zero"), "{e}");
        let u = t(&[1], TensorData::U8(vec![5]));
        let uz = t(&[1], TensorData::U8(vec![0]));
        assert!(bin(BinaryOp::Div, &u, &uz).is_err());
    }

    #[test]
    fn half_precision_rounds_once() {
        let h = |v: &[f32]| {
            TensorData::F16(
                v.iter()
                    .map(|&f| half::f16::from_f32(f).to_bits())
                    .collect(),
            )
        };
        let a = t(&[2], h(&[1.0, 2048.0]));
        let b = t(&[2], h(&[0.5, 1.0]));
        // 2048 + 1 is not representable in f16 and rounds to even (2048).
        assert_eq!(bin(BinaryOp::Add, &a, &b).unwrap().data, h(&[1.5, 2048.0]));
        let bf = |v: &[f32]| {
            TensorData::BF16(
                v.iter()
                    .map(|&f| half::bf16::from_f32(f).to_bits())
                    .collect(),
            )
        };
        let y = bin(BinaryOp::Mul, &t(&[1], bf(&[3.0])), &t(&[1], bf(&[0.5]))).unwrap();
        assert_eq!(y.data, bf(&[1.5]));
    }

    #[test]
    fn bool_and_mixed_types_are_errors() {
        let b = t(&[1], TensorData::Bool(vec![true]));
        assert!(bin(BinaryOp::Add, &b, &b).is_err());
        let f = f32s(&[1], &[1.0]);
        let i = t(&[1], TensorData::I32(vec![1]));
        assert!(bin(BinaryOp::Add, &f, &i).is_err());
        assert!(bin(BinaryOp::Add, &iota(&[2, 3]), &iota(&[2])).is_err());
    }

    #[test]
    fn relu_on_floats_and_signed_ints() {
        let x = f32s(&[4], &[-1.0, 0.0, 2.5, f32::NAN]);
        let y = as_f32(&run1(&Op::Unary(UnaryOp::Relu), &[&x]));
        assert_eq!(&y[..3], &[0.0, 0.0, 2.5]);
        assert!(y[3].is_nan());
        let xi = t(&[3], TensorData::I8(vec![-128, 0, 127]));
        let yi = run1(&Op::Unary(UnaryOp::Relu), &[&xi]);
        assert_eq!(yi.data, TensorData::I8(vec![0, 0, 127]));
        let xu = t(&[1], TensorData::U8(vec![1]));
        assert!(run(&Op::Unary(UnaryOp::Relu), &[Some(&xu)]).is_err());
        assert!(run(&Op::Unary(UnaryOp::Tanh), &[Some(&xi)]).is_err());
    }

    #[test]
    fn sigmoid_and_tanh_are_stable_at_the_extremes() {
        let x = f32s(&[5], &[-1000.0, -1.0, 0.0, 1.0, 1000.0]);
        let s = as_f32(&run1(&Op::Unary(UnaryOp::Sigmoid), &[&x]));
        assert_close(&s, &[0.0, 0.268_941_43, 0.5, 0.731_058_6, 1.0]);
        let th = as_f32(&run1(&Op::Unary(UnaryOp::Tanh), &[&x]));
        assert_close(&th, &[-1.0, -0.761_594_2, 0.0, 0.761_594_2, 1.0]);
        // sigmoid(x) + sigmoid(-x) = 1
        for (a, b) in s.iter().zip(s.iter().rev()) {
            assert!((a + b - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn clip_bounds_from_inputs_and_attributes() {
        let x = f32s(&[5], &[-2.0, -0.5, 0.0, 0.5, 2.0]);
        let lo = f32s(&[], &[-1.0]);
        let hi = f32s(&[], &[1.0]);
        let op = Op::Clip(ClipAttrs::default());
        let y = run(&op, &[Some(&x), Some(&lo), Some(&hi)]).unwrap();
        assert_close(&as_f32(&y[0]), &[-1.0, -0.5, 0.0, 0.5, 1.0]);
        // Only max given (min omitted as an empty input).
        let y = run(&op, &[Some(&x), None, Some(&hi)]).unwrap();
        assert_close(&as_f32(&y[0]), &[-2.0, -0.5, 0.0, 0.5, 1.0]);
        // No bounds: unchanged.
        assert_eq!(run(&op, &[Some(&x)]).unwrap()[0], x);
        // Opset-6 attribute bounds.
        let attr = Op::Clip(ClipAttrs {
            min: Some(0.0),
            max: Some(0.25),
        });
        assert_close(&as_f32(&run1(&attr, &[&x])), &[0.0, 0.0, 0.0, 0.25, 0.25]);
    }

    #[test]
    fn clip_with_min_above_max_gives_max() {
        // test_clip_min_greater_than_max: every element becomes max.
        let x = f32s(&[3], &[-3.0, 0.0, 3.0]);
        let y = run1(
            &Op::Clip(ClipAttrs::default()),
            &[&x, &f32s(&[], &[2.0]), &f32s(&[], &[1.0])],
        );
        assert_close(&as_f32(&y), &[1.0, 1.0, 1.0]);
    }

    #[test]
    fn clip_on_int8_and_errors() {
        let x = t(&[4], TensorData::I8(vec![-128, -5, 5, 127]));
        let lo = t(&[], TensorData::I8(vec![-6]));
        let hi = t(&[], TensorData::I8(vec![6]));
        let op = Op::Clip(ClipAttrs::default());
        let y = run(&op, &[Some(&x), Some(&lo), Some(&hi)]).unwrap();
        assert_eq!(y[0].data, TensorData::I8(vec![-6, -5, 5, 6]));
        // A bound of another type, a non-scalar bound and bool input are refused.
        assert!(run(&op, &[Some(&x), Some(&f32s(&[], &[0.0]))]).is_err());
        assert!(run(&op, &[Some(&x), Some(&t(&[2], TensorData::I8(vec![0, 1])))]).is_err());
        let b = t(&[1], TensorData::Bool(vec![true]));
        assert!(run(&op, &[Some(&b)]).is_err());
    }
}
