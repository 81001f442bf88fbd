//! The closed set of operations. One file per op family holds the attribute types, shape
//! inference and reference evaluation of its ops; this file is the checklist that ties them
//! together. Adding a variant makes the compiler list every match to update.

pub mod cast;
mod common;
pub mod conv;
pub mod cumsum;
pub mod einsum;
pub mod elementwise;
pub mod epilogue;
pub mod gather;
pub mod gemm;
pub mod generate;
pub mod logical;
pub mod norm;
pub mod pad;
pub mod pool;
mod props;
pub mod qint;
pub mod quant;
pub mod reduce;
pub mod resize;
pub mod rnn;
pub mod shape;
pub mod softmax;
pub mod topk;
pub mod view;
pub mod window;

use crate::tensor::Tensor;
use crate::types::TensorType;
use std::fmt;

pub use cast::CastAttrs;
pub use conv::ConvAttrs;
pub use conv::ConvTransposeAttrs;
pub use cumsum::CumSumAttrs;
pub use einsum::EinsumAttrs;
pub use elementwise::{Activation, BinaryOp, ClipAttrs, UnaryOp, VariadicOp};
pub use epilogue::{Epilogue, EpilogueHost};
pub use gather::{GatherAttrs, GatherNdAttrs, OneHotAttrs, Reduction, ScatterAttrs};
pub use gemm::GemmAttrs;
pub use generate::{ConstantOfShapeAttrs, EyeLikeAttrs, ShapeAttrs, TriluAttrs};
pub use logical::{CompareOp, LogicalOp, PredicateOp};
pub use norm::{BatchNormAttrs, GroupNormAttrs, LayerNormAttrs, LpNormAttrs, LrnAttrs, MvnAttrs};
pub use pad::{PadAttrs, PadMode};
pub use pool::{AveragePoolAttrs, LpPoolAttrs, MaxPoolAttrs};
pub use qint::IntOp;
pub use quant::QuantAttrs;
pub use reduce::{ArgReduceAttrs, ReduceAttrs, ReduceKind};
pub use resize::ResizeAttrs;
pub use rnn::RnnAttrs;
pub use shape::{
    ConcatAttrs, FlattenAttrs, ReshapeAttrs, SqueezeAttrs, TransposeAttrs, UnsqueezeAttrs,
};
pub use softmax::SoftmaxAttrs;
pub use topk::TopKAttrs;
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
    /// Equal, Less, LessOrEqual, Greater, GreaterOrEqual: two inputs broadcast, bool output.
    Compare(CompareOp),
    /// And, Or, Xor on bool tensors, broadcast.
    Logical(LogicalOp),
    /// Not on a bool tensor.
    Not,
    /// IsNaN, IsInf: a bool per element of a float tensor.
    Predicate(PredicateOp),
    /// Where: inputs condition (bool), X, Y, all three broadcast.
    Where,
    /// Max, Min, Sum, Mean of one or more inputs, broadcast.
    Variadic(VariadicOp),
    /// PRelu: inputs X, slope (broadcast to X).
    PRelu,
    /// Mod: inputs A, B, broadcast; `fmod` as the attribute (floats always use fmod).
    Mod {
        fmod: bool,
    },
    /// BitShift on unsigned integers: inputs X, Y (the shift amounts), broadcast.
    BitShift {
        left: bool,
    },
    /// Clip: input, min?, max? (opset ≥ 11) or attribute bounds (opset < 11).
    Clip(ClipAttrs),
    Softmax(SoftmaxAttrs),
    /// LogSoftmax: the log of Softmax, with the same axis rules.
    LogSoftmax(SoftmaxAttrs),
    /// Hardmax: 1 at the first maximum of each group (Softmax's axis rules), 0 elsewhere.
    Hardmax(SoftmaxAttrs),
    /// MaxPool: outputs Y and optionally Indices.
    MaxPool(MaxPoolAttrs),
    AveragePool(AveragePoolAttrs),
    GlobalAveragePool,
    /// BatchNormalization: inputs X, scale, B, mean, var; in training mode also outputs the
    /// running mean and var.
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
    /// ReduceSum, ReduceMean, ReduceMax...: inputs data, axes? (constant, the input form).
    Reduce(ReduceKind, ReduceAttrs),
    /// ArgMax / ArgMin: input data; output int64 indices.
    ArgReduce(ArgReduceAttrs),
    /// CumSum: input x (the axis operand is folded into the attributes on import).
    CumSum(CumSumAttrs),
    /// TopK: input X (k is folded into the attributes on import); outputs Values, Indices.
    TopK(TopKAttrs),
    /// GlobalMaxPool: ReduceMax over the spatial axes.
    GlobalMaxPool,
    LpPool(LpPoolAttrs),
    /// LayerNormalization: inputs X, Scale, B?; output Y only.
    LayerNormalization(LayerNormAttrs),
    /// GroupNormalization / InstanceNormalization: inputs X, scale, B.
    GroupNormalization(GroupNormAttrs),
    LpNormalization(LpNormAttrs),
    Lrn(LrnAttrs),
    MeanVarianceNormalization(MvnAttrs),
    /// Cast: input 0 converted element by element to another element type.
    Cast(CastAttrs),
    /// QuantizeLinear: inputs x, y_scale, y_zero_point? (scales may be run-time values).
    QuantizeLinear(QuantAttrs),
    /// DequantizeLinear: inputs x, x_scale, x_zero_point?.
    DequantizeLinear(QuantAttrs),
    /// DynamicQuantizeLinear: input x; outputs y (u8), y_scale, y_zero_point.
    DynamicQuantizeLinear,
    /// MatMulInteger: inputs A, B, a_zero_point?, b_zero_point?; i32 output.
    MatMulInteger,
    /// QLinearMatMul: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point.
    QLinearMatMul,
    /// ConvInteger: x, w, x_zero_point?, w_zero_point?; i32 output.
    ConvInteger(ConvAttrs),
    /// QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
    /// y_zero_point, B?.
    QLinearConv(ConvAttrs),
    /// Einsum over one or more operands.
    Einsum(EinsumAttrs),
    /// kiln's integer kernels (not ONNX ops): what the quantize pass makes of QDQ patterns.
    Int(IntOp),
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
            Op::Compare(c) => c.name(),
            Op::Logical(l) => l.name(),
            Op::Not => "Not",
            Op::Predicate(p) => p.name(),
            Op::Where => "Where",
            Op::Variadic(v) => v.name(),
            Op::PRelu => "PRelu",
            Op::Mod { .. } => "Mod",
            Op::BitShift { .. } => "BitShift",
            Op::Clip(_) => "Clip",
            Op::Softmax(_) => "Softmax",
            Op::LogSoftmax(_) => "LogSoftmax",
            Op::Hardmax(_) => "Hardmax",
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
            Op::Reduce(k, _) => k.name(),
            Op::ArgReduce(a) => a.name(),
            Op::CumSum(_) => "CumSum",
            Op::TopK(_) => "TopK",
            Op::GlobalMaxPool => "GlobalMaxPool",
            Op::LpPool(_) => "LpPool",
            Op::LayerNormalization(_) => "LayerNormalization",
            Op::GroupNormalization(a) => a.name(),
            Op::LpNormalization(_) => "LpNormalization",
            Op::Lrn(_) => "LRN",
            Op::MeanVarianceNormalization(_) => "MeanVarianceNormalization",
            Op::Cast(_) => "Cast",
            Op::QuantizeLinear(_) => "QuantizeLinear",
            Op::DequantizeLinear(_) => "DequantizeLinear",
            Op::DynamicQuantizeLinear => "DynamicQuantizeLinear",
            Op::MatMulInteger => "MatMulInteger",
            Op::QLinearMatMul => "QLinearMatMul",
            Op::ConvInteger(_) => "ConvInteger",
            Op::QLinearConv(_) => "QLinearConv",
            Op::Einsum(_) => "Einsum",
            Op::Int(i) => i.name(),
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
            Op::Compare(c) => logical::infer_compare(*c, inputs),
            Op::Logical(l) => logical::infer_logical(*l, inputs),
            Op::Not => logical::infer_not(inputs),
            Op::Predicate(p) => logical::infer_predicate(*p, inputs),
            Op::Where => logical::infer_where(inputs),
            Op::Variadic(v) => elementwise::infer_variadic(*v, inputs),
            Op::PRelu => elementwise::infer_prelu(inputs),
            Op::Mod { .. } => elementwise::infer_mod(inputs),
            Op::BitShift { .. } => elementwise::infer_bitshift(inputs),
            Op::Clip(a) => elementwise::infer_clip(a, inputs),
            Op::Softmax(a) => softmax::infer(a, inputs),
            Op::LogSoftmax(a) => softmax::infer(a, inputs),
            Op::Hardmax(a) => softmax::infer(a, inputs),
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
            Op::Reduce(k, a) => reduce::infer(*k, a, inputs),
            Op::ArgReduce(a) => reduce::infer_arg(a, inputs),
            Op::CumSum(a) => cumsum::infer(a, inputs),
            Op::TopK(a) => topk::infer(a, inputs),
            Op::GlobalMaxPool => pool::infer_global_max(inputs),
            Op::LpPool(a) => pool::infer_lp_pool(a, inputs),
            Op::LayerNormalization(a) => norm::infer_layer_norm(a, inputs),
            Op::GroupNormalization(a) => norm::infer_group_norm(a, inputs),
            Op::LpNormalization(a) => norm::infer_lp_norm(a, inputs),
            Op::Lrn(a) => norm::infer_lrn(a, inputs),
            Op::MeanVarianceNormalization(a) => norm::infer_mvn(a, inputs),
            Op::Cast(a) => cast::infer(a, inputs),
            Op::QuantizeLinear(a) => quant::infer_quantize(a, inputs),
            Op::DequantizeLinear(a) => quant::infer_dequantize(a, inputs),
            Op::DynamicQuantizeLinear => quant::infer_dynamic(inputs),
            Op::MatMulInteger => quant::infer_matmul_integer(inputs),
            Op::QLinearMatMul => quant::infer_qlinear_matmul(inputs),
            Op::ConvInteger(a) => quant::infer_conv_integer(a, inputs),
            Op::QLinearConv(a) => quant::infer_qlinear_conv(a, inputs),
            Op::Einsum(a) => einsum::infer(a, inputs),
            Op::Int(i) => i.infer(inputs),
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
            Op::Compare(c) => logical::eval_compare(*c, inputs),
            Op::Logical(l) => logical::eval_logical(*l, inputs),
            Op::Not => logical::eval_not(inputs),
            Op::Predicate(p) => logical::eval_predicate(*p, inputs),
            Op::Where => logical::eval_where(inputs),
            Op::Variadic(v) => elementwise::eval_variadic(*v, inputs),
            Op::PRelu => elementwise::eval_prelu(inputs),
            Op::Mod { fmod } => elementwise::eval_mod(*fmod, inputs),
            Op::BitShift { left } => elementwise::eval_bitshift(*left, inputs),
            Op::Clip(a) => elementwise::eval_clip(a, inputs),
            Op::Softmax(a) => softmax::eval(a, inputs),
            Op::LogSoftmax(a) => softmax::eval_log(a, inputs),
            Op::Hardmax(a) => softmax::eval_hardmax(a, inputs),
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
            Op::Reduce(k, a) => reduce::eval(*k, a, inputs),
            Op::ArgReduce(a) => reduce::eval_arg(a, inputs),
            Op::CumSum(a) => cumsum::eval(a, inputs),
            Op::TopK(a) => topk::eval(a, inputs),
            Op::GlobalMaxPool => pool::eval_global_max(inputs),
            Op::LpPool(a) => pool::eval_lp_pool(a, inputs),
            Op::LayerNormalization(a) => norm::eval_layer_norm(a, inputs),
            Op::GroupNormalization(a) => norm::eval_group_norm(a, inputs),
            Op::LpNormalization(a) => norm::eval_lp_norm(a, inputs),
            Op::Lrn(a) => norm::eval_lrn(a, inputs),
            Op::MeanVarianceNormalization(a) => norm::eval_mvn(a, inputs),
            Op::Cast(a) => cast::eval(a, inputs),
            Op::QuantizeLinear(a) => quant::eval_quantize(a, inputs),
            Op::DequantizeLinear(a) => quant::eval_dequantize(a, inputs),
            Op::DynamicQuantizeLinear => quant::eval_dynamic(inputs),
            Op::MatMulInteger => quant::eval_matmul_integer(inputs),
            Op::QLinearMatMul => quant::eval_qlinear_matmul(inputs),
            Op::ConvInteger(a) => quant::eval_conv_integer(a, inputs),
            Op::QLinearConv(a) => quant::eval_qlinear_conv(a, inputs),
            Op::Einsum(a) => einsum::eval(a, inputs),
            Op::Int(i) => i.eval(inputs),
        }
    }

    /// Multiply-accumulate count for one run, for `kiln inspect`. Zero for data movement.
    pub fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        let out = outputs.first().map_or(0, |t| t.numel() as u64);
        match self {
            Op::Conv(a) | Op::ConvInteger(a) | Op::QLinearConv(a) => {
                // Each output element reads one filter: (C_in / group) * prod(kernel).
                let slot = if matches!(self, Op::QLinearConv(_)) {
                    3
                } else {
                    1
                };
                let w = inputs.get(slot).copied().flatten();
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
            Op::MatMul | Op::MatMulInteger | Op::QLinearMatMul => {
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
            | Op::Compare(_)
            | Op::Logical(_)
            | Op::Not
            | Op::Predicate(_)
            | Op::Where
            | Op::PRelu
            | Op::Mod { .. }
            | Op::BitShift { .. }
            | Op::Clip(_)
            | Op::BatchNormalization(_)
            | Op::Activation(_)
            | Op::Pow
            | Op::LayerNormalization(_)
            | Op::Softmax(_)
            | Op::QuantizeLinear(_)
            | Op::DequantizeLinear(_)
            | Op::DynamicQuantizeLinear
            | Op::GroupNormalization(_)
            | Op::LpNormalization(_)
            | Op::MeanVarianceNormalization(_)
            | Op::LogSoftmax(_)
            | Op::Hardmax(_)
            | Op::CumSum(_) => out,
            // Brute force: one multiply-add per combination of the labels' indices.
            Op::Einsum(a) => {
                let shapes: Vec<&[usize]> = inputs
                    .iter()
                    .flatten()
                    .map(|t| t.shape.as_slice())
                    .collect();
                einsum::plan(a, &shapes).map_or(0, |p| p.dims.iter().product::<usize>() as u64)
            }
            Op::Int(i) => i.macs(inputs, outputs),
            Op::Variadic(_) => out * inputs.len().saturating_sub(1).max(1) as u64,
            Op::Reduce(..) | Op::ArgReduce(_) | Op::TopK(_) | Op::GlobalMaxPool => inputs
                .first()
                .copied()
                .flatten()
                .map_or(0, |t| t.numel() as u64),
            Op::Lrn(a) => out * a.size as u64,
            Op::LpPool(a) => out * a.window.kernel_shape.iter().product::<usize>() as u64,
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

/// The type of input `i`, which `op` needs to be floating-point.
pub(crate) fn float_input<'a>(
    inputs: &[Option<InferInput<'a>>],
    i: usize,
    what: &str,
    op: &str,
) -> Result<&'a TensorType, String> {
    let x = input(inputs, i, what)?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "{op} is defined for floating-point tensors, got {x}"
        ));
    }
    Ok(x)
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
