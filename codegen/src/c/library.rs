//! The C kernel library: each kernel's source (`templates/c/kernels/`, embedded in the
//! binary), which element types it is written for, and the instantiation of the type
//! placeholders (`$T`, `$A`, `$B`, `$I`, `$S` for the name suffix) per combination a
//! program calls. C has no generics, so a kernel generic over its element type in the Rust
//! library is one C function per element type used, named `<kernel>_<types>`.

use super::lit::{self, ctype, unsupported};
use kiln_ir::DType;

/// One C kernel: its source, which operands (by position among the call's operand
/// arguments) give its type placeholders, and the element types it takes.
pub(super) struct CKernel {
    pub(super) src: &'static str,
    pub(super) params: &'static [(&'static str, usize)],
    /// `true`: every numeric type; `false`: f32 only (the float kernels).
    pub(super) generic: bool,
    /// Shared definitions it needs first (`window`, `pool_taps`).
    pub(super) deps: &'static [&'static str],
}

macro_rules! src {
    ($f:literal) => {
        include_str!(concat!("../../templates/c/kernels/", $f))
    };
}

pub(super) const PRELUDE: &str = src!("prelude.c");

/// Placeholders of the kernels from one element type to another.
const XY: &[(&str, usize)] = &[("$X", 0), ("$Y", 1)];

/// The integer helpers of the quantized element functions, in emission order, each with
/// those it calls.
pub(super) const HELPERS: &[(&str, &str, &[&str])] = &[
    (
        "shift_round",
        include_str!("../../templates/c/math/shift_round.c"),
        &[],
    ),
    (
        "round_to_f32",
        include_str!("../../templates/c/math/round_to_f32.c"),
        &["shift_round"],
    ),
    (
        "requant",
        include_str!("../../templates/c/math/requant.c"),
        &["shift_round", "round_to_f32"],
    ),
    (
        "round_even_f32",
        include_str!("../../templates/c/math/round_even_f32.c"),
        &[],
    ),
];

