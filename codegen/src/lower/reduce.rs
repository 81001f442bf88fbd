//! Lowering of the reduce family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

/// The reduced axes of a reduction node.
pub(super) fn reduce_axes(cx: &NodeCx, a: &ReduceAttrs) -> Result<Vec<usize>, String> {
    let x = cx.in_ty(0, "data")?;
    let operand = match cx.node.inputs.get(1) {
        Some(Some(v)) => {
            let val = cx.graph.value(*v);
            Some(kiln_ir::ops::InferInput {
                ty: &val.ty,
                value: val.const_tensor(),
            })
        }
        _ => None,
    };
    kiln_ir::ops::reduce::reduced_axes(a, x.rank(), operand)
}

/// The kept and the reduced axes of a row-major `shape`, each as (sizes, element strides),
/// outermost first: axes of size 1 dropped, and runs of neighbouring axes of one class
/// merged into one.
pub(super) type AxisRuns = (Vec<usize>, Vec<usize>);

pub(super) fn split_axes(shape: &[usize], axes: &[usize]) -> (AxisRuns, AxisRuns) {
    let strides = row_major(shape);
    let (mut kept, mut red): (AxisRuns, AxisRuns) = Default::default();
    let mut last: Option<bool> = None;
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let reduced = axes.contains(&d);
        let run = if reduced { &mut red } else { &mut kept };
        if last == Some(reduced) {
            // The previous axis of this class is the one just outside this one.
            if let (Some(size), Some(step)) = (run.0.last_mut(), run.1.last_mut()) {
                *size *= n;
                *step = strides[d];
            }
        } else {
            run.0.push(n);
            run.1.push(strides[d]);
        }
        last = Some(reduced);
    }
    (kept, red)
}

/// The per-group function of a reduction of `kind` on `dtype` elements, after checking
/// the type and registering the math routines it calls.
pub(super) fn reduce_fn(cx: &mut NodeCx, kind: ReduceKind, dtype: DType) -> Result<ElemFn, String> {
    literal::elem(dtype)?;
    if dtype == DType::Bool {
        return match kind {
            ReduceKind::Max | ReduceKind::Min => Ok(ElemFn::Reduce { kind, dtype }),
            _ => Err(format!("{} is not defined for bool tensors", kind.name())),
        };
    }
    if !dtype.is_float() && !kind.takes_integers() {
        return Err(format!(
            "{} needs floating-point tensors, got {dtype}",
            kind.name()
        ));
    }
    let math: &[MathFn] = match kind {
        ReduceKind::L2 => &[MathFn::Sqrt],
        ReduceKind::LogSum => &[MathFn::Log],
        ReduceKind::LogSumExp => &[MathFn::Log, MathFn::Exp],
        ReduceKind::Mean => return Err("ReduceMean has its own kernel".into()),
        _ => &[],
    };
    for &f in math {
        cx.kernels.use_math(f, dtype)?;
    }
    Ok(ElemFn::Reduce { kind, dtype })
}

/// Adds a call of the generic `reduce` kernel over `axes` with the group function `f`.
pub(super) fn reduce_call(
    cx: &mut NodeCx,
    x: &TensorType,
    axes: &[usize],
    f: ElemFn,
) -> Result<(), String> {
    let ((kept, ks), (red, rs)) = split_axes(&x.shape, axes);
    cx.use_kernel(Kernel::Reduce, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Sizes(kept),
        Arg::Sizes(ks),
        Arg::Sizes(red),
        Arg::Sizes(rs),
        Arg::Fn(f),
    ];
    cx.call(Some(Kernel::Reduce), "reduce", args);
    Ok(())
}

pub(super) fn reduce(cx: &mut NodeCx, kind: ReduceKind, a: &ReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let axes = reduce_axes(cx, a)?;
    if axes.is_empty() {
        return copy(cx);
    }
    let f = reduce_fn(cx, kind, x.dtype)?;
    reduce_call(cx, x, &axes, f)
}

/// ArgMax/ArgMin: the generic reduction over the one axis, with a closure that tracks the
/// position of the best element (NaN beats every number, as numpy's argmax).
pub(super) fn arg_reduce(cx: &mut NodeCx, a: &ArgReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    literal::elem(x.dtype)?;
    if x.dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", a.name()));
    }
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let f = ElemFn::ArgReduce {
        max: a.max,
        last: a.select_last_index,
        dtype: x.dtype,
    };
    reduce_call(cx, x, &[axis], f)
}

pub(super) fn cumsum(cx: &mut NodeCx, a: &CumSumAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "x")?;
    let (outer, len, inner) = kiln_ir::ops::cumsum::cumsum_layout(a, x)?;
    cx.use_kernel(Kernel::CumSum, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Usize(outer),
        Arg::Usize(len),
        Arg::Usize(inner),
        Arg::Bool(a.exclusive),
        Arg::Bool(a.reverse),
    ];
    cx.call(Some(Kernel::CumSum), "cumsum", args);
    Ok(())
}

pub(super) fn top_k(cx: &mut NodeCx, a: &TopKAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    literal::elem(x.dtype)?;
    if x.dtype == DType::Bool {
        return Err("TopK is not defined for bool tensors".into());
    }
    let (outer, len, inner) = kiln_ir::ops::topk::topk_layout(a, x)?;
    cx.use_kernel(Kernel::TopK, x.dtype)?;
    let indices = cx.arg_opt_out(1)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        indices,
        Arg::Usize(outer),
        Arg::Usize(len),
        Arg::Usize(inner),
        Arg::Usize(a.k),
        Arg::Bool(a.largest),
    ];
    cx.call(Some(Kernel::TopK), "top_k", args);
    Ok(())
}

pub(super) fn reduce_mean(cx: &mut NodeCx, a: &ReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let axes = reduce_axes(cx, a)?;
    if axes.is_empty() {
        return copy(cx);
    }
    // The output's strides laid along the input's axes, 0 on the reduced ones.
    let kept: Vec<usize> = (0..x.rank())
        .map(|d| if axes.contains(&d) { 1 } else { x.shape[d] })
        .collect();
    let out: Vec<usize> = row_major(&kept)
        .into_iter()
        .enumerate()
        .map(|(d, s)| if axes.contains(&d) { 0 } else { s })
        .collect();
    let (shape, strides) = collapse(&x.shape, &[row_major(&x.shape), out]);
    let count: usize = axes.iter().map(|&d| x.shape[d]).product();
    cx.use_kernel(Kernel::ReduceMean, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Sizes(shape),
        Arg::Sizes(strides[1].clone()),
        Arg::Usize(count),
    ];
    cx.call(Some(Kernel::ReduceMean), "reduce_mean", args);
    Ok(())
}
