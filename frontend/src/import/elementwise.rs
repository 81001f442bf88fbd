//! Elementwise ops (`kiln_ir::ops::elementwise`): binary arithmetic and bitwise ops, unary functions,
//! Max/Min/Sum/Mean, PRelu, Mod, BitShift, Pow, Clip and the activations.

use super::common::{ALL, Imported, NodeIn, OpEntry, legacy_broadcast, plain};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::{Activation, BinaryOp, ClipAttrs, UnaryOp, VariadicOp};

// Opset < 7 broadcasting without `axis` aligns B with A's trailing dimensions, which numpy
// broadcasting also does (legacy_broadcast refuses the `axis` form). Before opset 8 Max, Min,
// Sum and Mean wanted inputs of one shape (a special case of broadcasting); opset 6's
// `consumed_inputs` attribute has no meaning in inference.
pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Add", ALL, |n| binary(n, BinaryOp::Add)).with_check(legacy_broadcast),
    OpEntry::new("Sub", ALL, |n| binary(n, BinaryOp::Sub)).with_check(legacy_broadcast),
    OpEntry::new("Mul", ALL, |n| binary(n, BinaryOp::Mul)).with_check(legacy_broadcast),
    OpEntry::new("Div", ALL, |n| binary(n, BinaryOp::Div)).with_check(legacy_broadcast),
    OpEntry::new("BitwiseAnd", ALL, |n| binary(n, BinaryOp::BitwiseAnd)),
    OpEntry::new("BitwiseOr", ALL, |n| binary(n, BinaryOp::BitwiseOr)),
    OpEntry::new("BitwiseXor", ALL, |n| binary(n, BinaryOp::BitwiseXor)),
    OpEntry::new("BitwiseNot", ALL, |n| unary(n, UnaryOp::BitwiseNot)),
    // Opsets < 12 want one float type for both; the IR takes any numeric exponent.
    OpEntry::new("Pow", ALL, |n| plain(n, 2, 2, Op::Pow)).with_check(legacy_broadcast),
    OpEntry::new("Relu", ALL, |n| unary(n, UnaryOp::Relu)),
    OpEntry::new("Sigmoid", ALL, |n| unary(n, UnaryOp::Sigmoid)),
    OpEntry::new("Tanh", ALL, |n| unary(n, UnaryOp::Tanh)),
    OpEntry::new("Sqrt", ALL, |n| unary(n, UnaryOp::Sqrt)),
    OpEntry::new("Erf", ALL, |n| unary(n, UnaryOp::Erf)),
    OpEntry::new("Abs", ALL, |n| unary(n, UnaryOp::Abs)),
    OpEntry::new("Neg", ALL, |n| unary(n, UnaryOp::Neg)),
    OpEntry::new("Exp", ALL, |n| unary(n, UnaryOp::Exp)),
    OpEntry::new("Log", ALL, |n| unary(n, UnaryOp::Log)),
    OpEntry::new("Reciprocal", ALL, |n| unary(n, UnaryOp::Reciprocal)),
    OpEntry::new("Floor", ALL, |n| unary(n, UnaryOp::Floor)),
    OpEntry::new("Ceil", ALL, |n| unary(n, UnaryOp::Ceil)),
    OpEntry::new("Round", ALL, |n| unary(n, UnaryOp::Round)),
    OpEntry::new("Sign", ALL, |n| unary(n, UnaryOp::Sign)),
    OpEntry::new("Sin", ALL, |n| unary(n, UnaryOp::Sin)),
    OpEntry::new("Cos", ALL, |n| unary(n, UnaryOp::Cos)),
    OpEntry::new("Tan", ALL, |n| unary(n, UnaryOp::Tan)),
    OpEntry::new("Atan", ALL, |n| unary(n, UnaryOp::Atan)),
    OpEntry::new("Asin", ALL, |n| unary(n, UnaryOp::Asin)),
    OpEntry::new("Acos", ALL, |n| unary(n, UnaryOp::Acos)),
    OpEntry::new("Sinh", ALL, |n| unary(n, UnaryOp::Sinh)),
    OpEntry::new("Cosh", ALL, |n| unary(n, UnaryOp::Cosh)),
    OpEntry::new("Asinh", ALL, |n| unary(n, UnaryOp::Asinh)),
    OpEntry::new("Acosh", ALL, |n| unary(n, UnaryOp::Acosh)),
    OpEntry::new("Atanh", ALL, |n| unary(n, UnaryOp::Atanh)),
    OpEntry::new("Max", ALL, |n| variadic(n, VariadicOp::Max)),
    OpEntry::new("Min", ALL, |n| variadic(n, VariadicOp::Min)),
    OpEntry::new("Sum", ALL, |n| variadic(n, VariadicOp::Sum)),
    OpEntry::new("Mean", ALL, |n| variadic(n, VariadicOp::Mean)),
    OpEntry::new("PRelu", ALL, |n| plain(n, 2, 2, Op::PRelu)),
    OpEntry::new("Mod", ALL, modulo),
    OpEntry::new("BitShift", ALL, bit_shift),
    OpEntry::new("Clip", ALL, clip),
    OpEntry::new("Gelu", ALL, gelu),
    OpEntry::new("LeakyRelu", ALL, leaky_relu),
    OpEntry::new("HardSigmoid", ALL, hard_sigmoid),
    OpEntry::new("HardSwish", ALL, |n| activation(n, Activation::HardSwish)),
    OpEntry::new("Elu", ALL, elu),
    OpEntry::new("Selu", ALL, selu),
    OpEntry::new("Celu", ALL, celu),
    OpEntry::new("ThresholdedRelu", ALL, thresholded_relu),
    OpEntry::new("Softplus", ALL, |n| activation(n, Activation::Softplus)),
    OpEntry::new("Softsign", ALL, |n| activation(n, Activation::Softsign)),
    OpEntry::new("Mish", ALL, |n| activation(n, Activation::Mish)),
    OpEntry::new("Shrink", ALL, shrink),
    OpEntry::new("Swish", ALL, swish),
];

