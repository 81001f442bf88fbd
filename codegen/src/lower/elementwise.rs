//! Lowering of the elementwise family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

/// Drops unit axes and merges adjacent axes that every operand walks contiguously, so the
/// strided kernels loop over as few, as long, axes as possible. Never returns rank 0.
pub(super) fn collapse(shape: &[usize], strides: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for (d, &dim) in shape.iter().enumerate() {
        if dim == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && strides
                .iter()
                .zip(&out_strides)
                .all(|(s, o)| o.last() == Some(&(s[d] * dim)));
        if mergeable {
            *out_shape.last_mut().unwrap_or(&mut 0) *= dim;
            for (s, o) in strides.iter().zip(&mut out_strides) {
                if let Some(last) = o.last_mut() {
                    *last = s[d];
                }
            }
        } else {
            out_shape.push(dim);
            for (s, o) in strides.iter().zip(&mut out_strides) {
                o.push(s[d]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for o in &mut out_strides {
            o.push(0);
        }
    }
    (out_shape, out_strides)
}

/// Row-major strides of `shape`.
pub(super) fn row_major(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Strides of an operand of shape `own` (right-aligned) along the axes of `out`.
pub(super) fn broadcast_strides(own: &[usize], out: &[usize]) -> Vec<usize> {
    let lead = out.len() - own.len();
    let rm = row_major(own);
    (0..out.len())
        .map(|d| {
            if d < lead || own[d - lead] == 1 {
                0
            } else {
                rm[d - lead]
            }
        })
        .collect()
}

/// The element function of a binary op (not defined on bool).
pub(super) fn binary_fn(op: BinaryOp, dtype: DType, swapped: bool) -> Result<ElemFn, String> {
    literal::elem(dtype)?;
    if dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", op.name()));
    }
    Ok(ElemFn::Binary { op, dtype, swapped })
}

pub(super) fn binary(cx: &mut NodeCx, op: BinaryOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let f = binary_fn(op, y.dtype, false)?;
    let f = with_epilogue(cx, f, 2, y.dtype)?;
    broadcast_call(cx, &ta.shape, &tb.shape, y, f)
}

/// The call of the broadcasting kernel with element closure `f` on inputs 0 and 1 (of
/// shapes `a` and `b`) into output 0 (of type `y`).
pub(super) fn broadcast_call_text(
    cx: &mut NodeCx,
    a: &[usize],
    b: &[usize],
    y: &TensorType,
    f: &str,
) -> Result<(), String> {
    let strides = [
        broadcast_strides(a, &y.shape),
        broadcast_strides(b, &y.shape),
    ];
    let (shape, strides) = collapse(&y.shape, &strides);
    cx.use_kernel(Kernel::Broadcast, y.dtype)?;
    let (xa, xb, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    cx.body.line(format!(
        "broadcast({xa}, {xb}, {ys}, &{}, &{}, &{}, {f});",
        usizes(&shape),
        usizes(&strides[0]),
        usizes(&strides[1])
    ));
    Ok(())
}

/// The call of the broadcasting kernel with element function `f` on inputs 0 and 1 (of
/// shapes `a` and `b`) into output 0 (of type `y`).
pub(super) fn broadcast_call(
    cx: &mut NodeCx,
    a: &[usize],
    b: &[usize],
    y: &TensorType,
    f: ElemFn,
) -> Result<(), String> {
    let strides = [
        broadcast_strides(a, &y.shape),
        broadcast_strides(b, &y.shape),
    ];
    let (shape, strides) = collapse(&y.shape, &strides);
    cx.use_kernel(Kernel::Broadcast, y.dtype)?;
    let args = vec![
        cx.arg_in(0)?,
        cx.arg_in(1)?,
        cx.arg_out(0)?,
        Arg::Sizes(shape),
        Arg::Sizes(strides[0].clone()),
        Arg::Sizes(strides[1].clone()),
        Arg::Fn(f),
    ];
    cx.call(Some(Kernel::Broadcast), "broadcast", args);
    Ok(())
}

/// The element function of a unary op on `dtype`, with the math routine it calls recorded;
/// `None` for the identity (Relu and Abs of unsigned values).
pub(super) fn unary_fn(
    cx: &mut NodeCx,
    op: UnaryOp,
    dtype: DType,
) -> Result<Option<ElemFn>, String> {
    let unsigned = dtype.is_int() && !dtype.is_signed();
    match op {
        UnaryOp::Relu if dtype == DType::Bool => {
            return Err("Relu is not defined for bool tensors".into());
        }
        UnaryOp::Relu | UnaryOp::Abs if unsigned => return Ok(None),
        UnaryOp::Relu => {}
        UnaryOp::Abs | UnaryOp::Neg | UnaryOp::Sign if dtype.is_int() => {
            literal::elem(dtype)?;
        }
        _ => {
            if !matches!(dtype, DType::F32 | DType::F64) {
                literal::elem(dtype)?;
                return Err(format!(
                    "{} needs f32 or f64 tensors, got {dtype}",
                    op.name()
                ));
            }
            let math = match op {
                UnaryOp::Sigmoid => Some(MathFn::Sigmoid),
                UnaryOp::Tanh => Some(MathFn::Tanh),
                UnaryOp::Sqrt => Some(MathFn::Sqrt),
                UnaryOp::Erf => Some(MathFn::Erf),
                UnaryOp::Exp => Some(MathFn::Exp),
                UnaryOp::Log => Some(MathFn::Log),
                UnaryOp::Sin => Some(MathFn::Sin),
                UnaryOp::Cos => Some(MathFn::Cos),
                _ => None,
            };
            if let Some(m) = math {
                cx.kernels.use_math(m, dtype)?;
            }
        }
    }
    Ok(Some(ElemFn::Unary { op, dtype }))
}

pub(super) fn unary(cx: &mut NodeCx, op: UnaryOp) -> Result<(), String> {
    let dtype = cx.in_ty(0, "X")?.dtype;
    let Some(f) = unary_fn(cx, op, dtype)? else {
        return copy(cx);
    };
    map_call(cx, f, dtype)
}

/// `map` of input 0 into output 0 with `f` and the node's epilogue.
fn map_call(cx: &mut NodeCx, f: ElemFn, dtype: DType) -> Result<(), String> {
    let f = with_epilogue(cx, f, 1, dtype)?;
    cx.use_kernel(Kernel::Map, dtype)?;
    let args = vec![cx.arg_in(0)?, cx.arg_out(0)?, Arg::Fn(f)];
    cx.call(Some(Kernel::Map), "map", args);
    Ok(())
}

/// Max, Min, Sum, Mean: the first input broadcast into the output, then each further one
/// folded in place (left to right, as the reference folds), Mean divided at the end.
pub(super) fn variadic(cx: &mut NodeCx, op: VariadicOp) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    let t = literal::elem(y.dtype)?;
    let n = cx.node.inputs.len();
    let f = match op {
        // NaN propagates, as in numpy's maximum and minimum.
        VariadicOp::Max | VariadicOp::Min => {
            let cmp = if op == VariadicOp::Max { ">" } else { "<" };
            let nan = if y.dtype.is_float() {
                " || p.is_nan()"
            } else {
                ""
            };
            format!("|p: {t}, q: {t}| if p {cmp} q{nan} {{ p }} else {{ q }}")
        }
        VariadicOp::Sum | VariadicOp::Mean if y.dtype.is_float() => {
            format!("|p: {t}, q: {t}| p + q")
        }
        _ => {
            return Err(format!(
                "{} needs float tensors, got {}",
                op.name(),
                y.dtype
            ));
        }
    };
    let x0 = cx.in_ty(0, "data_0")?;
    let ys = cx.write(0)?;
    let first = cx.read(0)?;
    if x0.shape == y.shape {
        cx.body.line(format!("{ys}.copy_from_slice({first});"));
    } else {
        let s = broadcast_strides(&x0.shape, &y.shape);
        let (shape, strides) = collapse(&y.shape, &[s]);
        cx.use_kernel(Kernel::Broadcast, y.dtype)?;
        let st = usizes(&strides[0]);
        cx.body.line(format!(
            "broadcast({first}, {first}, {ys}, &{}, &{st}, &{st}, |p: {t}, _: {t}| p);",
            usizes(&shape)
        ));
    }
    for slot in 1..n {
        let x = cx.in_ty(slot, "data")?;
        let (shape, strides) = collapse(&y.shape, &[broadcast_strides(&x.shape, &y.shape)]);
        cx.use_kernel(Kernel::BroadcastInPlace, y.dtype)?;
        let xs = cx.read(slot)?;
        cx.body.line(format!(
            "broadcast_in_place({ys}, {xs}, &{}, &{}, {f});",
            usizes(&shape),
            usizes(&strides[0])
        ));
    }
    if op == VariadicOp::Mean && n > 1 {
        let count = literal::from_f64(y.dtype, n as f64)?;
        cx.use_kernel(Kernel::MapInPlace, y.dtype)?;
        cx.body
            .line(format!("map_in_place({ys}, |v: {t}| v / {count});"));
    }
    Ok(())
}

pub(super) fn prelu(cx: &mut NodeCx) -> Result<(), String> {
    let (tx, ts, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "slope")?, cx.out_ty(0)?);
    let t = literal::elem(y.dtype)?;
    let f = if y.dtype.is_float() {
        "|p, q| if p < 0.0 { q * p } else { p }".to_string()
    } else if y.dtype.is_signed() {
        format!("|p: {t}, q: {t}| if p < 0 {{ p.wrapping_mul(q) }} else {{ p }}")
    } else {
        // Unsigned values are never negative.
        return copy(cx);
    };
    broadcast_call_text(cx, &tx.shape, &ts.shape, y, &f)
}

/// Mod as the reference semantics define it (`kiln_ir::ops::elementwise::eval_mod`): floats
/// through `%` (C's fmod), NaN replaced by 0 unless `fmod`; integers truncated (`fmod`) or
/// floored (the sign of the divisor), a remainder by 0 being 0.
pub(super) fn modulo(cx: &mut NodeCx, fmod: bool) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let t = literal::elem(y.dtype)?;
    let f = if y.dtype.is_float() {
        if fmod {
            format!("|p: {t}, q: {t}| p % q")
        } else {
            format!("|p: {t}, q: {t}| {{ let r = p % q; if r.is_nan() {{ 0.0 }} else {{ r }} }}")
        }
    } else if fmod || !y.dtype.is_signed() {
        format!("|p: {t}, q: {t}| if q == 0 {{ 0 }} else {{ p.wrapping_rem(q) }}")
    } else {
        format!(
            "|p: {t}, q: {t}| if q == 0 {{ 0 }} else {{ let r = p.wrapping_rem(q); \
             if r != 0 && (r < 0) != (q < 0) {{ r + q }} else {{ r }} }}"
        )
    };
    broadcast_call_text(cx, &ta.shape, &tb.shape, y, &f)
}

/// BitShift; shifting by the bit width or more gives 0 (numpy).
pub(super) fn bitshift(cx: &mut NodeCx, left: bool) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "Y")?, cx.out_ty(0)?);
    let t = literal::elem(y.dtype)?;
    if !y.dtype.is_int() || y.dtype.is_signed() {
        return Err(format!("BitShift needs unsigned integers, got {}", y.dtype));
    }
    let bits = y.dtype.size_bytes() * 8;
    let sym = if left { "<<" } else { ">>" };
    let f = format!("|p: {t}, q: {t}| if q >= {bits} {{ 0 }} else {{ p {sym} q }}");
    broadcast_call_text(cx, &ta.shape, &tb.shape, y, &f)
}

