//! Lowering of kiln's integer ops (`ir::ops::qint`): the reference integer kernels, each
//! with its requantization as an element function.

use super::prelude::*;
use crate::program::{Arg, ElemFn, OutTable, Packing};
use kiln_ir::TensorData;
use kiln_ir::ops::qint::{IntBinaryKind, IntOp, QOut, Requant};

pub(super) fn int_op(cx: &mut NodeCx, op: &IntOp) -> Result<(), String> {
    match op {
        IntOp::Conv(a) => int_conv_op(cx, a),
        IntOp::Gemm(a) => int_gemm_op(cx, a),
        IntOp::Binary(a) => {
            let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
            cx.use_kernel(Kernel::QInt, y.dtype)?;
            let f = ElemFn::IntBinary {
                add: a.kind == IntBinaryKind::Add,
                a_zero: a.a_zero,
                b_zero: a.b_zero,
                ma: a.ma,
                mb: a.mb,
                shift: a.shift,
                zero: a.out.zero,
                lo: a.out.lo,
                hi: a.out.hi,
                a: ta.dtype,
                b: tb.dtype,
                to: y.dtype,
            };
            broadcast_call(cx, &ta.shape, &tb.shape, y, f)
        }
        IntOp::AvgPool(a) => {
            let (x, y) = (cx.in_ty(0, "x")?, cx.out_ty(0)?);
            let r = x.rank();
            let (h, w) = (if r == 4 { x.shape[2] } else { 1 }, x.shape[r - 1]);
            let (oh, ow) = (if r == 4 { y.shape[2] } else { 1 }, y.shape[r - 1]);
            cx.use_kernel(Kernel::QInt, x.dtype)?;
            literal::elem(y.dtype)?;
            let f = one_requant(cx, a.requant, &a.out);
            let planes = x.shape[0] * x.shape[1];
            let [kh, kw] = a.kernel;
            let [sh, sw] = a.strides;
            let args = vec![
                cx.arg_in(0)?,
                cx.arg_out(0)?,
                Arg::Int(i128::from(a.x_zero)),
                Arg::Array(vec![planes, h, w, kh, kw, sh, sw, oh, ow]),
                Arg::Fn(f),
            ];
            cx.call(Some(Kernel::QInt), "int_avg_pool", args);
            Ok(())
        }
        IntOp::MatMul(a) => {
            let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
            let (batch, m, k, n, batched) =
                kiln_ir::ops::quant::int_matmul_dims(&ta.shape, &tb.shape)?;
            cx.use_kernel(Kernel::Quant, ta.dtype)?;
            cx.use_kernel(Kernel::QInt, ta.dtype)?;
            literal::elem(y.dtype)?;
            let f = one_requant(cx, a.requant, &a.out);
            let args = vec![
                cx.arg_in(0)?,
                cx.arg_in(1)?,
                zero_slice(ta.dtype, a.a_zero)?,
                zero_slice(tb.dtype, a.b_zero)?,
                cx.arg_out(0)?,
                Arg::Array(vec![batch, m, k, n, usize::from(batched)]),
                Arg::Fn(f),
            ];
            cx.call(Some(Kernel::Quant), "int_matmul", args);
            Ok(())
        }
        IntOp::Softmax(a) => {
            let x = cx.in_ty(0, "x")?;
            literal::elem(x.dtype)?;
            literal::elem(a.out.dtype)?;
            cx.use_kernel(Kernel::QInt, x.dtype)?;
            let (zero, lo, hi) = (a.out.zero, a.out.lo, a.out.hi);
            let args = vec![
                cx.arg_in(0)?,
                cx.arg_out(0)?,
                Arg::Usize(a.row),
                Arg::Items(a.table.iter().map(|&t| Arg::Int(i128::from(t))).collect()),
                Arg::Int(i128::from(a.recip)),
                Arg::Fn(ElemFn::IntOut {
                    zero,
                    lo,
                    hi,
                    dtype: a.out.dtype,
                    table: None,
                }),
            ];
            cx.call(Some(Kernel::QInt), "int_softmax", args);
            Ok(())
        }
        IntOp::Lut(a) => {
            let x = cx.in_ty(0, "x")?;
            literal::elem(x.dtype)?;
            literal::elem(a.out)?;
            cx.use_kernel(Kernel::Convert, x.dtype)?;
            let args = vec![
                cx.arg_in(0)?,
                cx.arg_out(0)?,
                Arg::Fn(ElemFn::Table {
                    table: a.table.clone(),
                    from: x.dtype,
                    to: a.out,
                }),
            ];
            cx.call(Some(Kernel::Convert), "convert", args);
            Ok(())
        }
    }
}

