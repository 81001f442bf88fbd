//! How to load a model: [`LoadOptions`], its defaults and the newest opset kiln knows. Its
//! own module so the loader reads it without depending on the crate root.

use kiln_ir::{OptionNames, Tensor};
use std::collections::BTreeMap;

/// The newest ai.onnx opset kiln knows: the newest defined by onnx 1.22, whose node tests
/// kiln is checked against. For every supported op kiln knows each version up to this one
/// (the versions after 23 of Reshape, Flatten, Transpose and Identity only add element
/// types). Newer opsets may change op semantics, so models importing them are refused
/// rather than guessed at.
pub const MAX_OPSET: i64 = 27;

/// Default for [`LoadOptions::max_file_bytes`]: 2 GiB, protobuf's own message size limit.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 2 << 30;

/// Default for [`LoadOptions::max_tensor_elements`].
pub const DEFAULT_MAX_TENSOR_ELEMENTS: u64 = 1 << 31;

/// Default for [`LoadOptions::max_nodes`]: far above any model that fits an edge device.
pub const DEFAULT_MAX_NODES: usize = 100_000;

/// Default for [`LoadOptions::max_depth`]. kiln compiles no control flow yet, but a model
/// with `If`/`Loop` bodies still has to be read to say so; real ones nest a few levels.
pub const DEFAULT_MAX_DEPTH: usize = 16;

/// How to load a model.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Full static shapes for graph inputs, by input name (`--input-shape NAME=1x3x32x32`).
    /// Needed for inputs with symbolic or unknown dimensions; a given shape overrides the
    /// model's but must agree with its fixed dimensions.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Graph inputs fixed to a value at compile time (`--bind-input NAME=FILE.pb`): they
    /// become constants, so values that decide shapes (a Reshape's `shape`, a Slice's
    /// `starts`, ...) can be folded. The element type must match the input's and the shape
    /// its fixed dimensions.
    pub bound_inputs: BTreeMap<String, Tensor>,
    /// Largest model (or tensor `.pb`) file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest element count accepted for any tensor: weights, inputs and activations.
    pub max_tensor_elements: u64,
    /// Most nodes accepted, counting those of subgraphs and functions.
    pub max_nodes: usize,
    /// Deepest nesting of subgraphs (graph attributes of `If`, `Loop`, `Scan`) accepted;
    /// the main graph is depth 0. The protobuf decoder also refuses anything nested deeper
    /// than about 30 subgraph levels, whatever this says.
    pub max_depth: usize,
    /// How messages name the options that would fix a problem: the CLI's flags or
    /// `kiln::Build`'s methods.
    pub option_names: OptionNames,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            input_shapes: BTreeMap::new(),
            bound_inputs: BTreeMap::new(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_tensor_elements: DEFAULT_MAX_TENSOR_ELEMENTS,
            max_nodes: DEFAULT_MAX_NODES,
            max_depth: DEFAULT_MAX_DEPTH,
            option_names: OptionNames::Cli,
        }
    }
}
