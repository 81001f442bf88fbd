//! Helpers shared by the reference kernels: typed access to [`TensorData`] (one generic
//! kernel instead of thirteen copies), float widening to f64, index arithmetic, and running
//! an op's shape inference on concrete tensors so every `eval` validates its inputs exactly
//! as `infer` does and produces the shapes `infer` promises.

use super::InferInput;
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType};
use half::{bf16, f16};
use std::borrow::Cow;

/// Runs shape inference on concrete tensors (constant values included, so Reshape's
/// `shape` operand is visible).
pub(crate) fn infer_on<F>(inputs: &[Option<&Tensor>], infer: F) -> Result<Vec<TensorType>, String>
where
    F: FnOnce(&[Option<InferInput>]) -> Result<Vec<TensorType>, String>,
{
    let types: Vec<Option<TensorType>> = inputs.iter().map(|t| t.map(Tensor::ty)).collect();
    let args: Vec<Option<InferInput>> = types
        .iter()
        .zip(inputs)
        .map(|(ty, t)| ty.as_ref().map(|ty| InferInput { ty, value: *t }))
        .collect();
    infer(&args)
}

/// Row-major strides of `shape` (in elements).
pub(crate) fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Splits a row-major flat index into coordinates.
pub(crate) fn unravel(mut flat: usize, shape: &[usize], out: &mut [usize]) {
    for i in (0..shape.len()).rev() {
        let d = shape[i].max(1);
        out[i] = flat % d;
        flat /= d;
    }
}

/// For every element of `out_shape` (row-major), the flat index of the element of a tensor
/// of shape `in_shape` that numpy broadcasting maps onto it. `in_shape` is right-aligned.
pub(crate) fn broadcast_index(in_shape: &[usize], out_shape: &[usize]) -> Vec<usize> {
    let lead = out_shape.len() - in_shape.len();
    let in_strides = strides_of(in_shape);
    // Broadcast axes (size 1 against a larger output) contribute stride 0.
    let strides: Vec<usize> = (0..out_shape.len())
        .map(|i| {
            if i < lead || in_shape[i - lead] == 1 {
                0
            } else {
                in_strides[i - lead]
            }
        })
        .collect();
    strided_index(out_shape, &strides)
}

/// For every element of `shape` (row-major), `sum(coord[d] * strides[d])`: the flat index
/// of a strided view (broadcasts, transposes) into its source.
pub(crate) fn strided_index(shape: &[usize], strides: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let mut idx = Vec::with_capacity(n);
    let mut coord = vec![0usize; shape.len()];
    let mut at = 0usize;
    for _ in 0..n {
        idx.push(at);
        // Odometer increment, adjusting `at` as each digit moves.
        for d in (0..shape.len()).rev() {
            coord[d] += 1;
            at += strides[d];
            if coord[d] < shape[d] {
                break;
            }
            at -= strides[d] * coord[d];
            coord[d] = 0;
        }
    }
    idx
}

/// An element type of [`TensorData`] with its natural order (f16/bf16 decoded to `half`).
pub(crate) trait Elem: Copy + PartialOrd + Default + 'static {
    /// The smallest value (−∞ for floats): the identity of max.
    const LOWEST: Self;
    /// The elements, when `d` holds this type.
    fn extract(d: &TensorData) -> Option<Cow<'_, [Self]>>;
    fn wrap(v: Vec<Self>) -> TensorData;
    /// Nearest value of this type (integers saturate; NaN becomes 0). For attribute
    /// constants such as Clip's opset-6 bounds.
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

/// Arithmetic with numpy semantics: floats as IEEE, integers wrapping, integer division
/// truncating toward zero (division by zero is an error, not a panic).
pub(crate) trait Arith: Elem {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Result<Self, String>;
}

