//! `TensorProto` <-> [`Tensor`]: element types, dims, the three ways ONNX stores data
//! (`raw_data`, the typed repeated fields, external files) and the checks that keep a
//! malformed file from turning into a panic or a huge allocation.

use crate::error::FrontendError;
use crate::onnx::tensor_proto::DataType;
use crate::onnx::{StringStringEntryProto, TensorProto, tensor_proto::DataLocation};
use kiln_ir::{DType, Limit, OptionNames, Tensor, TensorData};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Maps an ONNX `TensorProto.DataType` code onto a kiln element type.
pub(crate) fn dtype_from_onnx(code: i32) -> Option<DType> {
    Some(match DataType::try_from(code).ok()? {
        DataType::Float => DType::F32,
        DataType::Double => DType::F64,
        DataType::Float16 => DType::F16,
        DataType::Bfloat16 => DType::BF16,
        DataType::Int8 => DType::I8,
        DataType::Int16 => DType::I16,
        DataType::Int32 => DType::I32,
        DataType::Int64 => DType::I64,
        DataType::Uint8 => DType::U8,
        DataType::Uint16 => DType::U16,
        DataType::Uint32 => DType::U32,
        DataType::Uint64 => DType::U64,
        DataType::Bool => DType::Bool,
        _ => return None,
    })
}

pub(crate) fn dtype_to_onnx(dtype: DType) -> DataType {
    match dtype {
        DType::F32 => DataType::Float,
        DType::F64 => DataType::Double,
        DType::F16 => DataType::Float16,
        DType::BF16 => DataType::Bfloat16,
        DType::I8 => DataType::Int8,
        DType::I16 => DataType::Int16,
        DType::I32 => DataType::Int32,
        DType::I64 => DataType::Int64,
        DType::U8 => DataType::Uint8,
        DType::U16 => DataType::Uint16,
        DType::U32 => DataType::Uint32,
        DType::U64 => DataType::Uint64,
        DType::Bool => DataType::Bool,
    }
}

/// The ONNX name of a data type code, for messages (`FLOAT8E4M3FN`, `code 99`).
pub(crate) fn onnx_dtype_name(code: i32) -> String {
    match DataType::try_from(code) {
        Ok(d) => d.as_str_name().to_string(),
        Err(_) => format!("with unknown code {code}"),
    }
}

/// Element type of `code`, or the error naming `what`.
pub(crate) fn dtype_or_error(code: i32, what: &str) -> Result<DType, FrontendError> {
    dtype_from_onnx(code).ok_or_else(|| FrontendError::UnsupportedDType {
        what: what.to_string(),
        dtype: onnx_dtype_name(code),
    })
}

/// Where a tensor's external data may live, and how big tensors may get.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TensorCtx<'a> {
    /// The model file's folder; `None` when loading from memory (external data refused).
    pub base_dir: Option<&'a Path>,
    pub max_elements: u64,
    /// Bytes of external data that may still be read, over all tensors of the model: many
    /// tensors pointing at one big region must not add up to unbounded memory.
    pub external_budget: &'a std::cell::Cell<u64>,
    /// Where the external data files read are recorded (as the model names them, joined to
    /// its folder), so a build script can tell cargo to rerun when one changes.
    pub external_files: Option<&'a std::cell::RefCell<std::collections::BTreeSet<PathBuf>>>,
    /// How the external-data budget message names the option raising it.
    pub names: OptionNames,
}

/// Converts ONNX dims to a shape, refusing negative dims, overflow and oversized tensors.
/// Returns the shape and its element count.
pub(crate) fn shape_from_dims(
    dims: &[i64],
    what: &str,
    max_elements: u64,
) -> Result<(Vec<usize>, usize), FrontendError> {
    let mut shape = Vec::with_capacity(dims.len());
    for (i, &d) in dims.iter().enumerate() {
        let d = usize::try_from(d).map_err(|_| FrontendError::Tensor {
            what: what.to_string(),
            message: format!("dimension {i} is {d} in dims {dims:?}; dimensions must be ≥ 0"),
        })?;
        shape.push(d);
    }
    let numel = check_numel(&shape, what, max_elements)?;
    Ok((shape, numel))
}

/// Element count of `shape`, refusing overflow and counts above `max_elements`.
pub(crate) fn check_numel(
    shape: &[usize],
    what: &str,
    max_elements: u64,
) -> Result<usize, FrontendError> {
    let too_large = |elements: String| FrontendError::TensorTooLarge {
        what: what.to_string(),
        elements,
        limit: max_elements,
        names: Default::default(),
    };
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| too_large(format!("more than {} (shape {shape:?})", usize::MAX)))?;
    if numel as u64 > max_elements {
        return Err(too_large(format!("{numel} (shape {shape:?})")));
    }
    Ok(numel)
}

