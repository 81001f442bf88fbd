//! Elementwise ops. Binary (with multidirectional broadcasting): Add, Sub, Mul, Div
//! (opsets 7, 13, 14); BitwiseAnd, BitwiseOr, BitwiseXor and the unary BitwiseNot (18) on
//! integers. Unary: Relu (6, 13, 14), Sigmoid (6, 13), Tanh (6, 13).
//! Clip (6: attribute bounds; 11, 12, 13: optional `min`/`max` inputs). LeakyRelu,
//! HardSigmoid, HardSwish, Gelu (20), Shrink (9, floats only), Swish (24) ([`Activation`]). Sqrt (6, 13) and Erf (9, 13) on
//! floats. Pow (7, 12, 13, 15): base and exponent broadcast, the exponent may have another
//! numeric type than the base.
//! Integer Div truncates toward zero; integer Add/Sub/Mul wrap (numpy semantics, which the
//! ONNX test data follow).
//! Specs: https://onnx.ai/onnx/operators/onnx__Add.html (Sub, Mul, Div alike),
//! .../onnx__Relu.html, .../onnx__Sigmoid.html, .../onnx__Tanh.html, .../onnx__Clip.html
//!
//! Reference semantics: every numeric type for Add/Sub/Mul/Div and Clip (f16/bf16 computed in
//! f32 and rounded once, which for one arithmetic operation equals the exact rounding);
//! Relu on floats and signed integers (opset 14); Sigmoid, Tanh, Sqrt, Erf and the other
//! float functions (Tan, Sinh, ... through std's f64 functions) on floats, computed in f64. Pow: float bases through f64 `powf`, rounded once; integer bases with an
//! integer exponent wrap like numpy (a negative exponent gives the truncated quotient
//! `1 / x^n`: 1 for x = 1, ±1 for x = -1, else 0, including 0 where numpy raises); integer
//! bases with a float exponent take `powf` in f64, converted with `as` (saturating, where
//! numpy's conversion is undefined).

use super::common::{
    Arith, Elem, broadcast_index, elems, floats, from_f64s, infer_on, numeric_dispatch, output,
    same_type_pair,
};
use super::{InferInput, float_input, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType, broadcast_shapes};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// BitwiseAnd, BitwiseOr, BitwiseXor (opset 18): integers only.
    BitwiseAnd,
    BitwiseOr,
    BitwiseXor,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "Add",
            BinaryOp::Sub => "Sub",
            BinaryOp::Mul => "Mul",
            BinaryOp::Div => "Div",
            BinaryOp::BitwiseAnd => "BitwiseAnd",
            BinaryOp::BitwiseOr => "BitwiseOr",
            BinaryOp::BitwiseXor => "BitwiseXor",
        }
    }

    /// Whether the op is one of the bitwise ones, defined on integers only.
    pub fn is_bitwise(self) -> bool {
        matches!(
            self,
            BinaryOp::BitwiseAnd | BinaryOp::BitwiseOr | BinaryOp::BitwiseXor
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnaryOp {
    Relu,
    Sigmoid,
    Tanh,
    Sqrt,
    Erf,
    Abs,
    Neg,
    Exp,
    Log,
    Reciprocal,
    Floor,
    Ceil,
    Round,
    Sign,
    Sin,
    Cos,
    /// BitwiseNot (opset 18): integers only.
    BitwiseNot,
    /// Tan, Atan, Asin, Acos (7, 22), Sinh, Cosh, Asinh, Acosh, Atanh (9, 22): floats.
    Tan,
    Atan,
    Asin,
    Acos,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "Relu",
            UnaryOp::Sigmoid => "Sigmoid",
            UnaryOp::Tanh => "Tanh",
            UnaryOp::Sqrt => "Sqrt",
            UnaryOp::Erf => "Erf",
            UnaryOp::Abs => "Abs",
            UnaryOp::Neg => "Neg",
            UnaryOp::Exp => "Exp",
            UnaryOp::Log => "Log",
            UnaryOp::Reciprocal => "Reciprocal",
            UnaryOp::Floor => "Floor",
            UnaryOp::Ceil => "Ceil",
            UnaryOp::Round => "Round",
            UnaryOp::Sign => "Sign",
            UnaryOp::Sin => "Sin",
            UnaryOp::Cos => "Cos",
            UnaryOp::BitwiseNot => "BitwiseNot",
            UnaryOp::Tan => "Tan",
            UnaryOp::Atan => "Atan",
            UnaryOp::Asin => "Asin",
            UnaryOp::Acos => "Acos",
            UnaryOp::Sinh => "Sinh",
            UnaryOp::Cosh => "Cosh",
            UnaryOp::Asinh => "Asinh",
            UnaryOp::Acosh => "Acosh",
            UnaryOp::Atanh => "Atanh",
        }
    }
}

