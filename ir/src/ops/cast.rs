//! Cast (opsets 1, 6, 9, 13, 19, 21, 23, 24, 25): every element converted to the element
//! type `to`, between any two of kiln's element types. The `saturate` (19+) and `round_mode`
//! (24+) attributes only concern float8 targets, which kiln does not have (the frontend refuses
//! them), so they have no counterpart here.
//! Spec: https://onnx.ai/onnx/operators/onnx__Cast.html
//!
//! The semantics are numpy's `astype`, which the ONNX reference implementation uses:
//! - float -> float: rounded to nearest, ties to even, once; NaN stays NaN, overflow gives ±∞.
//!   (f64 -> f16/bf16 is rounded to odd in f32 first, which makes the second rounding exact;
//!   numpy's f64 -> f16 rounds once too. ml_dtypes' f64 -> bf16 rounds twice, through f32, so
//!   it can differ from kiln in the last bit for values within 2^-24 of a tie.)
//! - integer -> float: rounded to nearest, ties to even (once, the same way).
//! - integer -> integer: two's complement wrapping (the low bits of the sign- or zero-extended
//!   value), like C and numpy.
//! - float -> integer: truncated toward zero when the result fits. For NaN and out-of-range
//!   values C leaves the result undefined and numpy returns what the x86-64 conversion
//!   instructions give; kiln fixes exactly those results, on every platform
//!   (`float_to_int`):
//!   - i32 and i64: the truncation when it fits, else `MIN` (the "integer indefinite");
//!   - i8, i16, u8, u16: the i32 result, wrapped (300.5 -> 44 as i8; NaN and ±∞ -> 0);
//!   - u32 (u64 alike with 2^63 and 2^64): below 2^31 the i32 result reinterpreted
//!     (-1.0 -> 4294967295, -∞ -> 2^31); from 2^31 to 2^32 the truncation; 2^32 and above
//!     (+∞ too) -> 0; NaN -> 2^31.
//!
//!   These are numpy's results for f32 and f64 sources; f16 and bf16 are widened to f32 (exactly)
//!   and follow the same rules, where numpy's f16 -> u32 and ml_dtypes' bf16 -> u32 happen to
//!   give other values for NaN and out-of-range inputs.
//! - float -> bool: `x != 0` (NaN is true); integer -> bool: `x != 0`; bool -> number: 0 or 1.

use super::common::{infer_on, output};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType};
use half::{bf16, f16};
use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CastAttrs {
    /// The output element type.
    pub to: DType,
}

pub(crate) fn infer(
    a: &CastAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    Ok(vec![TensorType::new(a.to, x.shape.clone())])
}

pub(crate) fn eval(a: &CastAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "input")?;
    Ok(vec![output(&ty, cast_data(&x.data, a.to))?])
}

/// One source element, widened without loss.
#[derive(Clone, Copy, Debug)]
enum Scalar {
    Float(f64),
    Int(i128),
    Bool(bool),
}

impl Scalar {
    fn to_f64(self) -> f64 {
        match self {
            Scalar::Float(v) => v,
            Scalar::Int(i) => i as f64,
            Scalar::Bool(b) => u8::from(b) as f64,
        }
    }

    fn to_f32(self) -> f32 {
        match self {
            Scalar::Float(v) => v as f32,
            Scalar::Int(i) => i as f32,
            Scalar::Bool(b) => u8::from(b) as f32,
        }
    }

    /// The value in f32 rounded to odd: exact when it fits, otherwise its truncation with the
    /// last bit set. Rounding that once more to a format of at most 22 significant bits (f16,
    /// bf16) gives the correctly rounded result of the exact value.
    fn to_f32_odd(self) -> f32 {
        let f = self.to_f32();
        // |f| against |exact|; `f` is the nearest f32, so it is off by less than one step.
        let cmp = match self {
            Scalar::Float(v) => (f as f64).abs().partial_cmp(&v.abs()),
            // An inexact f is a whole number (|f| ≥ 2^24), and below 2^65: `as` is exact.
            Scalar::Int(i) => Some((f as i128).unsigned_abs().cmp(&i.unsigned_abs())),
            Scalar::Bool(_) => Some(Ordering::Equal),
        };
        let bits = f.to_bits();
        match cmp {
            // The magnitude is in the low 31 bits, so ±1 steps toward or away from zero.
            Some(Ordering::Greater) => f32::from_bits((bits - 1) | 1),
            Some(Ordering::Less) => f32::from_bits(bits | 1),
            // Exact, or NaN.
            _ => f,
        }
    }

