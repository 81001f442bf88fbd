//! Lowering: one function per op family (one file per family, mirroring `ir/src/ops/`)
//! checks what the kernels support, records the kernels it uses, and describes one kernel
//! call on the node's operands.

mod cast;
mod conv;
mod cx;
mod einsum;
mod elementwise;
mod epilogue;
mod gather;
mod gemm;
mod logical;
pub(crate) mod module;
mod norm;
mod pad;
mod pool;
mod qint;
mod quant;
mod reduce;
mod resize;
mod rnn;
mod softmax;
#[cfg(test)]
mod tests;
mod view;

pub(crate) use cx::NodeCx;
pub(crate) use elementwise::emit_in_place;
use prelude::*;
pub(crate) use view::emit_concat;

/// What every family file imports.
mod prelude {
    pub(super) use super::cx::NodeCx;
    pub(super) use super::{
        cast::*, conv::*, einsum::*, elementwise::*, epilogue::*, gather::*, gemm::*, logical::*,
        norm::*, pad::*, pool::*, qint::*, quant::*, reduce::*, resize::*, rnn::*, softmax::*,
        view::*,
    };
    pub(super) use crate::kernels::{Kernel, MathFn};
    pub(super) use crate::literal;
    pub(super) use kiln_ir::ops::pad::{PadAttrs, PadAxis, PadMode};
    pub(super) use kiln_ir::ops::quant::{QuantAttrs, QuantGeometry};
    pub(super) use kiln_ir::ops::rnn::RnnActivation;
    pub(super) use kiln_ir::ops::shape::transpose_perm;
    pub(super) use kiln_ir::ops::{
        Activation, ArgReduceAttrs, AveragePoolAttrs, BatchNormAttrs, BinaryOp, CastAttrs,
        ClipAttrs, CompareOp, ConcatAttrs, ConvAttrs, ConvTransposeAttrs, CumSumAttrs, EinsumAttrs,
        GemmAttrs, GroupNormAttrs, LayerNormAttrs, LogicalOp, LpNormAttrs, LpPoolAttrs, LrnAttrs,
        MaxPoolAttrs, MvnAttrs, ReduceAttrs, ReduceKind, ResizeAttrs, RnnAttrs, SoftmaxAttrs,
        TopKAttrs, TransposeAttrs, UnaryOp, VariadicOp, WindowGeometry,
    };
    pub(super) use kiln_ir::types::{broadcast_shapes, normalize_axis};
    pub(super) use kiln_ir::{DType, Op, TensorType};
}

