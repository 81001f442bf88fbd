//! Lowering of the view family.

use super::prelude::*;

/// Reshape, Flatten, Identity: the same elements in the same order.
/// Dropout in inference: the data passes through, the mask (if asked for) is all true.
pub(super) fn dropout(cx: &mut NodeCx) -> Result<(), String> {
    copy(cx)?;
    if cx.node.outputs.len() > 1 {
        let mask = cx.write(1)?;
        cx.body.line(format!("{mask}.fill(true);"));
    }
    Ok(())
}

pub(super) fn copy(cx: &mut NodeCx) -> Result<(), String> {
    literal::elem(cx.in_ty(0, "input")?.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("{ys}.copy_from_slice({xs});"));
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
    let (xl, yl) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "transpose({xl}, {yl}, &{}, &{});",
        usizes(&shape),
        usizes(&strides[0])
    ));
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
        let xs = cx.read(slot)?;
        if outer == 1 {
            let range = if offset == 0 {
                format!("..{block}")
            } else {
                format!("{offset}..{}", offset + block)
            };
            cx.body
                .line(format!("{ys}[{range}].copy_from_slice({xs});"));
        } else {
            cx.use_kernel(Kernel::Concat, y.dtype)?;
            cx.body.line(format!(
                "concat_part({xs}, {ys}, {block}, {stride}, {offset});"
            ));
        }
        offset += block;
    }
    Ok(())
}
