//! Lowering of the conv family.

use super::prelude::*;
use crate::kernels::{GemmFn, Tiling};
use crate::program::{Arg, Packing};

/// Spatial axes of an N, C, spatial... tensor, if the window kernels handle them (1 to 3).
pub(super) fn spatial_rank(x: &TensorType) -> Result<usize, String> {
    match x.rank().checked_sub(2) {
        Some(r @ 1..=3) => Ok(r),
        _ => Err(format!(
            "input {x} has {} spatial axes; the kernels handle 1 to 3",
            x.rank().saturating_sub(2)
        )),
    }
}

/// `v` padded in front to three axes with `fill`.
pub(super) fn pad3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// The fields of a `Window` for the window kernels (three spatial axes, leading unit ones).
fn window_fields(g: &WindowGeometry) -> Vec<(&'static str, Arg)> {
    vec![
        ("input", Arg::Array(pad3(&g.input, 1).to_vec())),
        ("output", Arg::Array(pad3(&g.output, 1).to_vec())),
        ("kernel", Arg::Array(pad3(&g.kernel, 1).to_vec())),
        ("strides", Arg::Array(pad3(&g.strides, 1).to_vec())),
        ("dilations", Arg::Array(pad3(&g.dilations, 1).to_vec())),
        ("pads", Arg::Array(pad3(&g.pads_begin, 0).to_vec())),
    ]
}

/// A `Window` value (a field of a parameter struct).
pub(super) fn window_struct(g: &WindowGeometry) -> Arg {
    Arg::Struct {
        name: "Window",
        by_ref: false,
        fields: window_fields(g),
    }
}

/// A `&Window` argument.
pub(super) fn window_arg(g: &WindowGeometry) -> Arg {
    Arg::Struct {
        name: "Window",
        by_ref: true,
        fields: window_fields(g),
    }
}

