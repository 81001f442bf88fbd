//! Lowering of the gather family.

use super::prelude::*;

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
        let (xs, ys) = (cx.read(0)?, cx.write(slot)?);
        if v.is_contiguous() {
            let range = if v.base == 0 && n == x.numel() {
                String::new()
            } else {
                format!("[{}..{}]", v.base, v.base + n)
            };
            cx.body.line(format!("{ys}.copy_from_slice(&{xs}{range});"));
            continue;
        }
        let v = v.simplified();
        cx.use_kernel(Kernel::Strided, x.dtype)?;
        let strides: Vec<String> = v.strides.iter().map(|s| s.to_string()).collect();
        cx.body.line(format!(
            "strided({xs}, {ys}, {}, &{}, &[{}]);",
            v.base,
            usizes(&v.shape),
            strides.join(", ")
        ));
    }
    Ok(())
}

/// Shape, Size, EyeLike, ConstantOfShape and Range, which the loader folds unless their
/// results are big: computed from the node's types and attributes.
pub(super) fn generated(cx: &mut NodeCx) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    let t = literal::elem(y.dtype)?;
    let node = cx.node;
    let x = cx.in_ty(0, "input")?;
    if let Some(v) = generate::from_type(&node.op, x) {
        let v = v?;
        let ys = cx.write(0)?;
        if let Op::EyeLike(a) = &node.op {
            // Zeros, then the ones of diagonal k.
            let (r, c) = (y.shape[0] as i64, y.shape[1] as i64);
            let (first, last) = ((-a.k).max(0), r.min(c - a.k));
            let zero = literal::from_f64(y.dtype, 0.0)?;
            let one = literal::from_f64(y.dtype, 1.0)?;
            cx.body.line(format!("{ys}.fill({zero});"));
            if last > first {
                let start = first * (c + 1) + a.k;
                cx.body.line(format!(
                    "for f in ({start}..).step_by({}).take({}) {{ {ys}[f] = {one}; }}",
                    c + 1,
                    last - first
                ));
            }
        } else {
            let vals: Vec<String> = (0..v.numel())
                .map(|i| literal::element(&v.data, i))
                .collect();
            cx.body
                .line(format!("{ys}.copy_from_slice(&[{}]);", vals.join(", ")));
        }
        return Ok(());
    }
    match &node.op {
        Op::ConstantOfShape(a) => {
            let ys = cx.write(0)?;
            let v = literal::element(&a.value.data, 0);
            cx.body.line(format!("{ys}.fill({v});"));
        }
        Op::Range => {
            let (Some(s), Some(d)) = (cx.const_input(0), cx.const_input(2)) else {
                return Err("Range needs constant start and delta".into());
            };
            let (s, d) = (literal::element(&s.data, 0), literal::element(&d.data, 0));
            let ys = cx.write(0)?;
            let f = if y.dtype.is_float() {
                format!("{s} + (i as {t}) * {d}")
            } else {
                format!("({s} as {t}).wrapping_add((i as {t}).wrapping_mul({d}))")
            };
            cx.body.line(format!(
                "for (i, o) in {ys}.iter_mut().enumerate() {{ *o = {f}; }}"
            ));
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
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "trilu({xs}, {ys}, {rows}, {cols}, {}, {});",
        a.k, a.upper
    ));
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
    let (xs, is, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    cx.body
        .line(format!("gather_rows({xs}, {is}, {ys}, {d}, {inner});"));
    Ok(())
}

/// The element function combining old and new values of a scatter.
pub(super) fn combine(r: Reduction, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let body = match (r, dtype) {
        (Reduction::None, _) => "q",
        (Reduction::Add | Reduction::Max, DType::Bool) => "p | q",
        (Reduction::Mul | Reduction::Min, DType::Bool) => "p & q",
        (Reduction::Add, d) if d.is_float() => "p + q",
        (Reduction::Mul, d) if d.is_float() => "p * q",
        (Reduction::Add, _) => "p.wrapping_add(q)",
        (Reduction::Mul, _) => "p.wrapping_mul(q)",
        // numpy's maximum and minimum: a NaN on either side wins.
        (Reduction::Max, _) => "if p != p { p } else if q != q || q > p { q } else { p }",
        (Reduction::Min, _) => "if p != p { p } else if q != q || q < p { q } else { p }",
    };
    let p = if r == Reduction::None { "_" } else { "p" };
    Ok(format!("|{p}: {t}, q: {t}| {body}"))
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
    let geo = format!(
        "&{}, &{}, {axis}, {d}",
        usizes(&i.shape),
        usizes(&row_major(&x.shape))
    );
    if scatter {
        let f = combine(reduction, x.dtype)?;
        let (xs, ys) = (cx.read(0)?, cx.write(0)?);
        cx.body.line(format!("{ys}.copy_from_slice({xs});"));
        if i.numel() > 0 {
            cx.use_kernel(Kernel::ScatterElements, x.dtype)?;
            let (is, us) = (cx.read(1)?, cx.read(2)?);
            cx.body
                .line(format!("scatter_elements({ys}, {is}, {us}, {geo}, {f});"));
        }
    } else {
        cx.use_kernel(Kernel::GatherElements, x.dtype)?;
        let (xs, is, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
        cx.body
            .line(format!("gather_elements({xs}, {is}, {ys}, {geo});"));
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
    let dims = usizes(&x.shape[b..b + m]);
    let strides = usizes(&rm[b..b + m]);
    let slice: usize = x.shape[b + m..].iter().product();
    let per: usize = i.shape[b..q - 1].iter().product();
    let batch: usize = x.shape[b..].iter().product();
    match scatter {
        None => {
            cx.use_kernel(Kernel::GatherNd, x.dtype)?;
            let (xs, is, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
            cx.body.line(format!(
                "gather_nd({xs}, {is}, {ys}, &{dims}, &{strides}, {per}, {batch}, {slice});"
            ));
        }
        Some(r) => {
            let f = combine(r, x.dtype)?;
            cx.use_kernel(Kernel::ScatterNd, x.dtype)?;
            let (xs, ys) = (cx.read(0)?, cx.write(0)?);
            cx.body.line(format!("{ys}.copy_from_slice({xs});"));
            let (is, us) = (cx.read(1)?, cx.read(2)?);
            cx.body.line(format!(
                "scatter_nd({ys}, {is}, {us}, &{dims}, &{strides}, {slice}, {f});"
            ));
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
    let it = literal::elem(i.dtype)?;
    let axis = normalize_axis(a.axis, y.rank())
        .ok_or_else(|| format!("axis {} is out of range for {y}", a.axis))?;
    let depth = y.shape[axis];
    let inner: usize = y.shape[axis + 1..].iter().product();
    let to_int = if i.dtype.is_float() {
        format!("|v: {it}| v as i64")
    } else if i.dtype == DType::Bool {
        return Err("bool indices are not supported".into());
    } else {
        format!("|v: {it}| v as i64")
    };
    cx.use_kernel(Kernel::OneHot, y.dtype)?;
    let (is, vs, ys) = (cx.read(0)?, cx.read(2)?, cx.write(0)?);
    cx.body.line(format!(
        "one_hot({is}, {vs}, {ys}, {depth}, {}, {to_int});",
        inner.max(1)
    ));
    Ok(())
}