/// Clip's bounds as `Option` expressions: input bounds (opset ≥ 11) win over attribute
/// bounds (opset 6); a constant bound is written as a literal, a run-time one read from its
/// (scalar) tensor.
pub(super) fn clip_bounds(
    cx: &mut NodeCx,
    a: &ClipAttrs,
    dtype: DType,
) -> Result<[String; 2], String> {
    if dtype == DType::Bool {
        return Err("Clip is not defined for bool tensors".into());
    }
    let mut bound = |slot: usize, attr: Option<f32>| -> Result<String, String> {
        if let Some(t) = cx.const_input(slot) {
            Ok(if t.numel() == 0 {
                "None".into()
            } else {
                format!("Some({})", literal::element(&t.data, 0))
            })
        } else if cx.has_input(slot) {
            Ok(format!("{}.first().copied()", cx.read(slot)?))
        } else {
            attr.map(|v| literal::from_f64(dtype, v as f64).map(|s| format!("Some({s})")))
                .unwrap_or_else(|| Ok("None".into()))
        }
    };
    Ok([bound(1, a.min)?, bound(2, a.max)?])
}

pub(super) fn clip(cx: &mut NodeCx, a: &ClipAttrs) -> Result<(), String> {
    let dtype = cx.in_ty(0, "input")?.dtype;
    let [lo, hi] = clip_bounds(cx, a, dtype)?;
    cx.use_kernel(Kernel::Clip, dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("clip({xs}, {ys}, {lo}, {hi});"));
    Ok(())
}

