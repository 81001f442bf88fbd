//! Lowering of the einsum family.

use super::prelude::*;
use crate::program::Arg;

pub(super) fn einsum(cx: &mut NodeCx, a: &EinsumAttrs) -> Result<(), String> {
    let n = cx.node.inputs.len();
    let mut shapes = Vec::with_capacity(n);
    for k in 0..n {
        shapes.push(cx.in_ty(k, "operand")?.shape.clone());
    }
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let p = kiln_ir::ops::einsum::plan(a, &refs)?;
    cx.use_kernel(Kernel::Einsum, cx.out_ty(0)?.dtype)?;
    let strides = (0..n)
        .map(|k| Arg::Sizes(p.strides(k, &shapes[k])))
        .collect();
    let mut xs = Vec::with_capacity(n);
    for k in 0..n {
        xs.push(cx.arg_in(k)?);
    }
    let args = vec![
        Arg::List(xs),
        Arg::List(strides),
        cx.arg_out(0)?,
        Arg::Sizes(p.dims.clone()),
        Arg::Usize(p.output.len()),
    ];
    cx.call(Some(Kernel::Einsum), "einsum", args);
    Ok(())
}
