//! The frontend's errors. Every message is a complete sentence that names what is wrong
//! (file, tensor, node, op, opset) and, where there is one, what the user can do about it.

use kiln_ir::{Limit, OptionNames};
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `names` spells the option that raises the limit ([`FrontendError::with_option_names`]).
    #[error(
        "{what} is {size} bytes, more than the limit of {limit} bytes; if the file is trusted, \
         raise the limit ({})", names.limit(Limit::FileBytes)
    )]
    FileTooLarge {
        what: String,
        size: u64,
        limit: u64,
        names: OptionNames,
    },

    #[error(
        "{what} has {elements} elements, more than the limit of {limit}; if the model is \
         trusted, raise the limit ({})", names.limit(Limit::TensorElements)
    )]
    TensorTooLarge {
        what: String,
        elements: String,
        limit: u64,
        names: OptionNames,
    },

    /// A limit on nodes, nesting, names or attribute sizes (see [`crate::LoadOptions`]).
    #[error("{0}")]
    Limit(String),

    /// The bytes are not a model kiln can read at all.
    #[error("not a valid ONNX model: {0}")]
    Decode(String),

    /// The bytes are not a serialized `TensorProto` (an ONNX test-data `.pb` file).
    #[error("not a valid ONNX tensor (.pb) file: {0}")]
    DecodeTensor(String),

    /// The file is a model in another format.
    #[error(
        "this is {format}, not a binary ONNX model (.onnx); export or convert the model first \
         ({hint})"
    )]
    NotOnnx {
        format: &'static str,
        hint: &'static str,
    },

    /// Every node kiln cannot import, listed at once.
    #[error("{}", UnsupportedList(.0))]
    Unsupported(Vec<UnsupportedOp>),

    #[error(
        "the model imports opset {version} of domain ai.onnx, newer than the newest kiln knows \
         ({max}); re-export the model with opset {max} or older (e.g. \
         torch.onnx.export(..., opset_version={max}))"
    )]
    OpsetTooNew { version: i64, max: i64 },

    /// A problem with the graph's structure (names, producers, outputs, opset imports).
    #[error("{0}")]
    Graph(String),

    #[error(
        "node {node:?} ({op}, opset {opset}) reads {value:?}, which no node, input or \
         initializer provides; the model is incomplete or corrupt (check it with \
         onnx.checker.check_model)"
    )]
    MissingInput {
        node: String,
        op: String,
        opset: i64,
        value: String,
    },

    #[error(
        "the graph has a cycle: {}; ONNX graphs must be acyclic, so the model is corrupt \
         (check it with onnx.checker.check_model)",
        .nodes.join(" -> ")
    )]
    Cycle { nodes: Vec<String> },

    #[error("{what} has invalid data: {message}")]
    Tensor { what: String, message: String },

    #[error(
        "unsupported element type {dtype} for {what}; kiln supports float, double, float16, \
         bfloat16, int8/16/32/64, uint8/16/32/64 and bool"
    )]
    UnsupportedDType { what: String, dtype: String },

    /// External tensor data that is missing, malformed or outside the model's folder.
    #[error("{what} stores its data in an external file, which kiln refuses: {message}")]
    ExternalData { what: String, message: String },

    /// A graph input whose shape cannot be made static, or a bad `input_shapes` entry.
    #[error("{0}")]
    InputShape(String),

    #[error("node {node:?} ({op}, opset {opset}): attribute {attribute:?} {message}")]
    Attribute {
        node: String,
        op: String,
        opset: i64,
        attribute: String,
        message: String,
    },

    /// A node whose inputs or outputs do not fit its op (arity, types, shapes).
    #[error("node {node:?} ({op}, opset {opset}): {message}")]
    Node {
        node: String,
        op: String,
        opset: i64,
        message: String,
    },
}

impl FrontendError {
    /// The error with the options it names spelled as `names` says. Messages built while
    /// loading already follow [`crate::LoadOptions::option_names`]; this reaches the errors
    /// of the functions that take no options ([`crate::read_model_file`] and the like).
    pub fn with_option_names(mut self, names: OptionNames) -> Self {
        if let FrontendError::FileTooLarge { names: n, .. }
        | FrontendError::TensorTooLarge { names: n, .. } = &mut self
        {
            *n = names;
        }
        self
    }
}

/// One node kiln cannot import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedOp {
    /// The node's name (synthesised as `Op_index` when the model leaves it empty).
    pub node: String,
    pub op_type: String,
    /// `ai.onnx` for the default domain.
    pub domain: String,
    /// The opset the model imports for `domain`; `None` when it imports none.
    pub opset: Option<i64>,
    /// Why, when the op itself is known but this use of it is not (e.g. "training mode").
    pub reason: Option<String>,
}

impl fmt::Display for UnsupportedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {:?}: {} (domain {}, ",
            self.node, self.op_type, self.domain
        )?;
        match self.opset {
            Some(v) => write!(f, "opset {v})")?,
            None => write!(f, "opset not imported by the model)")?,
        }
        if let Some(r) = &self.reason {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// The message of [`FrontendError::Unsupported`]. Its `Display` is in `import/mod.rs`, next
/// to the import table whose ops it lists, so that this module needs nothing from import.
pub(crate) struct UnsupportedList<'a>(pub &'a [UnsupportedOp]);

/// `node "name" (Op, opset N)`-style context shared by the node-level errors.
#[derive(Clone, Debug)]
pub(crate) struct NodeCtx {
    pub name: String,
    pub op: String,
    pub opset: i64,
}

impl NodeCtx {
    pub fn attr(&self, attribute: &str, message: impl Into<String>) -> FrontendError {
        FrontendError::Attribute {
            node: self.name.clone(),
            op: self.op.clone(),
            opset: self.opset,
            attribute: attribute.to_string(),
            message: message.into(),
        }
    }

    pub fn error(&self, message: impl Into<String>) -> FrontendError {
        FrontendError::Node {
            node: self.name.clone(),
            op: self.op.clone(),
            opset: self.opset,
            message: message.into(),
        }
    }
}