/// Writes the in-place kernel call of an elementwise node whose output overwrites its
/// input `slot` (the memory plan stores both in one buffer): the kernel reads and writes
/// `y0`, and input `slot` is not bound at all, so no slice overlaps `y0`.
pub(crate) fn emit_in_place(cx: &mut NodeCx, slot: usize) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    let x = cx.in_ty(slot, "the overwritten operand")?;
    if x.dtype != y.dtype || x.numel() != y.numel() || y.numel() == 0 {
        return Err(format!("output {y} cannot overwrite input {slot} ({x})"));
    }
    match (&cx.node.op, slot) {
        (Op::Unary(op), 0) => {
            let Some(f) = unary_fn(cx, *op, y.dtype)? else {
                // The identity, in place: nothing to do (no operand, no call).
                return Ok(());
            };
            map_in_place_call(cx, f, y.dtype)?;
        }
        (Op::Activation(a), 0) => {
            let f = activation_fn(cx, *a, y.dtype)?;
            map_in_place_call(cx, f, y.dtype)?;
        }
        (Op::Clip(a), 0) => {
            let [lo, hi] = clip_bounds(cx, a, y.dtype)?;
            cx.use_kernel(Kernel::ClipInPlace, y.dtype)?;
            let ys = cx.write(0)?;
            cx.body.line(format!("clip_in_place({ys}, {lo}, {hi});"));
        }
        (Op::Binary(op), 0 | 1) => {
            let other = 1 - slot;
            let t = cx.in_ty(other, "the other operand")?;
            let f = binary_fn(*op, y.dtype, slot == 1)?;
            let f = with_epilogue(cx, f, 2, y.dtype)?;
            let (shape, strides) = collapse(&y.shape, &[broadcast_strides(&t.shape, &y.shape)]);
            cx.use_kernel(Kernel::BroadcastInPlace, y.dtype)?;
            let args = vec![
                cx.arg_out(0)?,
                cx.arg_in(other)?,
                Arg::Sizes(shape),
                Arg::Sizes(strides[0].clone()),
                Arg::Fn(f),
            ];
            cx.call(Some(Kernel::BroadcastInPlace), "broadcast_in_place", args);
        }
        (op, _) => return Err(format!("{} cannot overwrite its input {slot}", op.name())),
    }
    Ok(())
}