/// Decodes a `TensorProto` into a kiln tensor. `what` names it in errors
/// (e.g. `initializer "conv1.weight"`).
pub(crate) fn tensor_from_proto(
    tp: &TensorProto,
    what: &str,
    ctx: TensorCtx<'_>,
) -> Result<Tensor, FrontendError> {
    let dtype = dtype_or_error(tp.data_type(), what)?;
    let (shape, numel) = shape_from_dims(&tp.dims, what, ctx.max_elements)?;
    let bad = |message: String| FrontendError::Tensor {
        what: what.to_string(),
        message,
    };
    if tp.segment.is_some() {
        return Err(bad(
            "it is one segment of a larger tensor (TensorProto.segment), which kiln does not \
             support; save the model with whole tensors"
                .into(),
        ));
    }
    // numel is at most max_elements, but that limit is the user's to raise.
    let nbytes = numel
        .checked_mul(dtype.size_bytes())
        .ok_or_else(|| bad(format!("dims {shape:?} need more bytes than fit in memory")))?;
    let data = if tp.data_location == Some(DataLocation::External as i32) {
        let left = ctx.external_budget.get();
        if nbytes as u64 > left {
            return Err(FrontendError::ExternalData {
                what: what.to_string(),
                message: format!(
                    "it needs {nbytes} bytes, but only {left} bytes of the limit on external \
                     data remain (the model-file limit, {}, counted over all external \
                     tensors); raise the limit if the model is trusted",
                    ctx.names.limit(Limit::FileBytes)
                ),
            });
        }
        let (bytes, file) = read_external(&tp.external_data, what, ctx.base_dir, nbytes)?;
        if let Some(files) = ctx.external_files {
            files.borrow_mut().insert(file);
        }
        ctx.external_budget.set(left - nbytes as u64);
        from_raw(dtype, &bytes, &shape, nbytes, what)?
    } else if let Some(raw) = &tp.raw_data {
        from_raw(dtype, raw, &shape, nbytes, what)?
    } else {
        from_typed(tp, dtype, numel, &shape).map_err(bad)?
    };
    Tensor::new(shape, data).map_err(bad)
}

fn from_raw(
    dtype: DType,
    raw: &[u8],
    shape: &[usize],
    need: usize,
    what: &str,
) -> Result<TensorData, FrontendError> {
    if raw.len() != need {
        return Err(FrontendError::Tensor {
            what: what.to_string(),
            message: format!(
                "raw_data has {} bytes but dims {shape:?} of {dtype} need {need}; the file is \
                 corrupt or truncated",
                raw.len()
            ),
        });
    }
    TensorData::from_le_bytes(dtype, raw).ok_or_else(|| FrontendError::Tensor {
        what: what.to_string(),
        message: format!("raw_data is not a whole number of {dtype} elements"),
    })
}

/// Decodes the typed repeated fields. Per the ONNX spec, `int32_data` also carries int8,
/// int16, uint8, uint16 and bool values and the bits of float16/bfloat16; `uint64_data`
/// carries uint32 too.
fn from_typed(
    tp: &TensorProto,
    dtype: DType,
    numel: usize,
    shape: &[usize],
) -> Result<TensorData, String> {
    let (field, len) = match dtype {
        DType::F32 => ("float_data", tp.float_data.len()),
        DType::F64 => ("double_data", tp.double_data.len()),
        DType::I64 => ("int64_data", tp.int64_data.len()),
        DType::U32 | DType::U64 => ("uint64_data", tp.uint64_data.len()),
        _ => ("int32_data", tp.int32_data.len()),
    };
    if len != numel {
        return Err(if len == 0 {
            format!(
                "it has no data: dims {shape:?} need {numel} {dtype} elements but neither \
                 raw_data nor {field} holds any; the file is corrupt or truncated"
            )
        } else {
            format!(
                "{field} has {len} values but dims {shape:?} need {numel}; the file is corrupt \
                 or truncated"
            )
        });
    }
    fn narrow<T: TryFrom<i64>>(v: &[i64], field: &str, dtype: DType) -> Result<Vec<T>, String> {
        v.iter()
            .map(|&x| {
                T::try_from(x).map_err(|_| format!("{field} holds {x}, which is not a {dtype}"))
            })
            .collect()
    }
    let i32s = || {
        tp.int32_data
            .iter()
            .map(|&x| x as i64)
            .collect::<Vec<i64>>()
    };
    let bits16 = |v: &[i32]| -> Result<Vec<u16>, String> {
        // Writers store the 16 bits zero-extended; accept sign-extended ones too.
        v.iter()
            .map(|&x| match x {
                0..=0xFFFF => Ok(x as u16),
                -0x8000..=-1 => Ok(x as i16 as u16),
                _ => Err(format!(
                    "int32_data holds {x}, which is not 16-bit {dtype} bits"
                )),
            })
            .collect()
    };
    Ok(match dtype {
        DType::F32 => TensorData::F32(tp.float_data.clone()),
        DType::F64 => TensorData::F64(tp.double_data.clone()),
        DType::I64 => TensorData::I64(tp.int64_data.clone()),
        DType::U64 => TensorData::U64(tp.uint64_data.clone()),
        DType::U32 => TensorData::U32(
            tp.uint64_data
                .iter()
                .map(|&x| {
                    u32::try_from(x)
                        .map_err(|_| format!("uint64_data holds {x}, which is not a u32"))
                })
                .collect::<Result<_, _>>()?,
        ),
        DType::I32 => TensorData::I32(tp.int32_data.clone()),
        DType::I16 => TensorData::I16(narrow(&i32s(), "int32_data", dtype)?),
        DType::I8 => TensorData::I8(narrow(&i32s(), "int32_data", dtype)?),
        DType::U16 => TensorData::U16(narrow(&i32s(), "int32_data", dtype)?),
        DType::U8 => TensorData::U8(narrow(&i32s(), "int32_data", dtype)?),
        DType::Bool => TensorData::Bool(tp.int32_data.iter().map(|&x| x != 0).collect()),
        DType::F16 => TensorData::F16(bits16(&tp.int32_data)?),
        DType::BF16 => TensorData::BF16(bits16(&tp.int32_data)?),
    })
}