/// The requantization closure of an IntConv or IntGemm (sums of `k` products of 8-bit
/// operands), then its fused `table`.
fn fixed_requant(
    cx: &mut NodeCx,
    requant: &[Requant],
    out: &QOut,
    table: Option<&[i32]>,
    k: usize,
) -> Result<ElemFn, String> {
    let bias = match cx.node.inputs.get(2).copied().flatten() {
        Some(_) => Some(cx.read(2)?),
        None => None,
    };
    // Each product of two 8-bit values less their zero points is at most 255 * 255.
    let largest_bias = match bias {
        Some(_) => cx.const_input(2).map(|t| {
            t.data
                .to_f64_vec()
                .iter()
                .fold(0.0f64, |m, &b| m.max(b.abs()))
        }),
        None => Some(0.0),
    };
    let sum_fits =
        largest_bias.is_some_and(|b| (k as f64) * 255.0 * 255.0 + b < f64::from(i32::MAX));
    literal::elem(out.dtype)?;
    Ok(ElemFn::FixedRequant {
        fpu: cx.target.has_fpu(),
        dsp: false,
        channel: true,
        bias,
        sum_fits,
        mult: requant.iter().map(|r| r.mult).collect(),
        shift: requant.iter().map(|r| r.shift).collect(),
        zero: out.zero,
        lo: out.lo,
        hi: out.hi,
        dtype: out.dtype,
        table: out_table(cx, table),
    })
}

/// A fused table as the closures take it: as words where the target gathers them.
fn out_table(cx: &NodeCx, table: Option<&[i32]>) -> Option<OutTable> {
    table.map(|t| OutTable {
        entries: t.to_vec(),
        words: cx.target.has_gather(),
    })
}

/// `f` as the closure of an SMLAD kernel (see `ElemFn::FixedRequant`'s `dsp`).
fn for_dsp(mut f: ElemFn) -> ElemFn {
    if let ElemFn::FixedRequant { dsp, .. } = &mut f {
        *dsp = true;
    }
    f
}

/// The requantization closure of one factor for every output, on the sum alone.
fn one_requant(cx: &NodeCx, r: Requant, out: &QOut) -> ElemFn {
    ElemFn::FixedRequant {
        fpu: cx.target.has_fpu(),
        dsp: false,
        channel: false,
        bias: None,
        sum_fits: true,
        mult: vec![r.mult],
        shift: vec![r.shift],
        zero: out.zero,
        lo: out.lo,
        hi: out.hi,
        dtype: out.dtype,
        table: None,
    }
}

/// One 8-bit zero point as a one-element constant slice of `dtype`.
fn zero_slice(dtype: DType, z: i32) -> Result<Arg, String> {
    Ok(Arg::Data(match dtype {
        DType::U8 => TensorData::U8(vec![z as u8]),
        DType::I8 => TensorData::I8(vec![z as i8]),
        other => return Err(format!("kiln's integer kernels take u8 or i8, not {other}")),
    }))
}

/// Most words of the 16-bit column an SMLAD kernel builds on the stack (2 KiB: a reduction
/// of 1,024, e.g. 3x3 over 113 channels); longer ones take the kernels without it.
const MAX_COLUMN_WORDS: usize = 512;

