//! Lowering of the gemm family.

use super::prelude::*;
use crate::program::Arg;

/// An attribute scalar for an integer or float kernel; integers need whole numbers.
pub(super) fn scalar(dtype: DType, v: f32, what: &str) -> Result<Arg, String> {
    if !dtype.is_float() && v.fract() != 0.0 {
        return Err(format!(
            "{what} {v} is not a whole number, as {dtype} Gemm needs"
        ));
    }
    literal::from_f64(dtype, v as f64)?;
    Ok(Arg::Scalar(dtype, v as f64))
}

pub(super) fn gemm(cx: &mut NodeCx, a: &GemmAttrs) -> Result<(), String> {
    let (ta, y) = (cx.in_ty(0, "A")?, cx.out_ty(0)?);
    let (m, k) = if a.trans_a {
        (ta.shape[1], ta.shape[0])
    } else {
        (ta.shape[0], ta.shape[1])
    };
    let n = y.shape[1];
    cx.use_kernel(Kernel::Gemm, ta.dtype)?;
    let alpha = scalar(ta.dtype, a.alpha, "alpha")?;
    let beta = scalar(ta.dtype, a.beta, "beta")?;
    let c_strides = if cx.has_input(2) {
        let cs = &cx.in_ty(2, "C")?.shape;
        let (cm, cn) = match cs.as_slice() {
            [] => (1, 1),
            [cn] => (1, *cn),
            [cm, cn] => (*cm, *cn),
            _ => return Err(format!("C of rank {} does not broadcast to 2-D", cs.len())),
        };
        (if cm == 1 { 0 } else { cn }, usize::from(cn != 1))
    } else {
        (0, 0)
    };
    let c = cx.arg_opt(2)?;
    let (xa, xb, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
    let epi = epilogue(cx, ta.dtype)?;
    let params = Arg::Struct {
        name: "GemmParams",
        by_ref: true,
        fields: vec![
            ("m", Arg::Usize(m)),
            ("n", Arg::Usize(n)),
            ("k", Arg::Usize(k)),
            ("trans_a", Arg::Bool(a.trans_a)),
            ("trans_b", Arg::Bool(a.trans_b)),
            (
                "c_strides",
                Arg::Tuple(vec![Arg::Usize(c_strides.0), Arg::Usize(c_strides.1)]),
            ),
        ],
    };
    let args = vec![xa, xb, c, ys, params, alpha, beta, epi];
    cx.call(Some(Kernel::Gemm), "gemm", args);
    Ok(())
}

/// Per batch axis, the element stride of one operand's matrices (0 where it broadcasts).
pub(super) fn batch_strides(batch: &[usize], own: &[usize], matrix: usize) -> Vec<usize> {
    let lead = batch.len() - own.len();
    let mut strides = vec![0; batch.len()];
    let mut step = matrix;
    for d in (0..batch.len()).rev() {
        let dim = if d < lead { 1 } else { own[d - lead] };
        strides[d] = if dim == 1 { 0 } else { step };
        step *= dim;
    }
    strides
}

pub(super) fn matmul(cx: &mut NodeCx) -> Result<(), String> {
    let (ta, tb) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?);
    // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1].
    let a2 = if ta.rank() == 1 {
        vec![1, ta.shape[0]]
    } else {
        ta.shape.clone()
    };
    let b2 = if tb.rank() == 1 {
        vec![tb.shape[0], 1]
    } else {
        tb.shape.clone()
    };
    if a2.len() < 2 || b2.len() < 2 {
        return Err("MatMul operands must have rank ≥ 1".into());
    }
    let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
    let (ba, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let mut batch = broadcast_shapes(ba, bb).ok_or("batch axes do not broadcast")?;
    let mut sa = batch_strides(&batch, ba, m * k);
    let mut sb = batch_strides(&batch, bb, k * n);
    if batch.is_empty() {
        (batch, sa, sb) = (vec![1], vec![0], vec![0]);
    }
    cx.use_kernel(Kernel::MatMul, ta.dtype)?;
    let (xa, xb, ys) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_out(0)?);
    let epi = epilogue(cx, ta.dtype)?;
    let params = Arg::Struct {
        name: "MatMulParams",
        by_ref: true,
        fields: vec![
            ("m", Arg::Usize(m)),
            ("k", Arg::Usize(k)),
            ("n", Arg::Usize(n)),
            ("batch", Arg::Array(batch)),
            ("a_strides", Arg::Array(sa)),
            ("b_strides", Arg::Array(sb)),
        ],
    };
    cx.call(
        Some(Kernel::MatMul),
        "matmul",
        vec![xa, xb, ys, params, epi],
    );
    Ok(())
}
