//! Builders for small ONNX models, good and deliberately broken, straight from the
//! protobuf types (no Python needed).
#![allow(dead_code)]

use kiln::frontend::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension,
    type_proto,
};
use prost::Message;

/// A tensor value of element type `elem` with fixed dimensions.
pub fn value(name: &str, elem: DataType, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem as i32),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn f32_value(name: &str, dims: &[i64]) -> ValueInfoProto {
    value(name, DataType::Float, dims)
}

pub fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

pub fn graph(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
) -> GraphProto {
    GraphProto {
        node: nodes,
        input: inputs,
        output: outputs,
        name: Some("g".into()),
        ..Default::default()
    }
}

/// A model importing ai.onnx opset `opset`.
pub fn model_proto(graph: GraphProto, opset: i64) -> ModelProto {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(graph),
        ..Default::default()
    }
}

/// The bytes of an opset-13 model of `nodes`.
pub fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
) -> Vec<u8> {
    model_proto(graph(nodes, inputs, outputs), 13).encode_to_vec()
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_string(name: &str, s: Vec<u8>) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(s),
        ..Default::default()
    }
}

pub fn attr_graph(name: &str, g: GraphProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Graph as i32),
        g: Some(g),
        ..Default::default()
    }
}

/// A float tensor stored as little-endian `raw_data`.
pub fn f32_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(data.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A small valid model with weights: Conv (3x3, 2 -> 4 channels, bias) + Relu on a
/// 1x2x6x6 input, and a Flatten.
pub fn small_conv_model() -> Vec<u8> {
    let w: Vec<f32> = (0..72)
        .map(|i| ((i * 7) % 11) as f32 / 11.0 - 0.5)
        .collect();
    let b = [0.1f32, -0.2, 0.3, 0.0];
    let mut conv = node("Conv", "conv", &["x", "w", "b"], &["c"]);
    conv.attribute = vec![
        attr_ints("kernel_shape", &[3, 3]),
        attr_ints("pads", &[1, 1, 1, 1]),
    ];
    let mut g = graph(
        vec![
            conv,
            node("Relu", "relu", &["c"], &["r"]),
            node("Flatten", "flatten", &["r"], &["y"]),
        ],
        vec![f32_value("x", &[1, 2, 6, 6])],
        vec![f32_value("y", &[1, 144])],
    );
    g.initializer = vec![
        f32_tensor("w", &[4, 2, 3, 3], &w),
        f32_tensor("b", &[4], &b),
    ];
    model_proto(g, 13).encode_to_vec()
}
