//! Typed access to a node's attributes. A wrong attribute type is an error naming the node,
//! op, opset and attribute; an attribute kiln does not read is ignored.

use crate::error::{FrontendError, NodeCtx};
use crate::onnx::{AttributeProto, TensorProto, attribute_proto::AttributeType};

/// What an attribute holds: its declared `type`, or for old files that leave `type` unset,
/// the field that is present.
fn kind(a: &AttributeProto) -> Option<AttributeType> {
    if let Some(t) = a.r#type.filter(|&t| t != 0) {
        return AttributeType::try_from(t).ok();
    }
    Some(if a.f.is_some() {
        AttributeType::Float
    } else if a.i.is_some() {
        AttributeType::Int
    } else if a.s.is_some() {
        AttributeType::String
    } else if a.t.is_some() {
        AttributeType::Tensor
    } else if a.g.is_some() {
        AttributeType::Graph
    } else if !a.floats.is_empty() {
        AttributeType::Floats
    } else if !a.ints.is_empty() {
        AttributeType::Ints
    } else if !a.strings.is_empty() {
        AttributeType::Strings
    } else if !a.tensors.is_empty() {
        AttributeType::Tensors
    } else if !a.graphs.is_empty() {
        AttributeType::Graphs
    } else {
        return None;
    })
}

fn kind_name(k: Option<AttributeType>) -> &'static str {
    match k {
        Some(AttributeType::Float) => "a float (FLOAT)",
        Some(AttributeType::Int) => "an integer (INT)",
        Some(AttributeType::String) => "a string (STRING)",
        Some(AttributeType::Tensor) => "a tensor (TENSOR)",
        Some(AttributeType::Graph) => "a graph (GRAPH)",
        Some(AttributeType::Floats) => "a list of floats (FLOATS)",
        Some(AttributeType::Ints) => "a list of integers (INTS)",
        Some(AttributeType::Strings) => "a list of strings (STRINGS)",
        Some(AttributeType::Tensors) => "a list of tensors (TENSORS)",
        Some(AttributeType::Graphs) => "a list of graphs (GRAPHS)",
        Some(AttributeType::SparseTensor) => "a sparse tensor (SPARSE_TENSOR)",
        Some(AttributeType::SparseTensors) => "a list of sparse tensors (SPARSE_TENSORS)",
        Some(AttributeType::TypeProto) => "a type (TYPE_PROTO)",
        Some(AttributeType::TypeProtos) => "a list of types (TYPE_PROTOS)",
        Some(AttributeType::Undefined) | None => "no value",
    }
}

pub(crate) struct Attrs<'a> {
    pub ctx: &'a NodeCtx,
    list: &'a [AttributeProto],
}

impl<'a> Attrs<'a> {
    pub fn new(ctx: &'a NodeCtx, list: &'a [AttributeProto]) -> Self {
        Attrs { ctx, list }
    }

    /// The attribute called `name` (the first, should a malformed file repeat it).
    pub fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.list.iter().find(|a| a.name() == name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The attribute if it has type `want`; `Ok(None)` if absent; an error if of another type.
    /// A list attribute with no elements and no declared type counts as an empty list.
    fn typed(
        &self,
        name: &str,
        want: AttributeType,
    ) -> Result<Option<&'a AttributeProto>, FrontendError> {
        let Some(a) = self.get(name) else {
            return Ok(None);
        };
        let k = kind(a);
        let empty_list_ok = k.is_none()
            && matches!(
                want,
                AttributeType::Floats | AttributeType::Ints | AttributeType::Strings
            );
        if k == Some(want) || empty_list_ok {
            Ok(Some(a))
        } else {
            Err(self.ctx.attr(
                name,
                format!(
                    "must be {}, but the model gives {}; the model is malformed (re-export it)",
                    kind_name(Some(want)),
                    kind_name(k)
                ),
            ))
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, FrontendError> {
        Ok(self.typed(name, AttributeType::Int)?.map(|a| a.i()))
    }

    pub fn float(&self, name: &str) -> Result<Option<f32>, FrontendError> {
        Ok(self.typed(name, AttributeType::Float)?.map(|a| a.f()))
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, FrontendError> {
        match self.typed(name, AttributeType::String)? {
            None => Ok(None),
            Some(a) => String::from_utf8(a.s().to_vec())
                .map(Some)
                .map_err(|_| self.ctx.attr(name, "is not valid UTF-8 text")),
        }
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, FrontendError> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, FrontendError> {
        Ok(self
            .typed(name, AttributeType::Floats)?
            .map(|a| a.floats.clone()))
    }

    /// A list of UTF-8 strings: empty when absent.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, FrontendError> {
        let Some(a) = self.typed(name, AttributeType::Strings)? else {
            return Ok(Vec::new());
        };
        a.strings
            .iter()
            .map(|s| {
                String::from_utf8(s.clone())
                    .map_err(|_| self.ctx.attr(name, "holds text that is not valid UTF-8"))
            })
            .collect()
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, FrontendError> {
        Ok(self
            .typed(name, AttributeType::Tensor)?
            .and_then(|a| a.t.as_ref()))
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, FrontendError> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    pub fn float_or(&self, name: &str, default: f32) -> Result<f32, FrontendError> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    /// A 0/1 flag (any non-zero value counts as set, as in onnxruntime).
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, FrontendError> {
        Ok(self.int(name)?.map_or(default, |v| v != 0))
    }

    /// A list of sizes (pads, strides, ...): empty when absent. Entries must lie in
    /// `0..=i32::MAX`: no real window is larger, and the bound keeps the IR's window
    /// arithmetic (sums of pads and input sizes) far from overflow.
    pub fn sizes(&self, name: &str) -> Result<Vec<usize>, FrontendError> {
        let v = self.ints(name)?.unwrap_or_default();
        v.iter()
            .map(|&x| {
                u32::try_from(x)
                    .ok()
                    .filter(|&x| x <= i32::MAX as u32)
                    .map(|x| x as usize)
                    .ok_or_else(|| {
                        self.ctx.attr(
                            name,
                            format!("is {v:?}; its entries must be between 0 and {}", i32::MAX),
                        )
                    })
            })
            .collect()
    }
}
