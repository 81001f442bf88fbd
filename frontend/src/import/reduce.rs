//! The reductions and ArgMax/ArgMin (`kiln_ir::ops::reduce`).

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::{ArgReduceAttrs, ReduceAttrs, ReduceKind};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("ReduceSum", ALL, |n| reduce(n, ReduceKind::Sum)),
    OpEntry::new("ReduceMean", ALL, |n| reduce(n, ReduceKind::Mean)),
    OpEntry::new("ReduceMax", ALL, |n| reduce(n, ReduceKind::Max)),
    OpEntry::new("ReduceMin", ALL, |n| reduce(n, ReduceKind::Min)),
    OpEntry::new("ReduceProd", ALL, |n| reduce(n, ReduceKind::Prod)),
    OpEntry::new("ReduceL1", ALL, |n| reduce(n, ReduceKind::L1)),
    OpEntry::new("ReduceL2", ALL, |n| reduce(n, ReduceKind::L2)),
    OpEntry::new("ReduceLogSum", ALL, |n| reduce(n, ReduceKind::LogSum)),
    OpEntry::new("ReduceLogSumExp", ALL, |n| reduce(n, ReduceKind::LogSumExp)),
    OpEntry::new("ReduceSumSquare", ALL, |n| reduce(n, ReduceKind::SumSquare)),
    OpEntry::new("ArgMax", ALL, |n| arg_reduce(n, true)),
    OpEntry::new("ArgMin", ALL, |n| arg_reduce(n, false)),
];

/// `axes` is an attribute before opset 18 (ReduceSum: 13) and an optional (constant) input
/// from then on, where `noop_with_empty_axes` appears too.
fn reduce(n: &NodeIn<'_>, kind: ReduceKind) -> Result<Imported, FrontendError> {
    let input_form = n.opset() >= if kind == ReduceKind::Sum { 13 } else { 18 };
    n.arity(1, if input_form { 2 } else { 1 })?;
    Ok(Op::Reduce(
        kind,
        ReduceAttrs {
            axes: if input_form { None } else { n.a.ints("axes")? },
            keepdims: n.a.flag("keepdims", true)?,
            noop_with_empty_axes: input_form && n.a.flag("noop_with_empty_axes", false)?,
        },
    )
    .into())
}

fn arg_reduce(n: &NodeIn<'_>, max: bool) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::ArgReduce(ArgReduceAttrs {
        max,
        axis: n.a.int_or("axis", 0)?,
        keepdims: n.a.flag("keepdims", true)?,
        select_last_index: n.opset() >= 12 && n.a.flag("select_last_index", false)?,
    })
    .into())
}
