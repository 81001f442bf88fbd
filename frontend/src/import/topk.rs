//! TopK (`kiln_ir::ops::topk`).

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::TopKAttrs;

pub(super) const OPS: &[OpEntry] = &[OpEntry::new("TopK", ALL, topk)];

/// `k` is an attribute in opset 1 and an input from 10 on, which must be a constant: it
/// decides the output shape.
fn topk(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    let (a, ctx, opset) = (&n.a, n.ctx, n.opset());
    let k = if opset < 10 {
        n.arity(1, 1)?;
        a.int("k")?
            .ok_or_else(|| ctx.attr("k", "is required but missing; the model is malformed"))?
    } else {
        n.arity(2, 2)?;
        let needs = "k (it decides the output shape)";
        let Some(t) = n.const_operand(1, "K", needs)? else {
            return Err(ctx.error("input 1 (K) is missing; TopK needs k"));
        };
        match t.as_i64_vec() {
            Some(v) if v.len() == 1 && t.shape.len() <= 1 => v[0],
            _ => {
                return Err(ctx.error(format!(
                    "input 1 (K) must be a single integer, but it is {}; the model is \
                     malformed",
                    t.ty()
                )));
            }
        }
    };
    let k = usize::try_from(k).map_err(|_| {
        ctx.error(format!(
            "k is {k}; it must be ≥ 0, so the model is malformed"
        ))
    })?;
    Ok(Imported::one_input(Op::TopK(TopKAttrs {
        axis: a.int_or("axis", -1)?,
        k,
        largest: opset < 11 || a.flag("largest", true)?,
    })))
}
