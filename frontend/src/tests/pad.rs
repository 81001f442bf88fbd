//! Pad across its opsets: attributes before 11, constant inputs (turned into attributes)
//! from 11, `axes` from 18, `wrap` from 19; run-time amounts are refused with a reason.

use super::*;
use crate::onnx::tensor_proto::DataType;
use kiln_ir::Op;
use kiln_ir::ops::{PadAttrs, PadMode};

fn i64_tensor(name: &str, shape: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: shape.to_vec(),
        data_type: Some(DataType::Int64 as i32),
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

fn pad_attrs(g: &Graph) -> PadAttrs {
    match &only_node(g, "Pad").op {
        Op::Pad(a) => a.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn attributes_before_opset_11() {
    let g = model(2)
        .input(f32_input("x", &[2, 3]))
        .node(node(
            "Pad",
            &["x"],
            &["y"],
            vec![
                a_ints("pads", &[0, 1, 1, 2]),
                a_float("value", 1.5),
                a_str("mode", "constant"),
            ],
        ))
        .output("y")
        .ok();
    assert_eq!(
        pad_attrs(&g),
        PadAttrs {
            mode: PadMode::Constant,
            pads: vec![0, 1, 1, 2],
            axes: None,
            value: 1.5,
        }
    );
    assert_eq!(value_named(&g, "y").ty.shape, vec![3, 6]);
    // Opset 1 spells the amounts `paddings`; the mode defaults to constant.
    let g = model(1)
        .input(f32_input("x", &[2]))
        .node(node(
            "Pad",
            &["x"],
            &["y"],
            vec![a_ints("paddings", &[1, 1]), a_str("mode", "edge")],
        ))
        .output("y")
        .ok();
    assert_eq!(pad_attrs(&g).mode, PadMode::Edge);
    assert_eq!(value_named(&g, "y").ty.shape, vec![4]);
    let (_, msg) = model(2)
        .input(f32_input("x", &[2]))
        .node(node("Pad", &["x"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["Pad_node", "pads", "required"]);
}

#[test]
fn constant_inputs_become_attributes() {
    let g = model(13)
        .input(f32_input("x", &[1, 2, 3]))
        .init(i64_tensor("pads", &[6], &[0, 0, 2, 0, 0, -1]))
        .init(f32_tensor("v", &[], &[-2.0]))
        .node(node(
            "Pad",
            &["x", "pads", "v"],
            &["y"],
            vec![a_str("mode", "reflect")],
        ))
        .output("y")
        .ok();
    let p = only_node(&g, "Pad");
    assert_eq!(
        p.inputs.len(),
        1,
        "the constant operands are attributes now"
    );
    assert_eq!(
        pad_attrs(&g),
        PadAttrs {
            mode: PadMode::Reflect,
            pads: vec![0, 0, 2, 0, 0, -1],
            axes: None,
            value: -2.0,
        }
    );
    assert_eq!(value_named(&g, "y").ty.shape, vec![1, 2, 4]);
    // Opset 18: axes, negative ones included; an omitted value is 0.
    let g = model(18)
        .input(f32_input("x", &[1, 2, 3]))
        .init(i64_tensor("pads", &[2], &[1, 3]))
        .init(i64_tensor("axes", &[1], &[-1]))
        .node(node("Pad", &["x", "pads", "", "axes"], &["y"], vec![]))
        .output("y")
        .ok();
    let a = pad_attrs(&g);
    assert_eq!((a.axes, a.value), (Some(vec![-1]), 0.0));
    assert_eq!(value_named(&g, "y").ty.shape, vec![1, 2, 7]);
    assert_eq!(only_node(&g, "Pad").inputs.len(), 1);
    // An integer value, exactly.
    let g = model(13)
        .input(value_info("x", DataType::Int64, Some(&[D::N(2)])))
        .init(i64_tensor("pads", &[2], &[1, 0]))
        .init(i64_tensor("v", &[], &[-7]))
        .node(node("Pad", &["x", "pads", "v"], &["y"], vec![]))
        .output_typed(value_info("y", DataType::Int64, None))
        .ok();
    assert_eq!(pad_attrs(&g).value, -7.0);
}

#[test]
fn run_time_amounts_and_bad_operands_are_refused() {
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .input(value_info("pads", DataType::Int64, Some(&[D::N(4)])))
        .node(node("Pad", &["x", "pads"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(
        &msg,
        &[
            "Pad_node",
            "input 1 (pads) is only known at run time",
            "pad amounts",
            "compile time",
        ],
    );
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .input(f32_input("v", &[]))
        .init(i64_tensor("pads", &[4], &[0, 0, 1, 1]))
        .node(node("Pad", &["x", "pads", "v"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["constant_value", "padding value", "compile time"]);
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .init(f32_tensor("pads", &[4], &[0.0, 0.0, 1.0, 1.0]))
        .node(node("Pad", &["x", "pads"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["pads", "1-D integer tensor", "f32[4]"]);
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .init(i64_tensor("pads", &[2], &[1, 1]))
        .node(node("Pad", &["x", "pads"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["pads [1, 1] has 2 entries", "needs 4"]);
    let (_, msg) = model(13)
        .input(f32_input("x", &[2]))
        .init(i64_tensor("pads", &[2], &[1, 1]))
        .init(f32_tensor("v", &[2], &[1.0, 2.0]))
        .node(node("Pad", &["x", "pads", "v"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["constant_value", "single value"]);
    // Axes are an input only from opset 18.
    let (_, msg) = model(13)
        .input(f32_input("x", &[2]))
        .init(i64_tensor("pads", &[2], &[1, 1]))
        .init(i64_tensor("axes", &[1], &[0]))
        .node(node("Pad", &["x", "pads", "", "axes"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["at most 3"]);
}

#[test]
fn modes_are_checked() {
    let m = |opset, mode: &str| {
        model(opset)
            .input(f32_input("x", &[2]))
            .init(i64_tensor("pads", &[2], &[1, 1]))
            .node(node(
                "Pad",
                &["x", "pads"],
                &["y"],
                vec![a_str("mode", mode)],
            ))
            .output("y")
    };
    assert_eq!(pad_attrs(&m(19, "wrap").ok()).mode, PadMode::Wrap);
    let (_, msg) = m(18, "wrap").err();
    assert_contains(&msg, &["mode", "wrap", "opset 19"]);
    let (_, msg) = m(18, "symmetric").err();
    assert_contains(
        &msg,
        &["mode", "\"symmetric\"", "constant, reflect, edge or wrap"],
    );
}