fn int_conv_op(cx: &mut NodeCx, a: &kiln_ir::ops::qint::IntConvAttrs) -> Result<(), String> {
    let (x, w) = (cx.in_ty(0, "x")?, cx.in_ty(1, "w")?);
    let [h, wi, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl] = conv2d_geometry(&a.conv, x, w)?;
    let (n, c, m) = (x.shape[0], x.shape[1], w.shape[0]);
    literal::elem(x.dtype)?;
    cx.use_kernel(Kernel::QInt, x.dtype)?;
    let k = w.numel() / w.shape[0].max(1);
    let f = fixed_requant(cx, &a.requant, &a.out, a.table.as_deref(), k)?;
    // One group: sixteen output channels at a time, weights packed for it; grouped and
    // depthwise convolutions by rows of output columns.
    // Measured on ResNet-8: 1.1 ms in all by panels, 6.1 ms by rows (short rows of 8 and
    // 16 columns, and strided ones, keep the rows kernel's vectors mostly empty).
    let panels = a.conv.group == 1;
    // Sixteen channels fill an AVX-512 register; a microcontroller (no vector unit) keeps
    // eight sums in its general registers (sixteen would spill).
    let width = if cx.tiling.is_some_and(|t| t.lanes >= 4) {
        16
    } else {
        8
    };
    let dsp = Packing::DspQuads {
        rows: m,
        chans: c,
        kh,
        kw,
        transposed: false,
        pairs: false,
    };
    // The memory plan gives the SMLAD convolution its input rows as scratch at -O2 (see
    // `kiln_passes::kernels::dsp_conv`); without it, one column per output position on the
    // stack.
    let rows = kiln_passes::kernels::dsp_conv(cx.graph, cx.node, cx.target)
        .filter(|d| cx.scratch_room >= d.words);
    let column = panels && cx.target.has_dsp() && dsp.dsp_cols() / 2 <= MAX_COLUMN_WORDS;
    let dsp_call = match rows {
        Some(_) if cx.dsp_pairs => {
            let pairs = Packing::DspQuads {
                rows: m,
                chans: c,
                kh,
                kw,
                transposed: false,
                pairs: true,
            };
            Some(("int_conv_dsp_rows_w", pairs, cx.arg_scratch()))
        }
        Some(_) => Some(("int_conv_dsp_rows", dsp, cx.arg_scratch())),
        None if column => Some((
            "int_conv_dsp",
            dsp,
            Arg::Workspace(DType::U32, dsp.dsp_cols() / 2),
        )),
        // Depthwise with kernels three wide on a DSP core: SMLAD on a ring of one
        // channel's input rows in scratch (see `kiln_passes::kernels::dsp_depthwise`).
        None if kiln_passes::kernels::dsp_depthwise(cx.graph, cx.node, cx.target)
            .is_some_and(|d| cx.scratch_room >= d.words) =>
        {
            let packing = Packing::DspDepthwise { chans: c, kh };
            Some(("int_conv_dw_dsp", packing, cx.arg_scratch()))
        }
        None => None,
    };
    if let Some((func, packing, room)) = dsp_call {
        cx.use_kernel(Kernel::Dsp, x.dtype)?;
        let f = for_dsp(f);
        let args = vec![
            cx.arg_in(0)?,
            cx.arg_packed(1, packing)?,
            Arg::Int(i128::from(a.x_zero)),
            cx.arg_out(0)?,
            room,
            Arg::Array(vec![n, c, h, wi, m, a.conv.group, kh, kw, oh, ow]),
            Arg::Array(vec![sh, sw, dh, dw, pt, pl]),
            Arg::Fn(f),
        ];
        cx.call(Some(Kernel::Dsp), func, args);
        return Ok(());
    }
    // `--intrinsics` on x86 with AVX-512: u8-by-i8 quads on input rows in scratch, where
    // the memory plan gave it (see `kiln_passes::kernels::quad_conv`).
    if kiln_passes::kernels::quad_conv(cx.graph, cx.node, cx.scratch_target())
        .is_some_and(|d| cx.scratch_room >= d.words)
    {
        let quads = Packing::Quads {
            rows: m,
            chans: c,
            kh,
            kw,
            transposed: false,
        };
        let sums = weight_sums(cx, m, false)?;
        cx.use_kernel(Kernel::Quads, x.dtype)?;
        let args = vec![
            cx.arg_in(0)?,
            cx.arg_packed(1, quads)?,
            sums,
            zero_bias(x.dtype, a.x_zero),
            cx.arg_out(0)?,
            cx.arg_scratch(),
            Arg::Array(vec![n, c, h, wi, m, a.conv.group, kh, kw, oh, ow]),
            Arg::Array(vec![sh, sw, dh, dw, pt, pl]),
        ];
        let (table, pass) = table_after(a.table.as_deref(), &a.out);
        let args = [args, quad_requant(cx, &a.requant, &a.out, table, m)?].concat();
        let func = if kiln_passes::kernels::quad_rows(ow) {
            "int_conv_quad_rows"
        } else {
            "int_conv_quads"
        };
        cx.call(Some(Kernel::Quads), func, args);
        return lut_pass(cx, pass);
    }
    // Depthwise on a host with vector registers, on a small map: channels in the lanes,
    // where the memory plan gave it scratch (see `kiln_passes::kernels::int_dw_lanes`).
    let plan = kiln_passes::kernels::int_dw_lanes(cx.graph, cx.node, cx.scratch_target())
        .filter(|d| cx.tiling.is_some() && cx.scratch_room >= d.words);
    if let Some(plan) = plan {
        let packing = Packing::RowPanels {
            rows: m,
            cols: kh * kw,
            width: plan.lanes,
        };
        let args = vec![
            cx.arg_in(0)?,
            cx.arg_packed(1, packing)?,
            Arg::Int(i128::from(a.x_zero)),
            cx.arg_out(0)?,
            cx.arg_scratch(),
            Arg::Array(vec![
                n,
                c,
                h,
                wi,
                m,
                a.conv.group,
                kh,
                kw,
                oh,
                ow,
                plan.lanes,
                plan.band,
            ]),
            Arg::Array(vec![sh, sw, dh, dw, pt, pl]),
        ];
        let (table, pass) = table_after(a.table.as_deref(), &a.out);
        let args = [args, quad_requant(cx, &a.requant, &a.out, table, m)?].concat();
        cx.call(Some(Kernel::QInt), "int_conv_dw_lanes", args);
        return lut_pass(cx, pass);
    }
    // Depthwise on a host with vector registers: runs of output columns summed tap by tap,
    // requantized together (its row buffer takes strides up to 2 and kernels up to 33
    // columns wide).
    let dw_fits = sw <= 2 && (kw - 1) * dw <= 32;
    if a.conv.group == c
        && w.shape[1] == 1
        && dw_fits
        && cx.tiling.is_some()
        && cx.target.simd_bytes() >= 16
    {
        // At strides 1 and 2 with its input channel's padded plane in scratch, where the memory
        // plan gave it (see `kiln_passes::kernels::int_dw_plane`).
        let plane = kiln_passes::kernels::int_dw_plane(cx.graph, cx.node, cx.scratch_target())
            .is_some_and(|d| cx.scratch_room >= d.words);
        let mut args = vec![
            cx.arg_in(0)?,
            cx.arg_in(1)?,
            Arg::Int(i128::from(a.x_zero)),
            cx.arg_out(0)?,
        ];
        if plane {
            args.push(cx.arg_scratch());
        }
        args.push(Arg::Array(vec![
            n,
            c,
            h,
            wi,
            m,
            a.conv.group,
            kh,
            kw,
            oh,
            ow,
        ]));
        args.push(Arg::Array(vec![sh, sw, dh, dw, pt, pl]));
        let (table, pass) = table_after(a.table.as_deref(), &a.out);
        let args = [args, quad_requant(cx, &a.requant, &a.out, table, m)?].concat();
        let func = if plane {
            "int_conv_dw_plane"
        } else {
            "int_conv_dw"
        };
        cx.call(Some(Kernel::QInt), func, args);
        return lut_pass(cx, pass);
    }
    let (func, w) = if panels {
        let packing = Packing::RowPanels {
            rows: m,
            cols: c * kh * kw,
            width,
        };
        ("int_conv_panels", cx.arg_packed(1, packing)?)
    } else {
        ("int_conv2d", cx.arg_in(1)?)
    };
    let args = vec![
        cx.arg_in(0)?,
        w,
        Arg::Int(i128::from(a.x_zero)),
        cx.arg_out(0)?,
        Arg::Array(if panels {
            vec![n, c, h, wi, m, a.conv.group, kh, kw, oh, ow, width]
        } else {
            vec![n, c, h, wi, m, a.conv.group, kh, kw, oh, ow]
        }),
        Arg::Array(vec![sh, sw, dh, dw, pt, pl]),
        Arg::Fn(f),
    ];
    cx.call(Some(Kernel::QInt), func, args);
    Ok(())
}

