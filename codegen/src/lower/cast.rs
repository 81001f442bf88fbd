//! Lowering of the cast family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

pub(super) fn cast(cx: &mut NodeCx, a: &CastAttrs) -> Result<(), String> {
    let from = cx.in_ty(0, "input")?.dtype;
    if from == a.to {
        return copy(cx);
    }
    literal::elem(from)?;
    literal::elem(a.to)?;
    cx.use_kernel(Kernel::Convert, from)?;
    if [from, a.to]
        .iter()
        .any(|d| matches!(d, DType::F16 | DType::BF16))
    {
        cx.use_kernel(Kernel::Half, DType::U16)?;
    }
    let args = vec![
        cx.arg_in(0)?,
        cx.arg_out(0)?,
        Arg::Fn(ElemFn::Cast { from, to: a.to }),
    ];
    cx.call(Some(Kernel::Convert), "convert", args);
    Ok(())
}
