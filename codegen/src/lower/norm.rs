//! Lowering of the norm family.

use super::prelude::*;
use crate::program::Arg;

pub(super) fn batch_norm(cx: &mut NodeCx, a: &BatchNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    for (slot, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
        let t = cx.in_ty(slot, what)?;
        if t.dtype != x.dtype {
            return Err(format!(
                "{what} {t} must have the element type of X {x} (mixed types are not supported)"
            ));
        }
    }
    let eps = Arg::Scalar(x.dtype, a.epsilon as f64);
    let channels = Arg::Usize(x.shape[1]);
    let inner = Arg::Usize(x.shape[2..].iter().product());
    let stats = Arg::Items(vec![
        cx.arg_in(1)?,
        cx.arg_in(2)?,
        cx.arg_in(3)?,
        cx.arg_in(4)?,
    ]);
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let Some(momentum) = a.training_momentum else {
        cx.use_kernel(Kernel::BatchNorm, x.dtype)?;
        let args = vec![xs, ys, stats, eps, channels, inner];
        cx.call(Some(Kernel::BatchNorm), "batch_norm", args);
        return Ok(());
    };
    cx.use_kernel(Kernel::BatchNormTrain, x.dtype)?;
    // 1 - momentum in f64, as the reference semantics and numpy compute it.
    let m = momentum as f64;
    let (mom, keep) = (Arg::Scalar(x.dtype, m), Arg::Scalar(x.dtype, 1.0 - m));
    let (mean, var) = (cx.arg_opt_out(1)?, cx.arg_opt_out(2)?);
    let args = vec![xs, ys, stats, eps, mom, keep, channels, inner, mean, var];
    cx.call(Some(Kernel::BatchNormTrain), "batch_norm_train", args);
    Ok(())
}

/// Whether a LayerNormalization's Scale or B of shape `p`, broadcast to X of shape `x`
/// normalised from `axis`, repeats one contiguous run along every row (what the kernel
/// reads): after its leading 1s it must be a trailing part of the normalised shape.
pub(super) fn repeats_along_rows(p: &[usize], x: &[usize], axis: usize) -> bool {
    let first = p.iter().position(|&d| d != 1).unwrap_or(p.len());
    let rest = &p[first..];
    rest.len() <= x.len() - axis && x.ends_with(rest)
}

pub(super) fn layer_norm(cx: &mut NodeCx, a: &LayerNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let (_, len) = kiln_ir::ops::norm::layer_norm_rows(a, x)?;
    for (slot, what) in [(1, "Scale"), (2, "B")] {
        if slot == 2 && !cx.has_input(2) {
            continue;
        }
        let t = cx.in_ty(slot, what)?;
        if !repeats_along_rows(&t.shape, &x.shape, axis) {
            return Err(format!(
                "{what} {t} broadcasts over X {x} in a way the kernel does not support: it \
                 must match the trailing axes of the normalised shape"
            ));
        }
    }
    cx.use_kernel(Kernel::LayerNorm, x.dtype)?;
    let eps = Arg::Scalar(x.dtype, a.epsilon as f64);
    let scale = cx.arg_in(1)?;
    let bias = cx.arg_opt(2)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![xs.clone(), ys, scale, bias, eps.clone(), Arg::Usize(len)];
    cx.call(Some(Kernel::LayerNorm), "layer_norm", args);
    // The Mean and InvStdDev outputs, when the node has them.
    if cx.node.outputs.len() > 1 {
        cx.use_kernel(Kernel::LayerNormStats, x.dtype)?;
        let (mean, inv) = (cx.arg_opt_out(1)?, cx.arg_opt_out(2)?);
        let args = vec![xs, mean, inv, eps, Arg::Usize(len)];
        cx.call(Some(Kernel::LayerNormStats), "layer_norm_stats", args);
    }
    Ok(())
}

pub(super) fn group_norm(cx: &mut NodeCx, a: &GroupNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let (_, len, spatial, channels) = kiln_ir::ops::norm::group_norm_layout(a, x)?;
    for (slot, what) in [(1, "scale"), (2, "B")] {
        let t = cx.in_ty(slot, what)?;
        if t.numel() == 0 || channels % t.numel() != 0 {
            return Err(format!(
                "{what} {t} must have one element per channel or group"
            ));
        }
    }
    cx.use_kernel(Kernel::GroupNorm, x.dtype)?;
    let eps = Arg::Scalar(x.dtype, a.epsilon as f64);
    let (scale, bias) = (cx.arg_in(1)?, cx.arg_in(2)?);
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        scale,
        bias,
        eps,
        Arg::Usize(len),
        Arg::Usize(spatial),
        Arg::Usize(channels),
    ];
    cx.call(Some(Kernel::GroupNorm), "group_norm", args);
    Ok(())
}

pub(super) fn lp_norm(cx: &mut NodeCx, a: &LpNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = kiln_ir::ops::norm::lp_norm_layout(a, x)?;
    cx.use_kernel(Kernel::LpNorm, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Usize(outer),
        Arg::Usize(len),
        Arg::Usize(inner),
        Arg::Bool(a.p == 1),
    ];
    cx.call(Some(Kernel::LpNorm), "lp_norm", args);
    Ok(())
}

pub(super) fn lrn(cx: &mut NodeCx, a: &LrnAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 || a.size == 0 {
        return Err(format!("LRN needs X of rank ≥ 2 and size ≥ 1, got {x}"));
    }
    let (items, channels) = (x.shape[0], x.shape[1]);
    let spatial: usize = x.shape[2..].iter().product();
    cx.use_kernel(Kernel::Lrn, x.dtype)?;
    cx.kernels.use_math(MathFn::Pow, x.dtype)?;
    let lit = |v: f32| Arg::Scalar(x.dtype, v as f64);
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Usize(items),
        Arg::Usize(channels),
        Arg::Usize(spatial),
        Arg::Usize(a.size),
        lit(a.alpha),
        lit(a.beta),
        lit(a.bias),
        Arg::Math(MathFn::Pow, x.dtype),
    ];
    cx.call(Some(Kernel::Lrn), "lrn", args);
    Ok(())
}

pub(super) fn mvn(cx: &mut NodeCx, a: &MvnAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let axes = kiln_ir::ops::norm::mvn_axes(a, x)?;
    let ((kept, ks), (red, rs)) = split_axes(&x.shape, &axes);
    cx.use_kernel(Kernel::Mvn, x.dtype)?;
    let eps = Arg::Scalar(x.dtype, kiln_ir::ops::norm::MVN_EPSILON);
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Sizes(kept),
        Arg::Sizes(ks),
        Arg::Sizes(red),
        Arg::Sizes(rs),
        eps,
    ];
    cx.call(Some(Kernel::Mvn), "mvn", args);
    Ok(())
}