fn int_gemm_op(cx: &mut NodeCx, a: &kiln_ir::ops::qint::IntGemmAttrs) -> Result<(), String> {
    let (x, b) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?);
    let (k, n) = (b.shape[0], b.shape[1]);
    let rows = x.numel() / k.max(1);
    literal::elem(x.dtype)?;
    cx.use_kernel(Kernel::QInt, x.dtype)?;
    let f = fixed_requant(cx, &a.requant, &a.out, a.table.as_deref(), k)?;
    let dsp = Packing::DspQuads {
        rows: n,
        chans: k,
        kh: 1,
        kw: 1,
        transposed: true,
        pairs: false,
    };
    if cx.target.has_dsp() && cx.const_input(1).is_some() && dsp.dsp_cols() / 2 <= MAX_COLUMN_WORDS
    {
        cx.use_kernel(Kernel::Dsp, x.dtype)?;
        let f = for_dsp(f);
        let args = vec![
            cx.arg_in(0)?,
            cx.arg_packed(1, dsp)?,
            Arg::Int(i128::from(a.a_zero)),
            cx.arg_out(0)?,
            Arg::Workspace(DType::U32, dsp.dsp_cols() / 2),
            Arg::Array(vec![rows, k, n]),
            Arg::Fn(f),
        ];
        cx.call(Some(Kernel::Dsp), "int_gemm_dsp", args);
        return Ok(());
    }
    let quads = Packing::Quads {
        rows: n,
        chans: k,
        kh: 1,
        kw: 1,
        transposed: true,
    };
    // `--intrinsics` on x86 with AVX-512: eight rows of A at a time as words of four bytes
    // in scratch, by u8-by-i8 quads (see `kiln_passes::kernels::quad_gemm`).
    if kiln_passes::kernels::quad_gemm(cx.graph, cx.node, cx.scratch_target())
        .is_some_and(|d| cx.scratch_room >= d.words)
    {
        let sums = weight_sums(cx, n, true)?;
        cx.use_kernel(Kernel::Quads, x.dtype)?;
        let args = vec![
            cx.arg_in(0)?,
            cx.arg_packed(1, quads)?,
            sums,
            zero_bias(x.dtype, a.a_zero),
            cx.arg_out(0)?,
            cx.arg_scratch(),
            Arg::Array(vec![rows, k, n]),
        ];
        let (table, pass) = table_after(a.table.as_deref(), &a.out);
        let args = [args, quad_requant(cx, &a.requant, &a.out, table, n)?].concat();
        cx.call(Some(Kernel::Quads), "int_gemm_quads", args);
        return lut_pass(cx, pass);
    }
    let args = vec![
        cx.arg_in(0)?,
        cx.arg_in(1)?,
        Arg::Int(i128::from(a.a_zero)),
        cx.arg_out(0)?,
        Arg::Array(vec![rows, k, n]),
        Arg::Fn(f),
    ];
    cx.call(Some(Kernel::QInt), "int_gemm", args);
    Ok(())
}

