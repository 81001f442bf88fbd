//! Rust literals that read back exactly: floats in their shortest round-trip form (Rust's
//! `{:?}`), non-finite values through the type's constants or bit patterns.

use kiln_ir::{DType, TensorData};

/// The Rust element type of `dtype`, or why it has none yet.
/// f16 and bf16 are stored as their bits (`u16`); no kernel does arithmetic on them (the
/// `widen-half` lowering computes in f32), only conversions and copies.
pub(crate) fn elem(dtype: DType) -> Result<&'static str, String> {
    match dtype {
        DType::F16 | DType::BF16 => Ok("u16"),
        other => Ok(other.name()),
    }
}

/// A model string as a Rust string literal of printable ASCII: everything else escaped
/// (`\u{..}` for non-ASCII), and `*` too, so the literal holds no `*/` or `/*` that a
/// reader (or a C port of the file) could take for a comment.
pub(crate) fn string(raw: &str) -> String {
    let mut s = String::from("\"");
    for c in raw.chars() {
        if c == '*' {
            s.push_str("\\u{2a}");
        } else {
            s.extend(c.escape_default());
        }
    }
    s.push('"');
    s
}

pub(crate) fn f32_lit(v: f32) -> String {
    if v.is_nan() {
        if v.to_bits() == f32::NAN.to_bits() {
            "f32::NAN".into()
        } else {
            format!("f32::from_bits({:#010x})", v.to_bits())
        }
    } else if v == f32::INFINITY {
        "f32::INFINITY".into()
    } else if v == f32::NEG_INFINITY {
        "f32::NEG_INFINITY".into()
    } else {
        format!("{v:?}")
    }
}

pub(crate) fn f64_lit(v: f64) -> String {
    if v.is_nan() {
        if v.to_bits() == f64::NAN.to_bits() {
            "f64::NAN".into()
        } else {
            format!("f64::from_bits({:#018x})", v.to_bits())
        }
    } else if v == f64::INFINITY {
        "f64::INFINITY".into()
    } else if v == f64::NEG_INFINITY {
        "f64::NEG_INFINITY".into()
    } else {
        format!("{v:?}")
    }
}

/// `v` converted to `dtype` the way the reference semantics convert attribute values
/// (`v as T`: floats round, integers truncate and saturate, NaN becomes 0).
pub(crate) fn from_f64(dtype: DType, v: f64) -> Result<String, String> {
    Ok(match dtype {
        DType::F32 => f32_lit(v as f32),
        DType::F64 => f64_lit(v),
        DType::I8 => (v as i8).to_string(),
        DType::I16 => (v as i16).to_string(),
        DType::I32 => (v as i32).to_string(),
        DType::I64 => (v as i64).to_string(),
        DType::U8 => (v as u8).to_string(),
        DType::U16 => (v as u16).to_string(),
        DType::U32 => (v as u32).to_string(),
        DType::U64 => (v as u64).to_string(),
        DType::Bool => (v != 0.0).to_string(),
        DType::F16 => half::f16::from_f64(v).to_bits().to_string(),
        DType::BF16 => half::bf16::from_f64(v).to_bits().to_string(),
    })
}

/// Zero of `dtype`, as the kernels' `Num::ZERO`.
pub(crate) fn zero(dtype: DType) -> &'static str {
    if dtype.is_float() { "0.0" } else { "0" }
}

/// The smallest value of `dtype`: the identity of max.
pub(crate) fn lowest(dtype: DType) -> String {
    match dtype {
        DType::F32 | DType::F64 => format!("{}::NEG_INFINITY", dtype.name()),
        other => format!("{}::MIN", other.name()),
    }
}

/// Element `i` of `data` as a literal (the caller checked the type is supported).
pub(crate) fn element(data: &TensorData, i: usize) -> String {
    match data {
        TensorData::F32(v) => f32_lit(v[i]),
        TensorData::F64(v) => f64_lit(v[i]),
        TensorData::I8(v) => v[i].to_string(),
        TensorData::I16(v) => v[i].to_string(),
        TensorData::I32(v) => v[i].to_string(),
        TensorData::I64(v) => v[i].to_string(),
        TensorData::U8(v) => v[i].to_string(),
        TensorData::U16(v) | TensorData::F16(v) | TensorData::BF16(v) => v[i].to_string(),
        TensorData::U32(v) => v[i].to_string(),
        TensorData::U64(v) => v[i].to_string(),
        TensorData::Bool(v) => v[i].to_string(),
    }
}

/// The elements of `data` as the lines of an array literal, `per_line` to a line.
pub(crate) fn array_lines(data: &TensorData, per_line: usize) -> Vec<String> {
    let n = data.len();
    (0..n)
        .step_by(per_line.max(1))
        .map(|start| {
            let end = (start + per_line).min(n);
            let items: Vec<String> = (start..end).map(|i| element(data, i)).collect();
            format!("{},", items.join(", "))
        })
        .collect()
}

/// Elements of `dtype` per `u128` word of a packed static: 128 over its width in bits.
pub(crate) fn lanes(dtype: DType) -> usize {
    128 / (8 * dtype.size_bytes())
}

