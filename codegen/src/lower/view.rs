//! Lowering of the view family.

use super::prelude::*;
use crate::program::Arg;

/// Reshape, Flatten, Identity: the same elements in the same order.
/// Dropout in inference: the data passes through, the mask (if asked for) is all true.
pub(super) fn dropout(cx: &mut NodeCx) -> Result<(), String> {
    copy(cx)?;
    if cx.node.outputs.len() > 1 {
        let args = vec![cx.arg_out(1)?, Arg::Bool(true)];
        cx.call(None, "fill", args);
    }
    Ok(())
}

pub(super) fn copy(cx: &mut NodeCx) -> Result<(), String> {
    literal::elem(cx.in_ty(0, "input")?.dtype)?;
    let args = vec![cx.arg_in(0)?, cx.arg_out(0)?];
    cx.call(None, "copy", args);
    Ok(())
}

pub(super) fn transpose(cx: &mut NodeCx, a: &TransposeAttrs) -> Result<(), String> {
    let (x, y) = (cx.in_ty(0, "data")?, cx.out_ty(0)?);
    let perm = transpose_perm(a, x.rank())?;
    let rm = row_major(&x.shape);
    let xs: Vec<usize> = perm.iter().map(|&p| rm[p]).collect();
    let (shape, strides) = collapse(&y.shape, &[xs]);
    if strides[0] == [1] || y.numel() == 1 {
        // The permutation only moves unit axes.
        return copy(cx);
    }
    cx.use_kernel(Kernel::Transpose, x.dtype)?;
    literal::elem(x.dtype)?;
    let args = vec![
        cx.arg_in(0)?,
        cx.arg_out(0)?,
        Arg::Sizes(shape),
        Arg::Sizes(strides[0].clone()),
    ];
    cx.call(Some(Kernel::Transpose), "transpose", args);
    Ok(())
}

pub(super) fn concat(cx: &mut NodeCx, a: &ConcatAttrs) -> Result<(), String> {
    emit_concat(cx, a, &[])
}

/// A Concat that copies every input but those in `in_place` (slots), which their producers
/// wrote in place, each as one contiguous run of the output: only possible when every axis
/// before the Concat's has size 1.
pub(crate) fn emit_concat(
    cx: &mut NodeCx,
    a: &ConcatAttrs,
    in_place: &[usize],
) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    literal::elem(y.dtype)?;
    let axis = normalize_axis(a.axis, y.rank())
        .ok_or_else(|| format!("axis {} is out of range for {y}", a.axis))?;
    let outer: usize = y.shape[..axis].iter().product();
    let stride: usize = y.shape[axis..].iter().product();
    if y.numel() == 0 {
        return Ok(());
    }
    if outer != 1 && !in_place.is_empty() {
        return Err(format!(
            "inputs on axis {axis} of {y} are not contiguous runs of it: none is written in place"
        ));
    }
    let ys = cx.write(0)?;
    let mut offset = 0;
    for slot in 0..cx.node.inputs.len() {
        let t = cx.in_ty(slot, "inputs")?;
        let block: usize = t.shape[axis..].iter().product();
        if block == 0 {
            continue;
        }
        if in_place.contains(&slot) {
            offset += block;
            continue;
        }
        let xs = cx.arg_in(slot)?;
        if outer == 1 {
            let part = Arg::Range {
                local: ys.clone(),
                start: offset,
                len: block,
            };
            cx.call(None, "copy", vec![xs, part]);
        } else {
            cx.use_kernel(Kernel::Concat, y.dtype)?;
            let args = vec![
                xs,
                Arg::Operand(ys.clone()),
                Arg::Usize(block),
                Arg::Usize(stride),
                Arg::Usize(offset),
            ];
            cx.call(Some(Kernel::Concat), "concat_part", args);
        }
        offset += block;
    }
    Ok(())
}
