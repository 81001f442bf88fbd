//! Lowering of the pad family.

use super::prelude::*;
use crate::program::Arg;

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
    let mode = match a.mode {
        PadMode::Constant => 0,
        PadMode::Reflect => 1,
        PadMode::Edge => 2,
        PadMode::Wrap => 3,
    };
    cx.use_kernel(Kernel::Pad, x.dtype)?;
    let (xs, ys) = (cx.arg_in(0)?, cx.arg_out(0)?);
    let field = |f: fn(&PadAxis) -> usize| Arg::Array(axes.iter().map(|(g, _)| f(g)).collect());
    let params = Arg::Struct {
        name: "PadAxes",
        by_ref: true,
        fields: vec![
            ("out", field(|g| g.output)),
            ("before", field(|g| g.before)),
            ("start", field(|g| g.start)),
            ("len", field(|g| g.len)),
            ("stride", Arg::Array(axes.iter().map(|&(_, s)| s).collect())),
        ],
    };
    let args = vec![
        xs,
        ys,
        params,
        Arg::Usize(mode),
        Arg::Scalar(x.dtype, a.value),
    ];
    cx.call(Some(Kernel::Pad), "pad", args);
    Ok(())
}
