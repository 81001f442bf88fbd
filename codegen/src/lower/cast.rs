//! Lowering of the cast family.

use super::prelude::*;

/// The element function of a Cast from `from` to `to` (different types). `as` where it
/// agrees with the reference semantics; float to integer spelled out, because `as`
/// saturates where the reference gives numpy's x86-64 results (`kiln_ir::ops::cast`).
pub(super) fn cast_fn(from: DType, to: DType) -> Result<String, String> {
    let is_half = |d: DType| matches!(d, DType::F16 | DType::BF16);
    // The 16-bit floats go through f32 (exact from them; rounded once to them, from f64
    // straight to f16).
    if is_half(from) {
        let widen = if from == DType::F16 {
            "f16_to_f32"
        } else {
            "bf16_to_f32"
        };
        return Ok(match to {
            DType::F16 => "|v: u16| f64_to_f16(f64::from(bf16_to_f32(v)))".into(),
            DType::BF16 => format!("|v: u16| f32_to_bf16({widen}(v))"),
            _ => format!("|v: u16| ({})({widen}(v))", cast_fn(DType::F32, to)?),
        });
    }
    if is_half(to) {
        let t = literal::elem(from)?;
        let v = match from {
            DType::Bool => "u8::from(v)",
            _ => "v",
        };
        // To bf16 from f64 rounds twice (to f32, then bf16), as ONNX's reference does.
        return Ok(if to == DType::F16 {
            format!("|v: {t}| f64_to_f16({v} as f64)")
        } else {
            format!("|v: {t}| f32_to_bf16({v} as f32)")
        });
    }
    let (t, u) = (literal::elem(from)?, literal::elem(to)?);
    // Powers of two in the source type, written as `{:?}` writes them (the shortest digits
    // that read back exactly).
    let two = |e: i32| literal::from_f64(from, 2f64.powi(e));
    // x86-64's truncating conversions: MIN when out of range or NaN (`as` saturates, which
    // gives MIN below the range as well).
    let x86_i32 = format!("if v < {} {{ v as i32 }} else {{ i32::MIN }}", two(31)?);
    let x86_i64 = format!("if v < {} {{ v as i64 }} else {{ i64::MIN }}", two(63)?);
    let body = match to {
        DType::Bool if from.is_float() => "v != 0.0".to_string(),
        DType::Bool => "v != 0".to_string(),
        _ if from == DType::Bool => format!("{u}::from(v)"),
        _ if !from.is_float() || to.is_float() => format!("v as {u}"),
        DType::I32 => x86_i32,
        DType::I64 => x86_i64,
        // Below 2^31 the i32 result reinterpreted; then the truncation; from 2^32 on 0, and
        // NaN 2^31 (u64 alike with 2^63 and 2^64).
        DType::U32 => format!(
            "if v < {} {{ v as i32 as u32 }} else if v < {} {{ v as u32 }} \
             else if v.is_nan() {{ 0x8000_0000 }} else {{ 0 }}",
            two(31)?,
            two(32)?
        ),
        DType::U64 => format!(
            "if v < {} {{ v as i64 as u64 }} else if v < {} {{ v as u64 }} \
             else if v.is_nan() {{ 0x8000_0000_0000_0000 }} else {{ 0 }}",
            two(63)?,
            two(64)?
        ),
        // i8, i16, u8, u16: the i32 result, wrapped.
        _ => format!("({x86_i32}) as {u}"),
    };
    Ok(format!("|v: {t}| {body}"))
}

pub(super) fn cast(cx: &mut NodeCx, a: &CastAttrs) -> Result<(), String> {
    let from = cx.in_ty(0, "input")?.dtype;
    if from == a.to {
        return copy(cx);
    }
    let f = cast_fn(from, a.to)?;
    cx.use_kernel(Kernel::Convert, from)?;
    if [from, a.to]
        .iter()
        .any(|d| matches!(d, DType::F16 | DType::BF16))
    {
        cx.use_kernel(Kernel::Half, DType::U16)?;
    }
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("convert({xs}, {ys}, {f});"));
    Ok(())
}
