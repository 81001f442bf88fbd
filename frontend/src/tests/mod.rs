//! Tests that build ModelProto values with the prost types, load them, and check the IR or
//! the error. They live inside the crate because the protobuf types are private to it.

mod cast;
mod elementwise;
mod errors;
mod external;
mod fuzz;
mod import_ops;
mod normalization;
mod pad;
mod tensors;

use crate::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::Dimension, tensor_shape_proto::dimension,
    type_proto,
};
use crate::{FrontendError, LoadOptions, load_model_bytes};
use kiln_ir::Graph;
use prost::Message;

/// A dimension of a declared input shape.
#[derive(Clone, Copy)]
pub(crate) enum D {
    N(i64),
    P(&'static str),
    Unknown,
}

pub(crate) fn dims(ds: &[D]) -> Vec<Dimension> {
    ds.iter()
        .map(|d| Dimension {
            value: match d {
                D::N(v) => Some(dimension::Value::DimValue(*v)),
                D::P(p) => Some(dimension::Value::DimParam(p.to_string())),
                D::Unknown => None,
            },
            ..Default::default()
        })
        .collect()
}

pub(crate) fn value_info(name: &str, dt: DataType, shape: Option<&[D]>) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dt as i32),
                shape: shape.map(|s| TensorShapeProto { dim: dims(s) }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn f32_input(name: &str, shape: &[i64]) -> ValueInfoProto {
    let ds: Vec<D> = shape.iter().map(|&d| D::N(d)).collect();
    value_info(name, DataType::Float, Some(&ds))
}

/// A graph output with only its element type declared.
pub(crate) fn output(name: &str) -> ValueInfoProto {
    value_info(name, DataType::Float, None)
}

pub(crate) fn node(
    op: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_node")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

pub(crate) fn named(mut n: NodeProto, name: &str) -> NodeProto {
    n.name = Some(name.into());
    n
}

fn attr(name: &str, t: AttributeType) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(t as i32),
        ..Default::default()
    }
}

pub(crate) fn a_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: Some(v),
        ..attr(name, AttributeType::Int)
    }
}

pub(crate) fn a_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: v.to_vec(),
        ..attr(name, AttributeType::Ints)
    }
}

pub(crate) fn a_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        f: Some(v),
        ..attr(name, AttributeType::Float)
    }
}

pub(crate) fn a_floats(name: &str, v: &[f32]) -> AttributeProto {
    AttributeProto {
        floats: v.to_vec(),
        ..attr(name, AttributeType::Floats)
    }
}

pub(crate) fn a_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: Some(v.as_bytes().to_vec()),
        ..attr(name, AttributeType::String)
    }
}

pub(crate) fn a_tensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        t: Some(t),
        ..attr(name, AttributeType::Tensor)
    }
}

/// An f32 tensor stored as raw little-endian bytes.
pub(crate) fn f32_tensor(name: &str, shape: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: shape.to_vec(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        ..Default::default()
    }
}

pub(crate) struct ModelBuilder {
    pub opset: i64,
    pub nodes: Vec<NodeProto>,
    pub inputs: Vec<ValueInfoProto>,
    pub outputs: Vec<ValueInfoProto>,
    pub inits: Vec<TensorProto>,
    pub value_info: Vec<ValueInfoProto>,
    pub extra_opsets: Vec<(&'static str, i64)>,
}

pub(crate) fn model(opset: i64) -> ModelBuilder {
    ModelBuilder {
        opset,
        nodes: vec![],
        inputs: vec![],
        outputs: vec![],
        inits: vec![],
        value_info: vec![],
        extra_opsets: vec![],
    }
}

impl ModelBuilder {
    pub fn node(mut self, n: NodeProto) -> Self {
        self.nodes.push(n);
        self
    }
    pub fn input(mut self, v: ValueInfoProto) -> Self {
        self.inputs.push(v);
        self
    }
    pub fn output(mut self, name: &str) -> Self {
        self.outputs.push(output(name));
        self
    }
    pub fn output_typed(mut self, v: ValueInfoProto) -> Self {
        self.outputs.push(v);
        self
    }
    pub fn init(mut self, t: TensorProto) -> Self {
        self.inits.push(t);
        self
    }
    pub fn proto(&self) -> ModelProto {
        let mut opset_import = vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(self.opset),
        }];
        for (d, v) in &self.extra_opsets {
            opset_import.push(OperatorSetIdProto {
                domain: Some(d.to_string()),
                version: Some(*v),
            });
        }
        ModelProto {
            ir_version: Some(8),
            opset_import,
            producer_name: Some("kiln-tests".into()),
            graph: Some(GraphProto {
                name: Some("test".into()),
                node: self.nodes.clone(),
                input: self.inputs.clone(),
                output: self.outputs.clone(),
                initializer: self.inits.clone(),
                value_info: self.value_info.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.proto().encode_to_vec()
    }
    pub fn load(&self) -> Result<Graph, FrontendError> {
        load_model_bytes(&self.bytes(), None, &LoadOptions::default())
    }
    pub fn load_with(&self, opts: &LoadOptions) -> Result<Graph, FrontendError> {
        load_model_bytes(&self.bytes(), None, opts)
    }
    /// Loads, expecting success, and checks the graph verifies.
    pub fn ok(&self) -> Graph {
        let g = self.load().unwrap_or_else(|e| panic!("load failed: {e}"));
        assert_verifies(&g);
        g
    }
    /// Loads, expecting failure; returns the error and its message.
    pub fn err(&self) -> (FrontendError, String) {
        match self.load() {
            Ok(g) => panic!("expected an error, got\n{}", g.dump()),
            Err(e) => {
                let msg = e.to_string();
                (e, msg)
            }
        }
    }
}

pub(crate) fn assert_verifies(g: &Graph) {
    if let Err(d) = kiln_ir::verify(g) {
        let lines: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        panic!("graph does not verify:\n{}\n{}", lines.join("\n"), g.dump());
    }
}

/// The only node of `g` with ONNX op `op`.
pub(crate) fn only_node<'g>(g: &'g Graph, op: &str) -> &'g kiln_ir::Node {
    let found: Vec<_> = g
        .node_ids()
        .map(|n| g.node(n))
        .filter(|n| n.onnx_op == op)
        .collect();
    assert_eq!(found.len(), 1, "expected one {op} node in\n{}", g.dump());
    found[0]
}

pub(crate) fn value_named<'g>(g: &'g Graph, name: &str) -> &'g kiln_ir::Value {
    g.values()
        .map(|(_, v)| v)
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no value {name:?} in\n{}", g.dump()))
}

pub(crate) fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message lacks {p:?}:\n{msg}");
    }
}
