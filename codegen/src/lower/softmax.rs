//! Lowering of the softmax family.

use super::prelude::*;
use crate::program::Arg;

/// `(outer, len, inner)` of a softmax-family op: each group is `len` elements `inner` apart;
/// opsets < 13 make the trailing block one contiguous group.
pub(super) fn softmax_groups(
    x: &TensorType,
    a: &SoftmaxAttrs,
) -> Result<(usize, usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let s = &x.shape;
    let outer: usize = s[..axis].iter().product();
    let (len, inner) = if a.coerce_2d {
        (s[axis..].iter().product::<usize>(), 1)
    } else {
        (s[axis], s[axis + 1..].iter().product::<usize>())
    };
    Ok((outer, len, inner))
}

pub(super) fn log_softmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    cx.use_kernel(Kernel::LogSoftmax, x.dtype)?;
    cx.kernels.use_math(MathFn::Log, x.dtype)?;
    let mut args = groups_args(cx, outer, len, inner)?;
    args.push(Arg::Math(MathFn::Log, x.dtype));
    cx.call(Some(Kernel::LogSoftmax), "log_softmax", args);
    Ok(())
}

pub(super) fn hardmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    if !x.dtype.is_float() {
        return Err(format!("Hardmax needs a floating-point input, got {x}"));
    }
    cx.use_kernel(Kernel::Hardmax, x.dtype)?;
    let mut args = groups_args(cx, outer, len, inner)?;
    args.extend([Arg::Scalar(x.dtype, 0.0), Arg::Scalar(x.dtype, 1.0)]);
    cx.call(Some(Kernel::Hardmax), "hardmax", args);
    Ok(())
}

pub(super) fn softmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    cx.use_kernel(Kernel::Softmax, x.dtype)?;
    let args = groups_args(cx, outer, len, inner)?;
    cx.call(Some(Kernel::Softmax), "softmax", args);
    Ok(())
}

/// The arguments every softmax-family kernel starts with: input 0, output 0 and the groups.
fn groups_args(
    cx: &mut NodeCx,
    outer: usize,
    len: usize,
    inner: usize,
) -> Result<Vec<Arg>, String> {
    Ok(vec![
        cx.arg_in(0)?,
        cx.arg_out(0)?,
        Arg::Usize(outer),
        Arg::Usize(len),
        Arg::Usize(inner),
    ])
}