/// Activations with parameters: LeakyRelu (opsets 6, 16), HardSigmoid (6, 22), HardSwish
/// (14, 22) and Gelu (20). Floats only; computed in f64 and rounded once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `x < 0 ? alpha * x : x`.
    LeakyRelu { alpha: f32 },
    /// `max(0, min(1, alpha * x + beta))`.
    HardSigmoid { alpha: f32, beta: f32 },
    /// `x * max(0, min(1, x / 6 + 1 / 2))`.
    HardSwish,
    /// `x / 2 * (1 + erf(x / sqrt(2)))`; with `tanh` (approximate="tanh") the approximation
    /// `x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))`.
    Gelu { tanh: bool },
    /// `x < 0 ? alpha * (e^x - 1) : x` (opsets 6, 22).
    Elu { alpha: f32 },
    /// `gamma * (x > 0 ? x : alpha * (e^x - 1))` (opsets 6, 22).
    Selu { alpha: f32, gamma: f32 },
    /// `max(0, x) + min(0, alpha * (e^(x / alpha) - 1))` (opset 12).
    Celu { alpha: f32 },
    /// `x > alpha ? x : 0` (opsets 10, 22).
    ThresholdedRelu { alpha: f32 },
    /// `ln(1 + e^x)` (opsets 1, 22).
    Softplus,
    /// `x / (1 + |x|)` (opsets 1, 22).
    Softsign,
    /// `x * tanh(softplus(x))` (opsets 18, 22).
    Mish,
    /// `x < -lambd ? x + bias : x > lambd ? x - bias : 0` (opset 9; kiln takes floats only).
    Shrink { lambd: f32, bias: f32 },
    /// `x * sigmoid(alpha * x)` (opset 24).
    Swish { alpha: f32 },
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::LeakyRelu { .. } => "LeakyRelu",
            Activation::HardSigmoid { .. } => "HardSigmoid",
            Activation::HardSwish => "HardSwish",
            Activation::Gelu { .. } => "Gelu",
            Activation::Elu { .. } => "Elu",
            Activation::Selu { .. } => "Selu",
            Activation::Celu { .. } => "Celu",
            Activation::ThresholdedRelu { .. } => "ThresholdedRelu",
            Activation::Softplus => "Softplus",
            Activation::Softsign => "Softsign",
            Activation::Mish => "Mish",
            Activation::Shrink { .. } => "Shrink",
            Activation::Swish { .. } => "Swish",
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
            Activation::Gelu { tanh: false } => {
                // 1 + erf(z) = erfc(-z), which keeps its digits where erf(z) is near -1.
                let z = x * core::f64::consts::FRAC_1_SQRT_2;
                0.5 * x * if z < -2.0 { erfc_cf(-z) } else { 1.0 + erf(z) }
            }
            Activation::Gelu { tanh: true } => {
                let k = (2.0 / core::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
            }
            Activation::Elu { alpha } => {
                if x < 0.0 {
                    alpha as f64 * x.exp_m1()
                } else {
                    x
                }
            }
            Activation::Selu { alpha, gamma } => {
                let g = gamma as f64;
                if x > 0.0 {
                    g * x
                } else {
                    g * (alpha as f64 * x.exp_m1())
                }
            }
            Activation::Celu { alpha } => {
                // max(0, x) + min(0, ...): one of the two terms is 0 (NaN passes through).
                if x > 0.0 {
                    x
                } else {
                    let a = alpha as f64;
                    let t = a * (x / a).exp_m1();
                    if t > 0.0 { 0.0 } else { t }
                }
            }
            Activation::ThresholdedRelu { alpha } => {
                // NaN gives 0, as `np.where(x > alpha, x, 0)` in the ONNX reference.
                if x > alpha as f64 { x } else { 0.0 }
            }
            Activation::Softplus => softplus(x),
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Mish => x * softplus(x).tanh(),
            // NaN gives 0, as the ONNX reference's nested `np.where`.
            Activation::Shrink { lambd, bias } => {
                let (l, b) = (lambd as f64, bias as f64);
                if x < -l {
                    x + b
                } else if x > l {
                    x - b
                } else {
                    0.0
                }
            }
            Activation::Swish { alpha } => x * sigmoid(alpha as f64 * x),
        }
    }
}