/// Writes the kernel call of `cx.node`. Errors are sentences for the node's diagnostic.
pub(crate) fn emit(cx: &mut NodeCx) -> Result<(), String> {
    let node = cx.node;
    if node
        .outputs
        .iter()
        .all(|&v| cx.graph.value(v).ty.numel() == 0)
    {
        // Nothing to compute; the module emitter notes it.
        return Ok(());
    }
    if kiln_ir::half::computes_in_half(cx.graph, node) {
        return Err(format!(
            "{} computes on f16/bf16 values, which the generated code stores as bits and \
             cannot do arithmetic on: lower the graph with passes::lower::widen_half first \
             (kiln::compile does)",
            node.op.name()
        ));
    }
    if !node.epilogue.is_empty() && node.op.epilogue_host().is_none() {
        return Err(format!(
            "{} cannot carry a fused epilogue; the fusion pass must not put one there",
            node.op.name()
        ));
    }
    match &node.op {
        Op::Conv(a) => conv(cx, a),
        Op::ConvTranspose(a) => conv_transpose(cx, a),
        Op::Gemm(a) => gemm(cx, a),
        Op::MatMul => matmul(cx),
        Op::Resize(a) => resize(cx, a),
        Op::Rnn(a) => rnn(cx, a),
        Op::Binary(op) => binary(cx, *op),
        Op::Unary(op) => unary(cx, *op),
        Op::Compare(op) => compare(cx, *op),
        Op::Logical(op) => logical(cx, *op),
        Op::Not => not(cx),
        Op::Predicate(op) => predicate(cx, *op),
        Op::Where => select(cx),
        Op::Variadic(op) => variadic(cx, *op),
        Op::PRelu => prelu(cx),
        Op::Mod { fmod } => modulo(cx, *fmod),
        Op::BitShift { left } => bitshift(cx, *left),
        Op::Clip(a) => clip(cx, a),
        Op::Softmax(a) => softmax(cx, a),
        Op::LogSoftmax(a) => log_softmax(cx, a),
        Op::Hardmax(a) => hardmax(cx, a),
        Op::MaxPool(a) => max_pool(cx, a),
        Op::AveragePool(a) => avg_pool(cx, a),
        Op::GlobalAveragePool => global_avg_pool(cx),
        Op::BatchNormalization(a) => batch_norm(cx, a),
        Op::Reshape(_) | Op::Flatten(_) | Op::Identity | Op::Squeeze(_) | Op::Unsqueeze(_) => {
            copy(cx)
        }
        Op::Dropout => dropout(cx),
        Op::Activation(a) => activation(cx, *a),
        Op::Transpose(a) => transpose(cx, a),
        Op::Concat(a) => concat(cx, a),
        Op::Shape(_) | Op::Size | Op::EyeLike(_) | Op::ConstantOfShape(_) | Op::Range => {
            generated(cx)
        }
        Op::Slice(_)
        | Op::Split(_)
        | Op::Expand(_)
        | Op::Tile(_)
        | Op::DepthToSpace(_)
        | Op::SpaceToDepth(_) => views(cx),
        Op::Trilu(a) => trilu(cx, a),
        Op::Gather(a) => gather(cx, a),
        Op::GatherElements(_) => gather_elements(cx, false),
        Op::ScatterElements(_) => gather_elements(cx, true),
        Op::GatherND(a) => gather_nd(cx, a.batch_dims, None),
        Op::ScatterND(a) => gather_nd(cx, 0, Some(a.reduction)),
        Op::OneHot(_) => one_hot(cx),
        Op::Pad(a) => pad(cx, a),
        Op::Cast(a) => cast(cx, a),
        Op::Pow => pow(cx),
        Op::Reduce(ReduceKind::Mean, a) => reduce_mean(cx, a),
        Op::Reduce(k, a) => reduce(cx, *k, a),
        Op::ArgReduce(a) => arg_reduce(cx, a),
        Op::CumSum(a) => cumsum(cx, a),
        Op::TopK(a) => top_k(cx, a),
        Op::LpPool(a) => lp_pool(cx, a),
        Op::GlobalMaxPool => {
            let rank = cx.in_ty(0, "X")?.rank();
            reduce(
                cx,
                ReduceKind::Max,
                &kiln_ir::ops::pool::global_max_attrs(rank),
            )
        }
        Op::LayerNormalization(a) => layer_norm(cx, a),
        Op::QuantizeLinear(a) => quantize(cx, a, true),
        Op::DequantizeLinear(a) => quantize(cx, a, false),
        Op::DynamicQuantizeLinear => dynamic_quantize(cx),
        Op::MatMulInteger => int_matmul(cx, false),
        Op::QLinearMatMul => int_matmul(cx, true),
        Op::ConvInteger(a) => int_conv(cx, a, false),
        Op::QLinearConv(a) => int_conv(cx, a, true),
        Op::Einsum(a) => einsum(cx, a),
        Op::Int(op) => int_op(cx, op),
        Op::GroupNormalization(a) => group_norm(cx, a),
        Op::LpNormalization(a) => lp_norm(cx, a),
        Op::Lrn(a) => lrn(cx, a),
        Op::MeanVarianceNormalization(a) => mvn(cx, a),
    }
}
