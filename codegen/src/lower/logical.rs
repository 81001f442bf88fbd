//! Lowering of the logical family.

use super::prelude::*;

pub(super) fn compare(cx: &mut NodeCx, op: CompareOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    literal::elem(ta.dtype)?;
    let sym = match op {
        CompareOp::Equal => "==",
        CompareOp::Less => "<",
        CompareOp::LessOrEqual => "<=",
        CompareOp::Greater => ">",
        CompareOp::GreaterOrEqual => ">=",
    };
    let f = format!("|p, q| p {sym} q");
    broadcast_call_text(cx, &ta.shape, &tb.shape, y, &f)
}

pub(super) fn logical(cx: &mut NodeCx, op: LogicalOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let sym = match op {
        LogicalOp::And => "&",
        LogicalOp::Or => "|",
        LogicalOp::Xor => "^",
    };
    let f = format!("|p: bool, q: bool| p {sym} q");
    broadcast_call_text(cx, &ta.shape, &tb.shape, y, &f)
}

pub(super) fn not(cx: &mut NodeCx) -> Result<(), String> {
    cx.use_kernel(Kernel::Map, DType::Bool)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("map({xs}, {ys}, |v: bool| !v);"));
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
    let (c, a, b, ys) = (cx.read(0)?, cx.read(1)?, cx.read(2)?, cx.write(0)?);
    cx.body.line(format!(
        "select({c}, {a}, {b}, {ys}, &{}, [&{}, &{}, &{}]);",
        usizes(&shape),
        usizes(&strides[0]),
        usizes(&strides[1]),
        usizes(&strides[2])
    ));
    Ok(())
}