macro_rules! native_elem {
    ($t:ty, $variant:ident, $lowest:expr) => {
        impl Elem for $t {
            const LOWEST: Self = $lowest;
            fn extract(d: &TensorData) -> Option<Cow<'_, [Self]>> {
                match d {
                    TensorData::$variant(v) => Some(Cow::Borrowed(v)),
                    _ => None,
                }
            }
            fn wrap(v: Vec<Self>) -> TensorData {
                TensorData::$variant(v)
            }
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}

/// `Arith` through the type's own operators (floats: IEEE arithmetic, division never fails).
macro_rules! operator_arith {
    ($t:ty) => {
        impl Arith for $t {
            fn add(self, o: Self) -> Self {
                self + o
            }
            fn sub(self, o: Self) -> Self {
                self - o
            }
            fn mul(self, o: Self) -> Self {
                self * o
            }
            fn div(self, o: Self) -> Result<Self, String> {
                Ok(self / o)
            }
        }
    };
}

macro_rules! half_elem {
    ($t:ty, $variant:ident) => {
        impl Elem for $t {
            const LOWEST: Self = <$t>::NEG_INFINITY;
            fn extract(d: &TensorData) -> Option<Cow<'_, [Self]>> {
                match d {
                    TensorData::$variant(v) => {
                        Some(Cow::Owned(v.iter().map(|&b| <$t>::from_bits(b)).collect()))
                    }
                    _ => None,
                }
            }
            fn wrap(v: Vec<Self>) -> TensorData {
                TensorData::$variant(v.into_iter().map(<$t>::to_bits).collect())
            }
            fn from_f64(x: f64) -> Self {
                <$t>::from_f64(x)
            }
            fn to_f64(self) -> f64 {
                <$t>::to_f64(self)
            }
        }
        // half's operators compute in f32 and round once, which for +-*/ equals the
        // correctly rounded half-precision result.
        operator_arith!($t);
    };
}

macro_rules! float_arith {
    ($t:ty, $variant:ident) => {
        native_elem!($t, $variant, <$t>::NEG_INFINITY);
        operator_arith!($t);
    };
}

macro_rules! int_arith {
    ($t:ty, $variant:ident) => {
        native_elem!($t, $variant, <$t>::MIN);
        impl Arith for $t {
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            fn div(self, o: Self) -> Result<Self, String> {
                if o == 0 {
                    return Err(format!("integer division by zero ({} / 0)", self));
                }
                // Rust's `/` truncates toward zero; MIN / -1 wraps like C and numpy.
                Ok(self.wrapping_div(o))
            }
        }
    };
}

float_arith!(f32, F32);
float_arith!(f64, F64);
half_elem!(f16, F16);
half_elem!(bf16, BF16);
int_arith!(i8, I8);
int_arith!(i16, I16);
int_arith!(i32, I32);
int_arith!(i64, I64);
int_arith!(u8, U8);
int_arith!(u16, U16);
int_arith!(u32, U32);
int_arith!(u64, U64);

/// The elements of `t` as `T`; the caller has checked the dtype (through `infer`), so a
/// mismatch is reported rather than expected.
pub(crate) fn elems<'a, T: Elem>(t: &'a Tensor, what: &str) -> Result<Cow<'a, [T]>, String> {
    T::extract(&t.data)
        .ok_or_else(|| format!("{what} has an unexpected element type {}", t.dtype()))
}

/// Binds the type alias `$T` to the Rust element type of a numeric `$dtype` and evaluates
/// `$body`; `Bool` evaluates `$bool` instead.
macro_rules! numeric_dispatch {
    ($dtype:expr, $T:ident => $body:expr, bool => $bool:expr) => {
        match $dtype {
            $crate::types::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::types::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::types::DType::F16 => {
                type $T = half::f16;
                $body
            }
            $crate::types::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::types::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::types::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::types::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::types::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::types::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::types::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::types::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::types::DType::U64 => {
                type $T = u64;
                $body
            }
            $crate::types::DType::Bool => $bool,
        }
    };
}
pub(crate) use numeric_dispatch;

