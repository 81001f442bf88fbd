//! Lowering of the softmax family.

use super::prelude::*;

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
    let ln = cx.kernels.use_math(MathFn::Log, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "log_softmax({xs}, {ys}, {outer}, {len}, {inner}, {ln});"
    ));
    Ok(())
}

pub(super) fn hardmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    if !x.dtype.is_float() {
        return Err(format!("Hardmax needs a floating-point input, got {x}"));
    }
    let (zero, one) = (
        literal::from_f64(x.dtype, 0.0)?,
        literal::from_f64(x.dtype, 1.0)?,
    );
    cx.use_kernel(Kernel::Hardmax, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "hardmax({xs}, {ys}, {outer}, {len}, {inner}, {zero}, {one});"
    ));
    Ok(())
}

pub(super) fn softmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    cx.use_kernel(Kernel::Softmax, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body
        .line(format!("softmax({xs}, {ys}, {outer}, {len}, {inner});"));
    Ok(())
}