pub(crate) fn infer_activation(
    op: Activation,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = float_input(inputs, 0, "X", op.name())?;
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
    if op.is_bitwise() && !a.dtype.is_int() {
        return Err(format!(
            "{} is defined for integer tensors, got {a}",
            op.name()
        ));
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
    if op == UnaryOp::BitwiseNot {
        if !x.dtype.is_int() {
            return Err(format!(
                "BitwiseNot is defined for integer tensors, got {x}"
            ));
        }
        return Ok(vec![x.clone()]);
    }
    // Relu (from opset 14) and Neg take signed integers too; unsigned ones are not in their
    // type lists. Abs and Sign take every integer type.
    let int_ok = match op {
        UnaryOp::Relu | UnaryOp::Neg => x.dtype.is_int() && x.dtype.is_signed(),
        UnaryOp::Abs | UnaryOp::Sign => x.dtype.is_int(),
        _ => false,
    };
    if !x.dtype.is_float() && !int_ok {
        let what = match op {
            UnaryOp::Relu | UnaryOp::Neg => "floating-point and signed integer",
            UnaryOp::Abs | UnaryOp::Sign => "numeric",
            _ => "floating-point",
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
    let data = if op.is_bitwise() {
        bitwise(op, a, b, &ty.shape)?
    } else {
        numeric_dispatch!(ty.dtype, T => binary::<T>(op, a, b, &ty.shape)?,
            bool => return Err(format!("{} is not defined for bool tensors", op.name())))
    };
    Ok(vec![output(&ty, data)?])
}

/// BitwiseAnd, BitwiseOr, BitwiseXor of two integer tensors of one type, broadcast.
fn bitwise(
    op: BinaryOp,
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
) -> Result<TensorData, String> {
    let ia = broadcast_index(&a.shape, out_shape);
    let ib = broadcast_index(&b.shape, out_shape);
    macro_rules! each {
        ($($variant:ident),*) => {
            match (&a.data, &b.data) {
                $((TensorData::$variant(x), TensorData::$variant(y)) => {
                    TensorData::$variant(ia.iter().zip(&ib).map(|(&i, &j)| match op {
                        BinaryOp::BitwiseAnd => x[i] & y[j],
                        BinaryOp::BitwiseOr => x[i] | y[j],
                        _ => x[i] ^ y[j],
                    }).collect())
                })*
                _ => return Err(format!(
                    "{} is defined for two integer tensors of one type, got {} and {}",
                    op.name(), a.dtype(), b.dtype()
                )),
            }
        };
    }
    Ok(each!(I8, I16, I32, I64, U8, U16, U32, U64))
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
            BinaryOp::BitwiseAnd | BinaryOp::BitwiseOr | BinaryOp::BitwiseXor => {
                return Err(format!("internal error: {} is no arithmetic", op.name()));
            }
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
        UnaryOp::Sqrt => from_f64s(
            ty.dtype,
            floats(x, "X")?.into_iter().map(f64::sqrt).collect(),
        )?,
        UnaryOp::Erf => from_f64s(ty.dtype, floats(x, "X")?.into_iter().map(erf).collect())?,
        UnaryOp::Abs | UnaryOp::Neg | UnaryOp::Sign | UnaryOp::BitwiseNot
            if !ty.dtype.is_float() =>
        {
            int_unary(op, &x.data)?
        }
        _ => {
            let f: fn(f64) -> f64 = match op {
                UnaryOp::Abs => f64::abs,
                UnaryOp::Neg => |v| -v,
                UnaryOp::Exp => f64::exp,
                UnaryOp::Log => f64::ln,
                UnaryOp::Reciprocal => |v| 1.0 / v,
                UnaryOp::Floor => f64::floor,
                UnaryOp::Ceil => f64::ceil,
                UnaryOp::Round => f64::round_ties_even,
                // numpy: 0 for ±0 (the sign kept), NaN for NaN.
                UnaryOp::Sign => |v| {
                    if v > 0.0 {
                        1.0
                    } else if v < 0.0 {
                        -1.0
                    } else {
                        v
                    }
                },
                UnaryOp::Sin => f64::sin,
                UnaryOp::Cos => f64::cos,
                UnaryOp::Tan => f64::tan,
                UnaryOp::Atan => f64::atan,
                UnaryOp::Asin => f64::asin,
                UnaryOp::Acos => f64::acos,
                UnaryOp::Sinh => f64::sinh,
                UnaryOp::Cosh => f64::cosh,
                UnaryOp::Asinh => f64::asinh,
                // std's acosh (ln(x + sqrt(x^2 - 1))) loses up to half the digits near 1 and
                // its atanh (of x, not |x|) 6 bits near -1; these forms keep them (libm log1p).
                UnaryOp::Acosh => |v| {
                    let t = v - 1.0;
                    if v.is_nan() || v < 1.0 {
                        f64::NAN
                    } else if v > 1e8 {
                        v.ln() + core::f64::consts::LN_2
                    } else {
                        (t + (t * (2.0 + t)).sqrt()).ln_1p()
                    }
                },
                UnaryOp::Atanh => |v| (0.5 * (2.0 * v.abs() / (1.0 - v.abs())).ln_1p()).copysign(v),
                _ => return Err(format!("internal error: {} has no f64 form", op.name())),
            };
            from_f64s(ty.dtype, floats(x, "X")?.into_iter().map(f).collect())?
        }
    };
    Ok(vec![output(&ty, data)?])
}

/// Applies `$e` (with `$v` bound to each element) to the integer variants listed.
macro_rules! map_ints {
    ($data:expr, [$($variant:ident),*], $v:ident => $e:expr) => {
        match $data {
            $(TensorData::$variant(x) => Some(TensorData::$variant(x.iter().map(|&$v| $e).collect())),)*
            _ => None,
        }
    };
}

/// Abs, Neg, Sign and BitwiseNot on integers, wrapping like numpy (`abs(-128i8)` is -128).
fn int_unary(op: UnaryOp, data: &TensorData) -> Result<TensorData, String> {
    if op == UnaryOp::BitwiseNot {
        return map_ints!(data, [I8, I16, I32, I64, U8, U16, U32, U64], v => !v)
            .ok_or_else(|| format!("BitwiseNot is not defined for {} tensors", data.dtype()));
    }
    let signed = match op {
        UnaryOp::Abs => map_ints!(data, [I8, I16, I32, I64], v => v.wrapping_abs()),
        UnaryOp::Neg => map_ints!(data, [I8, I16, I32, I64], v => v.wrapping_neg()),
        _ => map_ints!(data, [I8, I16, I32, I64], v => v.signum()),
    };
    let unsigned = || match op {
        UnaryOp::Abs => Some(data.clone()),
        UnaryOp::Sign => map_ints!(data, [U8, U16, U32, U64], v => (v > 0).into()),
        _ => None,
    };
    signed
        .or_else(unsigned)
        .ok_or_else(|| format!("{} is not defined for {} tensors", op.name(), data.dtype()))
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

/// `ln(1 + e^x)` without overflow: `max(x, 0) + ln(1 + e^-|x|)` (NaN stays NaN).
pub(crate) fn softplus(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    x.max(0.0) + (-x.abs()).exp().ln_1p()
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

/// The error function, independently of the generated code's: below |x| = 2 the series
/// `2 / sqrt(pi) e^(-x^2) sum (2 x^2)^n x / (2n + 1)!!` (positive terms, so no cancellation),
/// above through [`erfc_cf`]. Within 1e-15 relative.
pub(crate) fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    if a >= 2.0 {
        let r = 1.0 - erfc_cf(a);
        return if x < 0.0 { -r } else { r };
    }
    let (x2, mut term, mut sum) = (2.0 * x * x, x, x);
    let mut n = 0.0;
    while term.abs() > sum.abs() * 1e-17 {
        n += 1.0;
        term *= x2 / (2.0 * n + 1.0);
        sum += term;
    }
    // e^(-x^2) with x^2 = hi + lo exactly: the rounding of x^2 would cost 4 ulp at x = 2.
    let hi = x * x;
    let lo = x.mul_add(x, -hi);
    2.0 / core::f64::consts::PI.sqrt() * (-hi).exp() * (1.0 - lo) * sum
}

/// erfc(x) for x >= 2: `e^(-x^2) / sqrt(pi)` over the continued fraction
/// `x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))`, 80 levels deep (converged to 1e-16 there).
pub(crate) fn erfc_cf(x: f64) -> f64 {
    // Below the smallest subnormal from here on (and infinity would give inf - inf).
    if x >= 28.0 {
        return 0.0;
    }
    let mut f = x;
    for n in (1..=80).rev() {
        f = x + (n as f64 / 2.0) / f;
    }
    let hi = x * x;
    let lo = x.mul_add(x, -hi);
    (-hi).exp() * (1.0 - lo) / (core::f64::consts::PI.sqrt() * f)
}

/// Pow's type rule: the base an integer (32 or 64 bits) or float, the exponent any numeric
/// type; the result has the base's type and the broadcast shape.
pub(crate) fn infer_pow(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    let y = input(inputs, 1, "Y")?.ty;
    if !(x.dtype.is_float() || matches!(x.dtype, DType::I32 | DType::I64)) {
        return Err(format!(
            "Pow is defined for float, int32 and int64 bases, got {x}"
        ));
    }
    if y.dtype == DType::Bool {
        return Err(format!("Pow is not defined for a bool exponent, got {y}"));
    }
    let shape = broadcast_shapes(&x.shape, &y.shape)
        .ok_or_else(|| format!("shapes {x} and {y} do not broadcast"))?;
    Ok(vec![TensorType::new(x.dtype, shape)])
}

/// `x^n` for integers, wrapping (as repeated multiplication wraps); a negative `n` gives
/// the truncated `1 / x^|n|`.
pub(crate) fn int_pow(x: i64, n: i128) -> i64 {
    if n < 0 {
        return match x {
            1 => 1,
            -1 if n % 2 == 0 => 1,
            -1 => -1,
            _ => 0,
        };
    }
    let (mut b, mut e, mut r) = (x, n as u64, 1i64);
    while e > 0 {
        if e & 1 == 1 {
            r = r.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    r
}

pub(crate) fn eval_pow(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_pow)?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let y = tensor(inputs, 1, "Y")?;
    let ia = broadcast_index(&x.shape, &ty.shape);
    let ib = broadcast_index(&y.shape, &ty.shape);
    let idx = ia.iter().zip(&ib);
    let (xv, yv) = (x.data.to_f64_vec(), y.data.to_f64_vec());
    let data = if ty.dtype.is_float() {
        from_f64s(ty.dtype, idx.map(|(&i, &j)| xv[i].powf(yv[j])).collect())?
    } else if y.dtype().is_float() {
        // An integer base to a float power: computed in f64 (as numpy promotes), then
        // converted with `as` (saturating).
        let v = idx.map(|(&i, &j)| xv[i].powf(yv[j]));
        match ty.dtype {
            DType::I32 => TensorData::I32(v.map(|p| p as i32).collect()),
            _ => TensorData::I64(v.map(|p| p as i64).collect()),
        }
    } else {
        // Integer powers wrap: computed in 64 bits, where the low 32 bits are those of a
        // 32-bit computation.
        let xi = x.as_i64_vec().ok_or("X is not an integer tensor")?;
        let yi: Vec<i128> = match &y.data {
            TensorData::U64(v) => v.iter().map(|&e| e as i128).collect(),
            _ => y
                .as_i64_vec()
                .ok_or("Y is not an integer tensor")?
                .into_iter()
                .map(i128::from)
                .collect(),
        };
        let v = idx.map(|(&i, &j)| int_pow(xi[i], yi[j]));
        match ty.dtype {
            DType::I32 => TensorData::I32(v.map(|p| p as i32).collect()),
            _ => TensorData::I64(v.collect()),
        }
    };
    Ok(vec![output(&ty, data)?])
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

/// Max, Min, Sum and Mean of one or more inputs, broadcast together (opsets 6, 8, 12, 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VariadicOp {
    Max,
    Min,
    Sum,
    Mean,
}

impl VariadicOp {
    pub fn name(self) -> &'static str {
        match self {
            VariadicOp::Max => "Max",
            VariadicOp::Min => "Min",
            VariadicOp::Sum => "Sum",
            VariadicOp::Mean => "Mean",
        }
    }
}

/// The broadcast shape of every present input, which must share one element type.
fn broadcast_all(name: &str, inputs: &[Option<InferInput>]) -> Result<TensorType, String> {
    let first = input(inputs, 0, "data_0")?.ty;
    let mut shape = first.shape.clone();
    for (i, t) in inputs.iter().enumerate().skip(1) {
        let t = t.ok_or_else(|| format!("input {i} is missing; {name} takes no empty inputs"))?;
        if t.ty.dtype != first.dtype {
            return Err(format!(
                "{name} needs equal element types, got {first} and {}",
                t.ty
            ));
        }
        shape = broadcast_shapes(&shape, &t.ty.shape)
            .ok_or_else(|| format!("input shapes {first} and {} do not broadcast", t.ty))?;
    }
    Ok(TensorType::new(first.dtype, shape))
}

pub(crate) fn infer_variadic(
    op: VariadicOp,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let ty = broadcast_all(op.name(), inputs)?;
    let ok = match op {
        VariadicOp::Max | VariadicOp::Min => ty.dtype != DType::Bool,
        VariadicOp::Sum | VariadicOp::Mean => ty.dtype.is_float(),
    };
    if !ok {
        return Err(format!(
            "{} is not defined for {} tensors",
            op.name(),
            ty.dtype
        ));
    }
    Ok(vec![ty])
}

pub(crate) fn eval_variadic(
    op: VariadicOp,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_variadic(op, ii))?.remove(0);
    let data = numeric_dispatch!(ty.dtype, T => variadic::<T>(op, inputs, &ty.shape)?,
        bool => return Err(format!("{} is not defined for bool tensors", op.name())));
    Ok(vec![output(&ty, data)?])
}

/// Folds the inputs left to right in the element type, as numpy's `maximum`, `minimum` and
/// `+` do (Max and Min propagate NaN); Mean divides the sum by the count in that type too.
fn variadic<T: Arith>(
    op: VariadicOp,
    inputs: &[Option<&Tensor>],
    shape: &[usize],
) -> Result<TensorData, String> {
    #[allow(clippy::eq_op)]
    let f = |a: T, b: T| -> T {
        match op {
            VariadicOp::Max if a > b || a != a => a,
            VariadicOp::Min if a < b || a != a => a,
            VariadicOp::Max | VariadicOp::Min => b,
            VariadicOp::Sum | VariadicOp::Mean => a.add(b),
        }
    };
    let mut acc: Option<Vec<T>> = None;
    for i in 0..inputs.len() {
        let t = tensor(inputs, i, "data")?;
        let v = elems::<T>(t, "data")?;
        let idx = broadcast_index(&t.shape, shape);
        acc = Some(match acc {
            None => idx.iter().map(|&j| v[j]).collect(),
            Some(a) => a.into_iter().zip(&idx).map(|(x, &j)| f(x, v[j])).collect(),
        });
    }
    let mut acc = acc.ok_or("required input 0 (data_0) is missing")?;
    if op == VariadicOp::Mean {
        let n = T::from_f64(inputs.len() as f64);
        for x in &mut acc {
            *x = x.div(n)?;
        }
    }
    Ok(T::wrap(acc))
}

/// PRelu (opsets 7, 9, 16): `x < 0 ? slope * x : x`, the slope broadcast to X's shape.
pub(crate) fn infer_prelu(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    let slope = input(inputs, 1, "slope")?.ty;
    if slope.dtype != x.dtype {
        return Err(format!(
            "PRelu needs equal element types, got {x} and slope {slope}"
        ));
    }
    if x.dtype == DType::Bool || matches!(x.dtype, DType::I8 | DType::I16 | DType::U8 | DType::U16)
    {
        return Err(format!(
            "PRelu is defined for floats and 32- and 64-bit integers, got {x}"
        ));
    }
    if broadcast_shapes(&x.shape, &slope.shape).as_deref() != Some(&x.shape[..]) {
        return Err(format!("slope {slope} does not broadcast to X {x}"));
    }
    Ok(vec![x.clone()])
}

/// Applies `$e` (with `$x`, `$y` bound to the elements at each pair of indices) to two
/// tensors of one of the listed integer variants; `None` for other variants.
macro_rules! zip_ints {
    ($a:expr, $b:expr, $ia:expr, $ib:expr, [$($variant:ident),*], |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            $((TensorData::$variant(a), TensorData::$variant(b)) => Some(TensorData::$variant(
                $ia.iter().zip($ib.iter()).map(|(&i, &j)| { let ($x, $y) = (a[i], b[j]); $e }).collect(),
            )),)*
            _ => None,
        }
    };
}

/// Both operands' flat indices for every element of `shape`.
fn pair_index(a: &Tensor, b: &Tensor, shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    (
        broadcast_index(&a.shape, shape),
        broadcast_index(&b.shape, shape),
    )
}

pub(crate) fn eval_prelu(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_prelu)?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let s = tensor(inputs, 1, "slope")?;
    let (ix, is) = pair_index(x, s, &ty.shape);
    let data = if ty.dtype.is_float() {
        let (xv, sv) = (x.data.to_f64_vec(), s.data.to_f64_vec());
        let v = ix.iter().zip(&is).map(|(&i, &j)| {
            let e = xv[i];
            if e < 0.0 { sv[j] * e } else { e }
        });
        from_f64s(ty.dtype, v.collect())?
    } else {
        zip_ints!(&x.data, &s.data, ix, is, [I32, I64], |e, k| if e < 0 {
            e.wrapping_mul(k)
        } else {
            e
        })
        .or_else(|| zip_ints!(&x.data, &s.data, ix, is, [U32, U64], |e, _k| e))
        .ok_or_else(|| format!("PRelu is not defined for {}", ty.dtype))?
    };
    Ok(vec![output(&ty, data)?])
}