    /// The integer of a `to` element (wrapped to the type by the caller's `as`).
    fn to_int(self, to: DType) -> i128 {
        match self {
            Scalar::Float(v) => float_to_int(v, to),
            Scalar::Int(i) => i,
            Scalar::Bool(b) => i128::from(b),
        }
    }

    fn to_bool(self) -> bool {
        match self {
            Scalar::Float(v) => v != 0.0,
            Scalar::Int(i) => i != 0,
            Scalar::Bool(b) => b,
        }
    }
}

/// x86-64's truncating f64 -> i32 conversion (`cvttsd2si`): `i32::MIN` when out of range or NaN.
fn x86_i32(v: f64) -> i32 {
    // Rust's `as` saturates, which gives MIN below the range as well.
    if v < 2_147_483_648.0 {
        v as i32
    } else {
        i32::MIN
    }
}

/// x86-64's truncating f64 -> i64 conversion: `i64::MIN` when out of range or NaN.
fn x86_i64(v: f64) -> i64 {
    if v < 9_223_372_036_854_775_808.0 {
        v as i64
    } else {
        i64::MIN
    }
}

/// A float converted to the integer type `to` as numpy does on x86-64 (see the module
/// documentation); the caller wraps the result to `to` with `as`.
pub(crate) fn float_to_int(v: f64, to: DType) -> i128 {
    const TWO_31: f64 = 2_147_483_648.0;
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    match to {
        DType::I64 => i128::from(x86_i64(v)),
        DType::U32 => i128::from(if v < TWO_31 {
            x86_i32(v) as u32
        } else if v < 2.0 * TWO_31 {
            v as u32
        } else if v.is_nan() {
            1 << 31
        } else {
            0
        }),
        DType::U64 => i128::from(if v < TWO_63 {
            x86_i64(v) as u64
        } else if v < 2.0 * TWO_63 {
            v as u64
        } else if v.is_nan() {
            1 << 63
        } else {
            0
        }),
        // i8, i16, i32, u8, u16 (and nothing else reaches here).
        _ => i128::from(x86_i32(v)),
    }
}

fn scalars(d: &TensorData) -> Vec<Scalar> {
    fn ints<T: Copy + Into<i128>>(v: &[T]) -> Vec<Scalar> {
        v.iter().map(|&x| Scalar::Int(x.into())).collect()
    }
    match d {
        TensorData::F32(v) => v.iter().map(|&x| Scalar::Float(x as f64)).collect(),
        TensorData::F64(v) => v.iter().map(|&x| Scalar::Float(x)).collect(),
        TensorData::F16(v) => v
            .iter()
            .map(|&b| Scalar::Float(f16::from_bits(b).to_f64()))
            .collect(),
        TensorData::BF16(v) => v
            .iter()
            .map(|&b| Scalar::Float(bf16::from_bits(b).to_f64()))
            .collect(),
        TensorData::I8(v) => ints(v),
        TensorData::I16(v) => ints(v),
        TensorData::I32(v) => ints(v),
        TensorData::I64(v) => ints(v),
        TensorData::U8(v) => ints(v),
        TensorData::U16(v) => ints(v),
        TensorData::U32(v) => ints(v),
        TensorData::U64(v) => ints(v),
        TensorData::Bool(v) => v.iter().map(|&b| Scalar::Bool(b)).collect(),
    }
}

