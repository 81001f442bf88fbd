//! Lowering of the pad family.

use super::prelude::*;

/// The axes of a Pad as the kernel walks them, with the input stride of each: unit axes
/// without padding dropped, and an axis without padding or cropping merged into the one
/// before it when that one has none either, or in constant mode (where a padded row of the
/// merged axis is whole rows of constants). Never empty unless every axis is unpadded.
pub(super) fn pad_axes(geo: &[PadAxis], strides: &[usize], mode: PadMode) -> Vec<(PadAxis, usize)> {
    let mut axes: Vec<(PadAxis, usize)> = Vec::new();
    for (g, &s) in geo.iter().zip(strides) {
        if g.is_plain() && g.output == 1 {
            continue;
        }
        match axes.last_mut() {
            Some((p, ps)) if g.is_plain() && (p.is_plain() || mode == PadMode::Constant) => {
                let m = g.output;
                *p = PadAxis {
                    input: p.input * m,
                    output: p.output * m,
                    before: p.before * m,
                    start: p.start * m,
                    len: p.len * m,
                };
                *ps = s;
            }
            _ => axes.push((*g, s)),
        }
    }
    axes
}

pub(super) fn pad(cx: &mut NodeCx, a: &PadAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    literal::elem(x.dtype)?;
    let geo = a.geometry(&x.shape)?;
    let axes = pad_axes(&geo, &row_major(&x.shape), a.mode);
    if axes.iter().all(|(g, _)| g.is_plain()) {
        return copy(cx);
    }
    let value = literal::from_f64(x.dtype, a.value)?;
    let mode = match a.mode {
        PadMode::Constant => 0,
        PadMode::Reflect => 1,
        PadMode::Edge => 2,
        PadMode::Wrap => 3,
    };
    cx.use_kernel(Kernel::Pad, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let field =
        |f: fn(&PadAxis) -> usize| usizes(&axes.iter().map(|(g, _)| f(g)).collect::<Vec<_>>());
    let b = &mut cx.body;
    b.open(format!("pad({xs}, {ys}, &PadAxes {{"));
    b.line(format!("out: {},", field(|g| g.output)));
    b.line(format!("before: {},", field(|g| g.before)));
    b.line(format!("start: {},", field(|g| g.start)));
    b.line(format!("len: {},", field(|g| g.len)));
    let strides: Vec<usize> = axes.iter().map(|&(_, s)| s).collect();
    b.line(format!("stride: {},", usizes(&strides)));
    b.close(format!("}}, {mode}, {value});"));
    Ok(())
}
