//! Lowering of the quant family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

/// ConvInteger, or with `requantize` QLinearConv (x at 0, w at 3, bias at 8): the exact
/// i32 sums, then for QLinearConv `round((acc + B) * x_scale * w_scale / y_scale) +
/// y_zero_point`, saturated, the factor in f32 (per output channel) and the product in f64.
pub(super) fn int_conv(cx: &mut NodeCx, a: &ConvAttrs, requantize: bool) -> Result<(), String> {
    let slots = if requantize {
        [0, 2, 3, 5]
    } else {
        [0, 2, 1, 3]
    };
    let (x, w) = (cx.in_ty(slots[0], "x")?, cx.in_ty(slots[2], "w")?);
    let y = cx.out_ty(0)?;
    let [h, wi, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl] = conv2d_geometry(a, x, w)?;
    let (n, c, m) = (x.shape[0], x.shape[1], w.shape[0]);
    cx.use_kernel(Kernel::Quant, x.dtype)?;
    let (zx, zw) = (
        zero_point(cx, slots[1], x.dtype)?,
        zero_point(cx, slots[3], w.dtype)?,
    );
    let f = if requantize {
        let [sx, sw_, sy, zy] = [cx.read(1)?, cx.read(4)?, cx.read(6)?, cx.read(7)?];
        let bias = match cx.node.inputs.get(8).copied().flatten() {
            Some(_) => Some(cx.read(8)?),
            None => None,
        };
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        literal::elem(y.dtype)?;
        ElemFn::Requantize {
            x_scale: sx,
            w_scale: sw_,
            y_scale: sy,
            y_zero: zy,
            bias,
            channel: true,
            half_scales: false,
            lo,
            hi,
            dtype: y.dtype,
        }
    } else {
        ElemFn::IntSum { channel: true }
    };
    let (xs, ws) = (cx.arg_in(slots[0])?, cx.arg_in(slots[2])?);
    let ys = cx.arg_out(0)?;
    let dims = vec![n, c, h, wi, m, a.group, kh, kw, oh, ow];
    let args = vec![
        xs,
        ws,
        zx,
        zw,
        ys,
        Arg::Array(dims),
        Arg::Array(vec![sh, sw, dh, dw, pt, pl]),
        Arg::Fn(f),
    ];
    cx.call(Some(Kernel::Quant), "int_conv", args);
    Ok(())
}

/// The integer kernels' 2-D geometry of a 1-D or 2-D convolution of `x` by `w` (1-D: a
/// height of 1): `[h, w, kh, kw, oh, ow, stride h, w, dilation h, w, pad top, left]`.
pub(super) fn conv2d_geometry(
    a: &ConvAttrs,
    x: &TensorType,
    w: &TensorType,
) -> Result<[usize; 12], String> {
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    let two = |v: &[usize], fill: usize| -> Result<[usize; 2], String> {
        match v {
            [a] => Ok([fill, *a]),
            [a, b] => Ok([*a, *b]),
            _ => Err(format!(
                "{} spatial axes; the integer kernels take 1 or 2",
                v.len()
            )),
        }
    };
    let [h, wi] = two(&x.shape[2..], 1)?;
    let [kh, kw] = two(&g.kernel, 1)?;
    let [oh, ow] = two(&g.output, 1)?;
    let [sh, sw] = two(&g.strides, 1)?;
    let [dh, dw] = two(&g.dilations, 1)?;
    let [pt, pl] = two(&g.pads_begin, 0)?;
    Ok([h, wi, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl])
}

/// An integer kernel's zero-point operand: the input at `slot`, or a single zero of `dtype`
/// when the node omits it.
pub(super) fn zero_point(cx: &mut NodeCx, slot: usize, dtype: DType) -> Result<Arg, String> {
    match cx.node.inputs.get(slot).copied().flatten() {
        Some(_) => cx.arg_in(slot),
        None => {
            literal::elem(dtype)?;
            Ok(Arg::ZeroSlice(dtype))
        }
    }
}