/// The kernel a call's `func` names, if the C library has it.
pub(super) fn kernel(func: &str) -> Option<CKernel> {
    let t0: &[(&str, usize)] = &[("$T", 0)];
    let k = |src, params, generic, deps, _: &[&str]| CKernel {
        src,
        params,
        generic,
        deps,
    };
    Some(match func {
        "map" => k(src!("map.c"), t0, true, &[], &[]),
        "map_in_place" => k(src!("map_in_place.c"), t0, true, &[], &[]),
        "clip" => k(src!("clip.c"), t0, true, &[], &[]),
        "broadcast" => k(
            src!("broadcast.c"),
            &[("$A", 0), ("$B", 1), ("$T", 2)],
            true,
            &[],
            &[],
        ),
        "broadcast_in_place" => k(src!("broadcast_in_place.c"), t0, true, &[], &[]),
        "conv" => k(src!("conv.c"), t0, false, &["window"], &[]),
        "gemm" => k(src!("gemm.c"), t0, false, &[], &[]),
        "matmul" => k(src!("matmul.c"), t0, false, &[], &[]),
        "softmax" => k(src!("softmax.c"), t0, false, &[], &["exp_f32"]),
        "layer_norm" => k(src!("layer_norm.c"), t0, false, &[], &["sqrt_f32"]),
        "batch_norm" => k(src!("batch_norm.c"), t0, false, &[], &["sqrt_f32"]),
        "global_avg_pool" => k(src!("global_avg_pool.c"), t0, false, &[], &[]),
        "avg_pool" => k(src!("avg_pool.c"), t0, false, &["window", "pool_taps"], &[]),
        "max_pool" => k(src!("max_pool.c"), t0, true, &["window", "pool_taps"], &[]),
        "reduce_mean" => k(src!("reduce_mean.c"), t0, false, &[], &[]),
        "transpose" => k(src!("transpose.c"), t0, true, &[], &[]),
        "strided" => k(src!("strided.c"), t0, true, &[], &[]),
        "concat_part" => k(src!("concat.c"), t0, true, &[], &[]),
        "gather_rows" => k(src!("gather.c"), &[("$T", 0), ("$I", 1)], true, &[], &[]),
        "pad" => k(src!("pad.c"), t0, true, &[], &[]),
        "resize_nearest" => k(src!("resize_nearest.c"), t0, true, &["resize_axes"], &[]),
        "resize_interp" => k(src!("resize_interp.c"), t0, false, &["resize_axes"], &[]),
        "affine_map" => k(src!("affine_map.c"), XY, true, &[], &[]),
        "convert" => k(src!("convert.c"), XY, true, &[], &[]),
        "int_gemm" => k(src!("int_gemm.c"), &[("$A", 0), ("$Y", 2)], true, &[], &[]),
        "int_conv2d" => k(
            src!("int_conv2d.c"),
            &[("$X", 0), ("$Y", 2)],
            true,
            &[],
            &[],
        ),
        "int_conv_dsp" => k(
            src!("int_conv_dsp.c"),
            &[("$X", 0), ("$Y", 2)],
            true,
            &["dsp", "dsp_dot4"],
            &[],
        ),
        "int_conv_dsp_rows" => k(
            src!("int_conv_dsp_rows.c"),
            &[("$X", 0), ("$Y", 2)],
            true,
            &["dsp", "dsp_dot4", "dsp_2x2"],
            &[],
        ),
        // The same on weights stored as 16-bit pairs (`Packing::DspQuads`'s `pairs`).
        "int_conv_dsp_rows_w" => k(
            src!("int_conv_dsp_rows.c"),
            &[("$X", 0), ("$Y", 2)],
            true,
            &["dsp", "dsp_dot4_w", "dsp_2x2_w"],
            &[],
        ),
        "int_conv_dw_dsp" => k(
            src!("int_conv_dw_dsp.c"),
            &[("$X", 0), ("$Y", 2)],
            true,
            &["dsp", "dsp_dw"],
            &[],
        ),
        "int_gemm_dsp" => k(
            src!("int_gemm_dsp.c"),
            &[("$A", 0), ("$Y", 2)],
            true,
            &["dsp", "dsp_dot4"],
            &[],
        ),
        "int_conv_panels" => k(
            src!("int_conv_panels.c"),
            &[("$X", 0), ("$Y", 2)],
            true,
            &[],
            &[],
        ),
        "int_avg_pool" => k(src!("int_avg_pool.c"), XY, true, &[], &[]),
        "int_softmax" => k(src!("int_softmax.c"), XY, true, &[], &[]),
        "int_matmul" => k(
            src!("int_matmul.c"),
            &[("$A", 0), ("$B", 1), ("$Y", 2)],
            true,
            &[],
            &[],
        ),
        "reduce_group" => k(src!("reduce_group.c"), t0, true, &[], &[]),
        "reduce" => k(src!("reduce.c"), XY, true, &[], &[]),
        // The condition is operand 0; the values give the type.
        "select" => k(src!("select.c"), &[("$T", 1)], true, &[], &[]),
        "log_softmax" => k(src!("log_softmax.c"), t0, false, &[], &[]),
        "hardmax" => k(src!("hardmax.c"), t0, true, &[], &[]),
        "trilu" => k(src!("trilu.c"), t0, true, &[], &[]),
        "cumsum" => k(src!("cumsum.c"), t0, true, &[], &[]),
        "layer_norm_stats" => k(src!("layer_norm_stats.c"), t0, false, &[], &[]),
        "gather_elements" => k(
            src!("gather_elements.c"),
            &[("$T", 0), ("$I", 1)],
            true,
            &[],
            &[],
        ),
        "conv_transpose" => k(src!("conv_transpose.c"), t0, false, &[], &[]),
        // Its operands are fields of its input and output structs: f32 only, no placeholder.
        "rnn" => k(src!("rnn.c"), &[], false, &[], &[]),
        _ => return None,
    })
}

/// The shared definitions, in emission order.
pub(super) const SHARED: [&str; 9] = [
    "window",
    "pool_taps",
    "resize_axes",
    "dsp",
    "dsp_dot4",
    "dsp_dot4_w",
    "dsp_2x2",
    "dsp_2x2_w",
    "dsp_dw",
];