pub(super) fn conv(cx: &mut NodeCx, a: &ConvAttrs) -> Result<(), String> {
    let (x, w) = (cx.in_ty(0, "X")?, cx.in_ty(1, "W")?);
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    // The paths that need scratch space run only where the memory plan made room (a plan
    // made for the reference kernels has none).
    if let Some(t) = cx.tiling
        && let Some(wc) = kiln_passes::kernels::winograd_conv(cx.graph, cx.node, t)
        && cx.scratch_room >= wc.len
    {
        return conv_winograd(cx, t, &wc, x);
    }
    if let Some(t) = cx.tiling
        && let Some(split) = kiln_passes::kernels::split_conv(cx.graph, cx.node, t)
        && cx.scratch_room >= split.len
    {
        return conv_on_split(cx, t, &split, x, w);
    }
    if let Some(t) = cx.tiling
        && let Some(p) = kiln_passes::kernels::pointwise_conv(cx.graph, cx.node, t)
        && cx.scratch_room >= p.scratch
    {
        return conv_pointwise(cx, t, &p, x);
    }
    if let Some(t) = cx.tiling
        && let Some(rc) = kiln_passes::kernels::row_conv(cx.graph, cx.node, t)
        && cx.scratch_room >= rc.len
    {
        return conv_on_rows(cx, t, &rc, x, w);
    }
    cx.use_kernel(Kernel::Conv, x.dtype)?;
    let bias = cx.arg_opt(2)?;
    let (xs, ws, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
    let epi = epilogue(cx, x.dtype)?;
    let params = Arg::Struct {
        name: "ConvParams",
        by_ref: true,
        fields: vec![
            ("batch", Arg::Usize(x.shape[0])),
            ("c_in", Arg::Usize(x.shape[1])),
            ("c_out", Arg::Usize(w.shape[0])),
            ("group", Arg::Usize(a.group)),
            ("window", window_struct(&g)),
        ],
    };
    cx.call(
        Some(Kernel::Conv),
        "conv",
        vec![xs, ws, bias, ys, params, epi],
    );
    Ok(())
}

pub(super) fn conv_transpose(cx: &mut NodeCx, a: &ConvTransposeAttrs) -> Result<(), String> {
    let (x, w, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "W")?, cx.out_ty(0)?);
    spatial_rank(x)?;
    let g = a.geometry(&x.shape[2..], &w.shape[2..])?;
    cx.use_kernel(Kernel::ConvTranspose, x.dtype)?;
    let bias = cx.arg_opt(2)?;
    let (xs, ws, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
    let mut fields: Vec<(&'static str, Arg)> = vec![
        ("batch", Arg::Usize(x.shape[0])),
        ("c_in", Arg::Usize(x.shape[1])),
        ("c_out", Arg::Usize(y.shape[1])),
        ("group", Arg::Usize(a.group)),
    ];
    // The window's fields inline: the kernel's parameters are flat.
    for (k, v) in [
        ("input", &g.input),
        ("output", &g.output),
        ("kernel", &g.kernel),
        ("strides", &g.strides),
        ("dilations", &g.dilations),
    ] {
        fields.push((k, Arg::Array(pad3(v, 1).to_vec())));
    }
    fields.push(("pads", Arg::Array(pad3(&g.pads_begin, 0).to_vec())));
    let params = Arg::Struct {
        name: "ConvTransposeParams",
        by_ref: true,
        fields,
    };
    let args = vec![xs, ws, bias, ys, params];
    cx.call(Some(Kernel::ConvTranspose), "conv_transpose", args);
    Ok(())
}

/// A 1x1 convolution at stride 1 without padding as a GEMM: the weights (`c_out x c_in`)
/// packed in row panels for the micro-kernel, times each batch item's `c_in x plane` input.
fn conv_pointwise(
    cx: &mut NodeCx,
    t: Tiling,
    p: &kiln_passes::kernels::PointwiseConv,
    x: &TensorType,
) -> Result<(), String> {
    let (c_out, c_in, plane) = (p.c_out, p.c_in, p.plane);
    let (f, width) = match p.transposed {
        true => (GemmFn::PointwiseT, t.pointwise_t_width()),
        false => (GemmFn::Pointwise, t.mr),
    };
    cx.kernels.use_gemm(t, f)?;
    let bias = cx.arg_opt(2)?;
    let packing = Packing::RowPanels {
        rows: c_out,
        cols: c_in,
        width,
    };
    let (xs, ws, ys) = (cx.arg_in(0)?, cx.arg_packed(1, packing)?, cx.arg_out(0)?);
    let scratch = (!p.transposed).then(|| cx.arg_scratch());
    let epi = epilogue(cx, x.dtype)?;
    let params = Arg::Struct {
        name: "PointwiseParams",
        by_ref: true,
        fields: vec![
            ("batch", Arg::Usize(x.shape[0])),
            ("c_in", Arg::Usize(c_in)),
            ("c_out", Arg::Usize(c_out)),
            ("plane", Arg::Usize(plane)),
        ],
    };
    let (func, args) = match scratch {
        Some(scratch) => (
            "conv_pointwise",
            vec![xs, ws, bias, ys, scratch, params, epi],
        ),
        None => ("conv_pointwise_t", vec![xs, ws, bias, ys, params, epi]),
    };
    cx.call(None, func, args);
    Ok(())
}

/// A 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3) (see
/// `kiln_passes::kernels::WinogradConv`), its weights transformed and packed at compile time.
fn conv_winograd(
    cx: &mut NodeCx,
    t: Tiling,
    wc: &kiln_passes::kernels::WinogradConv,
    x: &TensorType,
) -> Result<(), String> {
    cx.kernels.use_gemm(t, GemmFn::Winograd)?;
    let bias = cx.arg_opt(2)?;
    let packing = Packing::Winograd {
        rows: wc.c_out,
        cols: wc.c_in,
        width: t.mr,
    };
    let (xs, ws, ys) = (cx.arg_in(0)?, cx.arg_packed(1, packing)?, cx.arg_out(0)?);
    let scratch = cx.arg_scratch();
    let epi = epilogue(cx, x.dtype)?;
    let pair = |v: [usize; 2]| Arg::Array(v.to_vec());
    let params = Arg::Struct {
        name: "WinogradParams",
        by_ref: true,
        fields: vec![
            ("batch", Arg::Usize(x.shape[0])),
            ("c_in", Arg::Usize(wc.c_in)),
            ("c_out", Arg::Usize(wc.c_out)),
            ("input", pair(wc.input)),
            ("output", pair(wc.output)),
            ("pads", pair(wc.pads)),
            ("tiles", pair(wc.tiles)),
            ("block_rows", Arg::Usize(wc.block_rows)),
        ],
    };
    cx.call(
        None,
        "conv_winograd",
        vec![xs, ws, bias, ys, scratch, params, epi],
    );
    Ok(())
}

/// A convolution of one group, or a depthwise one, on its input padded and split by stride
/// phase in scratch (see `kiln_passes::kernels::SplitConv`).
/// A convolution of one group on a microcontroller, one output row at a time on the input
/// rows it reads, copied into scratch (see `kiln_passes::kernels::RowConv`).
fn conv_on_rows(
    cx: &mut NodeCx,
    t: Tiling,
    rc: &kiln_passes::kernels::RowConv,
    x: &TensorType,
    w: &TensorType,
) -> Result<(), String> {
    let c_out = w.shape[0];
    let bias = cx.arg_opt(2)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    cx.kernels.use_gemm(t, GemmFn::ConvRows)?;
    let packing = Packing::RowPanels {
        rows: c_out,
        cols: rc.c_in * rc.taps.len(),
        width: t.mr,
    };
    let ws = cx.arg_packed(1, packing)?;
    let scratch = cx.arg_scratch();
    let epi = epilogue(cx, x.dtype)?;
    let pair = |v: [usize; 2]| Arg::Array(v.to_vec());
    let params = Arg::Struct {
        name: "RowConvParams",
        by_ref: true,
        fields: vec![
            ("batch", Arg::Usize(x.shape[0])),
            ("c_in", Arg::Usize(rc.c_in)),
            ("c_out", Arg::Usize(c_out)),
            ("input", pair(rc.input)),
            ("output", pair(rc.output)),
            ("strides", pair(rc.strides)),
            ("pads", pair(rc.pads)),
            ("kh", Arg::Usize(rc.kh)),
            ("wq", Arg::Usize(rc.wq)),
            ("taps", Arg::Array(rc.taps.clone())),
        ],
    };
    cx.call(
        None,
        "conv_rows",
        vec![xs, ws, bias, ys, scratch, params, epi],
    );
    Ok(())
}

fn conv_on_split(
    cx: &mut NodeCx,
    t: Tiling,
    split: &kiln_passes::kernels::SplitConv,
    x: &TensorType,
    w: &TensorType,
) -> Result<(), String> {
    let c_out = w.shape[0];
    let taps = split.taps.len();
    let bias = cx.arg_opt(2)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let (func, ws) = if split.lanes_last {
        cx.kernels.use_gemm(t, GemmFn::DepthwiseLanes)?;
        let packing = Packing::RowPanels {
            rows: c_out,
            cols: taps,
            width: t.lanes,
        };
        ("conv_depthwise_lanes", cx.arg_packed(1, packing)?)
    } else if split.depthwise {
        cx.kernels.use_gemm(t, GemmFn::Depthwise)?;
        ("conv_depthwise", cx.arg_in(1)?)
    } else if kiln_passes::kernels::split_transposed_pays(split, c_out, t) {
        cx.kernels.use_gemm(t, GemmFn::ConvSplitT)?;
        let packing = Packing::RowPanels {
            rows: c_out,
            cols: split.c_in * taps,
            width: t.split_t_width(),
        };
        ("conv_split_t", cx.arg_packed(1, packing)?)
    } else {
        let streams = kiln_passes::kernels::split_streams(split, c_out);
        let nv = GemmFn::conv_split_vectors(t, split.output[0] * split.wq, streams);
        cx.kernels.use_gemm(t, GemmFn::ConvScratch { nv })?;
        let packing = Packing::RowPanels {
            rows: c_out,
            cols: split.c_in * taps,
            width: t.mr,
        };
        (GemmFn::conv_split_name(t, nv), cx.arg_packed(1, packing)?)
    };
    let scratch = cx.arg_scratch();
    let epi = epilogue(cx, x.dtype)?;
    let pair = |v: [usize; 2]| Arg::Array(v.to_vec());
    let params = Arg::Struct {
        name: "SplitConvParams",
        by_ref: true,
        fields: vec![
            ("batch", Arg::Usize(x.shape[0])),
            ("c_in", Arg::Usize(split.c_in)),
            ("c_out", Arg::Usize(c_out)),
            ("input", pair(split.input)),
            ("output", pair(split.output)),
            ("strides", pair(split.strides)),
            ("pads", pair(split.pads)),
            ("hq", Arg::Usize(split.hq)),
            ("wq", Arg::Usize(split.wq)),
            ("band", Arg::Usize(split.band)),
            ("taps", Arg::Array(split.taps.clone())),
            ("panels_outer", Arg::Bool(split.panels_outer)),
        ],
    };
    cx.call(None, func, vec![xs, ws, bias, ys, scratch, params, epi]);
    Ok(())
}
