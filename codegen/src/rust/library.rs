//! The kernel library as Rust: each kernel's source (plain Rust under
//! `templates/rust/kernels/`, embedded in the binary), the math routines, and the rendering
//! of a program's [`KernelSet`]: exactly the kernels it uses, with the `Num`/`Float` traits
//! trimmed to the methods called.

use crate::kernels::{Kernel, KernelSet, MathFn};
use kiln_ir::DType;

pub(crate) fn kernel_source(k: Kernel) -> &'static str {
    match k {
        Kernel::Map => include_str!("../../templates/rust/kernels/map.rs"),
        Kernel::Convert => include_str!("../../templates/rust/kernels/convert.rs"),
        Kernel::Half => include_str!("../../templates/rust/kernels/half.rs"),
        Kernel::Broadcast => include_str!("../../templates/rust/kernels/broadcast.rs"),
        Kernel::Clip => include_str!("../../templates/rust/kernels/clip.rs"),
        Kernel::MapInPlace => include_str!("../../templates/rust/kernels/map_in_place.rs"),
        Kernel::BroadcastInPlace => {
            include_str!("../../templates/rust/kernels/broadcast_in_place.rs")
        }
        Kernel::ClipInPlace => include_str!("../../templates/rust/kernels/clip_in_place.rs"),
        Kernel::Select => include_str!("../../templates/rust/kernels/select.rs"),
        Kernel::Window => include_str!("../../templates/rust/kernels/window.rs"),
        Kernel::PoolTaps => include_str!("../../templates/rust/kernels/pool_taps.rs"),
        Kernel::Conv => include_str!("../../templates/rust/kernels/conv.rs"),
        Kernel::Gemm => include_str!("../../templates/rust/kernels/gemm.rs"),
        Kernel::MatMul => include_str!("../../templates/rust/kernels/matmul.rs"),
        Kernel::ConvTranspose => {
            include_str!("../../templates/rust/kernels/conv_transpose.rs")
        }
        Kernel::ResizeAxes => include_str!("../../templates/rust/kernels/resize_axes.rs"),
        Kernel::ResizeNearest => {
            include_str!("../../templates/rust/kernels/resize_nearest.rs")
        }
        Kernel::ResizeInterp => include_str!("../../templates/rust/kernels/resize_interp.rs"),
        Kernel::Rnn => include_str!("../../templates/rust/kernels/rnn.rs"),
        Kernel::Softmax => include_str!("../../templates/rust/kernels/softmax.rs"),
        Kernel::SumLanes => include_str!("../../templates/rust/kernels/sum_lanes.rs"),
        Kernel::LogSoftmax => include_str!("../../templates/rust/kernels/log_softmax.rs"),
        Kernel::Hardmax => include_str!("../../templates/rust/kernels/hardmax.rs"),
        Kernel::MaxPool => include_str!("../../templates/rust/kernels/max_pool.rs"),
        Kernel::AvgPool => include_str!("../../templates/rust/kernels/avg_pool.rs"),
        Kernel::GlobalAvgPool => {
            include_str!("../../templates/rust/kernels/global_avg_pool.rs")
        }
        Kernel::BatchNorm => include_str!("../../templates/rust/kernels/batch_norm.rs"),
        Kernel::BatchNormTrain => {
            include_str!("../../templates/rust/kernels/batch_norm_train.rs")
        }
        Kernel::Transpose => include_str!("../../templates/rust/kernels/transpose.rs"),
        Kernel::Concat => include_str!("../../templates/rust/kernels/concat.rs"),
        Kernel::Strided => include_str!("../../templates/rust/kernels/strided.rs"),
        Kernel::IndexIn => include_str!("../../templates/rust/kernels/index_in.rs"),
        Kernel::Gather => include_str!("../../templates/rust/kernels/gather.rs"),
        Kernel::ElementTarget => {
            include_str!("../../templates/rust/kernels/element_target.rs")
        }
        Kernel::GatherElements => {
            include_str!("../../templates/rust/kernels/gather_elements.rs")
        }
        Kernel::ScatterElements => {
            include_str!("../../templates/rust/kernels/scatter_elements.rs")
        }
        Kernel::NdStart => include_str!("../../templates/rust/kernels/nd_start.rs"),
        Kernel::GatherNd => include_str!("../../templates/rust/kernels/gather_nd.rs"),
        Kernel::ScatterNd => include_str!("../../templates/rust/kernels/scatter_nd.rs"),
        Kernel::OneHot => include_str!("../../templates/rust/kernels/one_hot.rs"),
        Kernel::Trilu => include_str!("../../templates/rust/kernels/trilu.rs"),
        Kernel::Pad => include_str!("../../templates/rust/kernels/pad.rs"),
        Kernel::Quant => include_str!("../../templates/rust/kernels/quant.rs"),
        Kernel::QInt => include_str!("../../templates/rust/kernels/qint.rs"),
        Kernel::Quads => concat!(
            include_str!("../../templates/rust/kernels/quads.rs"),
            "\n",
            include_str!("../../templates/rust/kernels/quad_tile.rs")
        ),
        Kernel::Dsp => concat!(
            include_str!("../../templates/rust/kernels/dsp.rs"),
            "\n",
            include_str!("../../templates/rust/kernels/dsp_tile.rs")
        ),
        Kernel::Einsum => include_str!("../../templates/rust/kernels/einsum.rs"),
        Kernel::ReduceMean => include_str!("../../templates/rust/kernels/reduce_mean.rs"),
        Kernel::Reduce => include_str!("../../templates/rust/kernels/reduce.rs"),
        Kernel::CumSum => include_str!("../../templates/rust/kernels/cumsum.rs"),
        Kernel::TopK => include_str!("../../templates/rust/kernels/top_k.rs"),
        Kernel::LayerNorm => include_str!("../../templates/rust/kernels/layer_norm.rs"),
        Kernel::LayerNormStats => {
            include_str!("../../templates/rust/kernels/layer_norm_stats.rs")
        }
        Kernel::GroupNorm => include_str!("../../templates/rust/kernels/group_norm.rs"),
        Kernel::LpNorm => include_str!("../../templates/rust/kernels/lp_norm.rs"),
        Kernel::Lrn => include_str!("../../templates/rust/kernels/lrn.rs"),
        Kernel::Mvn => include_str!("../../templates/rust/kernels/mvn.rs"),
        Kernel::LpPool => include_str!("../../templates/rust/kernels/lp_pool.rs"),
    }
}

