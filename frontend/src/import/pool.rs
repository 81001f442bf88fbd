//! Pooling (`kiln_ir::ops::pool`): MaxPool, AveragePool, LpPool and the global poolings.

use super::common::{ALL, Imported, NodeIn, OpEntry, plain};
use super::window::window;
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::{AveragePoolAttrs, LpPoolAttrs, MaxPoolAttrs};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("MaxPool", ALL, max_pool),
    OpEntry::new("AveragePool", ALL, average_pool),
    OpEntry::new("LpPool", ALL, lp_pool),
    OpEntry::new("GlobalAveragePool", ALL, |n| {
        plain(n, 1, 1, Op::GlobalAveragePool)
    }),
    OpEntry::new("GlobalMaxPool", ALL, |n| plain(n, 1, 1, Op::GlobalMaxPool)),
];

fn max_pool(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let storage_order = n.a.int_or("storage_order", 0)?;
    if !(0..=1).contains(&storage_order) {
        return Err(n.ctx.attr(
            "storage_order",
            format!("is {storage_order}; it must be 0 (row major) or 1 (column major)"),
        ));
    }
    Ok(Op::MaxPool(MaxPoolAttrs {
        window: window(&n.a, true)?,
        storage_order,
    })
    .into())
}

fn average_pool(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::AveragePool(AveragePoolAttrs {
        window: window(&n.a, true)?,
        count_include_pad: n.a.flag("count_include_pad", false)?,
    })
    .into())
}

fn lp_pool(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let p = n.a.int_or("p", 2)?;
    let p = u32::try_from(p)
        .ok()
        .filter(|&p| (1..=64).contains(&p))
        .ok_or_else(|| {
            n.ctx
                .attr("p", format!("is {p}; it must be between 1 and 64"))
        })?;
    Ok(Op::LpPool(LpPoolAttrs {
        window: window(&n.a, true)?,
        p,
    })
    .into())
}