/// Reads `nbytes` of external data; returns them and the file's path (the model's folder
/// joined with the location). The file must be a relative path without `..` that, after
/// resolving symbolic links, stays inside the model's folder: a model file must not be able
/// to make kiln read (and embed into generated code) arbitrary files.
fn read_external(
    entries: &[StringStringEntryProto],
    what: &str,
    base_dir: Option<&Path>,
    nbytes: usize,
) -> Result<(Vec<u8>, PathBuf), FrontendError> {
    let refuse = |message: String| FrontendError::ExternalData {
        what: what.to_string(),
        message,
    };
    let key = |k: &str| {
        entries
            .iter()
            .find(|e| e.key() == k)
            .map(|e| e.value().to_string())
    };
    let location = key("location")
        .filter(|l| !l.is_empty())
        .ok_or_else(|| refuse("its external_data has no \"location\" entry".into()))?;
    let parse = |k: &str| -> Result<Option<u64>, FrontendError> {
        key(k)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| refuse(format!("its {k} {v:?} is not a non-negative integer")))
            })
            .transpose()
    };
    let offset = parse("offset")?.unwrap_or(0);
    let length = parse("length")?;

    let rel = Path::new(&location);
    if rel.is_absolute() || rel.has_root() {
        return Err(refuse(format!(
            "the location {location:?} is an absolute path; external data must be given \
             relative to the model's folder"
        )));
    }
    if rel
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(refuse(format!(
            "the location {location:?} contains \"..\"; external data must stay inside the \
             model's folder"
        )));
    }
    let base = base_dir.ok_or_else(|| {
        refuse(format!(
            "the model was loaded from memory without a folder to resolve {location:?} \
             against; load it from its file (or pass base_dir)"
        ))
    })?;
    let base_canon = base.canonicalize().map_err(|e| {
        refuse(format!(
            "cannot resolve the model's folder {}: {e}",
            base.display()
        ))
    })?;
    let joined = base.join(rel);
    let canon = joined.canonicalize().map_err(|e| {
        refuse(format!(
            "cannot open {location:?} (looked for {}): {e}",
            joined.display()
        ))
    })?;
    if !canon.starts_with(&base_canon) {
        return Err(refuse(format!(
            "the location {location:?} resolves to {}, outside the model's folder {} \
             (through a symbolic link); copy the data next to the model",
            canon.display(),
            base_canon.display()
        )));
    }
    let io = |e: std::io::Error| refuse(format!("cannot read {}: {e}", canon.display()));
    let mut file = std::fs::File::open(&canon).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(refuse(format!("{location:?} is not a regular file")));
    }
    let file_len = meta.len();
    let length = match length {
        Some(l) => l,
        None => file_len.checked_sub(offset).ok_or_else(|| {
            refuse(format!(
                "its offset {offset} lies past the end of {location:?} ({file_len} bytes)"
            ))
        })?,
    };
    match offset.checked_add(length) {
        Some(end) if end <= file_len => {}
        _ => {
            return Err(refuse(format!(
                "bytes {offset}..{offset}+{length} lie past the end of {location:?} \
                 ({file_len} bytes); the data file is truncated or does not belong to this model"
            )));
        }
    }
    if length != nbytes as u64 {
        return Err(refuse(format!(
            "its length is {length} bytes but its dims need {nbytes}"
        )));
    }
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = vec![0u8; nbytes];
    file.read_exact(&mut buf).map_err(io)?;
    Ok((buf, joined))
}

/// A `TensorProto` holding `t` as little-endian `raw_data`.
pub(crate) fn tensor_to_proto(name: &str, t: &Tensor) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        // Shapes come from memory, so every dim fits in i64 on any supported platform.
        dims: t.shape.iter().map(|&d| d as i64).collect(),
        data_type: Some(dtype_to_onnx(t.dtype()) as i32),
        raw_data: Some(t.data.to_le_bytes()),
        ..Default::default()
    }
}
