//! Sqrt, Erf, Pow, ReduceMean, LayerNormalization and Gelu: imports across opsets, and the
//! uses kiln refuses with a reason.

use super::*;
use crate::onnx::tensor_proto::DataType;
use kiln_ir::ops::{Activation, LayerNormAttrs, ReduceAttrs, ReduceKind, UnaryOp};
use kiln_ir::{DType, Op, TensorType};

fn i64_tensor(name: &str, v: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![v.len() as i64],
        data_type: Some(DataType::Int64 as i32),
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

#[test]
fn sqrt_erf_and_pow() {
    let g = model(13)
        .input(f32_input("x", &[2, 3]))
        .input(value_info("e", DataType::Int64, Some(&[D::N(3)])))
        .node(node("Sqrt", &["x"], &["s"], vec![]))
        .node(node("Erf", &["s"], &["f"], vec![]))
        .node(node("Pow", &["f", "e"], &["y"], vec![]))
        .output("y")
        .ok();
    assert_eq!(only_node(&g, "Sqrt").op, Op::Unary(UnaryOp::Sqrt));
    assert_eq!(only_node(&g, "Erf").op, Op::Unary(UnaryOp::Erf));
    assert_eq!(only_node(&g, "Pow").op, Op::Pow);
    // The exponent's type does not change the result's.
    assert_eq!(
        g.value(g.outputs[0]).ty,
        TensorType::new(DType::F32, [2, 3])
    );
}

#[test]
fn reduce_mean_axes_are_an_attribute_before_opset_18_and_an_input_after() {
    let g = model(13)
        .input(f32_input("x", &[2, 3, 4]))
        .node(node(
            "ReduceMean",
            &["x"],
            &["y"],
            vec![a_ints("axes", &[-1]), a_int("keepdims", 0)],
        ))
        .output("y")
        .ok();
    let n = only_node(&g, "ReduceMean");
    assert_eq!(
        n.op,
        Op::Reduce(
            ReduceKind::Mean,
            ReduceAttrs {
                axes: Some(vec![-1]),
                keepdims: false,
                noop_with_empty_axes: false,
            }
        )
    );
    assert_eq!(g.value(g.outputs[0]).ty.shape, vec![2, 3]);
    let g = model(18)
        .input(f32_input("x", &[2, 3, 4]))
        .init(i64_tensor("axes", &[0, 2]))
        .node(node("ReduceMean", &["x", "axes"], &["y"], vec![]))
        .output("y")
        .ok();
    assert_eq!(g.value(g.outputs[0]).ty.shape, vec![1, 3, 1]);
    // No axes at 18 with noop_with_empty_axes: the identity.
    let g = model(18)
        .input(f32_input("x", &[2, 3]))
        .node(node(
            "ReduceMean",
            &["x"],
            &["y"],
            vec![a_int("noop_with_empty_axes", 1)],
        ))
        .output("y")
        .ok();
    assert_eq!(g.value(g.outputs[0]).ty.shape, vec![2, 3]);
    // A run-time axes input is refused, naming the reason; before opset 18 an axes input is
    // one too many.
    let (_, msg) = model(18)
        .input(f32_input("x", &[2, 3]))
        .input(value_info("axes", DataType::Int64, Some(&[D::N(1)])))
        .node(node("ReduceMean", &["x", "axes"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["ReduceMean", "only known at run time", "constant"]);
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .init(i64_tensor("axes", &[0]))
        .node(node("ReduceMean", &["x", "axes"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["2 inputs", "at most 1"]);
}

#[test]
fn layer_normalization_attributes_and_outputs() {
    let g = model(17)
        .input(f32_input("x", &[2, 3, 4]))
        .init(f32_tensor("s", &[4], &[1.0; 4]))
        .node(node(
            "LayerNormalization",
            &["x", "s"],
            &["y"],
            vec![a_float("epsilon", 1e-3), a_int("stash_type", 1)],
        ))
        .output("y")
        .ok();
    assert_eq!(
        only_node(&g, "LayerNormalization").op,
        Op::LayerNormalization(LayerNormAttrs {
            axis: -1,
            epsilon: 1e-3,
        })
    );
    // The Mean and InvStdDev outputs: one per row, in X's type; a stash_type other than
    // X's type is refused with a reason.
    let g = model(17)
        .input(f32_input("x", &[2, 3]))
        .init(f32_tensor("s", &[3], &[1.0; 3]))
        .node(node(
            "LayerNormalization",
            &["x", "s"],
            &["y", "mean", "inv"],
            vec![],
        ))
        .output("y")
        .output("inv")
        .ok();
    let n = only_node(&g, "LayerNormalization");
    assert_eq!(
        g.value(n.outputs[2]).ty,
        TensorType::new(DType::F32, vec![2, 1])
    );
    let (e, msg) = model(17)
        .input(f32_input("x", &[2, 3]))
        .init(f32_tensor("s", &[3], &[1.0; 3]))
        .node(node(
            "LayerNormalization",
            &["x", "s"],
            &["y", "mean", "inv"],
            vec![a_int("stash_type", 11)],
        ))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::Unsupported(_)), "{msg}");
    assert_contains(&msg, &["Mean and InvStdDev", "stash_type"]);
    // Scale that does not broadcast to X is an error naming the node.
    let (_, msg) = model(17)
        .input(f32_input("x", &[2, 3]))
        .init(f32_tensor("s", &[2], &[1.0; 2]))
        .node(node("LayerNormalization", &["x", "s"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["LayerNormalization", "Scale"]);
}

#[test]
fn gelu_approximations() {
    for (attrs, tanh) in [
        (vec![], false),
        (vec![a_str("approximate", "none")], false),
        (vec![a_str("approximate", "tanh")], true),
    ] {
        let g = model(20)
            .input(f32_input("x", &[3]))
            .node(node("Gelu", &["x"], &["y"], attrs))
            .output("y")
            .ok();
        assert_eq!(
            only_node(&g, "Gelu").op,
            Op::Activation(Activation::Gelu { tanh })
        );
    }
    let (_, msg) = model(20)
        .input(f32_input("x", &[3]))
        .node(node(
            "Gelu",
            &["x"],
            &["y"],
            vec![a_str("approximate", "erf")],
        ))
        .output("y")
        .err();
    assert_contains(&msg, &["approximate", "\"erf\"", "tanh"]);
}