/// MatMulInteger, or with `requantize` QLinearMatMul (whose operands sit at 0 and 3): the
/// exact i32 product, then for QLinearMatMul `round(acc * a_scale * b_scale / y_scale) +
/// y_zero_point`, saturated, with the factor in the scales' precision and the product in
/// f64 (as numpy computes int32 × float).
pub(super) fn int_matmul(cx: &mut NodeCx, requantize: bool) -> Result<(), String> {
    let slots = if requantize {
        [0, 3, 2, 5]
    } else {
        [0, 1, 2, 3]
    };
    let (a, b) = (cx.in_ty(slots[0], "A")?, cx.in_ty(slots[1], "B")?);
    let (batch, m, k, n, batched) = kiln_ir::ops::quant::int_matmul_dims(&a.shape, &b.shape)?;
    let y = cx.out_ty(0)?;
    cx.use_kernel(Kernel::Quant, a.dtype)?;
    let (za, zb) = (
        zero_point(cx, slots[2], a.dtype)?,
        zero_point(cx, slots[3], b.dtype)?,
    );
    let f = if requantize {
        let s = cx.in_ty(1, "a_scale")?.dtype;
        let [sa, sb, sy, zy] = [cx.read(1)?, cx.read(4)?, cx.read(6)?, cx.read(7)?];
        let half_scales = s == DType::F16;
        if half_scales {
            // The factor in f16 arithmetic needs the conversions.
            cx.use_kernel(Kernel::Half, DType::U16)?;
        }
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        literal::elem(y.dtype)?;
        ElemFn::Requantize {
            x_scale: sa,
            w_scale: sb,
            y_scale: sy,
            y_zero: zy,
            bias: None,
            channel: false,
            half_scales,
            lo,
            hi,
            dtype: y.dtype,
        }
    } else {
        ElemFn::IntSum { channel: false }
    };
    let (xa, xb) = (cx.arg_in(slots[0])?, cx.arg_in(slots[1])?);
    let ys = cx.arg_out(0)?;
    let dims = vec![batch, m, k, n, usize::from(batched)];
    let args = vec![xa, xb, za, zb, ys, Arg::Array(dims), Arg::Fn(f)];
    cx.call(Some(Kernel::Quant), "int_matmul", args);
    Ok(())
}

/// QuantizeLinear (`to_int`) or DequantizeLinear: one `affine_map` whose closure reads the
/// element's scale and zero point, which may be run-time values.
pub(super) fn quantize(cx: &mut NodeCx, a: &QuantAttrs, to_int: bool) -> Result<(), String> {
    let (x, s) = (cx.in_ty(0, "x")?, cx.in_ty(1, "scale")?);
    let y = cx.out_ty(0)?;
    let g = kiln_ir::ops::quant::geometry(&x.shape, &s.shape, a)?;
    literal::elem(x.dtype)?;
    literal::elem(y.dtype)?;
    cx.use_kernel(Kernel::Quant, x.dtype)?;
    let scale = cx.read(1)?;
    let zp = match cx.node.inputs.get(2).copied().flatten() {
        Some(_) => Some(cx.read(2)?),
        None => None,
    };
    let (from, to) = (x.dtype, y.dtype);
    let f = if to_int {
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let zero_is_zero = match cx.node.inputs.get(2).copied().flatten() {
            None => true,
            Some(_) => cx
                .const_input(2)
                .is_some_and(|t| t.data.to_f64_vec().iter().all(|&z| z == 0.0)),
        };
        ElemFn::Quantize {
            scale,
            scale_dtype: s.dtype,
            zero: zp,
            zero_is_zero,
            lo,
            hi,
            from,
            to,
        }
    } else {
        ElemFn::Dequantize {
            scale,
            scale_dtype: s.dtype,
            zero: zp,
            from,
            to,
        }
    };
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let QuantGeometry {
        outer,
        axis,
        inner,
        block,
        strides: [s0, s1, s2],
    } = g;
    let args = vec![
        xs,
        ys,
        Arg::Array(vec![outer, axis, inner, block]),
        Arg::Array(vec![s0, s1, s2]),
        Arg::Fn(f),
    ];
    cx.call(Some(Kernel::Quant), "affine_map", args);
    Ok(())
}

pub(super) fn dynamic_quantize(cx: &mut NodeCx) -> Result<(), String> {
    cx.use_kernel(Kernel::Quant, DType::F32)?;
    let xs = cx.arg_in(0)?;
    let (y, s, z) = (cx.arg_out(0)?, cx.arg_out(1)?, cx.arg_out(2)?);
    cx.call(Some(Kernel::Quant), "dynamic_quantize", vec![xs, y, s, z]);
    Ok(())
}
