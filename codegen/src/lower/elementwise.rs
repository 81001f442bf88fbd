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
    if op.is_bitwise() && !dtype.is_int() {
        return Err(format!("{} needs integer tensors, got {dtype}", op.name()));
    }
    Ok(ElemFn::Binary { op, dtype, swapped })
}

pub(super) fn binary(cx: &mut NodeCx, op: BinaryOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let f = binary_fn(op, y.dtype, false)?;
    let f = with_epilogue(cx, f, 2, y.dtype)?;
    broadcast_call(cx, &ta.shape, &tb.shape, y, f)
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
        UnaryOp::Abs | UnaryOp::Neg | UnaryOp::Sign | UnaryOp::BitwiseNot if dtype.is_int() => {
            literal::elem(dtype)?;
        }
        UnaryOp::BitwiseNot => {
            return Err(format!("BitwiseNot needs integer tensors, got {dtype}"));
        }
        _ => {
            if !matches!(dtype, DType::F32 | DType::F64) {
                literal::elem(dtype)?;
                return Err(format!(
                    "{} needs f32 or f64 tensors, got {dtype}",
                    op.name()
                ));
            }
            // Composed in f64 (for f32 too, rounded once) from the f64 routines.
            let composed: &[MathFn] = match op {
                UnaryOp::Tan => &[MathFn::Sin, MathFn::Cos],
                UnaryOp::Atan => &[MathFn::Atan],
                UnaryOp::Asin | UnaryOp::Acos => &[MathFn::Atan, MathFn::Sqrt],
                UnaryOp::Sinh | UnaryOp::Cosh => &[MathFn::Exp],
                UnaryOp::Asinh | UnaryOp::Acosh => &[MathFn::Log, MathFn::Sqrt],
                UnaryOp::Atanh => &[MathFn::Log],
                _ => &[],
            };
            for &m in composed {
                cx.kernels.use_math(m, DType::F64)?;
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
    literal::elem(y.dtype)?;
    let n = cx.node.inputs.len();
    if matches!(op, VariadicOp::Sum | VariadicOp::Mean) && !y.dtype.is_float() {
        return Err(format!(
            "{} needs float tensors, got {}",
            op.name(),
            y.dtype
        ));
    }
    let f = ElemFn::Variadic { op, dtype: y.dtype };
    let x0 = cx.in_ty(0, "data_0")?;
    let ys = cx.write(0)?;
    let first = cx.arg_in(0)?;
    if x0.shape == y.shape {
        cx.call(None, "copy", vec![first, Arg::Operand(ys.clone())]);
    } else {
        let s = broadcast_strides(&x0.shape, &y.shape);
        let (shape, strides) = collapse(&y.shape, &[s]);
        cx.use_kernel(Kernel::Broadcast, y.dtype)?;
        let st = Arg::Sizes(strides[0].clone());
        let args = vec![
            first.clone(),
            first,
            Arg::Operand(ys.clone()),
            Arg::Sizes(shape),
            st.clone(),
            st,
            Arg::Fn(ElemFn::Left { dtype: y.dtype }),
        ];
        cx.call(Some(Kernel::Broadcast), "broadcast", args);
    }
    for slot in 1..n {
        let x = cx.in_ty(slot, "data")?;
        let (shape, strides) = collapse(&y.shape, &[broadcast_strides(&x.shape, &y.shape)]);
        cx.use_kernel(Kernel::BroadcastInPlace, y.dtype)?;
        let args = vec![
            Arg::Operand(ys.clone()),
            cx.arg_in(slot)?,
            Arg::Sizes(shape),
            Arg::Sizes(strides[0].clone()),
            Arg::Fn(f.clone()),
        ];
        cx.call(Some(Kernel::BroadcastInPlace), "broadcast_in_place", args);
    }
    if op == VariadicOp::Mean && n > 1 {
        cx.use_kernel(Kernel::MapInPlace, y.dtype)?;
        let div = ElemFn::DivBy {
            dtype: y.dtype,
            divisor: n as f64,
        };
        let args = vec![Arg::Operand(ys), Arg::Fn(div)];
        cx.call(Some(Kernel::MapInPlace), "map_in_place", args);
    }
    Ok(())
}

pub(super) fn prelu(cx: &mut NodeCx) -> Result<(), String> {
    let (tx, ts, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "slope")?, cx.out_ty(0)?);
    literal::elem(y.dtype)?;
    if !y.dtype.is_float() && !y.dtype.is_signed() {
        // Unsigned values are never negative.
        return copy(cx);
    }
    broadcast_call(
        cx,
        &tx.shape,
        &ts.shape,
        y,
        ElemFn::PRelu { dtype: y.dtype },
    )
}

/// Mod as the reference semantics define it (`kiln_ir::ops::elementwise::eval_mod`).
pub(super) fn modulo(cx: &mut NodeCx, fmod: bool) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    literal::elem(y.dtype)?;
    let f = ElemFn::Mod {
        fmod,
        dtype: y.dtype,
    };
    broadcast_call(cx, &ta.shape, &tb.shape, y, f)
}

