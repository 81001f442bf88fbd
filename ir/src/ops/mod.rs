//! The closed set of operations. One file per op family holds the attribute types, shape
//! inference and reference evaluation of its ops; this file is the checklist that ties them
//! together. Adding a variant makes the compiler list every match to update.

pub mod cast;
mod common;
pub mod conv;
pub mod elementwise;
pub mod epilogue;
pub mod gather;
pub mod gemm;
pub mod generate;
pub mod norm;
pub mod pad;
pub mod pool;
pub mod reduce;
pub mod resize;
pub mod rnn;
pub mod shape;
pub mod softmax;
pub mod view;
pub mod window;

use crate::tensor::Tensor;
use crate::types::TensorType;
use std::fmt;

pub use cast::CastAttrs;
pub use conv::ConvAttrs;
pub use conv::ConvTransposeAttrs;
pub use elementwise::{Activation, BinaryOp, ClipAttrs, UnaryOp};
pub use epilogue::{Epilogue, EpilogueHost};
pub use gather::{GatherAttrs, GatherNdAttrs, OneHotAttrs, Reduction, ScatterAttrs};
pub use gemm::GemmAttrs;
pub use generate::{ConstantOfShapeAttrs, EyeLikeAttrs, ShapeAttrs, TriluAttrs};
pub use norm::{BatchNormAttrs, LayerNormAttrs};
pub use pad::{PadAttrs, PadMode};
pub use pool::{AveragePoolAttrs, MaxPoolAttrs};
pub use reduce::ReduceAttrs;
pub use resize::ResizeAttrs;
pub use rnn::RnnAttrs;
pub use shape::{
    ConcatAttrs, FlattenAttrs, ReshapeAttrs, SqueezeAttrs, TransposeAttrs, UnsqueezeAttrs,
};
pub use softmax::SoftmaxAttrs;
pub use view::{
    DepthToSpaceAttrs, ExpandAttrs, SliceAttrs, SpaceToDepthAttrs, SplitAttrs, TileAttrs, View,
};
pub use window::{AutoPad, WindowAttrs, WindowGeometry};