/// The requantization arguments of the quad kernels: the bias (input 2, or none), each of
/// the `outs` outputs' factor `mult / 2^shift` as an f32 (exact: `mult` has 24 bits),
/// `[zero, lo, hi]`, and the cast to the output type (through the fused `table`).
fn quad_requant(
    cx: &mut NodeCx,
    requant: &[Requant],
    out: &QOut,
    table: Option<&[i32]>,
    outs: usize,
) -> Result<Vec<Arg>, String> {
    let bias = if cx.has_input(2) {
        cx.arg_in(2)?
    } else {
        Arg::Data(TensorData::I32(Vec::new()))
    };
    let factor = |r: &Requant| r.real() as f32;
    let factors: Vec<f32> = match requant {
        [one] => vec![factor(one); outs],
        per => per.iter().map(factor).collect(),
    };
    Ok(vec![
        bias,
        Arg::Data(TensorData::F32(factors)),
        Arg::Items(
            [out.zero, out.lo, out.hi]
                .iter()
                .map(|&v| Arg::Int(i128::from(v)))
                .collect(),
        ),
        Arg::Fn(ElemFn::IntOut {
            zero: 0,
            lo: out.lo,
            hi: out.hi,
            dtype: out.dtype,
            table: out_table(cx, table),
        }),
    ])
}

