//! Lowering of the pool family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

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
    let indices = cx.arg_opt_out(1)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let planes = x.shape[0] * x.shape[1];
    let epi = epilogue(cx, x.dtype)?;
    let args = vec![
        xs,
        ys,
        indices,
        window_arg(&g),
        Arg::Usize(planes),
        Arg::Bool(column_major),
        epi,
    ];
    cx.call(Some(Kernel::MaxPool), "max_pool", args);
    Ok(())
}

pub(super) fn avg_pool(cx: &mut NodeCx, a: &AveragePoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::AvgPool, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let planes = x.shape[0] * x.shape[1];
    let epi = epilogue(cx, x.dtype)?;
    let args = vec![
        xs,
        ys,
        window_arg(&g),
        Arg::Usize(planes),
        Arg::Array(pad3(&g.pads_end, 0).to_vec()),
        Arg::Bool(a.count_include_pad),
        epi,
    ];
    cx.call(Some(Kernel::AvgPool), "avg_pool", args);
    Ok(())
}

pub(super) fn lp_pool(cx: &mut NodeCx, a: &LpPoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::LpPool, x.dtype)?;
    literal::elem(x.dtype)?;
    if a.p != 1 {
        cx.kernels.use_math(MathFn::Pow, x.dtype)?;
    }
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let planes = x.shape[0] * x.shape[1];
    let args = vec![
        xs,
        ys,
        window_arg(&g),
        Arg::Usize(planes),
        Arg::Array(pad3(&g.pads_end, 0).to_vec()),
        Arg::Fn(ElemFn::LpPower {
            p: a.p,
            dtype: x.dtype,
        }),
        Arg::Fn(ElemFn::LpRoot {
            p: a.p,
            dtype: x.dtype,
        }),
    ];
    cx.call(Some(Kernel::LpPool), "lp_pool", args);
    Ok(())
}

pub(super) fn global_avg_pool(cx: &mut NodeCx) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    let len: usize = x.shape[2..].iter().product();
    cx.use_kernel(Kernel::GlobalAvgPool, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let epi = epilogue(cx, x.dtype)?;
    let args = vec![xs, ys, Arg::Usize(len), epi];
    cx.call(Some(Kernel::GlobalAvgPool), "global_avg_pool", args);
    Ok(())
}
