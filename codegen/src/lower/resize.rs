//! Lowering of the resize family.

use super::prelude::*;
use crate::program::Arg;

/// Resize: the per-axis tap tables of [`kiln_ir::ops::resize::plan`] as literals, runs of
/// unchanged axes merged, led by unit axes to four.
pub(super) fn resize(cx: &mut NodeCx, a: &ResizeAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let plan = kiln_ir::ops::resize::plan(a, &x.shape)?;
    // (input, output, taps, index, weight, outside) per axis after merging.
    type Axis = (usize, usize, usize, Vec<usize>, Vec<f64>, Vec<bool>);
    let mut axes: Vec<Axis> = Vec::new();
    let mut run: Option<usize> = None;
    for ax in &plan {
        if ax.is_identity() {
            run = Some(run.unwrap_or(1) * ax.input);
            continue;
        }
        if let Some(n) = run.take() {
            axes.push((n, n, 1, (0..n).collect(), vec![1.0; n], Vec::new()));
        }
        let outside = if ax.outside.contains(&true) {
            ax.outside.clone()
        } else {
            Vec::new()
        };
        axes.push((
            ax.input,
            ax.output,
            ax.taps,
            ax.index.clone(),
            ax.weight.clone(),
            outside,
        ));
    }
    if let Some(n) = run.take() {
        axes.push((n, n, 1, (0..n).collect(), vec![1.0; n], Vec::new()));
    }
    if axes.len() > 4 {
        return Err(format!(
            "Resize of {x} changes axes that do not merge into four; the kernel handles four"
        ));
    }
    while axes.len() < 4 {
        axes.insert(0, (1, 1, 1, vec![0], vec![1.0], Vec::new()));
    }
    let nearest = a.mode == kiln_ir::ops::resize::ResizeMode::Nearest;
    literal::elem(x.dtype)?;
    if nearest {
        cx.use_kernel(Kernel::ResizeNearest, x.dtype)?;
    } else {
        cx.use_kernel(Kernel::ResizeInterp, x.dtype)?;
    }
    let extrapolation = if x.dtype == DType::Bool {
        Arg::Bool(false)
    } else {
        Arg::Scalar(x.dtype, a.extrapolation)
    };
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let field = |f: fn(&Axis) -> usize| Arg::Array(axes.iter().map(f).collect());
    let index = axes.iter().map(|a| Arg::Sizes(a.3.clone())).collect();
    let outside = axes
        .iter()
        .map(|a| Arg::List(a.5.iter().map(|&o| Arg::Bool(o)).collect()))
        .collect();
    let p = Arg::Struct {
        name: "ResizeAxes",
        by_ref: true,
        fields: vec![
            ("input", field(|a| a.0)),
            ("output", field(|a| a.1)),
            ("taps", field(|a| a.2)),
            ("index", Arg::Items(index)),
            ("outside", Arg::Items(outside)),
        ],
    };
    if nearest {
        let args = vec![xs, ys, p, extrapolation];
        cx.call(Some(Kernel::ResizeNearest), "resize_nearest", args);
    } else {
        let weights = axes
            .iter()
            .map(|a| Arg::List(a.4.iter().map(|&v| Arg::Scalar(x.dtype, v)).collect()))
            .collect();
        let args = vec![xs, ys, p, Arg::Items(weights), extrapolation];
        cx.call(Some(Kernel::ResizeInterp), "resize_interp", args);
    }
    Ok(())
}