#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Conv: inputs X, W, B?.
    Conv(ConvAttrs),
    /// ConvTranspose: inputs X, W, B?.
    ConvTranspose(ConvTransposeAttrs),
    /// Gemm: inputs A, B, C?.
    Gemm(GemmAttrs),
    /// MatMul with numpy semantics (1-D promotion, batch broadcasting): inputs A, B.
    MatMul,
    /// Resize and Upsample: input X only; roi, scales and sizes are folded into the
    /// attributes on import.
    Resize(ResizeAttrs),
    /// RNN, GRU, LSTM: inputs X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P?;
    /// outputs Y, Y_h, Y_c (LSTM).
    Rnn(RnnAttrs),
    /// Two-input elementwise arithmetic with broadcasting.
    Binary(BinaryOp),
    /// One-input elementwise functions.
    Unary(UnaryOp),
    /// Clip: input, min?, max? (opset ≥ 11) or attribute bounds (opset < 11).
    Clip(ClipAttrs),
    Softmax(SoftmaxAttrs),
    /// MaxPool: outputs Y and optionally Indices.
    MaxPool(MaxPoolAttrs),
    AveragePool(AveragePoolAttrs),
    GlobalAveragePool,
    /// Inference-mode BatchNormalization: inputs X, scale, B, mean, var.
    BatchNormalization(BatchNormAttrs),
    /// Reshape: inputs data, shape (the shape must be known at compile time).
    Reshape(ReshapeAttrs),
    Flatten(FlattenAttrs),
    Transpose(TransposeAttrs),
    /// Concat of one or more inputs.
    Concat(ConcatAttrs),
    /// Shape, Size, EyeLike: constants of the input's type (folded at import).
    Shape(ShapeAttrs),
    Size,
    EyeLike(EyeLikeAttrs),
    /// ConstantOfShape: input shape (constant).
    ConstantOfShape(ConstantOfShapeAttrs),
    /// Range: inputs start, limit, delta (constants: they decide the length).
    Range,
    /// Views of input 0 (the shape operands folded into the attributes).
    Slice(SliceAttrs),
    Split(SplitAttrs),
    Expand(ExpandAttrs),
    Tile(TileAttrs),
    DepthToSpace(DepthToSpaceAttrs),
    SpaceToDepth(SpaceToDepthAttrs),
    /// Trilu: input only; `k` folded into the attributes.
    Trilu(TriluAttrs),
    /// Gather, GatherElements: inputs data, indices.
    Gather(GatherAttrs),
    GatherElements(GatherAttrs),
    GatherND(GatherNdAttrs),
    /// ScatterND, ScatterElements: inputs data, indices, updates.
    ScatterND(ScatterAttrs),
    ScatterElements(ScatterAttrs),
    /// OneHot: inputs indices, depth (constant), values.
    OneHot(OneHotAttrs),
    /// Pad: input data only; the pad amounts, axes and value are attributes (constant
    /// inputs of opset ≥ 11 are folded into them on import).
    Pad(PadAttrs),
    Identity,
    /// LeakyRelu, HardSigmoid, HardSwish, Gelu.
    Activation(Activation),
    /// Squeeze: inputs data, axes? (constant).
    Squeeze(SqueezeAttrs),
    /// Unsqueeze: inputs data, axes? (constant).
    Unsqueeze(UnsqueezeAttrs),
    /// Dropout in inference: inputs data, ratio?, training_mode? (constant false); outputs
    /// data and optionally the (all-true) mask.
    Dropout,
    /// Pow: inputs X (the base) and Y (the exponent, of any numeric type), broadcast.
    Pow,
    /// ReduceMean: inputs data, axes? (constant, opset ≥ 18).
    ReduceMean(ReduceAttrs),
    /// LayerNormalization: inputs X, Scale, B?; output Y only.
    LayerNormalization(LayerNormAttrs),
    /// Cast: input 0 converted element by element to another element type.
    Cast(CastAttrs),
}

/// What shape inference knows about one input: its type, and its value when constant.
#[derive(Clone, Copy, Debug)]
pub struct InferInput<'a> {
    pub ty: &'a TensorType,
    pub value: Option<&'a Tensor>,
}

