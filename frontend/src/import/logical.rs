//! Comparisons and logic (`kiln_ir::ops::logical`): Equal, Less, LessOrEqual, Greater,
//! GreaterOrEqual, And, Or, Xor, Not, Where, IsNaN and IsInf.

use super::common::{ALL, Imported, NodeIn, OpEntry, legacy_broadcast, plain};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::{CompareOp, LogicalOp, PredicateOp};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Equal", ALL, |n| {
        plain(n, 2, 2, Op::Compare(CompareOp::Equal))
    })
    .with_check(legacy_broadcast),
    OpEntry::new("Less", ALL, |n| {
        plain(n, 2, 2, Op::Compare(CompareOp::Less))
    })
    .with_check(legacy_broadcast),
    OpEntry::new("LessOrEqual", ALL, |n| {
        plain(n, 2, 2, Op::Compare(CompareOp::LessOrEqual))
    }),
    OpEntry::new("Greater", ALL, |n| {
        plain(n, 2, 2, Op::Compare(CompareOp::Greater))
    })
    .with_check(legacy_broadcast),
    OpEntry::new("GreaterOrEqual", ALL, |n| {
        plain(n, 2, 2, Op::Compare(CompareOp::GreaterOrEqual))
    }),
    OpEntry::new("And", ALL, |n| plain(n, 2, 2, Op::Logical(LogicalOp::And)))
        .with_check(legacy_broadcast),
    OpEntry::new("Or", ALL, |n| plain(n, 2, 2, Op::Logical(LogicalOp::Or)))
        .with_check(legacy_broadcast),
    OpEntry::new("Xor", ALL, |n| plain(n, 2, 2, Op::Logical(LogicalOp::Xor)))
        .with_check(legacy_broadcast),
    OpEntry::new("Not", ALL, |n| plain(n, 1, 1, Op::Not)),
    OpEntry::new("Where", ALL, |n| plain(n, 3, 3, Op::Where)),
    OpEntry::new("IsNaN", ALL, |n| {
        plain(n, 1, 1, Op::Predicate(PredicateOp::IsNaN))
    }),
    OpEntry::new("IsInf", ALL, is_inf),
];

fn is_inf(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let flag = |name: &str| match n.a.int_or(name, 1)? {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(n.ctx.attr(name, format!("is {v}; it must be 0 or 1"))),
    };
    let op = PredicateOp::IsInf {
        negative: flag("detect_negative")?,
        positive: flag("detect_positive")?,
    };
    Ok(Op::Predicate(op).into())
}
