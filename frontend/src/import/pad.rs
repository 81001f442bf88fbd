//! Pad (`kiln_ir::ops::pad`).

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::{FrontendError, NodeCtx};
use kiln_ir::ops::{PadAttrs, PadMode};
use kiln_ir::{Op, Tensor, TensorData};

pub(super) const OPS: &[OpEntry] = &[OpEntry::new("Pad", ALL, pad)];

/// Opsets < 11 keep `pads` (opset 1: `paddings`) and `value` as attributes; from 11 on they
/// are inputs (`axes` too from 18), which must be constants because the amounts decide the
/// output shape. Either way the IR gets them as attributes and one input.
fn pad(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    let (a, ctx, opset) = (&n.a, n.ctx, n.opset());
    let mode = match a.string("mode")? {
        None => PadMode::Constant,
        Some(s) => match PadMode::parse(&s) {
            Some(PadMode::Wrap) if opset < 19 => {
                return Err(ctx.attr(
                    "mode",
                    format!(
                        "is \"wrap\", which Pad only has from opset 19 (the model imports \
                         opset {opset}); the model is malformed"
                    ),
                ));
            }
            Some(m) => m,
            None => {
                return Err(ctx.attr(
                    "mode",
                    format!("is {s:?}; it must be constant, reflect, edge or wrap"),
                ));
            }
        },
    };
    let attrs = if opset < 11 {
        n.arity(1, 1)?;
        let name = if opset < 2 { "paddings" } else { "pads" };
        let pads = a
            .ints(name)?
            .ok_or_else(|| ctx.attr(name, "is required but missing; the model is malformed"))?;
        PadAttrs {
            mode,
            pads,
            axes: None,
            value: a.float_or("value", 0.0)? as f64,
        }
    } else {
        n.arity(2, if opset < 18 { 3 } else { 4 })?;
        let needs = "the pad amounts (they decide the output shape)";
        let Some(pads) = n.const_operand(1, "pads", needs)? else {
            return Err(ctx.error("input 1 (pads) is missing; Pad needs the pad amounts"));
        };
        let pads = const_ints(pads, ctx, 1, "pads")?;
        let axes = match n.const_operand(3, "axes", "the padded axes")? {
            Some(t) => Some(const_ints(t, ctx, 3, "axes")?),
            None => None,
        };
        let needs = "the padding value";
        let value = match n.const_operand(2, "constant_value", needs)? {
            None => 0.0,
            Some(t) => pad_value(t, ctx)?,
        };
        PadAttrs {
            mode,
            pads,
            axes,
            value,
        }
    };
    Ok(Imported::one_input(Op::Pad(attrs)))
}

/// A constant 1-D integer operand (`pads` and `axes`).
fn const_ints(
    t: &Tensor,
    ctx: &NodeCtx,
    slot: usize,
    what: &str,
) -> Result<Vec<i64>, FrontendError> {
    match t.as_i64_vec() {
        Some(v) if t.shape.len() == 1 => Ok(v),
        _ => Err(ctx.error(format!(
            "input {slot} ({what}) must be a 1-D integer tensor, but it is {}; the model is \
             malformed",
            t.ty()
        ))),
    }
}

/// The `constant_value` operand as the f64 the IR keeps: one element, which for 64-bit
/// integers must survive the round trip through f64.
fn pad_value(t: &Tensor, ctx: &NodeCtx) -> Result<f64, FrontendError> {
    let v = match (&t.data, t.numel()) {
        (_, n) if n != 1 => None,
        (TensorData::I64(v), _) => Some(v[0] as f64).filter(|&f| f as i64 == v[0]),
        (TensorData::U64(v), _) => Some(v[0] as f64).filter(|&f| f as u64 == v[0]),
        _ => t.first_as_f64(),
    };
    v.ok_or_else(|| {
        ctx.error(format!(
            "input 2 (constant_value) must be a single value that kiln can represent exactly, \
             but it is {}{}",
            t.ty(),
            if t.numel() == 1 {
                " with a value beyond 2^53"
            } else {
                ""
            }
        ))
    })
}