pub(crate) fn infer_mod(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let ty = same_type_pair("Mod", inputs)?;
    if ty.dtype == DType::Bool {
        return Err("Mod is not defined for bool tensors".into());
    }
    Ok(vec![ty])
}

/// Mod as the ONNX reference computes it: floats always as C's `fmod` (the sign of the
/// dividend), with NaN replaced by 0 when `fmod` is 0 (numpy's `nan_to_num`); integers as
/// `fmod` (truncated) or, when `fmod` is 0, Python's `%` (the sign of the divisor); an
/// integer remainder by 0 is 0, as in numpy.
pub(crate) fn eval_mod(fmod: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_mod)?.remove(0);
    let a = tensor(inputs, 0, "A")?;
    let b = tensor(inputs, 1, "B")?;
    let (ia, ib) = pair_index(a, b, &ty.shape);
    let data = if ty.dtype.is_float() {
        // The remainder of two floats is exact, so f64 gives the result of the type itself.
        let (av, bv) = (a.data.to_f64_vec(), b.data.to_f64_vec());
        let v = ia.iter().zip(&ib).map(|(&i, &j)| {
            let r = av[i] % bv[j];
            if r.is_nan() && !fmod { 0.0 } else { r }
        });
        from_f64s(ty.dtype, v.collect())?
    } else if fmod {
        zip_ints!(
            &a.data,
            &b.data,
            ia,
            ib,
            [I8, I16, I32, I64, U8, U16, U32, U64],
            |x, y| if y == 0 { 0 } else { x.wrapping_rem(y) }
        )
        .ok_or("Mod: unexpected element type")?
    } else {
        zip_ints!(&a.data, &b.data, ia, ib, [I8, I16, I32, I64], |x, y| {
            if y == 0 {
                0
            } else {
                let r = x.wrapping_rem(y);
                if r != 0 && (r < 0) != (y < 0) {
                    r + y
                } else {
                    r
                }
            }
        })
        .or_else(|| {
            zip_ints!(&a.data, &b.data, ia, ib, [U8, U16, U32, U64], |x, y| {
                if y == 0 { 0 } else { x % y }
            })
        })
        .ok_or("Mod: unexpected element type")?
    };
    Ok(vec![output(&ty, data)?])
}

