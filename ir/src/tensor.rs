//! Tensors with data: weights, constants, test vectors and reference-evaluation results.

use crate::types::{DType, TensorType};
use ndarray::{ArrayD, IxDyn};

/// Element storage, one variant per [`DType`]. f16 and bf16 keep their raw bits.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    F16(Vec<u16>),
    BF16(Vec<u16>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
}

/// Runs `$body` with `$v` bound to the inner `Vec` of any variant.
#[macro_export]
macro_rules! with_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::TensorData::F32($v) => $body,
            $crate::TensorData::F64($v) => $body,
            $crate::TensorData::F16($v) => $body,
            $crate::TensorData::BF16($v) => $body,
            $crate::TensorData::I8($v) => $body,
            $crate::TensorData::I16($v) => $body,
            $crate::TensorData::I32($v) => $body,
            $crate::TensorData::I64($v) => $body,
            $crate::TensorData::U8($v) => $body,
            $crate::TensorData::U16($v) => $body,
            $crate::TensorData::U32($v) => $body,
            $crate::TensorData::U64($v) => $body,
            $crate::TensorData::Bool($v) => $body,
        }
    };
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
            TensorData::F16(_) => DType::F16,
            TensorData::BF16(_) => DType::BF16,
            TensorData::I8(_) => DType::I8,
            TensorData::I16(_) => DType::I16,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
            TensorData::U8(_) => DType::U8,
            TensorData::U16(_) => DType::U16,
            TensorData::U32(_) => DType::U32,
            TensorData::U64(_) => DType::U64,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        with_data!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Zero-filled storage of `n` elements.
    pub fn zeros(dtype: DType, n: usize) -> TensorData {
        match dtype {
            DType::F32 => TensorData::F32(vec![0.0; n]),
            DType::F64 => TensorData::F64(vec![0.0; n]),
            DType::F16 => TensorData::F16(vec![0; n]),
            DType::BF16 => TensorData::BF16(vec![0; n]),
            DType::I8 => TensorData::I8(vec![0; n]),
            DType::I16 => TensorData::I16(vec![0; n]),
            DType::I32 => TensorData::I32(vec![0; n]),
            DType::I64 => TensorData::I64(vec![0; n]),
            DType::U8 => TensorData::U8(vec![0; n]),
            DType::U16 => TensorData::U16(vec![0; n]),
            DType::U32 => TensorData::U32(vec![0; n]),
            DType::U64 => TensorData::U64(vec![0; n]),
            DType::Bool => TensorData::Bool(vec![false; n]),
        }
    }

    /// Decodes little-endian bytes (ONNX `raw_data`). `None` if the length is not a whole
    /// number of elements.
    pub fn from_le_bytes(dtype: DType, bytes: &[u8]) -> Option<TensorData> {
        let size = dtype.size_bytes();
        if !bytes.len().is_multiple_of(size) {
            return None;
        }
        macro_rules! decode {
            ($t:ty, $variant:ident) => {
                TensorData::$variant(
                    bytes
                        .chunks_exact(size)
                        // Cannot fail: chunks_exact yields slices of exactly `size` bytes,
                        // the size of `$t`.
                        .map(|c| <$t>::from_le_bytes(c.try_into().expect("chunk of element size")))
                        .collect(),
                )
            };
        }
        Some(match dtype {
            DType::F32 => decode!(f32, F32),
            DType::F64 => decode!(f64, F64),
            DType::F16 => decode!(u16, F16),
            DType::BF16 => decode!(u16, BF16),
            DType::I8 => decode!(i8, I8),
            DType::I16 => decode!(i16, I16),
            DType::I32 => decode!(i32, I32),
            DType::I64 => decode!(i64, I64),
            DType::U8 => decode!(u8, U8),
            DType::U16 => decode!(u16, U16),
            DType::U32 => decode!(u32, U32),
            DType::U64 => decode!(u64, U64),
            DType::Bool => TensorData::Bool(bytes.iter().map(|&b| b != 0).collect()),
        })
    }

    /// Little-endian bytes, the inverse of [`TensorData::from_le_bytes`].
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::Bool(v) => v.iter().map(|&b| b as u8).collect(),
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F16(v) | TensorData::BF16(v) | TensorData::U16(v) => {
                v.iter().flat_map(|x| x.to_le_bytes()).collect()
            }
            TensorData::I8(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::U8(v) => v.clone(),
            TensorData::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::U64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// Every element widened to f64 (f16/bf16 decoded). For comparisons and reports.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::F64(v) => v.clone(),
            TensorData::F16(v) => v
                .iter()
                .map(|&b| half::f16::from_bits(b).to_f64())
                .collect(),
            TensorData::BF16(v) => v
                .iter()
                .map(|&b| half::bf16::from_bits(b).to_f64())
                .collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I16(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U8(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U16(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U32(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::U64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        }
    }
}

/// A tensor with a static type and its elements in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    /// Builds a tensor, checking that the element count matches the shape.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Tensor, String> {
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| format!("shape {shape:?} has more elements than fit in memory"))?;
        if numel != data.len() {
            return Err(format!(
                "shape {shape:?} needs {numel} elements but the data has {}",
                data.len()
            ));
        }
        Ok(Tensor { shape, data })
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    pub fn ty(&self) -> TensorType {
        TensorType::new(self.dtype(), self.shape.clone())
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    pub fn from_f32(shape: Vec<usize>, v: Vec<f32>) -> Result<Tensor, String> {
        Tensor::new(shape, TensorData::F32(v))
    }

    /// Integer view of an integer tensor (shape operands such as Reshape's `shape`).
    pub fn as_i64_vec(&self) -> Option<Vec<i64>> {
        match &self.data {
            TensorData::I64(v) => Some(v.clone()),
            TensorData::I32(v) => Some(v.iter().map(|&x| x as i64).collect()),
            TensorData::I16(v) => Some(v.iter().map(|&x| x as i64).collect()),
            TensorData::I8(v) => Some(v.iter().map(|&x| x as i64).collect()),
            TensorData::U8(v) => Some(v.iter().map(|&x| x as i64).collect()),
            TensorData::U16(v) => Some(v.iter().map(|&x| x as i64).collect()),
            TensorData::U32(v) => Some(v.iter().map(|&x| x as i64).collect()),
            _ => None,
        }
    }

    /// Scalar (or first element) as f64; for attribute-like inputs such as Clip's bounds.
    pub fn first_as_f64(&self) -> Option<f64> {
        self.data.to_f64_vec().first().copied()
    }

    /// The f32 elements as an ndarray; `None` for other element types.
    pub fn to_array_f32(&self) -> Option<ArrayD<f32>> {
        match &self.data {
            TensorData::F32(v) => ArrayD::from_shape_vec(IxDyn(&self.shape), v.clone()).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_bytes_round_trip_every_dtype() {
        for dt in DType::ALL {
            let n = 3;
            let bytes: Vec<u8> = (0..n * dt.size_bytes())
                .map(|i| (i * 37 % 251) as u8)
                .collect();
            let bytes = if dt == DType::Bool {
                vec![1, 0, 1]
            } else {
                bytes
            };
            let d = TensorData::from_le_bytes(dt, &bytes).unwrap();
            assert_eq!(d.dtype(), dt);
            assert_eq!(d.len(), n);
            assert_eq!(d.to_le_bytes(), bytes);
        }
    }

    #[test]
    fn ragged_raw_data_is_rejected() {
        assert!(TensorData::from_le_bytes(DType::F32, &[0, 0, 0]).is_none());
        assert!(Tensor::new(vec![2, 2], TensorData::F32(vec![0.0; 3])).is_err());
    }
}