/// A shared definition by name.
pub(super) fn shared(name: &str) -> String {
    match name {
        "window" => src!("window.c").into(),
        "resize_axes" => src!("resize_axes.c").into(),
        "dsp" => src!("dsp.c").into(),
        "dsp_dot4" => dsp_weights(src!("dsp_dot4.c"), false),
        "dsp_dot4_w" => dsp_weights(src!("dsp_dot4.c"), true),
        "dsp_2x2" => dsp_weights(src!("dsp_2x2.c"), false),
        "dsp_2x2_w" => dsp_weights(src!("dsp_2x2.c"), true),
        "dsp_dw" => src!("dsp_dw.c").into(),
        _ => src!("pool_taps.c").into(),
    }
}

/// An SMLAD kernel's text for its weights: i8 quads (`$WT` `int8_t`, `$WQ` = 4 elements a
/// quad of weights, names as they are) or 16-bit pairs (`uint32_t`, 2, names with `$V` =
/// `_w`), where the lowering stored them so (`Packing::DspQuads`'s `pairs`).
fn dsp_weights(text: &str, pairs: bool) -> String {
    let (v, wt, wq) = if pairs {
        ("_w", "uint32_t", "2")
    } else {
        ("", "int8_t", "4")
    };
    text.replace("$V", v).replace("$WT", wt).replace("$WQ", wq)
}

/// The math routines, in an order where each follows those it calls.
pub(super) const MATH: &[(&str, &str)] = &[
    ("exp_f32", include_str!("../../templates/c/math/exp_f32.c")),
    (
        "sigmoid_f32",
        include_str!("../../templates/c/math/sigmoid_f32.c"),
    ),
    (
        "silu_f32",
        include_str!("../../templates/c/math/silu_f32.c"),
    ),
    (
        "tanh_f32",
        include_str!("../../templates/c/math/tanh_f32.c"),
    ),
    (
        "sqrt_f32",
        include_str!("../../templates/c/math/sqrt_f32.c"),
    ),
    ("log_f64", include_str!("../../templates/c/math/log_f64.c")),
    ("log_f32", include_str!("../../templates/c/math/log_f32.c")),
    (
        "kiln_softplus_tail",
        include_str!("../../templates/c/math/softplus_tail.c"),
    ),
];

/// The bit casts, each with the names whose use needs it (the macros of the prelude
/// expand to `kiln_f32_from_bits`).
pub(super) const BITS: &[(&str, &[&str])] = &[
    (
        include_str!("../../templates/c/math/f32_from_bits.c"),
        &["kiln_f32_from_bits", "KILN_INF_F32", "KILN_NAN_F32"],
    ),
    (
        include_str!("../../templates/c/math/f32_to_bits.c"),
        &["kiln_f32_to_bits"],
    ),
    (
        include_str!("../../templates/c/math/f64_from_bits.c"),
        &["kiln_f64_from_bits"],
    ),
    (
        include_str!("../../templates/c/math/f64_to_bits.c"),
        &["kiln_f64_to_bits"],
    ),
];

/// The instance of `k` for the operand types `types`: its name and its text.
pub(super) fn instance(
    func: &str,
    k: &CKernel,
    types: &[DType],
) -> Result<(String, String), String> {
    let mut bound = Vec::new();
    for &(ph, at) in k.params {
        let Some(&dtype) = types.get(at) else {
            return Err(format!("{func} without the operand that gives its {ph}"));
        };
        if !k.generic && dtype != DType::F32 {
            return Err(unsupported(&format!("{func} on {dtype}")));
        }
        bound.push((ph, dtype));
    }
    let suffix: Vec<&str> = bound.iter().map(|(_, d)| d.name()).collect();
    let suffix = if suffix.is_empty() {
        "f32".to_string()
    } else {
        suffix.join("_")
    };
    let src = if k.src.contains("$WT") {
        dsp_weights(k.src, func.ends_with("_w"))
    } else {
        k.src.to_string()
    };
    let mut text = src.replace("$S", &suffix);
    for (ph, dtype) in &bound {
        // `$XNAME`: the element type's name, for the names of per-type definitions.
        text = text.replace(&format!("{ph}NAME"), dtype.name());
        text = text.replace(ph, ctype(*dtype)?);
        if *ph == "$T" && text.contains("$LOWEST") {
            text = text.replace("$LOWEST", &lit::lowest(*dtype)?);
        }
    }
    Ok((format!("{func}_{suffix}"), text))
}