/// Where the quad and host depthwise kernels take a fused table over u8 outputs: in one
/// pass over their finished output (`quad_lut`: sixty-four lookups a byte permute with
/// `--intrinsics` on AVX-512 VBMI), not in their closure, where a lookup per element inside
/// the vector loop cost more (ppocrv4_rec's depthwise steps: twice as long). Returns the
/// table the closure keeps (i8 outputs keep theirs) and the pass's bytes.
fn table_after<'a>(table: Option<&'a [i32]>, out: &QOut) -> (Option<&'a [i32]>, Option<Vec<u8>>) {
    match table {
        Some(t) if out.dtype == DType::U8 => (None, Some(t.iter().map(|&v| v as u8).collect())),
        other => (other, None),
    }
}

/// The `quad_lut` call of [`table_after`]'s bytes over output 0, if any.
fn lut_pass(cx: &mut NodeCx, bytes: Option<Vec<u8>>) -> Result<(), String> {
    if let Some(b) = bytes {
        cx.use_kernel(Kernel::Quads, DType::U8)?;
        let args = vec![cx.arg_out(0)?, Arg::Data(TensorData::U8(b))];
        cx.call(Some(Kernel::Quads), "quad_lut", args);
    }
    Ok(())
}

/// `[zero, bias]` for the quad kernels: the activation's zero point, and what makes its
/// 8-bit values u8 (128 for i8, 0 for u8).
fn zero_bias(dtype: DType, zero: i32) -> Arg {
    let bias = if dtype == DType::I8 { 128 } else { 0 };
    Arg::Items(vec![Arg::Int(i128::from(zero)), Arg::Int(bias)])
}

/// `Σ w` over each output's weights (the constant input 1: a convolution's `[out, ...]`,
/// or a Gemm's `[k, out]` when `transposed`), which the quad kernels scale by the zero
/// point to take it out of their u8 sums.
fn weight_sums(cx: &NodeCx, outs: usize, transposed: bool) -> Result<Arg, String> {
    let Some(TensorData::I8(w)) = cx.const_input(1).map(|t| &t.data) else {
        return Err("the quad kernels take constant i8 weights".into());
    };
    let per = w.len() / outs.max(1);
    let sums: Vec<i32> = (0..outs)
        .map(|o| {
            if transposed {
                (0..per).map(|t| i32::from(w[t * outs + o])).sum()
            } else {
                w[o * per..(o + 1) * per]
                    .iter()
                    .map(|&v| i32::from(v))
                    .sum()
            }
        })
        .collect();
    Ok(Arg::Data(TensorData::I32(sums)))
}
