//! Lowering of the reduce family.

use super::prelude::*;

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

/// The per-group closure of a reduction of `kind` on `dtype` elements.
pub(super) fn reduce_fn(cx: &mut NodeCx, kind: ReduceKind, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let float = dtype.is_float();
    let (zero, one) = (format!("0{t}"), format!("1{t}"));
    if dtype == DType::Bool {
        return match kind {
            ReduceKind::Max => Ok("|g| g.fold(false, |a, v| a | v)".into()),
            ReduceKind::Min => Ok("|g| g.fold(true, |a, v| a & v)".into()),
            _ => Err(format!("{} is not defined for bool tensors", kind.name())),
        };
    }
    if !float && !kind.takes_integers() {
        return Err(format!(
            "{} needs floating-point tensors, got {dtype}",
            kind.name()
        ));
    }
    let add = |a: &str, b: &str| {
        if float {
            format!("{a} + {b}")
        } else {
            format!("{a}.wrapping_add({b})")
        }
    };
    let mul = |a: &str, b: &str| {
        if float {
            format!("{a} * {b}")
        } else {
            format!("{a}.wrapping_mul({b})")
        }
    };
    let sum_of = |v: &str| format!("g.fold({zero}, |a, v| {})", add("a", v));
    Ok(match kind {
        ReduceKind::Sum => format!("|g| {}", sum_of("v")),
        ReduceKind::Prod => format!("|g| g.fold({one}, |a, v| {})", mul("a", "v")),
        ReduceKind::SumSquare => format!("|g| {}", sum_of(&mul("v", "v"))),
        ReduceKind::L1 => {
            let abs = if float {
                format!("(if v < {zero} {{ -v }} else {{ v }})")
            } else if dtype.is_signed() {
                "v.wrapping_abs()".into()
            } else {
                "v".into()
            };
            format!("|g| {}", sum_of(&abs))
        }
        ReduceKind::Max | ReduceKind::Min => {
            let (cmp, init) = match (kind == ReduceKind::Max, float) {
                (true, true) => (">", format!("{t}::NEG_INFINITY")),
                (false, true) => ("<", format!("{t}::INFINITY")),
                (true, false) => (">", format!("{t}::MIN")),
                (false, false) => ("<", format!("{t}::MAX")),
            };
            // NaN propagates, as in numpy.
            let nan = if float { " || v.is_nan()" } else { "" };
            format!("|g| g.fold({init}, |a, v| if v {cmp} a{nan} {{ v }} else {{ a }})")
        }
        ReduceKind::L2 => {
            let sqrt = cx.kernels.use_math(MathFn::Sqrt, dtype)?;
            format!("|g| {sqrt}({})", sum_of("v * v"))
        }
        ReduceKind::LogSum => {
            let ln = cx.kernels.use_math(MathFn::Log, dtype)?;
            format!("|g| {ln}({})", sum_of("v"))
        }
        ReduceKind::LogSumExp => {
            // The largest finite element is subtracted first (ONNX's reference does too).
            let ln = cx.kernels.use_math(MathFn::Log, dtype)?;
            let exp = cx.kernels.use_math(MathFn::Exp, dtype)?;
            format!(
                "|g| {{ let m = g.clone().fold({t}::NEG_INFINITY, |a, v| if v > a && v.is_finite() {{ v }} else {{ a }}); \
                 let m = if m == {t}::NEG_INFINITY {{ {zero} }} else {{ m }}; \
                 {ln}({}) + m }}",
                sum_of(&format!("{exp}(v - m)"))
            )
        }
        ReduceKind::Mean => return Err("ReduceMean has its own kernel".into()),
    })
}

/// Writes a call of the generic `reduce` kernel over `axes` with the closure `f`.
pub(super) fn reduce_call(
    cx: &mut NodeCx,
    x: &TensorType,
    axes: &[usize],
    f: &str,
) -> Result<(), String> {
    let ((kept, ks), (red, rs)) = split_axes(&x.shape, axes);
    cx.use_kernel(Kernel::Reduce, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "reduce({xs}, {ys}, &{}, &{}, &{}, &{}, {f});",
        usizes(&kept),
        usizes(&ks),
        usizes(&red),
        usizes(&rs)
    ));
    Ok(())
}

pub(super) fn reduce(cx: &mut NodeCx, kind: ReduceKind, a: &ReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let axes = reduce_axes(cx, a)?;
    if axes.is_empty() {
        return copy(cx);
    }
    let f = reduce_fn(cx, kind, x.dtype)?;
    reduce_call(cx, x, &axes, &f)
}

/// ArgMax/ArgMin: the generic reduction over the one axis, with a closure that tracks the
/// position of the best element (NaN beats every number, as numpy's argmax).
pub(super) fn arg_reduce(cx: &mut NodeCx, a: &ArgReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let t = literal::elem(x.dtype)?;
    if x.dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", a.name()));
    }
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let cmp = match (a.max, a.select_last_index) {
        (true, false) => ">",
        (true, true) => ">=",
        (false, false) => "<",
        (false, true) => "<=",
    };
    let better = match (x.dtype.is_float(), a.select_last_index) {
        (false, _) => format!("v {cmp} b"),
        (true, false) => format!("!b.is_nan() && (v.is_nan() || v {cmp} b)"),
        (true, true) => format!("v.is_nan() || (!b.is_nan() && v {cmp} b)"),
    };
    let f = format!(
        "|g| {{ let (mut best, mut b) = (0i64, 0{t}); for (j, v) in g.enumerate() {{ \
         if j == 0 || {better} {{ best = j as i64; b = v; }} }} best }}"
    );
    reduce_call(cx, x, &[axis], &f)
}

pub(super) fn cumsum(cx: &mut NodeCx, a: &CumSumAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "x")?;
    let (outer, len, inner) = kiln_ir::ops::cumsum::cumsum_layout(a, x)?;
    cx.use_kernel(Kernel::CumSum, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "cumsum({xs}, {ys}, {outer}, {len}, {inner}, {}, {});",
        a.exclusive, a.reverse
    ));
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
    let indices = optional_write(cx, 1)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "top_k({xs}, {ys}, {indices}, {outer}, {len}, {inner}, {}, {});",
        a.k, a.largest
    ));
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
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "reduce_mean({xs}, {ys}, &{}, &{}, {count});",
        usizes(&shape),
        usizes(&strides[1])
    ));
    Ok(())
}