/// `map_in_place` of output 0 (which holds input 0) with `f` and the node's epilogue.
fn map_in_place_call(cx: &mut NodeCx, f: ElemFn, dtype: DType) -> Result<(), String> {
    let f = with_epilogue(cx, f, 1, dtype)?;
    cx.use_kernel(Kernel::MapInPlace, dtype)?;
    let args = vec![cx.arg_out(0)?, Arg::Fn(f)];
    cx.call(Some(Kernel::MapInPlace), "map_in_place", args);
    Ok(())
}

/// The element function of Pow on a base of `base` and an exponent of `exp` (types kiln's
/// kernels have). Integer powers wrap; a negative integer exponent gives the truncated
/// `1 / x^n` (as the reference semantics define it); the rest goes through `pow_f64`.
pub(super) fn pow_fn(cx: &mut NodeCx, base: DType, exp: DType) -> Result<String, String> {
    let (t, e) = (literal::elem(base)?, literal::elem(exp)?);
    if exp == DType::Bool {
        return Err("Pow is not defined for a bool exponent".into());
    }
    if base.is_float() && base == exp {
        return cx.kernels.use_math(MathFn::Pow, base);
    }
    if base.is_float() || exp.is_float() {
        let f = cx.kernels.use_math(MathFn::Pow, DType::F64)?;
        let x = if base == DType::F64 { "p" } else { "p as f64" };
        let y = if exp == DType::F64 { "q" } else { "q as f64" };
        let cast = if base == DType::F64 { "" } else { " as " };
        let to = if base == DType::F64 { "" } else { t };
        return Ok(format!("|p: {t}, q: {e}| {f}({x}, {y}){cast}{to}"));
    }
    if !matches!(base, DType::I32 | DType::I64) {
        return Err(format!(
            "Pow is defined for float, int32 and int64 bases, not {base}"
        ));
    }
    let negative = if exp.is_signed() {
        "if q < 0 { return if p == 1 { 1 } else if p == -1 { if q % 2 == 0 { 1 } else { -1 } } else { 0 }; } "
    } else {
        ""
    };
    let n = if exp == DType::U64 { "q" } else { "q as u64" };
    Ok(format!(
        "|p: {t}, q: {e}| {{ {negative}let (mut b, mut n, mut r) = (p, {n}, 1); \
         while n > 0 {{ if n & 1 == 1 {{ r = {t}::wrapping_mul(r, b); }} b = b.wrapping_mul(b); n >>= 1; }} r }}"
    ))
}

