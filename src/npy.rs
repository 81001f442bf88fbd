//! numpy's `.npy` files (format 1.0–3.0, little-endian, C order): written for the peers
//! of `kiln bench`, read as calibration samples (`--calibration DIR`).

use kiln_ir::{DType, Tensor, TensorData};
use std::path::Path;

/// numpy's `.npy` type string of an element type.
fn descr(d: DType) -> Result<&'static str, String> {
    Ok(match d {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::U8 => "|u1",
        DType::U16 => "<u2",
        DType::U32 => "<u4",
        DType::U64 => "<u8",
        DType::Bool => "|b1",
        DType::BF16 => return Err("numpy has no bfloat16 type for a bf16 input".into()),
    })
}

/// `t` as a `.npy` file (format 1.0): a header describing type and shape, then the data.
pub fn npy_bytes(t: &Tensor) -> Result<Vec<u8>, String> {
    let shape = match t.shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", t.shape[0]),
        _ => format!(
            "({})",
            t.shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        descr(t.dtype())?
    );
    // The magic, version and length take 10 bytes; the header ends in a newline and pads
    // the whole to a multiple of 64.
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let len = u16::try_from(header.len()).map_err(|_| "shape too long for .npy")?;
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.data.to_le_bytes());
    Ok(out)
}

/// Reads a `.npy` file: a C-order array of a type kiln has. Errors name the file.
pub fn read_npy(path: &Path) -> Result<Tensor, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_npy(&bytes).map_err(|e| format!("{}: not a .npy file kiln can read: {e}", path.display()))
}

/// The tensor in a `.npy` file's bytes.
pub fn parse_npy(b: &[u8]) -> Result<Tensor, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("no .npy magic".into());
    }
    let (len, start) = match b[6] {
        1 => (usize::from(u16::from_le_bytes([b[8], b[9]])), 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(format!("format version {v}")),
    };
    let header = b
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("a truncated header")?;
    let field = |key: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{key}':"))
            .ok_or_else(|| format!("no {key:?} in the header"))?;
        Ok(header[at + key.len() + 3..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("an unquoted descr")?;
    let dtype = DType::ALL
        .into_iter()
        .find(|&d| descr_matches(d, descr))
        .ok_or_else(|| {
            format!("element type {descr:?} (kiln reads little-endian numbers and bool)")
        })?;
    if field("fortran_order")?.starts_with("True") {
        return Err("Fortran order (save it with numpy's default C order)".into());
    }
    let shape = field("shape")?;
    let shape = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("a shape that is not a tuple")?;
    let dims = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("dimension {s:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    let data = &b[start + len..];
    let numel = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("a shape too large")?;
    if Some(data.len()) != numel.checked_mul(dtype.size_bytes()) {
        return Err(format!(
            "{} data bytes for shape {dims:?} of {descr}",
            data.len()
        ));
    }
    let data = TensorData::from_le_bytes(dtype, data).ok_or("data of the wrong length")?;
    Tensor::new(dims, data)
}

fn descr_matches(d: DType, s: &str) -> bool {
    let Ok(ours) = descr(d) else { return false };
    // One-byte types may be written with any byte-order mark.
    ours == s || d.size_bytes() == 1 && ours[1..] == s[1.min(s.len())..] && s.len() == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_padded_to_64_bytes() {
        let t = Tensor::from_f32(vec![1, 3, 2], vec![0.0; 6]).unwrap();
        let b = npy_bytes(&t).unwrap();
        let header_len = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(b.len(), 10 + header_len + 24);
        let header = std::str::from_utf8(&b[10..10 + header_len]).unwrap();
        assert!(
            header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2), }")
        );
        assert!(header.ends_with('\n'));
        let one = Tensor::from_f32(vec![4], vec![0.0; 4]).unwrap();
        let b = npy_bytes(&one).unwrap();
        let l = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert!(
            std::str::from_utf8(&b[10..10 + l])
                .unwrap()
                .contains("'shape': (4,)")
        );
    }

    #[test]
    fn npy_reads_what_it_writes() {
        for t in [
            Tensor::from_f32(vec![1, 3, 2], (0..6).map(|i| i as f32 - 2.5).collect()).unwrap(),
            Tensor::new(vec![4], TensorData::I64(vec![1, -2, 3, i64::MIN])).unwrap(),
            Tensor::new(vec![], TensorData::U8(vec![7])).unwrap(),
        ] {
            assert_eq!(parse_npy(&npy_bytes(&t).unwrap()).unwrap(), t);
        }
    }

    #[test]
    fn npy_errors_say_what_is_wrong() {
        assert!(parse_npy(b"PK\x03\x04").unwrap_err().contains("magic"));
        let mut b = npy_bytes(&Tensor::from_f32(vec![2], vec![1.0, 2.0]).unwrap()).unwrap();
        b.pop();
        assert!(parse_npy(&b).unwrap_err().contains("data bytes"));
        let b = npy_bytes(&Tensor::from_f32(vec![2], vec![0.0; 2]).unwrap()).unwrap();
        // The header edited in place (same length), bytes not text: the magic is not UTF-8.
        let edit = |from: &[u8], to: &[u8]| {
            let at = b.windows(from.len()).position(|w| w == from).unwrap();
            let mut e = b.clone();
            e[at..at + to.len()].copy_from_slice(to);
            e
        };
        let fortran = edit(b"False", b"True ");
        assert!(parse_npy(&fortran).unwrap_err().contains("Fortran"));
        let big_endian = edit(b"<f4", b">f4");
        assert!(parse_npy(&big_endian).unwrap_err().contains("element type"));
    }
}
