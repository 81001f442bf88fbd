//! Lowering of the resize family.

use super::prelude::*;

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
    let elem = literal::elem(x.dtype)?;
    if nearest {
        cx.use_kernel(Kernel::ResizeNearest, x.dtype)?;
    } else {
        cx.use_kernel(Kernel::ResizeInterp, x.dtype)?;
    }
    let extrapolation = if x.dtype == DType::Bool {
        "false".to_string()
    } else {
        literal::from_f64(x.dtype, a.extrapolation)?
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let list = |f: &dyn Fn(&Axis) -> String| axes.iter().map(f).collect::<Vec<_>>().join(", ");
    let field = |f: fn(&Axis) -> usize| usizes(&axes.iter().map(f).collect::<Vec<_>>());
    let b = &mut cx.body;
    b.open("{");
    b.open("let p = ResizeAxes {");
    b.line(format!("input: {},", field(|a| a.0)));
    b.line(format!("output: {},", field(|a| a.1)));
    b.line(format!("taps: {},", field(|a| a.2)));
    b.line(format!(
        "index: [{}],",
        list(&|a| format!("&{}", usizes(&a.3)))
    ));
    b.line(format!(
        "outside: [{}],",
        list(&|a| format!(
            "&[{}]",
            a.5.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    ));
    b.close("};");
    if nearest {
        b.line(format!("resize_nearest({xs}, {ys}, &p, {extrapolation});"));
    } else {
        let mut weights = Vec::new();
        for ax in &axes {
            let w: Result<Vec<String>, String> =
                ax.4.iter()
                    .map(|&v| literal::from_f64(x.dtype, v))
                    .collect();
            weights.push(format!("&[{}]", w?.join(", ")));
        }
        b.line(format!("let w: [&[{elem}]; 4] = [{}];", weights.join(", ")));
        b.line(format!(
            "resize_interp({xs}, {ys}, &p, w, {extrapolation});"
        ));
    }
    b.close("}");
    Ok(())
}