/// Pow. A constant exponent with one value that is 0, ±1, 2, 3, 0.5 or -0.5 becomes
/// arithmetic (or a square root) on the base alone; anything else calls a pow function.
pub(super) fn pow(cx: &mut NodeCx) -> Result<(), String> {
    let (x, t, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "Y")?, cx.out_ty(0)?);
    let uniform = cx.const_input(1).and_then(|k| {
        let v = k.data.to_f64_vec();
        v.first().copied().filter(|e| v.iter().all(|x| x == e))
    });
    if let Some(e) = uniform.filter(|_| x.dtype.is_float() && x.shape == y.shape) {
        let lit = |v: f64| literal::from_f64(x.dtype, v);
        let f = if e == 1.0 {
            return copy(cx);
        } else if e == 0.0 {
            format!("|_| {}", lit(1.0)?)
        } else if e == 2.0 {
            "|v| v * v".to_string()
        } else if e == 3.0 {
            "|v| v * v * v".to_string()
        } else if e == -1.0 {
            format!("|v| {} / v", lit(1.0)?)
        } else if e == 0.5 || e == -0.5 {
            // pow(-inf, 0.5) is +inf and pow(-0, 0.5) is +0 where sqrt gives NaN and -0.
            let sqrt = cx.kernels.use_math(MathFn::Sqrt, x.dtype)?;
            let (inf, zero) = (lit(f64::INFINITY)?, lit(0.0)?);
            let root = format!("if v == -{inf} {{ {inf} }} else {{ {sqrt}(v) + {zero} }}");
            if e > 0.0 {
                format!("|v| {root}")
            } else {
                format!("|v| {} / ({root})", lit(1.0)?)
            }
        } else if t.dtype == x.dtype {
            let f = pow_fn(cx, x.dtype, x.dtype)?;
            format!("|v| ({f})(v, {})", lit(e)?)
        } else {
            // Another exponent type: its value as it is, through the general path below.
            String::new()
        };
        if !f.is_empty() {
            cx.use_kernel(Kernel::Map, x.dtype)?;
            let (xs, ys) = (cx.read(0)?, cx.write(0)?);
            cx.body.line(format!("map({xs}, {ys}, {f});"));
            return Ok(());
        }
    }
    let f = pow_fn(cx, x.dtype, t.dtype)?;
    broadcast_call_text(cx, &x.shape, &t.shape, y, &f)
}

/// The element function of an activation on `dtype` (f32 or f64), with the math routines
/// it calls recorded.
pub(super) fn activation_fn(
    cx: &mut NodeCx,
    a: Activation,
    dtype: DType,
) -> Result<ElemFn, String> {
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!(
            "{} needs f32 or f64 tensors, got {dtype}",
            a.name()
        ));
    }
    let math: &[MathFn] = match a {
        Activation::Gelu { tanh: false } => &[MathFn::Erf],
        Activation::Gelu { tanh: true } => &[MathFn::Tanh],
        Activation::Elu { .. } | Activation::Selu { .. } | Activation::Celu { .. } => {
            &[MathFn::Exp]
        }
        Activation::Softplus => &[MathFn::Exp, MathFn::Log],
        Activation::Mish => &[MathFn::Exp, MathFn::Log, MathFn::Tanh],
        Activation::LeakyRelu { .. }
        | Activation::HardSigmoid { .. }
        | Activation::HardSwish
        | Activation::ThresholdedRelu { .. }
        | Activation::Softsign => &[],
    };
    for &m in math {
        cx.kernels.use_math(m, dtype)?;
    }
    Ok(ElemFn::Activation { act: a, dtype })
}

pub(super) fn activation(cx: &mut NodeCx, a: Activation) -> Result<(), String> {
    let dtype = cx.in_ty(0, "X")?.dtype;
    let f = activation_fn(cx, a, dtype)?;
    map_call(cx, f, dtype)
}
