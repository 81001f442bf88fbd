//! Gemm and MatMul (`kiln_ir::ops::gemm`).

use super::common::{ALL, Imported, NodeIn, OpEntry, plain};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::GemmAttrs;

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Gemm", ALL, gemm),
    OpEntry::new("MatMul", ALL, |n| plain(n, 2, 2, Op::MatMul)),
];

fn gemm(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 3)?;
    // Opsets < 7 also had `broadcast`; C broadcasting is allowed from 7 on, and the IR
    // checks C's shape either way.
    Ok(Op::Gemm(GemmAttrs {
        alpha: n.a.float_or("alpha", 1.0)?,
        beta: n.a.float_or("beta", 1.0)?,
        trans_a: n.a.flag("transA", false)?,
        trans_b: n.a.flag("transB", false)?,
    })
    .into())
}