/// The source of math function `f` for f64 (else f32); `f64_unit`: the target computes f64
/// in hardware, so the f32 square root takes its f64 Newton form.
pub(crate) fn math_source(f: MathFn, f64: bool, f64_unit: bool) -> &'static str {
    match (f, f64) {
        (MathFn::Sqrt, false) if f64_unit => {
            include_str!("../../templates/rust/kernels/math/sqrt_f32_newton.rs")
        }
        (MathFn::Exp, false) => include_str!("../../templates/rust/kernels/math/exp_f32.rs"),
        (MathFn::Exp, true) => include_str!("../../templates/rust/kernels/math/exp_f64.rs"),
        (MathFn::Sigmoid, false) => {
            include_str!("../../templates/rust/kernels/math/sigmoid_f32.rs")
        }
        (MathFn::Sigmoid, true) => {
            include_str!("../../templates/rust/kernels/math/sigmoid_f64.rs")
        }
        // f32 only (see `MathFn::Silu`).
        (MathFn::Silu, _) => include_str!("../../templates/rust/kernels/math/silu_f32.rs"),
        (MathFn::Tanh, false) => include_str!("../../templates/rust/kernels/math/tanh_f32.rs"),
        (MathFn::Tanh, true) => include_str!("../../templates/rust/kernels/math/tanh_f64.rs"),
        (MathFn::Sqrt, false) => include_str!("../../templates/rust/kernels/math/sqrt_f32.rs"),
        (MathFn::Sqrt, true) => include_str!("../../templates/rust/kernels/math/sqrt_f64.rs"),
        (MathFn::Erf, false) => include_str!("../../templates/rust/kernels/math/erf_f32.rs"),
        (MathFn::Erf, true) => include_str!("../../templates/rust/kernels/math/erf_f64.rs"),
        (MathFn::Pow, false) => include_str!("../../templates/rust/kernels/math/pow_f32.rs"),
        (MathFn::Pow, true) => include_str!("../../templates/rust/kernels/math/pow_f64.rs"),
        (MathFn::Log, false) => include_str!("../../templates/rust/kernels/math/log_f32.rs"),
        (MathFn::Log, true) => include_str!("../../templates/rust/kernels/math/log_f64.rs"),
        (MathFn::Sin, false) => include_str!("../../templates/rust/kernels/math/sin_f32.rs"),
        (MathFn::Sin, true) => include_str!("../../templates/rust/kernels/math/sin_f64.rs"),
        (MathFn::Cos, false) => include_str!("../../templates/rust/kernels/math/cos_f32.rs"),
        (MathFn::Cos, true) => include_str!("../../templates/rust/kernels/math/cos_f64.rs"),
        // Used in f64 only (the f32 functions go through the f64 ones).
        (MathFn::Trig, _) => include_str!("../../templates/rust/kernels/math/trig_f64.rs"),
        (MathFn::Atan, _) => include_str!("../../templates/rust/kernels/math/atan_f64.rs"),
    }
}

