//! Successful imports: types, constants, ops and their attributes, opset-dependent defaults.

use super::*;
use crate::onnx::tensor_proto::DataType;
use kiln_ir::ops::{
    AutoPad, BinaryOp, ClipAttrs, ConcatAttrs, FlattenAttrs, GemmAttrs, ReshapeAttrs, SoftmaxAttrs,
    TransposeAttrs, UnaryOp,
};
use kiln_ir::{DType, Op, TensorData, TensorType, ValueKind};
use std::collections::BTreeMap;

fn conv_relu() -> ModelBuilder {
    model(13)
        .input(f32_input("x", &[1, 2, 5, 5]))
        .init(f32_tensor("w", &[4, 2, 3, 3], &[0.5; 72]))
        .init(f32_tensor("b", &[4], &[1.0, 2.0, 3.0, 4.0]))
        .node(node(
            "Conv",
            &["x", "w", "b"],
            &["c"],
            vec![
                a_ints("pads", &[1, 1, 1, 1]),
                a_ints("strides", &[2, 2]),
                a_ints("kernel_shape", &[3, 3]),
                a_int("group", 1),
            ],
        ))
        .node(node("Relu", &["c"], &["y"], vec![]))
        .output("y")
}

#[test]
fn conv_relu_types_constants_and_attributes() {
    let g = conv_relu().ok();
    assert_eq!(g.name, "test");
    assert_eq!(g.inputs.len(), 1);
    let x = g.value(g.inputs[0]);
    assert_eq!(
        (x.name.as_str(), &x.ty),
        ("x", &TensorType::new(DType::F32, [1, 2, 5, 5]))
    );
    let b = value_named(&g, "b");
    assert_eq!(
        b.kind,
        ValueKind::Const(
            kiln_ir::Tensor::new(vec![4], TensorData::F32(vec![1.0, 2.0, 3.0, 4.0])).unwrap()
        )
    );
    let conv = only_node(&g, "Conv");
    assert_eq!(conv.name, "Conv_node");
    assert_eq!(conv.opset, 13);
    let Op::Conv(a) = &conv.op else {
        panic!("{:?}", conv.op)
    };
    assert_eq!(a.group, 1);
    assert_eq!(a.window.pads, vec![1, 1, 1, 1]);
    assert_eq!(a.window.strides, vec![2, 2]);
    assert_eq!(a.window.kernel_shape, vec![3, 3]);
    assert_eq!(a.window.auto_pad, AutoPad::NotSet);
    assert_eq!(conv.inputs.len(), 3);
    let y = g.value(g.outputs[0]);
    assert_eq!(y.name, "y");
    assert_eq!(y.ty, TensorType::new(DType::F32, [1, 4, 3, 3]));
    assert_eq!(only_node(&g, "Relu").op, Op::Unary(UnaryOp::Relu));
}

#[test]
fn nodes_out_of_file_order_are_sorted_and_empty_names_synthesised() {
    let mut m = conv_relu();
    m.nodes.reverse();
    m.nodes[0].name = None;
    let g = m.ok();
    let order: Vec<String> = g
        .schedule()
        .unwrap()
        .into_iter()
        .map(|n| g.node(n).name.clone())
        .collect();
    assert_eq!(order, vec!["Conv_node".to_string(), "Relu_0".to_string()]);
}

#[test]
fn input_that_is_also_an_initializer_is_a_constant() {
    let g = model(13)
        .input(f32_input("x", &[2]))
        .input(f32_input("k", &[2]))
        .init(f32_tensor("k", &[2], &[1.0, 2.0]))
        .node(node("Add", &["x", "k"], &["y"], vec![]))
        .output("y")
        .ok();
    assert_eq!(g.inputs.len(), 1);
    assert!(matches!(value_named(&g, "k").kind, ValueKind::Const(_)));
    assert_eq!(only_node(&g, "Add").op, Op::Binary(BinaryOp::Add));
}

