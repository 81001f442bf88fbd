//! Lowering of the gather family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

use kiln_ir::ops::gather::Reduction;
use kiln_ir::ops::{GatherAttrs, ScatterAttrs, TriluAttrs, View, generate, view};

/// The views of input 0 that the node's outputs are.
pub(super) fn node_views(cx: &NodeCx, x: &[usize]) -> Result<Vec<View>, String> {
    Ok(match &cx.node.op {
        Op::Slice(a) => vec![view::slice_view(a, x)?],
        Op::Split(a) => view::split_views(a, x)?,
        Op::Expand(a) => vec![view::expand_view(a, x)?],
        Op::Tile(a) => vec![view::tile_view(a, x)?],
        Op::DepthToSpace(a) => vec![view::depth_to_space_view(a, x)?.0],
        Op::SpaceToDepth(a) => vec![view::space_to_depth_view(a, x)?.0],
        other => return Err(format!("{} is not a view", other.name())),
    })
}

pub(super) fn views(cx: &mut NodeCx) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    literal::elem(x.dtype)?;
    let views = node_views(cx, &x.shape)?;
    for (slot, v) in views.iter().enumerate() {
        let n: usize = v.shape.iter().product();
        if n == 0 || slot >= cx.node.outputs.len() {
            continue;
        }
        let (xs, ys) = (cx.read(0)?, cx.arg_out(slot)?);
        if v.is_contiguous() {
            let src = if v.base == 0 && n == x.numel() {
                Arg::Operand(xs)
            } else {
                Arg::Range {
                    local: xs,
                    start: v.base,
                    len: n,
                }
            };
            cx.call(None, "copy", vec![src, ys]);
            continue;
        }
        let v = v.simplified();
        cx.use_kernel(Kernel::Strided, x.dtype)?;
        let strides = v.strides.iter().map(|&s| Arg::Int(s as i128)).collect();
        let args = vec![
            Arg::Operand(xs),
            ys,
            Arg::Usize(v.base),
            Arg::Sizes(v.shape),
            Arg::List(strides),
        ];
        cx.call(Some(Kernel::Strided), "strided", args);
    }
    Ok(())
}

/// Shape, Size, EyeLike, ConstantOfShape and Range, which the loader folds unless their
/// results are big: computed from the node's types and attributes.
pub(super) fn generated(cx: &mut NodeCx) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    literal::elem(y.dtype)?;
    let node = cx.node;
    let x = cx.in_ty(0, "input")?;
    if let Some(v) = generate::from_type(&node.op, x) {
        let v = v?;
        let ys = cx.arg_out(0)?;
        if let Op::EyeLike(a) = &node.op {
            // Zeros, then the ones of diagonal k.
            let (r, c) = (y.shape[0] as i64, y.shape[1] as i64);
            let (first, last) = ((-a.k).max(0), r.min(c - a.k));
            let zero = Arg::Scalar(y.dtype, 0.0);
            let one = Arg::Scalar(y.dtype, 1.0);
            cx.call(None, "fill", vec![ys.clone(), zero]);
            if last > first {
                let start = (first * (c + 1) + a.k) as usize;
                let args = vec![
                    ys,
                    Arg::Usize(start),
                    Arg::Usize((c + 1) as usize),
                    Arg::Usize((last - first) as usize),
                    one,
                ];
                cx.call(None, "set_strided", args);
            }
        } else {
            cx.call(None, "copy", vec![Arg::Data(v.data), ys]);
        }
        return Ok(());
    }
    match &node.op {
        Op::ConstantOfShape(a) => {
            let ys = cx.arg_out(0)?;
            cx.call(None, "fill", vec![ys, Arg::Const(a.value.data.clone())]);
        }
        Op::Range => {
            let (Some(s), Some(d)) = (cx.const_input(0), cx.const_input(2)) else {
                return Err("Range needs constant start and delta".into());
            };
            let (s, d) = (Arg::Const(s.data.clone()), Arg::Const(d.data.clone()));
            let ys = cx.arg_out(0)?;
            cx.call(None, "range", vec![ys, s, d]);
        }
        other => return Err(format!("{} has no generated form", other.name())),
    }
    Ok(())
}

pub(super) fn trilu(cx: &mut NodeCx, a: &TriluAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    literal::elem(x.dtype)?;
    let r = x.rank();
    let (rows, cols) = (x.shape[r - 2], x.shape[r - 1]);
    cx.use_kernel(Kernel::Trilu, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let args = vec![
        xs,
        ys,
        Arg::Usize(rows),
        Arg::Usize(cols),
        Arg::Int(a.k as i128),
        Arg::Bool(a.upper),
    ];
    cx.call(Some(Kernel::Trilu), "trilu", args);
    Ok(())
}

pub(super) fn index_elem(cx: &NodeCx, slot: usize) -> Result<&'static str, String> {
    let t = cx.in_ty(slot, "indices")?;
    match t.dtype {
        DType::I32 | DType::I64 => literal::elem(t.dtype),
        other => Err(format!("indices must be int32 or int64, got {other}")),
    }
}

