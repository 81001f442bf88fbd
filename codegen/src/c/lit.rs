//! C spellings of element types and values: literals that read back exactly.

use kiln_ir::{DType, TensorData};

/// The C type of `dtype`, or why the C backend has none yet.
pub(super) fn ctype(dtype: DType) -> Result<&'static str, String> {
    Ok(match dtype {
        DType::F32 => "float",
        DType::F64 => "double",
        DType::I8 => "int8_t",
        DType::I16 => "int16_t",
        DType::I32 => "int32_t",
        DType::I64 => "int64_t",
        DType::U8 => "uint8_t",
        DType::U16 => "uint16_t",
        DType::U32 => "uint32_t",
        DType::U64 => "uint64_t",
        DType::Bool => "_Bool",
        DType::F16 | DType::BF16 => return Err(unsupported(&format!("{dtype} tensors"))),
    })
}

/// The message of everything the C backend does not spell yet.
pub(super) fn unsupported(what: &str) -> String {
    format!("{what}: not yet supported by the C backend; use --emit module/crate")
}

/// A value of `dtype` (converted as the reference semantics convert attributes: floats
/// rounded, integers truncated and saturated).
pub(super) fn scalar(dtype: DType, v: f64) -> Result<String, String> {
    Ok(match dtype {
        DType::F32 => f32_lit(v as f32)?,
        DType::F64 => f64_lit(v)?,
        DType::I8 => (v as i8).to_string(),
        DType::I16 => (v as i16).to_string(),
        DType::I32 => i32_lit(v as i32),
        DType::I64 => i64_lit(v as i64),
        DType::U8 => (v as u8).to_string(),
        DType::U16 => (v as u16).to_string(),
        DType::U32 => format!("{}u", v as u32),
        DType::U64 => format!("UINT64_C({})", v as u64),
        DType::Bool => u8::from(v != 0.0).to_string(),
        other => return Err(unsupported(&format!("{other} values"))),
    })
}

/// Rust's `{:?}` gives the shortest digits that read back exactly, always with a `.` or an
/// exponent, so the `f` suffix is valid after it. C99 has no constant for the infinities
/// and NaN without <math.h>: they are quotients by zero, which are constant expressions
/// (also in static initializers) with IEEE results. A NaN's payload is not kept.
pub(super) fn f32_lit(v: f32) -> Result<String, String> {
    Ok(non_finite(v as f64, "f").unwrap_or_else(|| format!("{v:?}f")))
}

pub(super) fn f64_lit(v: f64) -> Result<String, String> {
    Ok(non_finite(v, "").unwrap_or_else(|| format!("{v:?}")))
}

fn non_finite(v: f64, suffix: &str) -> Option<String> {
    if v.is_nan() {
        Some(format!("(0.0{suffix} / 0.0{suffix})"))
    } else if v == f64::INFINITY {
        Some(format!("(1.0{suffix} / 0.0{suffix})"))
    } else if v == f64::NEG_INFINITY {
        Some(format!("(-1.0{suffix} / 0.0{suffix})"))
    } else {
        None
    }
}

fn i32_lit(v: i32) -> String {
    if v == i32::MIN {
        "(-2147483647 - 1)".into()
    } else {
        v.to_string()
    }
}

fn i64_lit(v: i64) -> String {
    if v == i64::MIN {
        "(-INT64_C(9223372036854775807) - 1)".into()
    } else {
        format!("INT64_C({v})")
    }
}

/// Element `i` of `data`.
pub(super) fn element(data: &TensorData, i: usize) -> Result<String, String> {
    Ok(match data {
        TensorData::F32(v) => f32_lit(v[i])?,
        TensorData::F64(v) => f64_lit(v[i])?,
        TensorData::I8(v) => v[i].to_string(),
        TensorData::I16(v) => v[i].to_string(),
        TensorData::I32(v) => i32_lit(v[i]),
        TensorData::I64(v) => i64_lit(v[i]),
        TensorData::U8(v) => v[i].to_string(),
        TensorData::U16(v) => v[i].to_string(),
        TensorData::U32(v) => format!("{}u", v[i]),
        TensorData::U64(v) => format!("UINT64_C({})", v[i]),
        TensorData::Bool(v) => u8::from(v[i]).to_string(),
        _ => return Err(unsupported(&format!("{} constants", data.dtype()))),
    })
}

/// The lowest value of `dtype` (the identity of max).
pub(super) fn lowest(dtype: DType) -> Result<String, String> {
    Ok(match dtype {
        DType::F32 => "(-KILN_INF_F32)".into(),
        DType::I8 => "INT8_MIN".into(),
        DType::I16 => "INT16_MIN".into(),
        DType::I32 => "INT32_MIN".into(),
        DType::I64 => "INT64_MIN".into(),
        DType::U8 | DType::U16 | DType::U32 | DType::U64 | DType::Bool => "0".into(),
        other => return Err(unsupported(&format!("the lowest {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_read_back_and_f16_is_refused() {
        assert_eq!(f32_lit(1.0).unwrap(), "1.0f");
        assert_eq!(f32_lit(1e-5).unwrap(), "1e-5f");
        assert_eq!(scalar(DType::I64, -3.0).unwrap(), "INT64_C(-3)");
        assert_eq!(i64_lit(i64::MIN), "(-INT64_C(9223372036854775807) - 1)");
        assert_eq!(f32_lit(f32::NEG_INFINITY).unwrap(), "(-1.0f / 0.0f)");
        assert_eq!(f64_lit(f64::NAN).unwrap(), "(0.0 / 0.0)");
        assert!(
            ctype(DType::F16)
                .unwrap_err()
                .contains("not yet supported by the C backend")
        );
    }
}
