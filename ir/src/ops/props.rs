//! What passes and emitters ask about an op: whether it is a view of its input, which
//! operands it may overwrite in place, which epilogues it can host. Each is an exhaustive
//! match, so a new op forces a decision here rather than a silent "no".

use super::{EpilogueHost, Op, shape::transpose_perm};

impl Op {
    /// Whether the op only relabels its input 0 (same elements, same order), given that
    /// input's shape, and so may share its storage: Reshape, Flatten, Identity, Squeeze,
    /// Unsqueeze, Dropout, and Transposes whose permutation keeps the axes longer than 1
    /// in order. The node's epilogue and output count are the caller's to check.
    pub fn is_view(&self, input_shape: &[usize]) -> bool {
        match self {
            Op::Reshape(_)
            | Op::Flatten(_)
            | Op::Identity
            | Op::Squeeze(_)
            | Op::Unsqueeze(_)
            | Op::Dropout => true,
            Op::Transpose(a) => transpose_perm(a, input_shape.len()).is_ok_and(|perm| {
                let moved: Vec<usize> = perm.into_iter().filter(|&p| input_shape[p] != 1).collect();
                moved.windows(2).all(|w| w[0] < w[1])
            }),
            Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::Gemm(_)
            | Op::MatMul
            | Op::Resize(_)
            | Op::Rnn(_)
            | Op::Binary(_)
            | Op::Unary(_)
            | Op::Compare(_)
            | Op::Logical(_)
            | Op::Not
            | Op::Predicate(_)
            | Op::Where
            | Op::Variadic(_)
            | Op::PRelu
            | Op::Mod { .. }
            | Op::BitShift { .. }
            | Op::Clip(_)
            | Op::Softmax(_)
            | Op::LogSoftmax(_)
            | Op::Hardmax(_)
            | Op::MaxPool(_)
            | Op::AveragePool(_)
            | Op::GlobalAveragePool
            | Op::BatchNormalization(_)
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
            | Op::Activation(_)
            | Op::Pow
            | Op::Reduce(..)
            | Op::ArgReduce(_)
            | Op::CumSum(_)
            | Op::TopK(_)
            | Op::GlobalMaxPool
            | Op::LpPool(_)
            | Op::LayerNormalization(_)
            | Op::GroupNormalization(_)
            | Op::LpNormalization(_)
            | Op::Lrn(_)
            | Op::MeanVarianceNormalization(_)
            | Op::Cast(_)
            | Op::QuantizeLinear(_)
            | Op::DequantizeLinear(_)
            | Op::DynamicQuantizeLinear
            | Op::MatMulInteger
            | Op::QLinearMatMul
            | Op::ConvInteger(_)
            | Op::QLinearConv(_)
            | Op::Einsum(_)
            | Op::Int(_) => false,
        }
    }