/// BitShift; shifting by the bit width or more gives 0 (numpy).
pub(super) fn bitshift(cx: &mut NodeCx, left: bool) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "Y")?, cx.out_ty(0)?);
    literal::elem(y.dtype)?;
    if !y.dtype.is_int() || y.dtype.is_signed() {
        return Err(format!("BitShift needs unsigned integers, got {}", y.dtype));
    }
    let f = ElemFn::BitShift {
        left,
        dtype: y.dtype,
    };
    broadcast_call(cx, &ta.shape, &tb.shape, y, f)
}

/// Clip's bounds as optional arguments: input bounds (opset ≥ 11) win over attribute
/// bounds (opset 6); a constant bound is passed exactly, in its own type (f64 cannot hold
/// every 64-bit integer), a run-time one read from its (scalar) tensor.
pub(super) fn clip_bounds(
    cx: &mut NodeCx,
    a: &ClipAttrs,
    dtype: DType,
) -> Result<[Arg; 2], String> {
    if dtype == DType::Bool {
        return Err("Clip is not defined for bool tensors".into());
    }
    let mut bound = |slot: usize, attr: Option<f32>| -> Result<Arg, String> {
        Ok(if let Some(t) = cx.const_input(slot) {
            Arg::Maybe(if t.numel() == 0 {
                None
            } else {
                Some(Box::new(Arg::Const(t.data.clone())))
            })
        } else if cx.has_input(slot) {
            Arg::First(cx.read(slot)?)
        } else {
            Arg::Maybe(attr.map(|v| Box::new(Arg::Scalar(dtype, v as f64))))
        })
    };
    Ok([bound(1, a.min)?, bound(2, a.max)?])
}

pub(super) fn clip(cx: &mut NodeCx, a: &ClipAttrs) -> Result<(), String> {
    let dtype = cx.in_ty(0, "input")?.dtype;
    let [lo, hi] = clip_bounds(cx, a, dtype)?;
    cx.use_kernel(Kernel::Clip, dtype)?;
    let args = vec![cx.arg_in(0)?, cx.arg_out(0)?, lo, hi];
    cx.call(Some(Kernel::Clip), "clip", args);
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
            let args = vec![cx.arg_out(0)?, lo, hi];
            cx.call(Some(Kernel::ClipInPlace), "clip_in_place", args);
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
/// kernels have), with the pow routine it calls recorded.
pub(super) fn pow_fn(cx: &mut NodeCx, base: DType, exp: DType) -> Result<ElemFn, String> {
    literal::elem(base)?;
    literal::elem(exp)?;
    if exp == DType::Bool {
        return Err("Pow is not defined for a bool exponent".into());
    }
    if base.is_float() && base == exp {
        cx.kernels.use_math(MathFn::Pow, base)?;
    } else if base.is_float() || exp.is_float() {
        cx.kernels.use_math(MathFn::Pow, DType::F64)?;
    } else if !matches!(base, DType::I32 | DType::I64) {
        return Err(format!(
            "Pow is defined for float, int32 and int64 bases, not {base}"
        ));
    }
    Ok(ElemFn::Pow { base, exp })
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
        let special = [0.0, 2.0, 3.0, -1.0, 0.5, -0.5].contains(&e);
        if e == 1.0 {
            return copy(cx);
        } else if e == 0.5 || e == -0.5 {
            cx.kernels.use_math(MathFn::Sqrt, x.dtype)?;
        } else if !special && t.dtype == x.dtype {
            pow_fn(cx, x.dtype, x.dtype)?;
        }
        // Another exponent type: its value as it is, through the general path below.
        if special || t.dtype == x.dtype {
            let f = ElemFn::PowConst {
                dtype: x.dtype,
                exp: e,
            };
            cx.use_kernel(Kernel::Map, x.dtype)?;
            let args = vec![cx.arg_in(0)?, cx.arg_out(0)?, Arg::Fn(f)];
            cx.call(Some(Kernel::Map), "map", args);
            return Ok(());
        }
    }
    let f = pow_fn(cx, x.dtype, t.dtype)?;
    broadcast_call(cx, &x.shape, &t.shape, y, f)
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
        Activation::Swish { .. } => &[MathFn::Sigmoid],
        Activation::LeakyRelu { .. }
        | Activation::HardSigmoid { .. }
        | Activation::HardSwish
        | Activation::ThresholdedRelu { .. }
        | Activation::Softsign
        | Activation::Shrink { .. } => &[],
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