fn binary(n: &NodeIn<'_>, op: BinaryOp) -> Result<Imported, FrontendError> {
    plain(n, 2, 2, Op::Binary(op))
}

fn unary(n: &NodeIn<'_>, op: UnaryOp) -> Result<Imported, FrontendError> {
    plain(n, 1, 1, Op::Unary(op))
}

fn variadic(n: &NodeIn<'_>, op: VariadicOp) -> Result<Imported, FrontendError> {
    plain(n, 1, usize::MAX, Op::Variadic(op))
}

fn activation(n: &NodeIn<'_>, act: Activation) -> Result<Imported, FrontendError> {
    plain(n, 1, 1, Op::Activation(act))
}

fn modulo(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    let fmod = match n.a.int_or("fmod", 0)? {
        0 => false,
        1 => true,
        v => return Err(n.ctx.attr("fmod", format!("is {v}; it must be 0 or 1"))),
    };
    Ok(Op::Mod { fmod }.into())
}

fn bit_shift(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    let left = match n.a.string("direction")?.as_deref() {
        Some("LEFT") => true,
        Some("RIGHT") => false,
        Some(other) => {
            return Err(n.ctx.attr(
                "direction",
                format!("is {other:?}; it must be \"LEFT\" or \"RIGHT\""),
            ));
        }
        None => {
            return Err(n.ctx.attr(
                "direction",
                "is required but missing; the model is malformed",
            ));
        }
    };
    Ok(Op::BitShift { left }.into())
}

fn clip(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    let op = if n.opset() < 11 {
        n.arity(1, 1)?;
        // Infinite bounds clip nothing, so they are the same as no bound.
        let min = n.a.float("min")?.filter(|v| *v != f32::NEG_INFINITY);
        let max = n.a.float("max")?.filter(|v| *v != f32::INFINITY);
        Op::Clip(ClipAttrs { min, max })
    } else {
        n.arity(1, 3)?;
        Op::Clip(ClipAttrs::default())
    };
    Ok(op.into())
}

fn gelu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let tanh = match n.a.string("approximate")?.as_deref() {
        None | Some("none") => false,
        Some("tanh") => true,
        Some(other) => {
            return Err(n.ctx.attr(
                "approximate",
                format!("is {other:?}; it must be \"none\" or \"tanh\""),
            ));
        }
    };
    Ok(Op::Activation(Activation::Gelu { tanh }).into())
}

fn leaky_relu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::LeakyRelu {
        alpha: n.a.float_or("alpha", 0.01)?,
    })
    .into())
}

fn hard_sigmoid(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::HardSigmoid {
        alpha: n.a.float_or("alpha", 0.2)?,
        beta: n.a.float_or("beta", 0.5)?,
    })
    .into())
}

fn elu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::Elu {
        alpha: n.a.float_or("alpha", 1.0)?,
    })
    .into())
}

fn selu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::Selu {
        alpha: n.a.float_or("alpha", 1.673_263_2)?,
        gamma: n.a.float_or("gamma", 1.050_701)?,
    })
    .into())
}

fn celu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let alpha = n.a.float_or("alpha", 1.0)?;
    if alpha == 0.0 || !alpha.is_finite() {
        return Err(n.ctx.attr(
            "alpha",
            format!("is {alpha}; it must be finite and non-zero"),
        ));
    }
    Ok(Op::Activation(Activation::Celu { alpha }).into())
}

fn thresholded_relu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::ThresholdedRelu {
        alpha: n.a.float_or("alpha", 1.0)?,
    })
    .into())
}

fn shrink(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::Shrink {
        lambd: n.a.float_or("lambd", 0.5)?,
        bias: n.a.float_or("bias", 0.0)?,
    })
    .into())
}

fn swish(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Activation(Activation::Swish {
        alpha: n.a.float_or("alpha", 1.0)?,
    })
    .into())
}
