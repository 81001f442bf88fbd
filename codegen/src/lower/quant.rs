//! Lowering of the quant family.

use super::prelude::*;

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
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    // A 1-D convolution is a 2-D one of height 1.
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
    let (n, c, m) = (x.shape[0], x.shape[1], w.shape[0]);
    cx.use_kernel(Kernel::Quant, x.dtype)?;
    let (zx, zw) = (
        zero_point(cx, slots[1], x.dtype)?,
        zero_point(cx, slots[3], w.dtype)?,
    );
    let f = if requantize {
        let [sx, sw_, sy, zy] = [cx.read(1)?, cx.read(4)?, cx.read(6)?, cx.read(7)?];
        let bias = match cx.node.inputs.get(8).copied().flatten() {
            Some(_) => format!(" + {}[m]", cx.read(8)?),
            None => String::new(),
        };
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let yt = literal::elem(y.dtype)?;
        format!(
            "|c: i32, m: usize| {{ let mul = ({sx}[0] * {sw_}[if {sw_}.len() == 1 {{ 0 }} else {{ m }}] / {sy}[0]) as f64; \
             (round_even_f64((c{bias}) as f64 * mul) + {zy}[0] as f64).clamp({lo:?}, {hi:?}) as {yt} }}"
        )
    } else {
        "|c: i32, _m: usize| c".to_string()
    };
    let (xs, ws) = (cx.read(slots[0])?, cx.read(slots[2])?);
    let ys = cx.write(0)?;
    cx.body.line(format!(
        "int_conv({xs}, {ws}, {zx}, {zw}, {ys}, [{n}, {c}, {h}, {wi}, {m}, {}, {kh}, {kw}, {oh}, {ow}], \
         [{sh}, {sw}, {dh}, {dw}, {pt}, {pl}], {f});",
        a.group
    ));
    Ok(())
}

/// An integer kernel's zero-point operand: the input at `slot`, or a single zero of `dtype`
/// when the node omits it.
pub(super) fn zero_point(cx: &mut NodeCx, slot: usize, dtype: DType) -> Result<String, String> {
    match cx.node.inputs.get(slot).copied().flatten() {
        Some(_) => cx.read(slot),
        None => Ok(format!("&[0{}]", literal::elem(dtype)?)),
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
        let mul = if s == DType::F16 {
            cx.use_kernel(Kernel::Half, DType::U16)?;
            // f16 arithmetic: each f32 result rounded to f16 (exact for * and /, as f32
            // has more than twice f16's precision).
            format!(
                "{{ let r = |v: f32| f16_to_f32(f64_to_f16(v as f64)); \
                 r(r(f16_to_f32({sa}[0]) * f16_to_f32({sb}[0])) / f16_to_f32({sy}[0])) as f64 }}"
            )
        } else {
            format!("({sa}[0] * {sb}[0] / {sy}[0]) as f64")
        };
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let yt = literal::elem(y.dtype)?;
        cx.body.line(format!("let mul: f64 = {mul};"));
        format!(
            "|c: i32| (round_even_f64(c as f64 * mul) + {zy}[0] as f64).clamp({lo:?}, {hi:?}) as {yt}"
        )
    } else {
        "|c: i32| c".to_string()
    };
    let (xa, xb) = (cx.read(slots[0])?, cx.read(slots[1])?);
    let ys = cx.write(0)?;
    cx.body.line(format!(
        "int_matmul({xa}, {xb}, {za}, {zb}, {ys}, [{batch}, {m}, {k}, {n}, {}], {f});",
        usize::from(batched)
    ));
    Ok(())
}

/// QuantizeLinear (`to_int`) or DequantizeLinear: one `affine_map` whose closure reads the
/// element's scale and zero point, which may be run-time values.
pub(super) fn quantize(cx: &mut NodeCx, a: &QuantAttrs, to_int: bool) -> Result<(), String> {
    let (x, s) = (cx.in_ty(0, "x")?, cx.in_ty(1, "scale")?);
    let y = cx.out_ty(0)?;
    let g = kiln_ir::ops::quant::geometry(&x.shape, &s.shape, a)?;
    let (xt, yt) = (literal::elem(x.dtype)?, literal::elem(y.dtype)?);
    cx.use_kernel(Kernel::Quant, x.dtype)?;
    let scale = cx.read(1)?;
    let zp = match cx.node.inputs.get(2).copied().flatten() {
        Some(_) => Some(cx.read(2)?),
        None => None,
    };
    let f = if to_int {
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let z = zp.map_or_else(|| "0.0".to_string(), |z| format!("{z}[k] as f32"));
        // NaN clamps to NaN, which `as` turns into 0, as the reference semantics do.
        format!(
            "|v: {xt}, k: usize| (round_even_f32(v as f32 / ({scale}[k] as f32)) + {z})\
             .clamp({lo:?}, {hi:?}) as {yt}"
        )
    } else {
        // The integer difference is exact; then one f32 product.
        let z = zp.map_or_else(String::new, |z| format!(" - {z}[k] as i64"));
        format!("|v: {xt}, k: usize| ((v as i64{z}) as f32 * ({scale}[k] as f32)) as {yt}")
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let QuantGeometry {
        outer,
        axis,
        inner,
        block,
        strides: [s0, s1, s2],
    } = g;
    cx.body.line(format!(
        "affine_map({xs}, {ys}, [{outer}, {axis}, {inner}, {block}], [{s0}, {s1}, {s2}], {f});"
    ));
    Ok(())
}

pub(super) fn dynamic_quantize(cx: &mut NodeCx) -> Result<(), String> {
    cx.use_kernel(Kernel::Quant, DType::F32)?;
    let xs = cx.read(0)?;
    let (y, s, z) = (cx.write(0)?, cx.write(1)?, cx.write(2)?);
    cx.body
        .line(format!("dynamic_quantize({xs}, {y}, {s}, {z});"));
    Ok(())
}
