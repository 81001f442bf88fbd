//! CumSum (`kiln_ir::ops::cumsum`).

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::CumSumAttrs;

pub(super) const OPS: &[OpEntry] = &[OpEntry::new("CumSum", ALL, cumsum)];

/// The axis operand must be a constant: it becomes an attribute.
fn cumsum(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    let needs = "the summation axis";
    let Some(t) = n.const_operand(1, "axis", needs)? else {
        return Err(n
            .ctx
            .error("input 1 (axis) is missing; CumSum needs the axis"));
    };
    let axis = match t.as_i64_vec() {
        Some(v) if v.len() == 1 && t.shape.len() <= 1 => v[0],
        _ => {
            return Err(n.ctx.error(format!(
                "input 1 (axis) must be a single integer, but it is {}; the model is \
                 malformed",
                t.ty()
            )));
        }
    };
    Ok(Imported::one_input(Op::CumSum(CumSumAttrs {
        axis,
        exclusive: n.a.flag("exclusive", false)?,
        reverse: n.a.flag("reverse", false)?,
    })))
}