/// Rebuilds data of the same variant from `$body`, which is evaluated with `$v` bound to the
/// inner `Vec` of whatever variant `$data` is (for ops that only move elements).
macro_rules! map_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::TensorData::F32($v) => $crate::TensorData::F32($body),
            $crate::TensorData::F64($v) => $crate::TensorData::F64($body),
            $crate::TensorData::F16($v) => $crate::TensorData::F16($body),
            $crate::TensorData::BF16($v) => $crate::TensorData::BF16($body),
            $crate::TensorData::I8($v) => $crate::TensorData::I8($body),
            $crate::TensorData::I16($v) => $crate::TensorData::I16($body),
            $crate::TensorData::I32($v) => $crate::TensorData::I32($body),
            $crate::TensorData::I64($v) => $crate::TensorData::I64($body),
            $crate::TensorData::U8($v) => $crate::TensorData::U8($body),
            $crate::TensorData::U16($v) => $crate::TensorData::U16($body),
            $crate::TensorData::U32($v) => $crate::TensorData::U32($body),
            $crate::TensorData::U64($v) => $crate::TensorData::U64($body),
            $crate::TensorData::Bool($v) => $crate::TensorData::Bool($body),
        }
    };
}

/// Picks elements: `out[i] = data[idx[i]]`, for any element type.
pub(crate) fn gather(data: &TensorData, idx: &[usize]) -> TensorData {
    map_data!(data, v => idx.iter().map(|&i| v[i]).collect())
}

/// All elements of `parts` one after another; they must share one element type.
pub(crate) fn concat_data(parts: &[&TensorData]) -> Result<TensorData, String> {
    macro_rules! cat {
        ($($variant:ident),*) => {
            match parts.first() {
                None => Err("there is nothing to concatenate".to_string()),
                $(Some(TensorData::$variant(_)) => {
                    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
                    for p in parts {
                        match p {
                            TensorData::$variant(v) => out.extend_from_slice(v),
                            other => {
                                return Err(format!(
                                    "cannot join {} and {} elements",
                                    parts[0].dtype(),
                                    other.dtype()
                                ))
                            }
                        }
                    }
                    Ok(TensorData::$variant(out))
                })*
            }
        };
    }
    cat!(
        F32, F64, F16, BF16, I8, I16, I32, I64, U8, U16, U32, U64, Bool
    )
}

/// The type of a broadcast of inputs 0 and 1 (A and B), which must share an element type:
/// comparisons, logical ops, Mod, BitShift.
pub(crate) fn same_type_pair(
    name: &str,
    inputs: &[Option<InferInput>],
) -> Result<TensorType, String> {
    let a = super::input(inputs, 0, "A")?.ty;
    let b = super::input(inputs, 1, "B")?.ty;
    if a.dtype != b.dtype {
        return Err(format!("{name} needs equal element types, got {a} and {b}"));
    }
    let shape = crate::types::broadcast_shapes(&a.shape, &b.shape)
        .ok_or_else(|| format!("shapes {a} and {b} do not broadcast"))?;
    Ok(TensorType::new(a.dtype, shape))
}

/// Optional input `i` widened to f64 like [`floats`], `None` when absent.
pub(crate) fn optional_floats(
    inputs: &[Option<&Tensor>],
    i: usize,
    what: &str,
) -> Result<Option<Vec<f64>>, String> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .map(|t| floats(t, what))
        .transpose()
}

/// The elements of a floating-point tensor widened to f64 (the oracle computes in f64 and
/// rounds once at the end). Integer and bool tensors are an error naming `what`.
pub(crate) fn floats(t: &Tensor, what: &str) -> Result<Vec<f64>, String> {
    if !t.dtype().is_float() {
        return Err(format!(
            "{what} must be a floating-point tensor, got {}",
            t.ty()
        ));
    }
    Ok(t.data.to_f64_vec())
}

