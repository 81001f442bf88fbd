//! Lowering of the norm family.

use super::prelude::*;

/// A kernel's argument for the optional output `slot`: `Some(<its slice>)` when the node
/// has that output, else `None`.
pub(super) fn optional_write(cx: &mut NodeCx, slot: usize) -> Result<String, String> {
    Ok(if slot < cx.node.outputs.len() {
        format!("Some({})", cx.write(slot)?)
    } else {
        "None".into()
    })
}

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
    let eps = literal::from_f64(x.dtype, a.epsilon as f64)?;
    let channels = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    let stats = [cx.read(1)?, cx.read(2)?, cx.read(3)?, cx.read(4)?].join(", ");
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let Some(momentum) = a.training_momentum else {
        cx.use_kernel(Kernel::BatchNorm, x.dtype)?;
        cx.body.line(format!(
            "batch_norm({xs}, {ys}, [{stats}], {eps}, {channels}, {inner});"
        ));
        return Ok(());
    };
    cx.use_kernel(Kernel::BatchNormTrain, x.dtype)?;
    // 1 - momentum in f64, as the reference semantics and numpy compute it.
    let m = momentum as f64;
    let (mom, keep) = (
        literal::from_f64(x.dtype, m)?,
        literal::from_f64(x.dtype, 1.0 - m)?,
    );
    let running = [optional_write(cx, 1)?, optional_write(cx, 2)?];
    cx.body.line(format!(
        "batch_norm_train({xs}, {ys}, [{stats}], {eps}, {mom}, {keep}, {channels}, {inner}, {}, {});",
        running[0], running[1]
    ));
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
    let eps = literal::from_f64(x.dtype, a.epsilon as f64)?;
    let scale = cx.read(1)?;
    let bias = if cx.has_input(2) {
        format!("Some({})", cx.read(2)?)
    } else {
        "None".into()
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "layer_norm({xs}, {ys}, {scale}, {bias}, {eps}, {len});"
    ));
    // The Mean and InvStdDev outputs, when the node has them.
    if cx.node.outputs.len() > 1 {
        cx.use_kernel(Kernel::LayerNormStats, x.dtype)?;
        let stats = [optional_write(cx, 1)?, optional_write(cx, 2)?];
        cx.body.line(format!(
            "layer_norm_stats({xs}, {}, {}, {eps}, {len});",
            stats[0], stats[1]
        ));
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
    let eps = literal::from_f64(x.dtype, a.epsilon as f64)?;
    let (scale, bias) = (cx.read(1)?, cx.read(2)?);
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "group_norm({xs}, {ys}, {scale}, {bias}, {eps}, {len}, {spatial}, {channels});"
    ));
    Ok(())
}

pub(super) fn lp_norm(cx: &mut NodeCx, a: &LpNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = kiln_ir::ops::norm::lp_norm_layout(a, x)?;
    cx.use_kernel(Kernel::LpNorm, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "lp_norm({xs}, {ys}, {outer}, {len}, {inner}, {});",
        a.p == 1
    ));
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
    let pow = cx.kernels.use_math(MathFn::Pow, x.dtype)?;
    let lit = |v: f32| literal::from_f64(x.dtype, v as f64);
    let (alpha, beta, bias) = (lit(a.alpha)?, lit(a.beta)?, lit(a.bias)?);
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "lrn({xs}, {ys}, {items}, {channels}, {spatial}, {}, {alpha}, {beta}, {bias}, {pow});",
        a.size
    ));
    Ok(())
}

pub(super) fn mvn(cx: &mut NodeCx, a: &MvnAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let axes = kiln_ir::ops::norm::mvn_axes(a, x)?;
    let ((kept, ks), (red, rs)) = split_axes(&x.shape, &axes);
    cx.use_kernel(Kernel::Mvn, x.dtype)?;
    let eps = literal::from_f64(x.dtype, kiln_ir::ops::norm::MVN_EPSILON)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "mvn({xs}, {ys}, &{}, &{}, &{}, &{}, {eps});",
        usizes(&kept),
        usizes(&ks),
        usizes(&red),
        usizes(&rs)
    ));
    Ok(())
}
