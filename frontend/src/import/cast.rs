//! Cast and CastLike (`kiln_ir::ops::cast`).

use super::common::{ALL, Imported, NodeIn, OpEntry, Survey};
use crate::attrs::Attrs;
use crate::error::FrontendError;
use crate::onnx::tensor_proto::DataType;
use crate::tensor::{dtype_from_onnx, onnx_dtype_name};
use kiln_ir::Op;
use kiln_ir::ops::CastAttrs;

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Cast", ALL, cast).with_check(cast_use),
    OpEntry::new("CastLike", ALL, cast_like).with_check(cast_like_use),
];

/// Casts from or to element types kiln lacks are refused.
fn cast_use(s: &Survey<'_>) -> Result<(), String> {
    if let Some(code) = cast_target_code(&s.a, s.ctx.opset).ok().flatten()
        && let Some(why) = missing_dtype(code)
    {
        return Err(format!("casts to {}: {why}", onnx_dtype_name(code)));
    }
    if let Some(Some(code)) = s.input_types.first()
        && let Some(why) = missing_dtype(*code)
    {
        return Err(format!("casts from {}: {why}", onnx_dtype_name(*code)));
    }
    Ok(())
}

fn cast(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    // `saturate` (19+) and `round_mode` (24+) only concern float8 targets, which
    // check_supported refused.
    let (ctx, opset) = (n.ctx, n.opset());
    n.arity(1, 1)?;
    let what = if opset < 6 {
        "a type name"
    } else {
        "a type code"
    };
    let code = cast_target_code(&n.a, opset)?.ok_or_else(|| {
        ctx.attr(
            "to",
            format!("({what}) is required but missing; the model is malformed"),
        )
    })?;
    let to = dtype_from_onnx(code).ok_or_else(|| {
        ctx.attr(
            "to",
            match missing_dtype(code) {
                Some(why) => format!("is {}: {why}", onnx_dtype_name(code)),
                None => format!(
                    "is {}, which is not an element type; the model is malformed",
                    onnx_dtype_name(code)
                ),
            },
        )
    })?;
    Ok(Op::Cast(CastAttrs { to }).into())
}

/// The operands' element types, where the model declares them, must be kiln's.
fn cast_like_use(s: &Survey<'_>) -> Result<(), String> {
    for (k, what) in [(0, "casts from"), (1, "casts to")] {
        if let Some(Some(code)) = s.input_types.get(k)
            && let Some(why) = missing_dtype(*code)
        {
            return Err(format!("{what} {}: {why}", onnx_dtype_name(*code)));
        }
    }
    Ok(())
}

fn cast_like(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    // `saturate` and `round_mode` only concern float8 targets, refused above. The loader
    // sets `to` from the `like` operand's type; only its type is read.
    n.arity(2, 2)?;
    Ok(Imported::one_input(Op::Cast(CastAttrs {
        to: kiln_ir::DType::F32,
    })))
}

/// Cast's `to` as an ONNX `TensorProto.DataType` code: an int from opset 6, a type name
/// (`"FLOAT"`) before. `Ok(None)` when absent; an unknown name is code 0 (UNDEFINED).
fn cast_target_code(a: &Attrs<'_>, opset: i64) -> Result<Option<i32>, FrontendError> {
    if opset < 6 {
        return Ok(a
            .string("to")?
            .map(|s| DataType::from_str_name(&s.to_ascii_uppercase()).map_or(0, |d| d as i32)));
    }
    // A code beyond i32 is no data type; -1 is no code either.
    Ok(a.int("to")?.map(|v| i32::try_from(v).unwrap_or(-1)))
}

/// Why kiln cannot hold elements of the ONNX data type `code`: `None` for the types it has
/// and for codes that are no element type at all (UNDEFINED, unknown codes).
fn missing_dtype(code: i32) -> Option<String> {
    use DataType as D;
    if dtype_from_onnx(code).is_some() {
        return None;
    }
    Some(
        match D::try_from(code).ok()? {
            D::Undefined => return None,
            D::String => "kiln has no string tensors",
            D::Float8e4m3fn
            | D::Float8e4m3fnuz
            | D::Float8e5m2
            | D::Float8e5m2fnuz
            | D::Float8e8m0 => "kiln has no float8 element type",
            D::Int4 | D::Uint4 | D::Int2 | D::Uint2 => "kiln has no 4- or 2-bit integer type",
            D::Float4e2m1 | D::Float6e2m3 | D::Float6e3m2 => "kiln has no 4- or 6-bit float type",
            D::Complex64 | D::Complex128 => "kiln has no complex element type",
            // The types kiln has returned above.
            _ => return None,
        }
        .to_string(),
    )
}