impl Op {
    /// The op's name as in ONNX (for sub-enums, the concrete op).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv(_) => "Conv",
            Op::ConvTranspose(_) => "ConvTranspose",
            Op::Gemm(_) => "Gemm",
            Op::MatMul => "MatMul",
            Op::Resize(_) => "Resize",
            Op::Rnn(a) => a.kind.name(),
            Op::Binary(b) => b.name(),
            Op::Unary(u) => u.name(),
            Op::Clip(_) => "Clip",
            Op::Softmax(_) => "Softmax",
            Op::MaxPool(_) => "MaxPool",
            Op::AveragePool(_) => "AveragePool",
            Op::GlobalAveragePool => "GlobalAveragePool",
            Op::BatchNormalization(_) => "BatchNormalization",
            Op::Reshape(_) => "Reshape",
            Op::Flatten(_) => "Flatten",
            Op::Transpose(_) => "Transpose",
            Op::Concat(_) => "Concat",
            Op::Shape(_) => "Shape",
            Op::Size => "Size",
            Op::EyeLike(_) => "EyeLike",
            Op::ConstantOfShape(_) => "ConstantOfShape",
            Op::Range => "Range",
            Op::Slice(_) => "Slice",
            Op::Split(_) => "Split",
            Op::Expand(_) => "Expand",
            Op::Tile(_) => "Tile",
            Op::DepthToSpace(_) => "DepthToSpace",
            Op::SpaceToDepth(_) => "SpaceToDepth",
            Op::Trilu(_) => "Trilu",
            Op::Gather(_) => "Gather",
            Op::GatherElements(_) => "GatherElements",
            Op::GatherND(_) => "GatherND",
            Op::ScatterND(_) => "ScatterND",
            Op::ScatterElements(_) => "ScatterElements",
            Op::OneHot(_) => "OneHot",
            Op::Pad(_) => "Pad",
            Op::Identity => "Identity",
            Op::Activation(a) => a.name(),
            Op::Squeeze(_) => "Squeeze",
            Op::Unsqueeze(_) => "Unsqueeze",
            Op::Dropout => "Dropout",
            Op::Pow => "Pow",
            Op::ReduceMean(_) => "ReduceMean",
            Op::LayerNormalization(_) => "LayerNormalization",
            Op::Cast(_) => "Cast",
        }
    }

    /// Output types from input types (and constant input values where the op needs them).
    /// Errors are plain sentences; the caller adds the node's name, op and opset.
    pub fn infer(&self, inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
        match self {
            Op::Conv(a) => conv::infer(a, inputs),
            Op::ConvTranspose(a) => conv::infer_transpose(a, inputs),
            Op::Gemm(a) => gemm::infer_gemm(a, inputs),
            Op::MatMul => gemm::infer_matmul(inputs),
            Op::Resize(a) => resize::infer(a, inputs),
            Op::Rnn(a) => rnn::infer(a, inputs),
            Op::Binary(b) => elementwise::infer_binary(*b, inputs),
            Op::Unary(u) => elementwise::infer_unary(*u, inputs),
            Op::Clip(a) => elementwise::infer_clip(a, inputs),
            Op::Softmax(a) => softmax::infer(a, inputs),
            Op::MaxPool(a) => pool::infer_max(a, inputs),
            Op::AveragePool(a) => pool::infer_average(a, inputs),
            Op::GlobalAveragePool => pool::infer_global_average(inputs),
            Op::BatchNormalization(a) => norm::infer(a, inputs),
            Op::Reshape(a) => shape::infer_reshape(a, inputs),
            Op::Flatten(a) => shape::infer_flatten(a, inputs),
            Op::Transpose(a) => shape::infer_transpose(a, inputs),
            Op::Concat(a) => shape::infer_concat(a, inputs),
            Op::Shape(a) => generate::infer_shape(a, inputs),
            Op::Size => generate::infer_size(inputs),
            Op::EyeLike(a) => generate::infer_eye_like(a, inputs),
            Op::ConstantOfShape(a) => generate::infer_constant_of_shape(a, inputs),
            Op::Range => generate::infer_range(inputs),
            Op::Slice(a) => view::infer_slice(a, inputs),
            Op::Split(a) => view::infer_split(a, inputs),
            Op::Expand(a) => view::infer_expand(a, inputs),
            Op::Tile(a) => view::infer_tile(a, inputs),
            Op::DepthToSpace(a) => view::infer_depth_to_space(a, inputs),
            Op::SpaceToDepth(a) => view::infer_space_to_depth(a, inputs),
            Op::Trilu(a) => generate::infer_trilu(a, inputs),
            Op::Gather(a) => gather::infer_gather(a, inputs),
            Op::GatherElements(a) => gather::infer_gather_elements(a, inputs),
            Op::GatherND(a) => gather::infer_gather_nd(a, inputs),
            Op::ScatterND(_) => gather::infer_scatter_nd(inputs),
            Op::ScatterElements(a) => gather::infer_scatter_elements(a, inputs),
            Op::OneHot(a) => gather::infer_one_hot(a, inputs),
            Op::Pad(a) => pad::infer(a, inputs),
            Op::Identity => Ok(vec![input(inputs, 0, "input")?.ty.clone()]),
            Op::Activation(a) => elementwise::infer_activation(*a, inputs),
            Op::Squeeze(a) => shape::infer_squeeze(a, inputs),
            Op::Unsqueeze(a) => shape::infer_unsqueeze(a, inputs),
            Op::Dropout => shape::infer_dropout(inputs),
            Op::Pow => elementwise::infer_pow(inputs),
            Op::ReduceMean(a) => reduce::infer_mean(a, inputs),
            Op::LayerNormalization(a) => norm::infer_layer_norm(a, inputs),
            Op::Cast(a) => cast::infer(a, inputs),
        }
    }

    /// Reference semantics: output tensors from input tensors.
    pub fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
        match self {
            Op::Conv(a) => conv::eval(a, inputs),
            Op::ConvTranspose(a) => conv::eval_transpose(a, inputs),
            Op::Gemm(a) => gemm::eval_gemm(a, inputs),
            Op::MatMul => gemm::eval_matmul(inputs),
            Op::Resize(a) => resize::eval(a, inputs),
            Op::Rnn(a) => rnn::eval(a, inputs),
            Op::Binary(b) => elementwise::eval_binary(*b, inputs),
            Op::Unary(u) => elementwise::eval_unary(*u, inputs),
            Op::Clip(a) => elementwise::eval_clip(a, inputs),
            Op::Softmax(a) => softmax::eval(a, inputs),
            Op::MaxPool(a) => pool::eval_max(a, inputs),
            Op::AveragePool(a) => pool::eval_average(a, inputs),
            Op::GlobalAveragePool => pool::eval_global_average(inputs),
            Op::BatchNormalization(a) => norm::eval(a, inputs),
            Op::Reshape(a) => shape::eval_reshape(a, inputs),
            Op::Flatten(a) => shape::eval_flatten(a, inputs),
            Op::Transpose(a) => shape::eval_transpose(a, inputs),
            Op::Concat(a) => shape::eval_concat(a, inputs),
            Op::Shape(a) => generate::eval_shape(a, inputs),
            Op::Size => generate::eval_size(inputs),
            Op::EyeLike(a) => generate::eval_eye_like(a, inputs),
            Op::ConstantOfShape(a) => generate::eval_constant_of_shape(a, inputs),
            Op::Range => generate::eval_range(inputs),
            Op::Slice(a) => view::eval_slice(a, inputs),
            Op::Split(a) => view::eval_split(a, inputs),
            Op::Expand(a) => view::eval_expand(a, inputs),
            Op::Tile(a) => view::eval_tile(a, inputs),
            Op::DepthToSpace(a) => view::eval_depth_to_space(a, inputs),
            Op::SpaceToDepth(a) => view::eval_space_to_depth(a, inputs),
            Op::Trilu(a) => generate::eval_trilu(a, inputs),
            Op::Gather(a) => gather::eval_gather(a, inputs),
            Op::GatherElements(a) => gather::eval_gather_elements(a, inputs),
            Op::GatherND(a) => gather::eval_gather_nd(a, inputs),
            Op::ScatterND(a) => gather::eval_scatter_nd(a, inputs),
            Op::ScatterElements(a) => gather::eval_scatter_elements(a, inputs),
            Op::OneHot(a) => gather::eval_one_hot(a, inputs),
            Op::Pad(a) => pad::eval(a, inputs),
            Op::Identity => Ok(vec![tensor(inputs, 0, "input")?.clone()]),
            Op::Activation(a) => elementwise::eval_activation(*a, inputs),
            Op::Squeeze(a) => shape::eval_squeeze(a, inputs),
            Op::Unsqueeze(a) => shape::eval_unsqueeze(a, inputs),
            Op::Dropout => shape::eval_dropout(inputs),
            Op::Pow => elementwise::eval_pow(inputs),
            Op::ReduceMean(a) => reduce::eval_mean(a, inputs),
            Op::LayerNormalization(a) => norm::eval_layer_norm(a, inputs),
            Op::Cast(a) => cast::eval(a, inputs),
        }
    }

    /// Multiply-accumulate count for one run, for `kiln inspect`. Zero for data movement.
    pub fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        let out = outputs.first().map_or(0, |t| t.numel() as u64);
        match self {
            Op::Conv(a) => {
                // Each output element reads one filter: (C_in / group) * prod(kernel).
                let w = inputs.get(1).copied().flatten();
                let per = w.map_or(0, |w| w.shape.iter().skip(1).product::<usize>() as u64);
                let _ = a;
                out * per
            }
            Op::ConvTranspose(_) => {
                // Each input element meets every filter tap of its group's output channels.
                let x = inputs.first().copied().flatten();
                let w = inputs.get(1).copied().flatten();
                let per = w.map_or(0, |w| w.shape.iter().skip(1).product::<usize>() as u64);
                x.map_or(0, |x| x.numel() as u64) * per
            }
            Op::Gemm(a) => {
                let k = inputs.first().copied().flatten().map_or(0, |t| {
                    if a.trans_a {
                        t.shape[0]
                    } else {
                        *t.shape.last().unwrap_or(&0)
                    }
                });
                out * k as u64
            }
            Op::MatMul => {
                let k = inputs
                    .first()
                    .copied()
                    .flatten()
                    .map_or(0, |t| *t.shape.last().unwrap_or(&0));
                out * k as u64
            }
            Op::Resize(a) => {
                let taps = match a.mode {
                    resize::ResizeMode::Nearest => 0,
                    resize::ResizeMode::Linear => 2,
                    resize::ResizeMode::Cubic => 4,
                };
                out * taps
            }
            Op::Rnn(a) => {
                // Per step and direction: gates x (input + hidden) per batch entry.
                let dim = |i: usize, d: usize| {
                    inputs
                        .get(i)
                        .copied()
                        .flatten()
                        .and_then(|t| t.shape.get(d).copied())
                        .unwrap_or(0) as u64
                };
                let (w_rows, w_cols, r_cols) = (dim(1, 1), dim(1, 2), dim(2, 2));
                let steps = dim(0, 0) * dim(0, 1) * a.direction.count() as u64;
                steps * w_rows * (w_cols + r_cols)
            }
            Op::Binary(_)
            | Op::Unary(_)
            | Op::Clip(_)
            | Op::BatchNormalization(_)
            | Op::Activation(_)
            | Op::Pow
            | Op::LayerNormalization(_)
            | Op::Softmax(_) => out,
            Op::ReduceMean(_) => inputs
                .first()
                .copied()
                .flatten()
                .map_or(0, |t| t.numel() as u64),
            Op::MaxPool(a) => out * a.window.kernel_shape.iter().product::<usize>() as u64,
            Op::AveragePool(a) => out * a.window.kernel_shape.iter().product::<usize>() as u64,
            Op::GlobalAveragePool => inputs
                .first()
                .copied()
                .flatten()
                .map_or(0, |t| t.numel() as u64),
            Op::Reshape(_)
            | Op::Flatten(_)
            | Op::Transpose(_)
            | Op::Concat(_)
            | Op::Shape(_)
            | Op::Size
            | Op::EyeLike(_)
            | Op::ConstantOfShape(_)
            | Op::Range
            | Op::Slice(_)
            | Op::Split(_)
            | Op::Expand(_)
            | Op::Tile(_)
            | Op::DepthToSpace(_)
            | Op::SpaceToDepth(_)
            | Op::Trilu(_)
            | Op::Gather(_)
            | Op::GatherElements(_)
            | Op::GatherND(_)
            | Op::ScatterND(_)
            | Op::ScatterElements(_)
            | Op::OneHot(_)
            | Op::Pad(_)
            | Op::Identity
            | Op::Squeeze(_)
            | Op::Unsqueeze(_)
            | Op::Dropout
            | Op::Cast(_) => 0,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The derived Debug already reads `Conv(ConvAttrs { .. })`; unit variants get their name.
        write!(f, "{self:?}")
    }
}

/// Input `i`, or an error naming it when absent.
pub(crate) fn input<'a>(
    inputs: &[Option<InferInput<'a>>],
    i: usize,
    what: &str,
) -> Result<InferInput<'a>, String> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| format!("required input {i} ({what}) is missing"))
}

/// Tensor input `i`, or an error naming it when absent.
pub(crate) fn tensor<'a>(
    inputs: &[Option<&'a Tensor>],
    i: usize,
    what: &str,
) -> Result<&'a Tensor, String> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or_else(|| format!("required input {i} ({what}) is missing"))
}
