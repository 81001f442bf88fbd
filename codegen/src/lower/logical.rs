//! Lowering of the logical family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};
use kiln_ir::ops::PredicateOp;

pub(super) fn compare(cx: &mut NodeCx, op: CompareOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    literal::elem(ta.dtype)?;
    let f = ElemFn::Compare {
        op,
        dtype: ta.dtype,
    };
    broadcast_call(cx, &ta.shape, &tb.shape, y, f)
}

pub(super) fn logical(cx: &mut NodeCx, op: LogicalOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    broadcast_call(cx, &ta.shape, &tb.shape, y, ElemFn::Logical { op })
}

pub(super) fn not(cx: &mut NodeCx) -> Result<(), String> {
    cx.use_kernel(Kernel::Map, DType::Bool)?;
    let args = vec![cx.arg_in(0)?, cx.arg_out(0)?, Arg::Fn(ElemFn::Not)];
    cx.call(Some(Kernel::Map), "map", args);
    Ok(())
}

/// IsNaN, IsInf: `convert` of the float input into the bool output.
pub(super) fn predicate(cx: &mut NodeCx, op: PredicateOp) -> Result<(), String> {
    let dtype = cx.in_ty(0, "X")?.dtype;
    if !matches!(dtype, DType::F32 | DType::F64) {
        literal::elem(dtype)?;
        return Err(format!(
            "{} needs f32 or f64 tensors, got {dtype}",
            op.name()
        ));
    }
    cx.use_kernel(Kernel::Convert, dtype)?;
    let args = vec![
        cx.arg_in(0)?,
        cx.arg_out(0)?,
        Arg::Fn(ElemFn::Predicate { op, dtype }),
    ];
    cx.call(Some(Kernel::Convert), "convert", args);
    Ok(())
}

/// Where: the condition, X and Y broadcast to the output.
pub(super) fn select(cx: &mut NodeCx) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    literal::elem(y.dtype)?;
    let mut strides = Vec::new();
    for (slot, what) in [(0, "condition"), (1, "X"), (2, "Y")] {
        strides.push(broadcast_strides(&cx.in_ty(slot, what)?.shape, &y.shape));
    }
    let (shape, strides) = collapse(&y.shape, &strides);
    cx.use_kernel(Kernel::Select, y.dtype)?;
    let args = vec![
        cx.arg_in(0)?,
        cx.arg_in(1)?,
        cx.arg_in(2)?,
        cx.arg_out(0)?,
        Arg::Sizes(shape),
        Arg::Items(strides.into_iter().map(Arg::Sizes).collect()),
    ];
    cx.call(Some(Kernel::Select), "select", args);
    Ok(())
}
