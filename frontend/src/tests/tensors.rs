//! Tensor decoding: raw_data and typed-field validation, dims, and the `.pb` helpers.

use super::*;
use crate::onnx::tensor_proto::DataType;
use crate::{decode_tensor_pb, encode_tensor_pb, read_tensor_pb};
use kiln_ir::{DType, Tensor, TensorData};

fn with_init(t: TensorProto) -> (FrontendError, String) {
    model(13)
        .input(f32_input("x", &[1]))
        .init(t)
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y")
        .err()
}

#[test]
fn raw_data_length_must_match_dims() {
    let mut t = f32_tensor("w", &[2, 3], &[0.0; 6]);
    t.raw_data.as_mut().unwrap().truncate(20);
    let (e, msg) = with_init(t);
    assert!(matches!(e, FrontendError::Tensor { .. }), "{e:?}");
    assert_contains(
        &msg,
        &[
            "initializer \"w\"",
            "raw_data has 20 bytes",
            "[2, 3]",
            "need 24",
        ],
    );
}

#[test]
fn typed_field_count_and_range_are_checked() {
    let (_, msg) = with_init(TensorProto {
        name: Some("w".into()),
        dims: vec![3],
        data_type: Some(DataType::Float as i32),
        float_data: vec![1.0, 2.0],
        ..Default::default()
    });
    assert_contains(&msg, &["float_data has 2 values", "need 3"]);
    let (_, msg) = with_init(TensorProto {
        name: Some("w".into()),
        dims: vec![3],
        data_type: Some(DataType::Float as i32),
        ..Default::default()
    });
    assert_contains(&msg, &["has no data"]);
    let (_, msg) = with_init(TensorProto {
        name: Some("q".into()),
        dims: vec![1],
        data_type: Some(DataType::Int8 as i32),
        int32_data: vec![300],
        ..Default::default()
    });
    assert_contains(&msg, &["int32_data holds 300, which is not a i8"]);
}

#[test]
fn negative_and_overflowing_dims_are_errors() {
    let (e, msg) = with_init(TensorProto {
        name: Some("w".into()),
        dims: vec![2, -1],
        data_type: Some(DataType::Float as i32),
        ..Default::default()
    });
    assert!(matches!(e, FrontendError::Tensor { .. }), "{e:?}");
    assert_contains(&msg, &["dimension 1 is -1"]);
    let (e, msg) = with_init(TensorProto {
        name: Some("w".into()),
        dims: vec![1 << 40, 1 << 40],
        data_type: Some(DataType::Float as i32),
        ..Default::default()
    });
    assert!(matches!(e, FrontendError::TensorTooLarge { .. }), "{e:?}");
    assert_contains(&msg, &["initializer \"w\""]);
}

#[test]
fn tensor_pb_round_trips_every_dtype() {
    for dt in DType::ALL {
        let n = 4;
        let bytes: Vec<u8> = (0..n * dt.size_bytes())
            .map(|i| (i * 29 % 256) as u8)
            .collect();
        let bytes = if dt == DType::Bool {
            vec![1, 0, 0, 1]
        } else {
            bytes
        };
        let t = Tensor::new(vec![2, 2], TensorData::from_le_bytes(dt, &bytes).unwrap()).unwrap();
        let pb = encode_tensor_pb("input_0", &t);
        let (name, back) = decode_tensor_pb(&pb).unwrap();
        assert_eq!(name, "input_0");
        // Compare bits: f32/f64 NaN patterns are not equal to themselves.
        assert_eq!(back.shape, t.shape);
        assert_eq!(back.data.to_le_bytes(), t.data.to_le_bytes(), "{dt}");
    }
    let scalar = Tensor::new(vec![], TensorData::I64(vec![-3])).unwrap();
    let (_, back) = decode_tensor_pb(&encode_tensor_pb("s", &scalar)).unwrap();
    assert_eq!(back, scalar);
}

#[test]
fn tensor_pb_files_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("output_0.pb");
    let t = Tensor::from_f32(vec![3], vec![1.0, -1.0, 0.5]).unwrap();
    std::fs::write(&path, encode_tensor_pb("out", &t)).unwrap();
    assert_eq!(read_tensor_pb(&path).unwrap(), ("out".to_string(), t));

    for bad in [&b""[..], b"\xff\xff\xff", b"\x0a\x05ab"] {
        let e = decode_tensor_pb(bad).unwrap_err();
        assert!(matches!(e, FrontendError::DecodeTensor(_)), "{e:?}");
        assert!(e.to_string().starts_with("not a valid ONNX tensor"));
    }
}
