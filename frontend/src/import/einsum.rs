//! Einsum (`kiln_ir::ops::einsum`).

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::EinsumAttrs;

pub(super) const OPS: &[OpEntry] = &[OpEntry::new("Einsum", ALL, einsum)];

fn einsum(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    if n.n_inputs == 0 {
        return Err(n
            .ctx
            .error("has no inputs; Einsum needs at least one operand"));
    }
    let equation = n.a.string("equation")?.ok_or_else(|| {
        n.ctx.attr(
            "equation",
            "is required but missing; the model is malformed",
        )
    })?;
    Ok(Op::Einsum(EinsumAttrs { equation }).into())
}