#[test]
fn constant_nodes_become_constant_values() {
    let g = model(13)
        .input(f32_input("x", &[2, 3]))
        .node(node(
            "Constant",
            &[],
            &["shape"],
            vec![a_ints("value_ints", &[3, -1])],
        ))
        .node(node(
            "Constant",
            &[],
            &["s"],
            vec![a_float("value_float", 2.5)],
        ))
        .node(node(
            "Constant",
            &[],
            &["t"],
            vec![a_tensor("value", f32_tensor("", &[1], &[7.0]))],
        ))
        .node(node(
            "Constant",
            &[],
            &["fs"],
            vec![a_floats("value_floats", &[1.0, 2.0])],
        ))
        .node(node("Constant", &[], &["i"], vec![a_int("value_int", 4)]))
        .node(node("Reshape", &["x", "shape"], &["r"], vec![]))
        .node(node("Mul", &["r", "s"], &["m"], vec![]))
        .node(named(node("Add", &["m", "t"], &["y"], vec![]), "add"))
        .output("y")
        .ok();
    assert_eq!(
        g.node_count(),
        3,
        "Constant nodes leave no IR node:\n{}",
        g.dump()
    );
    let shape = value_named(&g, "shape");
    assert_eq!(shape.ty, TensorType::new(DType::I64, [2]));
    assert_eq!(
        shape.const_tensor().unwrap().data,
        TensorData::I64(vec![3, -1])
    );
    assert_eq!(value_named(&g, "s").ty, TensorType::new(DType::F32, []));
    assert_eq!(value_named(&g, "t").ty, TensorType::new(DType::F32, [1]));
    assert_eq!(value_named(&g, "fs").ty, TensorType::new(DType::F32, [2]));
    assert_eq!(
        value_named(&g, "i").const_tensor().unwrap().data,
        TensorData::I64(vec![4])
    );
    assert_eq!(value_named(&g, "r").ty.shape, vec![3, 2]);
    assert_eq!(value_named(&g, "y").ty.shape, vec![3, 2]);
    assert_eq!(
        only_node(&g, "Reshape").op,
        Op::Reshape(ReshapeAttrs { allowzero: false })
    );
}

#[test]
fn gemm_attributes_and_optional_bias() {
    let g = model(13)
        .input(f32_input("a", &[3, 2]))
        .init(f32_tensor("b", &[4, 3], &[0.0; 12]))
        .node(node(
            "Gemm",
            &["a", "b"],
            &["y"],
            vec![
                a_int("transA", 1),
                a_int("transB", 1),
                a_float("alpha", 0.5),
            ],
        ))
        .output("y")
        .ok();
    let gemm = only_node(&g, "Gemm");
    assert_eq!(
        gemm.op,
        Op::Gemm(GemmAttrs {
            alpha: 0.5,
            beta: 1.0,
            trans_a: true,
            trans_b: true
        })
    );
    assert_eq!(value_named(&g, "y").ty.shape, vec![2, 4]);
}

#[test]
fn softmax_defaults_depend_on_the_opset() {
    let soft = |opset| {
        let g = model(opset)
            .input(f32_input("x", &[2, 3, 4]))
            .node(node("Softmax", &["x"], &["y"], vec![]))
            .output("y")
            .ok();
        only_node(&g, "Softmax").op.clone()
    };
    assert_eq!(
        soft(11),
        Op::Softmax(SoftmaxAttrs {
            axis: 1,
            coerce_2d: true
        })
    );
    assert_eq!(
        soft(13),
        Op::Softmax(SoftmaxAttrs {
            axis: -1,
            coerce_2d: false
        })
    );
}

#[test]
fn clip_bounds_are_attributes_before_opset_11_and_inputs_after() {
    let g = model(6)
        .input(f32_input("x", &[4]))
        .node(node("Clip", &["x"], &["y"], vec![a_float("min", 0.0)]))
        .output("y")
        .ok();
    assert_eq!(
        only_node(&g, "Clip").op,
        Op::Clip(ClipAttrs {
            min: Some(0.0),
            max: None
        })
    );
    let g = model(13)
        .input(f32_input("x", &[4]))
        .init(f32_tensor("hi", &[], &[6.0]))
        .node(node("Clip", &["x", "", "hi"], &["y"], vec![]))
        .output("y")
        .ok();
    let clip = only_node(&g, "Clip");
    assert_eq!(clip.op, Op::Clip(ClipAttrs::default()));
    assert_eq!(clip.inputs.len(), 3);
    assert_eq!(
        clip.inputs[1], None,
        "an empty input name is an omitted input"
    );
    assert!(clip.inputs[2].is_some());
}

#[test]
fn reshape_before_opset_5_takes_its_shape_from_an_attribute() {
    let g = model(4)
        .input(f32_input("x", &[2, 3]))
        .node(node("Reshape", &["x"], &["y"], vec![a_ints("shape", &[6])]))
        .output("y")
        .ok();
    let r = only_node(&g, "Reshape");
    assert_eq!(r.inputs.len(), 2);
    let shape = g.value(r.inputs[1].unwrap());
    assert_eq!(shape.const_tensor().unwrap().data, TensorData::I64(vec![6]));
    assert_eq!(value_named(&g, "y").ty.shape, vec![6]);
}

