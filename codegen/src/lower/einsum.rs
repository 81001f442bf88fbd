//! Lowering of the einsum family.

use super::prelude::*;

pub(super) fn einsum(cx: &mut NodeCx, a: &EinsumAttrs) -> Result<(), String> {
    let n = cx.node.inputs.len();
    let mut shapes = Vec::with_capacity(n);
    for k in 0..n {
        shapes.push(cx.in_ty(k, "operand")?.shape.clone());
    }
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let p = kiln_ir::ops::einsum::plan(a, &refs)?;
    cx.use_kernel(Kernel::Einsum, cx.out_ty(0)?.dtype)?;
    let list = |v: &[usize]| {
        v.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let strides: Vec<String> = (0..n)
        .map(|k| format!("&[{}]", list(&p.strides(k, &shapes[k]))))
        .collect();
    let mut xs = Vec::with_capacity(n);
    for k in 0..n {
        xs.push(cx.read(k)?);
    }
    let ys = cx.write(0)?;
    cx.body.line(format!(
        "einsum(&[{}], &[{}], {ys}, &[{}], {});",
        xs.join(", "),
        strides.join(", "),
        list(&p.dims),
        p.output.len()
    ));
    Ok(())
}
