//! The elementwise, comparison and logical ops of the edge set: attribute defaults, and
//! bad attributes or operand types reported as errors naming the op.

use super::*;
use crate::onnx::tensor_proto::DataType;
use kiln_ir::ops::{Activation, CompareOp};
use kiln_ir::{DType, Op};

/// A model of one `op` node on `n_inputs` inputs of type `from`; the output is declared
/// with `from`'s type, or bool for comparisons.
fn one_op(op: &str, from: DataType, n_inputs: usize, attrs: Vec<AttributeProto>) -> ModelBuilder {
    let to = if ["Less", "LessOrEqual", "Equal"].contains(&op) {
        DataType::Bool
    } else {
        from
    };
    let names = ["a", "b", "c"];
    let mut m = model(18);
    for name in &names[..n_inputs] {
        m = m.input(value_info(name, from, Some(&[D::N(2), D::N(3)])));
    }
    m.node(node(op, &names[..n_inputs], &["y"], attrs))
        .output_typed(value_info("y", to, None))
}

#[test]
fn activation_defaults() {
    let act = |op: &str| {
        let g = one_op(op, DataType::Float, 1, vec![]).ok();
        only_node(&g, op).op.clone()
    };
    assert_eq!(act("Elu"), Op::Activation(Activation::Elu { alpha: 1.0 }));
    assert_eq!(
        act("Selu"),
        Op::Activation(Activation::Selu {
            alpha: 1.673_263_2,
            gamma: 1.050_701
        })
    );
    assert_eq!(
        act("ThresholdedRelu"),
        Op::Activation(Activation::ThresholdedRelu { alpha: 1.0 })
    );
    let (_, msg) = one_op("Celu", DataType::Float, 1, vec![a_float("alpha", 0.0)]).err();
    assert!(msg.contains("Celu") && msg.contains("alpha"), "{msg}");
}

#[test]
fn comparisons_give_bool_and_check_their_operands() {
    let g = one_op("LessOrEqual", DataType::Int32, 2, vec![]).ok();
    let n = only_node(&g, "LessOrEqual");
    assert_eq!(n.op, Op::Compare(CompareOp::LessOrEqual));
    assert_eq!(g.value(n.outputs[0]).ty.dtype, DType::Bool);
    // Logic on floats and a float condition are errors, not panics.
    let (_, msg) = one_op("And", DataType::Float, 2, vec![]).err();
    assert!(msg.contains("And") && msg.contains("bool"), "{msg}");
    let (_, msg) = one_op("Where", DataType::Float, 3, vec![]).err();
    assert!(msg.contains("Where") && msg.contains("condition"), "{msg}");
}

#[test]
fn mod_and_bitshift_attributes() {
    let (_, msg) = one_op("Mod", DataType::Int32, 2, vec![a_int("fmod", 2)]).err();
    assert!(msg.contains("Mod") && msg.contains("fmod"), "{msg}");
    let g = one_op("Mod", DataType::Int32, 2, vec![a_int("fmod", 1)]).ok();
    assert_eq!(only_node(&g, "Mod").op, Op::Mod { fmod: true });
    let (_, msg) = one_op("BitShift", DataType::Uint8, 2, vec![]).err();
    assert!(
        msg.contains("BitShift") && msg.contains("direction"),
        "{msg}"
    );
    let (_, msg) = one_op(
        "BitShift",
        DataType::Uint8,
        2,
        vec![a_str("direction", "UP")],
    )
    .err();
    assert!(msg.contains("\"UP\""), "{msg}");
    let g = one_op(
        "BitShift",
        DataType::Uint8,
        2,
        vec![a_str("direction", "RIGHT")],
    )
    .ok();
    assert_eq!(only_node(&g, "BitShift").op, Op::BitShift { left: false });
    let (_, msg) = one_op(
        "BitShift",
        DataType::Int8,
        2,
        vec![a_str("direction", "LEFT")],
    )
    .err();
    assert!(msg.contains("unsigned"), "{msg}");
}
