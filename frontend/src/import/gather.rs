//! Indexed data movement (`kiln_ir::ops::gather`): Gather, GatherElements, GatherND,
//! ScatterND, ScatterElements and OneHot.

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::{GatherAttrs, GatherNdAttrs, OneHotAttrs, Reduction, ScatterAttrs};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Gather", ALL, |n| {
        n.arity(2, 2)?;
        Ok(Op::Gather(gather_attrs(n)?).into())
    }),
    OpEntry::new("GatherElements", ALL, |n| {
        n.arity(2, 2)?;
        Ok(Op::GatherElements(gather_attrs(n)?).into())
    }),
    OpEntry::new("GatherND", ALL, gather_nd),
    OpEntry::new("ScatterND", ALL, scatter_nd),
    OpEntry::new("ScatterElements", ALL, scatter_elements),
    OpEntry::new("OneHot", ALL, one_hot),
];

fn gather_attrs(n: &NodeIn<'_>) -> Result<GatherAttrs, FrontendError> {
    Ok(GatherAttrs {
        axis: n.a.int_or("axis", 0)?,
    })
}

fn gather_nd(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    let b = n.a.int_or("batch_dims", 0)?;
    let batch_dims = usize::try_from(b)
        .map_err(|_| n.ctx.attr("batch_dims", format!("is {b}; it must be ≥ 0")))?;
    Ok(Op::GatherND(GatherNdAttrs { batch_dims }).into())
}

fn scatter_nd(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(3, 3)?;
    Ok(Op::ScatterND(ScatterAttrs {
        axis: 0,
        reduction: reduction(n)?,
    })
    .into())
}

fn scatter_elements(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(3, 3)?;
    Ok(Op::ScatterElements(ScatterAttrs {
        axis: n.a.int_or("axis", 0)?,
        reduction: reduction(n)?,
    })
    .into())
}

/// The scatters' `reduction`.
fn reduction(n: &NodeIn<'_>) -> Result<Reduction, FrontendError> {
    match n.a.string("reduction")? {
        None => Ok(Reduction::None),
        Some(s) => Reduction::parse(&s).ok_or_else(|| {
            n.ctx.attr(
                "reduction",
                format!("is {s:?}; it must be none, add, mul, max or min"),
            )
        }),
    }
}

/// The depth decides the output shape, so it must be a constant (the node keeps it as an
/// input).
fn one_hot(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(3, 3)?;
    n.const_operand(1, "depth", "the depth (it decides the output shape)")?;
    Ok(Op::OneHot(OneHotAttrs {
        axis: n.a.int_or("axis", -1)?,
    })
    .into())
}