/// The elements' bit patterns packed into `u128` words, `lanes` to a word, element `i` of
/// a word in bits `i * 128 / lanes` upwards; a last, partial word is padded with zeros.
/// Floats go by their bits (NaN payloads, -0.0 and infinities exactly), signed integers
/// by their two's complement, bools as 0 or 1.
pub(crate) fn words(data: &TensorData) -> Vec<u128> {
    let bits: Vec<u128> = match data {
        TensorData::F32(v) => v.iter().map(|x| u128::from(x.to_bits())).collect(),
        TensorData::F64(v) => v.iter().map(|x| u128::from(x.to_bits())).collect(),
        TensorData::I8(v) => v.iter().map(|&x| u128::from(x as u8)).collect(),
        TensorData::I16(v) => v.iter().map(|&x| u128::from(x as u16)).collect(),
        TensorData::I32(v) => v.iter().map(|&x| u128::from(x as u32)).collect(),
        TensorData::I64(v) => v.iter().map(|&x| u128::from(x as u64)).collect(),
        TensorData::U8(v) => v.iter().map(|&x| u128::from(x)).collect(),
        TensorData::U16(v) | TensorData::F16(v) | TensorData::BF16(v) => {
            v.iter().map(|&x| u128::from(x)).collect()
        }
        TensorData::U32(v) => v.iter().map(|&x| u128::from(x)).collect(),
        TensorData::U64(v) => v.iter().map(|&x| u128::from(x)).collect(),
        TensorData::Bool(v) => v.iter().map(|&x| u128::from(x)).collect(),
    };
    let lanes = lanes(data.dtype());
    let width = 128 / lanes;
    bits.chunks(lanes)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u128, |w, (i, &b)| w | b << (i * width))
        })
        .collect()
}

/// A list of sizes as a Rust array expression, `[1, 2, 3]`.
pub(crate) fn usizes(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(usize::to_string).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_strings_become_ascii_literals_without_comment_markers() {
        assert_eq!(string("resnet8"), "\"resnet8\"");
        let s = string("a*/b\"c\\\n\u{e9}/*");
        assert_eq!(s, "\"a\\u{2a}/b\\\"c\\\\\\n\\u{e9}/\\u{2a}\"");
        assert!(s.is_ascii() && !s.contains("*/") && !s.contains("/*"));
    }

    #[test]
    fn floats_read_back_exactly() {
        for v in [
            0.1f32,
            -0.0,
            1e-7,
            3.4028235e38,
            1.0e-45,
            16777217.0,
            1.0 / 3.0,
        ] {
            let s = f32_lit(v);
            assert_eq!(s.parse::<f32>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
        for v in [0.1f64, -0.0, 5e-324, 1.7976931348623157e308, 1.0 / 3.0] {
            let s = f64_lit(v);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
        assert_eq!(f32_lit(f32::NAN), "f32::NAN");
        assert_eq!(
            f32_lit(f32::from_bits(0x7fc0_0001)),
            "f32::from_bits(0x7fc00001)"
        );
        assert_eq!(f64_lit(f64::NEG_INFINITY), "f64::NEG_INFINITY");
        assert_eq!(f32_lit(-0.0), "-0.0");
    }

    #[test]
    fn attribute_values_convert_like_the_reference() {
        assert_eq!(from_f64(DType::U8, -3.0).unwrap(), "0");
        assert_eq!(from_f64(DType::I8, 300.0).unwrap(), "127");
        assert_eq!(from_f64(DType::I32, 2.9).unwrap(), "2");
        assert_eq!(from_f64(DType::F32, 0.1).unwrap(), "0.1");
        // 1.0 is 0x3c00 as f16 and 0x3f80 as bf16 (IEEE 754 binary16; bfloat16).
        assert_eq!(from_f64(DType::F16, 1.0).unwrap(), "15360");
        assert_eq!(from_f64(DType::BF16, 1.0).unwrap(), "16256");
    }

    #[test]
    fn words_hold_lanes_lowest_first() {
        // f32 1.0 is 0x3f800000 and -2.0 is 0xc0000000 (IEEE 754 binary32).
        let d = TensorData::F32(vec![1.0, -2.0, 0.0, -0.0, 1.0]);
        assert_eq!(
            words(&d),
            vec![0x8000_0000_0000_0000_c000_0000_3f80_0000, 0x3f80_0000]
        );
        let d = TensorData::I8(vec![-1, 2]);
        assert_eq!(words(&d), vec![0x02ff]);
        let d = TensorData::Bool(vec![true, false, true]);
        assert_eq!(words(&d), vec![0x01_0001]);
        assert_eq!(lanes(DType::F64), 2);
        assert_eq!(lanes(DType::BF16), 8);
    }

    #[test]
    fn arrays_break_into_lines() {
        let d = TensorData::I32(vec![1, 2, 3, 4, 5]);
        assert_eq!(array_lines(&d, 2), vec!["1, 2,", "3, 4,", "5,"]);
    }
}