/// The kernels, the `Num`/`Float` traits and the math functions, as Rust source.
/// `bytes`: the packed f32 weights are `[u8; 4]` words of the weights file (the GEMM
/// kernels' `Wt`), not `f32`.
pub(crate) fn render(
    set: &KernelSet,
    intrinsics: bool,
    target: kiln_ir::Target,
    bytes: bool,
) -> Result<String, crate::api::CodegenError> {
    let mut parts: Vec<String> = set
        .kernels
        .iter()
        .map(|&k| match k {
            Kernel::Quads if intrinsics => concat!(
                include_str!("../../templates/rust/kernels/quads.rs"),
                "\n",
                include_str!("../../templates/rust/kernels/quad_tile_vnni.rs")
            ),
            Kernel::Dsp if intrinsics => concat!(
                include_str!("../../templates/rust/kernels/dsp.rs"),
                "\n",
                include_str!("../../templates/rust/kernels/dsp_tile_arm.rs")
            ),
            k => kernel_source(k),
        })
        .map(|src| src.trim_end().to_string())
        .collect();
    if !set.num_types.is_empty() {
        parts.push(super::templates::render_num(set)?.trim().to_string());
    }
    if let Some(t) = set.tiling {
        let fns: Vec<_> = set.gemm.iter().copied().collect();
        parts.push(super::gemm::render(t, &fns, bytes).trim_end().to_string());
    }
    for (t, f) in set.math_fns() {
        let source = math_source(f, t == DType::F64, target.has_f64_unit());
        parts.push(source.trim_end().to_string());
    }
    let mut s = parts.join("\n\n");
    if !s.is_empty() {
        s.push('\n');
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{Bound, Cap};

    const ALL: [Kernel; 58] = [
        Kernel::Map,
        Kernel::QInt,
        Kernel::Quads,
        Kernel::Dsp,
        Kernel::Convert,
        Kernel::Half,
        Kernel::Quant,
        Kernel::Einsum,
        Kernel::Broadcast,
        Kernel::Clip,
        Kernel::MapInPlace,
        Kernel::BroadcastInPlace,
        Kernel::ClipInPlace,
        Kernel::Select,
        Kernel::Window,
        Kernel::PoolTaps,
        Kernel::Conv,
        Kernel::Gemm,
        Kernel::MatMul,
        Kernel::ResizeAxes,
        Kernel::ResizeNearest,
        Kernel::ResizeInterp,
        Kernel::Rnn,
        Kernel::ConvTranspose,
        Kernel::Softmax,
        Kernel::LogSoftmax,
        Kernel::Hardmax,
        Kernel::MaxPool,
        Kernel::AvgPool,
        Kernel::GlobalAvgPool,
        Kernel::SumLanes,
        Kernel::BatchNorm,
        Kernel::BatchNormTrain,
        Kernel::Transpose,
        Kernel::Concat,
        Kernel::Strided,
        Kernel::IndexIn,
        Kernel::Gather,
        Kernel::ElementTarget,
        Kernel::GatherElements,
        Kernel::ScatterElements,
        Kernel::NdStart,
        Kernel::GatherNd,
        Kernel::ScatterNd,
        Kernel::OneHot,
        Kernel::Trilu,
        Kernel::Pad,
        Kernel::ReduceMean,
        Kernel::Reduce,
        Kernel::CumSum,
        Kernel::TopK,
        Kernel::LayerNorm,
        Kernel::LayerNormStats,
        Kernel::GroupNorm,
        Kernel::LpNorm,
        Kernel::Lrn,
        Kernel::Mvn,
        Kernel::LpPool,
    ];

    /// The declared capabilities of each kernel are exactly those its text uses: a missing
    /// one would not compile, a superfluous one would leave a dead trait method.
    #[test]
    fn declared_caps_match_kernel_text() {
        for k in ALL {
            let used: Vec<Cap> = Cap::ALL
                .into_iter()
                .filter(|c| kernel_source(k).contains(c.pattern()))
                .collect();
            let mut declared = k.caps().to_vec();
            declared.sort();
            assert_eq!(used, declared, "{k:?}");
            let bound = match k.bound() {
                Bound::Plain => None,
                Bound::Num => Some("T: Num"),
                Bound::Float => Some("T: Float"),
            };
            if let Some(b) = bound {
                assert!(
                    kernel_source(k).contains(b),
                    "{k:?} should be generic over {b}"
                );
            }
        }
    }
}