pub(crate) fn infer_bitshift(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let ty = same_type_pair("BitShift", inputs)?;
    if !ty.dtype.is_int() || ty.dtype.is_signed() {
        return Err(format!(
            "BitShift is defined for unsigned integer tensors, got {ty}"
        ));
    }
    Ok(vec![ty])
}

/// BitShift: `x << y` or `x >> y`; shifting by the bit width or more gives 0 (numpy).
pub(crate) fn eval_bitshift(left: bool, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_bitshift)?.remove(0);
    let a = tensor(inputs, 0, "X")?;
    let b = tensor(inputs, 1, "Y")?;
    let (ia, ib) = pair_index(a, b, &ty.shape);
    let data = zip_ints!(&a.data, &b.data, ia, ib, [U8, U16, U32, U64], |x, y| {
        let n = u32::try_from(y as u128).unwrap_or(u32::MAX);
        if left {
            x.checked_shl(n).unwrap_or(0)
        } else {
            x.checked_shr(n).unwrap_or(0)
        }
    })
    .ok_or("BitShift: unexpected element type")?;
    Ok(vec![output(&ty, data)?])
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
    #[test]
    fn sqrt_and_erf() {
        let x = f32s(&[4], &[0.0, 1.0, 2.25, -1.0]);
        let y = as_f32(&run1(&Op::Unary(UnaryOp::Sqrt), &[&x]));
        assert_eq!(&y[..3], &[0.0, 1.0, 1.5]);
        assert!(y[3].is_nan());
        // Values from mpmath.
        let pts = [
            (0.0, 0.0),
            (1e-10, 1.1283791670955126e-10),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (1.999, 0.9953015566513705),
            (2.0, 0.9953222650189527),
            (3.5, 0.9999992569016276),
            (6.0, 0.9999999999999999785),
            (30.0, 1.0),
        ];
        for (x, want) in pts {
            for (x, want) in [(x, want), (-x, -want)] {
                let got = erf(x);
                assert!(
                    (got - want).abs() <= 1e-15 * want.abs(),
                    "erf({x}) = {got}, not {want}"
                );
            }
        }
        assert!(erf(f64::NAN).is_nan());
        assert_eq!(erf(f64::INFINITY), 1.0);
        // erfc(5) without cancellation.
        assert!((erfc_cf(5.0) / 1.5374597944280348e-12 - 1.0).abs() < 1e-14);
        let xi = t(&[1], TensorData::I32(vec![4]));
        assert!(run(&Op::Unary(UnaryOp::Sqrt), &[Some(&xi)]).is_err());
    }

    #[test]
    fn gelu_exact_and_tanh() {
        let exact = Activation::Gelu { tanh: false };
        let approx = Activation::Gelu { tanh: true };
        // 0.5 x (1 + erf(x / sqrt 2)); from mpmath.
        assert!((exact.apply(1.0) - 0.8413447460685429).abs() < 1e-15);
        assert!((exact.apply(-1.0) + 0.15865525393145707).abs() < 1e-15);
        // Far in the negative tail the value keeps its relative accuracy.
        let far = exact.apply(-10.0);
        assert!((far / -7.619853024160526e-23 - 1.0).abs() < 1e-12, "{far}");
        assert!((approx.apply(1.0) - 0.8411919906082768).abs() < 1e-15);
        assert_eq!(exact.apply(0.0), 0.0);
        assert_eq!(exact.name(), "Gelu");
    }

    #[test]
    fn pow_types_and_broadcasting() {
        let pow =
            |a: &Tensor, b: &Tensor| run(&Op::Pow, &[Some(a), Some(b)]).map(|mut v| v.remove(0));
        let x = f32s(&[2, 3], &[1.0, 2.0, 3.0, -2.0, 0.0, 4.0]);
        let y = f32s(&[3], &[2.0, 0.5, -1.0]);
        let z = as_f32(&pow(&x, &y).unwrap());
        assert_close(&z[..3], &[1.0, std::f32::consts::SQRT_2, 1.0 / 3.0]);
        assert_eq!(z[3], 4.0);
        assert_eq!(z[4], 0.0);
        assert_eq!(z[5], 0.25);
        // Negative base, fractional exponent: NaN.
        let n = as_f32(&pow(&f32s(&[], &[-8.0]), &f32s(&[], &[1.0 / 3.0])).unwrap());
        assert!(n[0].is_nan());
        // A float base to integer powers of other types.
        let e = t(&[3], TensorData::U64(vec![0, 3, 10]));
        let z = pow(&f32s(&[3], &[5.0, -2.0, 2.0]), &e).unwrap();
        assert_eq!(z.data, TensorData::F32(vec![1.0, -8.0, 1024.0]));
        // Integers wrap; negative exponents truncate.
        let b = t(&[4], TensorData::I32(vec![2, 3, -1, 2]));
        let e = t(&[4], TensorData::I64(vec![31, 21, -3, -1]));
        let z = pow(&b, &e).unwrap();
        assert_eq!(
            z.data,
            TensorData::I32(vec![i32::MIN, 3i32.wrapping_pow(21), -1, 0])
        );
        // An integer base to a float power.
        let z = pow(&b, &f32s(&[], &[2.5])).unwrap();
        assert_eq!(z.data, TensorData::I32(vec![5, 15, 0, 5]));
        // Bases of other integer types and bool exponents are refused.
        assert!(pow(&t(&[1], TensorData::U8(vec![2])), &b).is_err());
        assert!(pow(&x, &t(&[1], TensorData::Bool(vec![true]))).is_err());
        assert!(pow(&x, &f32s(&[2], &[1.0, 2.0])).is_err());
    }

    #[test]
    fn integer_mod_signs_and_zero_divisors() {
        let a = t(&[4], TensorData::I32(vec![7, -7, 7, i32::MIN]));
        let b = t(&[4], TensorData::I32(vec![-3, 3, 0, -1]));
        let m = |fmod| {
            run(&Op::Mod { fmod }, &[Some(&a), Some(&b)])
                .unwrap()
                .remove(0)
        };
        // Python's % takes the divisor's sign, C's fmod the dividend's; x % 0 is 0 (numpy).
        assert_eq!(m(false).data, TensorData::I32(vec![-2, 2, 0, 0]));
        assert_eq!(m(true).data, TensorData::I32(vec![1, -1, 0, 0]));
        // Floats always take fmod; without `fmod` NaN (x % 0) becomes 0.
        let x = f32s(&[2], &[-5.5, 1.0]);
        let y = f32s(&[2], &[2.0, 0.0]);
        let f = run(&Op::Mod { fmod: false }, &[Some(&x), Some(&y)]).unwrap();
        assert_eq!(as_f32(&f[0]), vec![-1.5, 0.0]);
        let f = run(&Op::Mod { fmod: true }, &[Some(&x), Some(&y)]).unwrap();
        assert!(as_f32(&f[0])[1].is_nan());
    }

    #[test]
    fn bitshift_past_the_width_gives_zero() {
        let x = t(&[3], TensorData::U8(vec![0xff, 0x81, 1]));
        let n = t(&[3], TensorData::U8(vec![1, 8, 200]));
        let l = run1(&Op::BitShift { left: true }, &[&x, &n]);
        assert_eq!(l.data, TensorData::U8(vec![0xfe, 0, 0]));
        let r = run1(&Op::BitShift { left: false }, &[&x, &n]);
        assert_eq!(r.data, TensorData::U8(vec![0x7f, 0, 0]));
        let i = t(&[1], TensorData::I8(vec![1]));
        assert!(run(&Op::BitShift { left: true }, &[Some(&i), Some(&i)]).is_err());
    }

    #[test]
    fn max_min_propagate_nan_and_mean_divides_in_the_type() {
        let a = f32s(&[3], &[1.0, f32::NAN, 3.0]);
        let b = f32s(&[3], &[f32::NAN, 2.0, 1.0]);
        for op in [VariadicOp::Max, VariadicOp::Min] {
            let y = as_f32(&run1(&Op::Variadic(op), &[&a, &b]));
            assert!(y[0].is_nan() && y[1].is_nan(), "{op:?}: {y:?}");
        }
        let c = f32s(&[], &[2.0]);
        let y = as_f32(&run1(&Op::Variadic(VariadicOp::Max), &[&b, &c, &a]));
        assert!(y[0].is_nan() && y[1].is_nan());
        assert_eq!(y[2], 3.0);
        let y = as_f32(&run1(
            &Op::Variadic(VariadicOp::Mean),
            &[&c, &f32s(&[2], &[1.0, 4.0])],
        ));
        assert_eq!(y, vec![1.5, 3.0]);
        let i = t(&[1], TensorData::I32(vec![1]));
        assert!(run(&Op::Variadic(VariadicOp::Sum), &[Some(&i)]).is_err());
    }

    #[test]
    fn integer_abs_neg_sign_wrap_like_numpy() {
        let x = t(&[3], TensorData::I8(vec![-128, -3, 0]));
        let abs = run1(&Op::Unary(UnaryOp::Abs), &[&x]);
        assert_eq!(abs.data, TensorData::I8(vec![-128, 3, 0]));
        let neg = run1(&Op::Unary(UnaryOp::Neg), &[&x]);
        assert_eq!(neg.data, TensorData::I8(vec![-128, 3, 0]));
        let sign = run1(&Op::Unary(UnaryOp::Sign), &[&x]);
        assert_eq!(sign.data, TensorData::I8(vec![-1, -1, 0]));
        let u = t(&[2], TensorData::U16(vec![0, 9]));
        let sign = run1(&Op::Unary(UnaryOp::Sign), &[&u]);
        assert_eq!(sign.data, TensorData::U16(vec![0, 1]));
        assert!(run(&Op::Unary(UnaryOp::Neg), &[Some(&u)]).is_err());
        assert!(run(&Op::Unary(UnaryOp::Exp), &[Some(&x)]).is_err());
    }

    #[test]
    fn rounding_ties_to_even_and_softplus_in_the_tails() {
        let x = f32s(&[5], &[0.5, 1.5, 2.5, -0.5, -2.5]);
        let y = as_f32(&run1(&Op::Unary(UnaryOp::Round), &[&x]));
        assert_eq!(y, vec![0.0, 2.0, 2.0, -0.0, -2.0]);
        // ln(1 + e^x): x itself far right, e^x far left, no overflow.
        assert_eq!(Activation::Softplus.apply(1000.0), 1000.0);
        let tiny = Activation::Softplus.apply(-50.0);
        assert!((tiny / (-50.0f64).exp() - 1.0).abs() < 1e-15, "{tiny}");
        assert!(Activation::Softplus.apply(f64::NAN).is_nan());
        // Celu with alpha 2: 2 (e^(x/2) - 1) below 0.
        let celu = Activation::Celu { alpha: 2.0 }.apply(-1.0);
        assert!((celu - 2.0 * ((-0.5f64).exp() - 1.0)).abs() < 1e-15);
        assert_eq!(Activation::ThresholdedRelu { alpha: 1.0 }.apply(1.0), 0.0);
    }

    #[test]
    fn bitwise_ops_on_integers() {
        let a = t(&[2, 2], TensorData::U8(vec![0b1100, 0xff, 0, 0x0f]));
        let b = t(&[2], TensorData::U8(vec![0b1010, 0xf0]));
        let and = bin(BinaryOp::BitwiseAnd, &a, &b).unwrap();
        assert_eq!(and.data, TensorData::U8(vec![0b1000, 0xf0, 0, 0]));
        let or = bin(BinaryOp::BitwiseOr, &a, &b).unwrap();
        assert_eq!(or.data, TensorData::U8(vec![0b1110, 0xff, 0b1010, 0xff]));
        let xor = bin(BinaryOp::BitwiseXor, &a, &b).unwrap();
        assert_eq!(xor.data, TensorData::U8(vec![0b0110, 0x0f, 0b1010, 0xff]));
        let i = t(&[2], TensorData::I64(vec![-1, 5]));
        let not = run1(&Op::Unary(UnaryOp::BitwiseNot), &[&i]);
        assert_eq!(not.data, TensorData::I64(vec![0, -6]));
        let f = f32s(&[1], &[1.0]);
        assert!(bin(BinaryOp::BitwiseAnd, &f, &f).is_err());
        assert!(run(&Op::Unary(UnaryOp::BitwiseNot), &[Some(&f)]).is_err());
    }

    #[test]
    fn acosh_and_atanh_keep_their_digits_near_one() {
        let f = |op, x: f64| {
            let y = run1(&Op::Unary(op), &[&t(&[1], TensorData::F64(vec![x]))]);
            y.data.to_f64_vec()[0]
        };
        // From glibc (math.acosh, math.atanh), within 1 ulp.
        let close = |got: f64, want: f64| (got / want - 1.0).abs() < 3e-16;
        assert!(close(
            f(UnaryOp::Acosh, 1.0000000000000002),
            2.1073424255447017e-8
        ));
        assert!(close(f(UnaryOp::Acosh, 1.0001), 0.014142017775251545));
        assert!(close(
            f(UnaryOp::Atanh, -0.9974951356352916),
            -3.3407073275825834
        ));
        assert!(f(UnaryOp::Acosh, 0.5).is_nan() && f(UnaryOp::Acosh, -3.0).is_nan());
        assert_eq!(f(UnaryOp::Atanh, -1.0), f64::NEG_INFINITY);
        assert!(f(UnaryOp::Atanh, 1.5).is_nan());
        assert_eq!(f(UnaryOp::Atanh, -0.0).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn shrink_and_swish() {
        let shrink = Activation::Shrink {
            lambd: 1.5,
            bias: 0.5,
        };
        let y: Vec<f64> = [-2.0, -1.5, 0.0, 1.5, 2.0, f64::NAN]
            .into_iter()
            .map(|x| shrink.apply(x))
            .collect();
        assert_eq!(y, vec![-1.5, 0.0, 0.0, 0.0, 1.5, 0.0]);
        let swish = Activation::Swish { alpha: 2.0 };
        assert!((swish.apply(1.0) - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
        assert_eq!(swish.apply(0.0), 0.0);
        assert_eq!(swish.apply(-1000.0), -0.0);
        assert_eq!(swish.name(), "Swish");
    }
}