#[test]
fn pooling_batchnorm_and_shape_ops() {
    let g = model(13)
        .input(f32_input("x", &[1, 2, 6, 6]))
        .init(f32_tensor("scale", &[2], &[1.0; 2]))
        .init(f32_tensor("bias", &[2], &[0.0; 2]))
        .init(f32_tensor("mean", &[2], &[0.0; 2]))
        .init(f32_tensor("var", &[2], &[1.0; 2]))
        .node(node(
            "BatchNormalization",
            &["x", "scale", "bias", "mean", "var"],
            &["bn"],
            vec![],
        ))
        .node(node(
            "MaxPool",
            &["bn"],
            &["mp"],
            vec![a_ints("kernel_shape", &[2, 2]), a_ints("strides", &[2, 2])],
        ))
        .node(node(
            "AveragePool",
            &["mp"],
            &["ap"],
            vec![
                a_ints("kernel_shape", &[3, 3]),
                a_str("auto_pad", "SAME_UPPER"),
                a_int("count_include_pad", 1),
            ],
        ))
        .node(node("GlobalAveragePool", &["ap"], &["gap"], vec![]))
        .node(node(
            "Transpose",
            &["gap"],
            &["t"],
            vec![a_ints("perm", &[0, 2, 3, 1])],
        ))
        .node(node("Flatten", &["t"], &["f"], vec![]))
        .node(node("Identity", &["f"], &["i"], vec![]))
        .node(node(
            "Concat",
            &["f", "i"],
            &["cat"],
            vec![a_int("axis", 1)],
        ))
        .node(node("Sigmoid", &["cat"], &["y"], vec![]))
        .output("y")
        .ok();
    let Op::BatchNormalization(bn) = &only_node(&g, "BatchNormalization").op else {
        panic!()
    };
    assert_eq!(bn.epsilon, 1e-5);
    let Op::MaxPool(mp) = &only_node(&g, "MaxPool").op else {
        panic!()
    };
    assert_eq!(mp.window.kernel_shape, vec![2, 2]);
    assert_eq!(mp.storage_order, 0);
    let Op::AveragePool(ap) = &only_node(&g, "AveragePool").op else {
        panic!()
    };
    assert!(ap.count_include_pad);
    assert_eq!(ap.window.auto_pad, AutoPad::SameUpper);
    assert_eq!(
        only_node(&g, "Transpose").op,
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![0, 2, 3, 1])
        })
    );
    assert_eq!(
        only_node(&g, "Flatten").op,
        Op::Flatten(FlattenAttrs { axis: 1 })
    );
    assert_eq!(
        only_node(&g, "Concat").op,
        Op::Concat(ConcatAttrs { axis: 1 })
    );
    assert_eq!(value_named(&g, "mp").ty.shape, vec![1, 2, 3, 3]);
    assert_eq!(value_named(&g, "y").ty.shape, vec![1, 4]);
}

#[test]
fn concat_axis_defaults_to_1_before_opset_4() {
    let g = model(3)
        .input(f32_input("x", &[1, 2]))
        .node(node("Concat", &["x", "x"], &["y"], vec![]))
        .output("y")
        .ok();
    assert_eq!(value_named(&g, "y").ty.shape, vec![1, 4]);
}

#[test]
fn maxpool_with_an_omitted_first_output_gets_a_placeholder_value() {
    let g = model(13)
        .input(f32_input("x", &[1, 1, 4, 4]))
        .node(named(
            node(
                "MaxPool",
                &["x"],
                &["", "idx", ""],
                vec![a_ints("kernel_shape", &[2, 2])],
            ),
            "mp",
        ))
        .node(node("Identity", &["idx"], &["y"], vec![]))
        .output_typed(value_info("y", DataType::Int64, None))
        .ok();
    let mp = only_node(&g, "MaxPool");
    assert_eq!(mp.outputs.len(), 2, "the trailing empty output is dropped");
    assert_eq!(g.value(mp.outputs[0]).name, "mp.output0");
    assert_eq!(
        g.value(mp.outputs[1]).ty,
        TensorType::new(DType::I64, [1, 1, 3, 3])
    );
}

