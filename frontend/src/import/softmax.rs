//! Softmax, LogSoftmax and Hardmax (`kiln_ir::ops::softmax`).

use super::common::{ALL, NodeIn, OpEntry};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::SoftmaxAttrs;

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new(
        "Softmax",
        ALL,
        |n| Ok(Op::Softmax(softmax_attrs(n)?).into()),
    ),
    OpEntry::new("LogSoftmax", ALL, |n| {
        Ok(Op::LogSoftmax(softmax_attrs(n)?).into())
    }),
    OpEntry::new(
        "Hardmax",
        ALL,
        |n| Ok(Op::Hardmax(softmax_attrs(n)?).into()),
    ),
];

/// Opsets < 13 coerce the input to 2-D at `axis` (default 1); from 13 on the op works
/// along `axis` alone (default -1).
fn softmax_attrs(n: &NodeIn<'_>) -> Result<SoftmaxAttrs, FrontendError> {
    n.arity(1, 1)?;
    let coerce_2d = n.opset() < 13;
    let axis = n.a.int_or("axis", if coerce_2d { 1 } else { -1 })?;
    Ok(SoftmaxAttrs { axis, coerce_2d })
}
