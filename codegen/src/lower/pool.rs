//! Lowering of the pool family.

use super::prelude::*;

pub(super) fn max_pool(cx: &mut NodeCx, a: &MaxPoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    if x.dtype == DType::Bool {
        return Err("MaxPool is not defined for bool tensors".into());
    }
    let column_major = match a.storage_order {
        0 => false,
        1 => true,
        s => return Err(format!("storage_order must be 0 or 1, got {s}")),
    };
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::MaxPool, x.dtype)?;
    let indices = optional_write(cx, 1)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let planes = x.shape[0] * x.shape[1];
    let epi = epilogue(cx, x.dtype)?;
    let b = &mut cx.body;
    b.open(format!("max_pool({xs}, {ys}, {indices}, &Window {{"));
    window_fields(b, &g);
    b.close(format!("}}, {planes}, {column_major}, {epi});"));
    Ok(())
}

pub(super) fn avg_pool(cx: &mut NodeCx, a: &AveragePoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::AvgPool, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let planes = x.shape[0] * x.shape[1];
    let pads_end = usizes(&pad3(&g.pads_end, 0));
    let epi = epilogue(cx, x.dtype)?;
    let b = &mut cx.body;
    b.open(format!("avg_pool({xs}, {ys}, &Window {{"));
    window_fields(b, &g);
    b.close(format!(
        "}}, {planes}, {pads_end}, {}, {epi});",
        a.count_include_pad
    ));
    Ok(())
}

pub(super) fn lp_pool(cx: &mut NodeCx, a: &LpPoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::LpPool, x.dtype)?;
    let t = literal::elem(x.dtype)?;
    let zero = literal::from_f64(x.dtype, 0.0)?;
    let (power, root) = if a.p == 1 {
        (
            format!("|v: {t}| if v < {zero} {{ -v }} else {{ v }}"),
            format!("|s: {t}| s"),
        )
    } else {
        let pow = cx.kernels.use_math(MathFn::Pow, x.dtype)?;
        let p = literal::from_f64(x.dtype, a.p as f64)?;
        let inv = literal::from_f64(x.dtype, 1.0 / a.p as f64)?;
        (
            format!("|v: {t}| {pow}(if v < {zero} {{ -v }} else {{ v }}, {p})"),
            format!("|s: {t}| {pow}(s, {inv})"),
        )
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let planes = x.shape[0] * x.shape[1];
    let pads_end = usizes(&pad3(&g.pads_end, 0));
    let b = &mut cx.body;
    b.open(format!("lp_pool({xs}, {ys}, &Window {{"));
    window_fields(b, &g);
    b.close(format!("}}, {planes}, {pads_end}, {power}, {root});"));
    Ok(())
}

pub(super) fn global_avg_pool(cx: &mut NodeCx) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    let len: usize = x.shape[2..].iter().product();
    cx.use_kernel(Kernel::GlobalAvgPool, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let epi = epilogue(cx, x.dtype)?;
    cx.body
        .line(format!("global_avg_pool({xs}, {ys}, {len}, {epi});"));
    Ok(())
}