#[test]
fn input_shapes_pin_symbolic_dimensions() {
    let m = model(13)
        .input(value_info(
            "x",
            DataType::Float,
            Some(&[D::P("batch"), D::N(3), D::Unknown, D::N(-1)]),
        ))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y");
    let opts = LoadOptions {
        input_shapes: BTreeMap::from([("x".to_string(), vec![2, 3, 8, 8])]),
        ..Default::default()
    };
    let g = m.load_with(&opts).unwrap();
    assert_eq!(g.value(g.inputs[0]).ty.shape, vec![2, 3, 8, 8]);
    assert_eq!(value_named(&g, "y").ty.shape, vec![2, 3, 8, 8]);

    // A shape for an input the model declares without any shape.
    let m = model(13)
        .input(value_info("x", DataType::Float, None))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y");
    let opts = LoadOptions {
        input_shapes: BTreeMap::from([("x".to_string(), vec![5])]),
        ..Default::default()
    };
    let g = m.load_with(&opts).unwrap();
    assert_eq!(g.value(g.inputs[0]).ty.shape, vec![5]);
}

#[test]
fn typed_field_initializers_decode() {
    use crate::onnx::TensorProto;
    let typed = |dt: DataType, f: &dyn Fn(&mut TensorProto)| {
        let mut t = TensorProto {
            name: Some("t".into()),
            dims: vec![2],
            data_type: Some(dt as i32),
            ..Default::default()
        };
        f(&mut t);
        let g = model(13)
            .init(t)
            .input(f32_input("x", &[1]))
            .node(node("Identity", &["x"], &["y"], vec![]))
            .output("y")
            .ok();
        value_named(&g, "t").const_tensor().unwrap().data.clone()
    };
    assert_eq!(
        typed(DataType::Float, &|t| t.float_data = vec![1.5, -2.0]),
        TensorData::F32(vec![1.5, -2.0])
    );
    assert_eq!(
        typed(DataType::Double, &|t| t.double_data = vec![1.5, -2.0]),
        TensorData::F64(vec![1.5, -2.0])
    );
    assert_eq!(
        typed(DataType::Int64, &|t| t.int64_data = vec![-7, 1 << 40]),
        TensorData::I64(vec![-7, 1 << 40])
    );
    assert_eq!(
        typed(DataType::Int32, &|t| t.int32_data = vec![-7, 9]),
        TensorData::I32(vec![-7, 9])
    );
    assert_eq!(
        typed(DataType::Int8, &|t| t.int32_data = vec![-128, 127]),
        TensorData::I8(vec![-128, 127])
    );
    assert_eq!(
        typed(DataType::Uint8, &|t| t.int32_data = vec![0, 255]),
        TensorData::U8(vec![0, 255])
    );
    assert_eq!(
        typed(DataType::Int16, &|t| t.int32_data = vec![-300, 300]),
        TensorData::I16(vec![-300, 300])
    );
    assert_eq!(
        typed(DataType::Uint16, &|t| t.int32_data = vec![0, 65535]),
        TensorData::U16(vec![0, 65535])
    );
    assert_eq!(
        typed(DataType::Bool, &|t| t.int32_data = vec![1, 0]),
        TensorData::Bool(vec![true, false])
    );
    // float16 1.0 = 0x3C00, -2.0 = 0xC000 (stored zero-extended).
    assert_eq!(
        typed(DataType::Float16, &|t| t.int32_data = vec![0x3C00, 0xC000]),
        TensorData::F16(vec![0x3C00, 0xC000])
    );
    assert_eq!(
        typed(DataType::Bfloat16, &|t| t.int32_data = vec![0x3F80, 0]),
        TensorData::BF16(vec![0x3F80, 0])
    );
    assert_eq!(
        typed(DataType::Uint32, &|t| t.uint64_data =
            vec![0, u32::MAX as u64]),
        TensorData::U32(vec![0, u32::MAX])
    );
    assert_eq!(
        typed(DataType::Uint64, &|t| t.uint64_data = vec![0, u64::MAX]),
        TensorData::U64(vec![0, u64::MAX])
    );
}

#[test]
fn model_info_reports_opsets_and_producer() {
    let mut m = model(13);
    m.extra_opsets.push(("com.microsoft", 1));
    let info = crate::model_info(&m.bytes()).unwrap();
    assert_eq!(info.default_opset(), Some(13));
    assert_eq!(info.opset_imports.get("com.microsoft"), Some(&1));
    assert_eq!(info.producer_name, "kiln-tests");
    assert_eq!(info.ir_version, 8);
}

/// Each op the import table names has exactly one row for every opset kiln knows: the
/// supported-op list is derived from the names, so a gap or an overlap would be a lie.
#[test]
fn import_table_covers_every_opset_once() {
    for name in crate::SUPPORTED_OPS.iter() {
        for opset in 1..=crate::MAX_OPSET {
            let n = crate::import::rows()
                .filter(|e| e.name == *name && e.opsets.contains(&opset))
                .count();
            assert_eq!(n, 1, "{name} at opset {opset} has {n} rows");
        }
    }
}