pub(super) fn gather(cx: &mut NodeCx, a: &GatherAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    literal::elem(x.dtype)?;
    index_elem(cx, 1)?;
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let d = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    cx.use_kernel(Kernel::Gather, x.dtype)?;
    let (xs, is, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
    let args = vec![xs, is, ys, Arg::Usize(d), Arg::Usize(inner)];
    cx.call(Some(Kernel::Gather), "gather_rows", args);
    Ok(())
}

/// The element function combining old and new values of a scatter.
pub(super) fn combine(reduction: Reduction, dtype: DType) -> Result<ElemFn, String> {
    literal::elem(dtype)?;
    Ok(ElemFn::Combine { reduction, dtype })
}

pub(super) fn gather_elements(cx: &mut NodeCx, scatter: bool) -> Result<(), String> {
    let (axis_attr, reduction) = match &cx.node.op {
        Op::ScatterElements(ScatterAttrs { axis, reduction }) => (*axis, *reduction),
        Op::GatherElements(g) => (g.axis, Reduction::None),
        _ => return Err("not GatherElements or ScatterElements".into()),
    };
    let x = cx.in_ty(0, "data")?;
    let i = cx.in_ty(1, "indices")?;
    literal::elem(x.dtype)?;
    index_elem(cx, 1)?;
    let axis = normalize_axis(axis_attr, x.rank())
        .ok_or_else(|| format!("axis {axis_attr} is out of range for {x}"))?;
    let d = x.shape[axis];
    let geo = [
        Arg::Sizes(i.shape.clone()),
        Arg::Sizes(row_major(&x.shape)),
        Arg::Usize(axis),
        Arg::Usize(d),
    ];
    if scatter {
        let f = combine(reduction, x.dtype)?;
        let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
        cx.call(None, "copy", vec![xs, ys.clone()]);
        if i.numel() > 0 {
            cx.use_kernel(Kernel::ScatterElements, x.dtype)?;
            let (is, us) = (cx.arg_in(1)?, cx.arg_in(2)?);
            let mut args = vec![ys, is, us];
            args.extend(geo);
            args.push(Arg::Fn(f));
            cx.call(Some(Kernel::ScatterElements), "scatter_elements", args);
        }
    } else {
        cx.use_kernel(Kernel::GatherElements, x.dtype)?;
        let (xs, is, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
        let mut args = vec![xs, is, ys];
        args.extend(geo);
        cx.call(Some(Kernel::GatherElements), "gather_elements", args);
    }
    Ok(())
}

pub(super) fn gather_nd(
    cx: &mut NodeCx,
    b: usize,
    scatter: Option<Reduction>,
) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let i = cx.in_ty(1, "indices")?;
    literal::elem(x.dtype)?;
    if i.dtype != DType::I64 {
        return Err(format!("indices must be int64, got {}", i.dtype));
    }
    let q = i.rank();
    let m = i.shape[q - 1];
    if q == 0 || b + m > x.rank() {
        return Err(format!("indices {i} do not fit data {x}"));
    }
    let rm = row_major(&x.shape);
    let dims = Arg::Sizes(x.shape[b..b + m].to_vec());
    let strides = Arg::Sizes(rm[b..b + m].to_vec());
    let slice: usize = x.shape[b + m..].iter().product();
    let per: usize = i.shape[b..q - 1].iter().product();
    let batch: usize = x.shape[b..].iter().product();
    match scatter {
        None => {
            cx.use_kernel(Kernel::GatherNd, x.dtype)?;
            let (xs, is, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
            let args = vec![
                xs,
                is,
                ys,
                dims,
                strides,
                Arg::Usize(per),
                Arg::Usize(batch),
                Arg::Usize(slice),
            ];
            cx.call(Some(Kernel::GatherNd), "gather_nd", args);
        }
        Some(r) => {
            let f = combine(r, x.dtype)?;
            cx.use_kernel(Kernel::ScatterNd, x.dtype)?;
            let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
            cx.call(None, "copy", vec![xs, ys.clone()]);
            let (is, us) = (cx.arg_in(1)?, cx.arg_in(2)?);
            let args = vec![ys, is, us, dims, strides, Arg::Usize(slice), Arg::Fn(f)];
            cx.call(Some(Kernel::ScatterNd), "scatter_nd", args);
        }
    }
    Ok(())
}

pub(super) fn one_hot(cx: &mut NodeCx) -> Result<(), String> {
    let Op::OneHot(a) = &cx.node.op else {
        return Err("not OneHot".into());
    };
    let y = cx.out_ty(0)?;
    let i = cx.in_ty(0, "indices")?;
    literal::elem(y.dtype)?;
    literal::elem(i.dtype)?;
    let axis = normalize_axis(a.axis, y.rank())
        .ok_or_else(|| format!("axis {} is out of range for {y}", a.axis))?;
    let depth = y.shape[axis];
    let inner: usize = y.shape[axis + 1..].iter().product();
    if i.dtype == DType::Bool {
        return Err("bool indices are not supported".into());
    }
    let to_int = ElemFn::ToIndex { dtype: i.dtype };
    cx.use_kernel(Kernel::OneHot, y.dtype)?;
    let (is, vs, ys) = (cx.arg_in(0)?, cx.arg_in(2)?, cx.arg_out(0)?);
    let args = vec![
        is,
        vs,
        ys,
        Arg::Usize(depth),
        Arg::Usize(inner.max(1)),
        Arg::Fn(to_int),
    ];
    cx.call(Some(Kernel::OneHot), "one_hot", args);
    Ok(())
}
