//! Comparisons and logic (`kiln_ir::ops::logical`): Equal, Less, LessOrEqual, Greater,
//! GreaterOrEqual, And, Or, Xor, Not and Where.

use super::common::{ALL, OpEntry, legacy_broadcast, plain};
use kiln_ir::Op;
use kiln_ir::ops::{CompareOp, LogicalOp};

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
];
