//! Cast across its opsets: `to` a type name in opset 1, a type code from 6; targets and
//! sources kiln has no element type for (float8, 4-bit, string) are refused with a reason.

use super::*;
use crate::onnx::tensor_proto::DataType;
use kiln_ir::ops::CastAttrs;
use kiln_ir::{DType, Op, TensorType};

fn cast_model(
    opset: i64,
    from: DataType,
    to: DataType,
    attrs: Vec<AttributeProto>,
) -> ModelBuilder {
    model(opset)
        .input(value_info("x", from, Some(&[D::N(2), D::N(3)])))
        .node(node("Cast", &["x"], &["y"], attrs))
        .output_typed(value_info("y", to, None))
}

fn cast_op(g: &Graph) -> Op {
    only_node(g, "Cast").op.clone()
}

#[test]
fn type_codes_and_names_map_to_element_types() {
    for (to, want) in [
        (DataType::Float, DType::F32),
        (DataType::Double, DType::F64),
        (DataType::Float16, DType::F16),
        (DataType::Bfloat16, DType::BF16),
        (DataType::Int8, DType::I8),
        (DataType::Uint64, DType::U64),
        (DataType::Bool, DType::Bool),
    ] {
        for opset in [6, 13, 19, 25] {
            // saturate is for float8 targets only; elsewhere it changes nothing.
            let attrs = vec![a_int("to", to as i64), a_int("saturate", 0)];
            let g = cast_model(opset, DataType::Int32, to, attrs).ok();
            assert_eq!(cast_op(&g), Op::Cast(CastAttrs { to: want }));
            assert_eq!(value_named(&g, "y").ty, TensorType::new(want, [2, 3]));
        }
    }
    // Opset 1 names the type.
    let g = cast_model(
        1,
        DataType::Float,
        DataType::Int64,
        vec![a_str("to", "INT64")],
    )
    .ok();
    assert_eq!(cast_op(&g), Op::Cast(CastAttrs { to: DType::I64 }));
}

#[test]
fn float8_4bit_and_string_types_are_refused_with_the_type_named() {
    for (from, to, want) in [
        (
            DataType::Float,
            DataType::Float8e4m3fn,
            "casts to FLOAT8E4M3FN: kiln has no float8",
        ),
        (
            DataType::Float16,
            DataType::Float8e8m0,
            "casts to FLOAT8E8M0: kiln has no float8",
        ),
        (
            DataType::Float8e5m2,
            DataType::Float,
            "casts from FLOAT8E5M2: kiln has no float8",
        ),
        (
            DataType::Float,
            DataType::Int4,
            "casts to INT4: kiln has no 4- or 2-bit integer",
        ),
        (
            DataType::Uint2,
            DataType::Uint8,
            "casts from UINT2: kiln has no 4- or 2-bit integer",
        ),
        (
            DataType::Float,
            DataType::Float4e2m1,
            "casts to FLOAT4E2M1: kiln has no 4- or 6-bit",
        ),
        (
            DataType::Float,
            DataType::String,
            "casts to STRING: kiln has no string tensors",
        ),
        (
            DataType::String,
            DataType::Float,
            "casts from STRING: kiln has no string tensors",
        ),
    ] {
        let (e, msg) = cast_model(25, from, to, vec![a_int("to", to as i64)]).err();
        let FrontendError::Unsupported(list) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(list[0].op_type, "Cast");
        assert!(
            list[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with(want)),
            "{msg}"
        );
    }
    // A name before opset 6 too.
    let (e, msg) = cast_model(
        1,
        DataType::Float,
        DataType::Float,
        vec![a_str("to", "STRING")],
    )
    .err();
    assert!(matches!(e, FrontendError::Unsupported(_)), "{msg}");
}

#[test]
fn a_missing_or_unknown_target_is_a_malformed_model() {
    let (_, msg) = cast_model(13, DataType::Float, DataType::Float, vec![]).err();
    assert!(msg.contains("\"to\"") && msg.contains("missing"), "{msg}");
    let (e, msg) = cast_model(13, DataType::Float, DataType::Float, vec![a_int("to", 99)]).err();
    assert!(!matches!(e, FrontendError::Unsupported(_)), "{msg}");
    assert!(
        msg.contains("code 99") && msg.contains("malformed"),
        "{msg}"
    );
    let (_, msg) = cast_model(13, DataType::Float, DataType::Float, vec![a_int("to", 0)]).err();
    assert!(
        msg.contains("UNDEFINED") && msg.contains("malformed"),
        "{msg}"
    );
    let attrs = vec![a_str("to", "FLOAT")];
    let (_, msg) = cast_model(13, DataType::Float, DataType::Float, attrs).err();
    assert!(msg.contains("must be an int"), "{msg}");
}