/// The elements of `d` converted to `to`.
pub(crate) fn cast_data(d: &TensorData, to: DType) -> TensorData {
    if d.dtype() == to {
        // Bit for bit, NaN payloads included.
        return d.clone();
    }
    let s = scalars(d);
    macro_rules! ints {
        ($variant:ident, $t:ty) => {
            TensorData::$variant(s.iter().map(|x| x.to_int(to) as $t).collect())
        };
    }
    match to {
        DType::F32 => TensorData::F32(s.iter().map(|x| x.to_f32()).collect()),
        DType::F64 => TensorData::F64(s.iter().map(|x| x.to_f64()).collect()),
        DType::F16 => TensorData::F16(
            s.iter()
                .map(|x| f16::from_f32(x.to_f32_odd()).to_bits())
                .collect(),
        ),
        DType::BF16 => TensorData::BF16(
            s.iter()
                .map(|x| bf16::from_f32(x.to_f32_odd()).to_bits())
                .collect(),
        ),
        DType::I8 => ints!(I8, i8),
        DType::I16 => ints!(I16, i16),
        DType::I32 => ints!(I32, i32),
        DType::I64 => ints!(I64, i64),
        DType::U8 => ints!(U8, u8),
        DType::U16 => ints!(U16, u16),
        DType::U32 => ints!(U32, u32),
        DType::U64 => ints!(U64, u64),
        DType::Bool => TensorData::Bool(s.iter().map(|x| x.to_bool()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::run1;

    fn cast(data: TensorData, to: DType) -> TensorData {
        let x = Tensor::new(vec![data.len()], data).unwrap();
        run1(&Op::Cast(CastAttrs { to }), &[&x]).data
    }

    /// The values numpy was run on (x86-64, numpy 2.4), with its results below.
    const ODD: [f64; 22] = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        3.7,
        -3.7,
        300.5,
        -300.5,
        70000.5,
        -70000.5,
        3e9,
        -3e9,
        5e9,
        -5e9,
        1e19,
        -1e19,
        2e19,
        1e30,
        -1e30,
        -0.5,
        -1.0,
        9.3e18,
        1.8e19,
    ];

    #[test]
    fn float_to_int_follows_numpy_on_x86() {
        let x = TensorData::F64(ODD.to_vec());
        let m32 = i32::MIN;
        assert_eq!(
            cast(x.clone(), DType::I8),
            TensorData::I8(vec![
                0, 0, 0, 3, -3, 44, -44, 112, -112, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0
            ])
        );
        assert_eq!(
            cast(x.clone(), DType::I16),
            TensorData::I16(vec![
                0, 0, 0, 3, -3, 300, -300, 4464, -4464, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0
            ])
        );
        assert_eq!(
            cast(x.clone(), DType::I32),
            TensorData::I32(vec![
                m32, m32, m32, 3, -3, 300, -300, 70000, -70000, m32, m32, m32, m32, m32, m32, m32,
                m32, m32, 0, -1, m32, m32
            ])
        );
        let m64 = i64::MIN;
        assert_eq!(
            cast(x.clone(), DType::I64),
            TensorData::I64(vec![
                m64,
                m64,
                m64,
                3,
                -3,
                300,
                -300,
                70000,
                -70000,
                3_000_000_000,
                -3_000_000_000,
                5_000_000_000,
                -5_000_000_000,
                m64,
                m64,
                m64,
                m64,
                m64,
                0,
                -1,
                m64,
                m64
            ])
        );
        assert_eq!(
            cast(x.clone(), DType::U8),
            TensorData::U8(vec![
                0, 0, 0, 3, 253, 44, 212, 112, 144, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0
            ])
        );
        assert_eq!(
            cast(x.clone(), DType::U16),
            TensorData::U16(vec![
                0, 0, 0, 3, 65533, 300, 65236, 4464, 61072, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 65535, 0,
                0
            ])
        );
        let h32 = 1u32 << 31;
        assert_eq!(
            cast(x.clone(), DType::U32),
            TensorData::U32(vec![
                h32,
                0,
                h32,
                3,
                4294967293,
                300,
                4294966996,
                70000,
                4294897296,
                3_000_000_000,
                h32,
                0,
                h32,
                0,
                h32,
                0,
                0,
                h32,
                0,
                4294967295,
                0,
                0
            ])
        );
        let h64 = 1u64 << 63;
        assert_eq!(
            cast(x.clone(), DType::U64),
            TensorData::U64(vec![
                h64,
                0,
                h64,
                3,
                18446744073709551613,
                300,
                18446744073709551316,
                70000,
                18446744073709481616,
                3_000_000_000,
                18446744070709551616,
                5_000_000_000,
                18446744068709551616,
                10_000_000_000_000_000_000,
                h64,
                0,
                0,
                h64,
                0,
                18446744073709551615,
                9_300_000_000_000_000_000,
                18_000_000_000_000_000_000
            ])
        );
        assert_eq!(cast(x, DType::Bool), TensorData::Bool(vec![true; 22]));
        // f32 sources follow the same rules (f32's nearest to 1e19 is 9999999980506447872).
        let f = TensorData::F32(vec![f32::NAN, 1e19, -1.0, 300.5, 0.0, -0.0]);
        assert_eq!(
            cast(f.clone(), DType::U64),
            TensorData::U64(vec![h64, 9999999980506447872, u64::MAX, 300, 0, 0])
        );
        assert_eq!(
            cast(f, DType::Bool),
            TensorData::Bool(vec![true, true, true, true, false, false])
        );
    }

    #[test]
    fn integers_wrap_and_round_to_floats() {
        let x = TensorData::I64(vec![-1, 255, 256, 70000, i64::MAX, i64::MIN, 0]);
        assert_eq!(
            cast(x.clone(), DType::U8),
            TensorData::U8(vec![255, 255, 0, 112, 255, 0, 0])
        );
        assert_eq!(
            cast(x.clone(), DType::I16),
            TensorData::I16(vec![-1, 255, 256, 4464, -1, 0, 0])
        );
        assert_eq!(
            cast(x.clone(), DType::U64),
            TensorData::U64(vec![u64::MAX, 255, 256, 70000, i64::MAX as u64, 1 << 63, 0])
        );
        assert_eq!(
            cast(x.clone(), DType::Bool),
            TensorData::Bool(vec![true, true, true, true, true, true, false])
        );
        assert_eq!(
            cast(x, DType::F32),
            TensorData::F32(vec![
                -1.0,
                255.0,
                256.0,
                70000.0,
                9.223372e18,
                -9.223372e18,
                0.0
            ])
        );
        // 2^24 + 1 is a tie in f32 and rounds to even; u64::MAX rounds up to 2^64.
        let y = cast(
            TensorData::U64(vec![(1 << 24) + 1, (1 << 24) + 3, u64::MAX]),
            DType::F32,
        );
        assert_eq!(
            y,
            TensorData::F32(vec![16777216.0, 16777220.0, 18446744073709551616.0])
        );
        let b = TensorData::Bool(vec![true, false]);
        assert_eq!(cast(b.clone(), DType::F64), TensorData::F64(vec![1.0, 0.0]));
        assert_eq!(cast(b.clone(), DType::I8), TensorData::I8(vec![1, 0]));
        assert_eq!(
            cast(b, DType::F16),
            TensorData::F16(vec![f16::ONE.to_bits(), 0])
        );
    }

    #[test]
    fn narrowing_floats_round_to_nearest_even_once() {
        // test_cast_FLOAT_to_BFLOAT16's data, and the bits ONNX expects.
        let x = TensorData::F32(vec![
            0.478_925_47,
            0.480_336_67,
            0.499_684_87,
            0.819_105_4,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ]);
        assert_eq!(
            cast(x.clone(), DType::BF16),
            TensorData::BF16(vec![0x3ef5, 0x3ef6, 0x3f00, 0x3f52, 0x7fc0, 0x7f80, 0xff80])
        );
        let TensorData::F16(h) = cast(x, DType::F16) else {
            panic!()
        };
        let h: Vec<f64> = h.iter().map(|&b| f16::from_bits(b).to_f64()).collect();
        assert_eq!(
            &h[..4],
            &[0.47900390625, 0.480224609375, 0.499755859375, 0.8193359375]
        );
        assert!(h[4].is_nan() && h[5] == f64::INFINITY && h[6] == f64::NEG_INFINITY);
        // Just above a tie of the narrow type, but a tie once rounded to f32: rounding twice
        // would go to even (down); kiln rounds once (up).
        let above = |tie: f64| tie + 2f64.powi(-40);
        let y = cast(
            TensorData::F64(vec![above(1.000_488_281_25), 65520.0, 1e-9]),
            DType::F16,
        );
        assert_eq!(
            y,
            TensorData::F16(vec![
                f16::from_f32(1.000_976_6).to_bits(),
                f16::INFINITY.to_bits(),
                0
            ])
        );
        let y = cast(TensorData::F64(vec![above(1.003_906_25)]), DType::BF16);
        assert_eq!(
            y,
            TensorData::BF16(vec![bf16::from_f32(1.007_812_5).to_bits()])
        );
        // The same for an integer: 2^31 + 2^23 + 1 is a bf16 tie only after rounding to f32.
        let y = cast(
            TensorData::I64(vec![(1 << 31) + (1 << 23) + 1]),
            DType::BF16,
        );
        assert_eq!(
            y,
            TensorData::BF16(vec![bf16::from_f32(2_164_260_864.0).to_bits()])
        );
        // Widening is exact.
        let w = cast(TensorData::BF16(vec![0x3ef5, 0x7f80]), DType::F64);
        assert_eq!(w, TensorData::F64(vec![0.478515625, f64::INFINITY]));
        let d = cast(TensorData::F64(vec![0.1, 1e300]), DType::F32);
        assert_eq!(d, TensorData::F32(vec![0.1, f32::INFINITY]));
    }

    #[test]
    fn same_type_is_the_identity_and_shapes_are_kept() {
        let x = Tensor::new(
            vec![2, 1],
            TensorData::F32(vec![f32::from_bits(0x7fc0_0001), 2.0]),
        )
        .unwrap();
        let y = run1(&Op::Cast(CastAttrs { to: DType::F32 }), &[&x]);
        assert_eq!(y.shape, vec![2, 1]);
        let TensorData::F32(v) = &y.data else {
            panic!()
        };
        assert_eq!(v[0].to_bits(), 0x7fc0_0001);
        let z = run1(&Op::Cast(CastAttrs { to: DType::I8 }), &[&x]);
        assert_eq!(z.ty(), TensorType::new(DType::I8, [2, 1]));
    }
}