    /// The op inputs whose storage the output may overwrite (same element type and size,
    /// the input dying here), in order of preference: the ops that compute element by
    /// element, each output element from the inputs' elements at the same index only.
    pub fn overwritable_inputs(&self) -> &'static [usize] {
        match self {
            Op::Unary(_) | Op::Clip(_) | Op::Activation(_) => &[0],
            Op::Binary(_) => &[0, 1],
            // Elementwise too, but not (yet) planned in place: the kernels read and write
            // through separate slices.
            Op::Compare(_)
            | Op::Logical(_)
            | Op::Not
            | Op::Predicate(_)
            | Op::Where
            | Op::Variadic(_)
            | Op::PRelu
            | Op::Mod { .. }
            | Op::BitShift { .. }
            | Op::Pow
            | Op::Cast(_)
            | Op::QuantizeLinear(_)
            | Op::DequantizeLinear(_) => &[],
            Op::Conv(_)
            | Op::ConvTranspose(_)
            | Op::Gemm(_)
            | Op::MatMul
            | Op::Resize(_)
            | Op::Rnn(_)
            | Op::Softmax(_)
            | Op::LogSoftmax(_)
            | Op::Hardmax(_)
            | Op::MaxPool(_)
            | Op::AveragePool(_)
            | Op::GlobalAveragePool
            | Op::BatchNormalization(_)
            | Op::Reshape(_)
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
            | Op::Reduce(..)
            | Op::ArgReduce(_)
            | Op::CumSum(_)
            | Op::TopK(_)
            | Op::GlobalMaxPool
            | Op::LpPool(_)
            | Op::LayerNormalization(_)
            | Op::GroupNormalization(_)
            | Op::LpNormalization(_)
            | Op::Lrn(_)
            | Op::MeanVarianceNormalization(_)
            | Op::DynamicQuantizeLinear
            | Op::MatMulInteger
            | Op::QLinearMatMul
            | Op::ConvInteger(_)
            | Op::QLinearConv(_)
            | Op::Einsum(_)
            | Op::Int(_) => &[],
        }
    }

    /// Whether the op can carry an epilogue, and which steps. The fusion pass and the
    /// emitters both ask this, so they cannot disagree.
    pub fn epilogue_host(&self) -> Option<EpilogueHost> {
        match self {
            Op::Conv(_)
            | Op::Gemm(_)
            | Op::MatMul
            | Op::MaxPool(_)
            | Op::AveragePool(_)
            | Op::GlobalAveragePool => Some(EpilogueHost::Any),
            Op::Unary(_) | Op::Activation(_) | Op::Binary(_) => Some(EpilogueHost::IndexFree),
            Op::ConvTranspose(_)
            | Op::Resize(_)
            | Op::Rnn(_)
            | Op::Compare(_)
            | Op::Logical(_)
            | Op::Not
            | Op::Predicate(_)
            | Op::Where
            | Op::Variadic(_)
            | Op::PRelu
            | Op::Mod { .. }
            | Op::BitShift { .. }
            | Op::Clip(_)
            | Op::Softmax(_)
            | Op::LogSoftmax(_)
            | Op::Hardmax(_)
            | Op::BatchNormalization(_)
            | Op::Reshape(_)
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
            | Op::Pow
            | Op::Reduce(..)
            | Op::ArgReduce(_)
            | Op::CumSum(_)
            | Op::TopK(_)
            | Op::GlobalMaxPool
            | Op::LpPool(_)
            | Op::LayerNormalization(_)
            | Op::GroupNormalization(_)
            | Op::LpNormalization(_)
            | Op::Lrn(_)
            | Op::MeanVarianceNormalization(_)
            | Op::Cast(_)
            | Op::QuantizeLinear(_)
            | Op::DequantizeLinear(_)
            | Op::DynamicQuantizeLinear
            | Op::MatMulInteger
            | Op::QLinearMatMul
            | Op::ConvInteger(_)
            | Op::QLinearConv(_)
            | Op::Einsum(_)
            | Op::Int(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{BinaryOp, TransposeAttrs, UnaryOp};

    #[test]
    fn a_transpose_is_a_view_when_only_unit_axes_move() {
        let t = Op::Transpose(TransposeAttrs {
            perm: Some(vec![1, 0, 2]),
        });
        assert!(t.is_view(&[1, 4, 5]));
        assert!(!t.is_view(&[2, 4, 5]));
        assert!(Op::Identity.is_view(&[3]));
        assert!(!Op::Unary(UnaryOp::Relu).is_view(&[3]));
    }

    #[test]
    fn elementwise_ops_overwrite_their_operands_and_host_index_free_epilogues() {
        assert_eq!(Op::Binary(BinaryOp::Add).overwritable_inputs(), &[0, 1]);
        assert_eq!(Op::Unary(UnaryOp::Relu).overwritable_inputs(), &[0]);
        assert!(Op::MatMul.overwritable_inputs().is_empty());
        assert_eq!(Op::MatMul.epilogue_host(), Some(EpilogueHost::Any));
        assert_eq!(
            Op::Unary(UnaryOp::Relu).epilogue_host(),
            Some(EpilogueHost::IndexFree)
        );
        assert_eq!(Op::Identity.epilogue_host(), None);
    }
}