/// f64 results rounded to a floating-point `dtype` (to nearest, ties to even).
pub(crate) fn from_f64s(dtype: DType, v: Vec<f64>) -> Result<TensorData, String> {
    Ok(match dtype {
        DType::F64 => TensorData::F64(v),
        DType::F32 => TensorData::F32(v.into_iter().map(|x| x as f32).collect()),
        DType::F16 => TensorData::F16(v.into_iter().map(|x| f16::from_f64(x).to_bits()).collect()),
        DType::BF16 => {
            TensorData::BF16(v.into_iter().map(|x| bf16::from_f64(x).to_bits()).collect())
        }
        other => return Err(format!("expected a floating-point type, got {other}")),
    })
}

/// Builds an output tensor whose type `infer` already fixed.
pub(crate) fn output(ty: &TensorType, data: TensorData) -> Result<Tensor, String> {
    if data.dtype() != ty.dtype {
        return Err(format!(
            "internal error: computed {} elements for a {ty} output",
            data.dtype()
        ));
    }
    Tensor::new(ty.shape.clone(), data)
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::ops::Op;

    /// Evaluates `op` and checks that the outputs have exactly the types inference predicts.
    pub(crate) fn run(op: &Op, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
        let outs = op.eval(inputs)?;
        let want = infer_on(inputs, |ii| op.infer(ii)).expect("eval succeeded, infer must too");
        assert!(outs.len() <= want.len(), "{op}: more outputs than inferred");
        for (o, w) in outs.iter().zip(&want) {
            assert_eq!(&o.ty(), w, "{op}: eval and infer disagree");
        }
        Ok(outs)
    }

    pub(crate) fn run1(op: &Op, inputs: &[&Tensor]) -> Tensor {
        let args: Vec<Option<&Tensor>> = inputs.iter().map(|&t| Some(t)).collect();
        run(op, &args).unwrap().remove(0)
    }

    pub(crate) fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::new(shape.to_vec(), TensorData::F32(v.to_vec())).unwrap()
    }

    /// `0, 1, 2, ...` as f32 with the given shape.
    pub(crate) fn iota(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        f32s(shape, &(0..n).map(|i| i as f32).collect::<Vec<_>>())
    }

    pub(crate) fn as_f32(t: &Tensor) -> Vec<f32> {
        match &t.data {
            TensorData::F32(v) => v.clone(),
            other => panic!("expected f32 data, got {}", other.dtype()),
        }
    }

    pub(crate) fn assert_close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "element {i}: got {g}, want {w}\n got {got:?}\nwant {want:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_index_follows_numpy() {
        // [3, 1] against [2, 3, 4]: row r of the output plane reads element r.
        let idx = broadcast_index(&[3, 1], &[2, 3, 4]);
        let want: Vec<usize> = (0..24).map(|i| (i / 4) % 3).collect();
        assert_eq!(idx, want);
        assert_eq!(broadcast_index(&[], &[2, 2]), vec![0; 4]);
        assert_eq!(broadcast_index(&[4], &[2, 4]), vec![0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn integer_arith_wraps_and_truncates() {
        assert_eq!(Arith::add(127i8, 1), -128);
        assert_eq!(Arith::mul(200u8, 2), 144);
        assert_eq!(Arith::div(-7i32, 2).unwrap(), -3);
        assert_eq!(Arith::div(i32::MIN, -1).unwrap(), i32::MIN);
        assert!(Arith::div(1u8, 0).is_err());
    }

    #[test]
    fn half_round_trips_through_elem() {
        let d = TensorData::F16(vec![
            f16::from_f32(1.5).to_bits(),
            f16::from_f32(-2.0).to_bits(),
        ]);
        let v = f16::extract(&d).unwrap();
        assert!(v[0] > v[1]);
        assert_eq!(f16::wrap(v.into_owned()), d);
    }
}
