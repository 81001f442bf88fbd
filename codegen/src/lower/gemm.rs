//! Lowering of the gemm family.

use super::prelude::*;
use crate::kernels::{GemmFn, Tiling};
use crate::program::{Arg, Packing};

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
    if let Some(t) = cx.tiling
        && ta.dtype == DType::F32
        && !a.trans_a
        && m * n * k > 0
        && cx.const_input(1).is_some()
    {
        return gemm_packed(cx, a, t, (m, n, k));
    }
    cx.use_kernel(Kernel::Gemm, ta.dtype)?;
    let alpha = scalar(ta.dtype, a.alpha, "alpha")?;
    let beta = scalar(ta.dtype, a.beta, "beta")?;
    let c_strides = c_strides(cx)?;
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

/// The element strides of Gemm's C along the output's rows and columns (0 where it
/// broadcasts); (0, 0) without C.
fn c_strides(cx: &NodeCx) -> Result<(usize, usize), String> {
    Ok(if cx.has_input(2) {
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
    })
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

/// Gemm with constant `B` (and `A` not transposed): `B'` packed in column panels for the
/// micro-kernel.
fn gemm_packed(
    cx: &mut NodeCx,
    a: &GemmAttrs,
    t: Tiling,
    (m, n, k): (usize, usize, usize),
) -> Result<(), String> {
    let dtype = DType::F32;
    cx.kernels.use_gemm(t, GemmFn::GemmB)?;
    let alpha = scalar(dtype, a.alpha, "alpha")?;
    let beta = scalar(dtype, a.beta, "beta")?;
    let c_strides = c_strides(cx)?;
    // B' = B^T when transB: B's row panels are B''s column panels.
    let packing = if a.trans_b {
        Packing::RowPanels {
            rows: n,
            cols: k,
            width: t.nr(),
        }
    } else {
        Packing::ColPanels {
            rows: k,
            cols: n,
            width: t.nr(),
        }
    };
    let c = cx.arg_opt(2)?;
    let (xa, xb, ys) = (cx.arg_in(0)?, cx.arg_packed(1, packing)?, cx.arg_out(0)?);
    let epi = epilogue(cx, dtype)?;
    let params = Arg::Struct {
        name: "GemmPackedParams",
        by_ref: true,
        fields: vec![
            ("m", Arg::Usize(m)),
            ("n", Arg::Usize(n)),
            ("k", Arg::Usize(k)),
            (
                "c_strides",
                Arg::Tuple(vec![Arg::Usize(c_strides.0), Arg::Usize(c_strides.1)]),
            ),
        ],
    };
    let args = vec![xa, xb, c, ys, params, alpha, beta, epi];
    cx.call(None, "gemm_packed", args);
    Ok(())
}

pub(super) fn matmul(cx: &mut NodeCx) -> Result<(), String> {
    let (ta, tb) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?);
    if let Some(t) = cx.tiling
        && ta.dtype == DType::F32
        && tb.rank() == 2
        && ta.rank() >= 1
        && ta.numel() > 0
        && tb.numel() > 0
        && cx.const_input(1).is_some()
    {
        let (k, n) = (tb.shape[0], tb.shape[1]);
        let m = ta.numel() / k;
        return matmul_packed(cx, t, (m, n, k));
    }
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

/// MatMul by a constant 2-D `B`: the left operand's leading axes are rows of one GEMM, `B`
/// packed in column panels for the micro-kernel.
fn matmul_packed(
    cx: &mut NodeCx,
    t: Tiling,
    (m, n, k): (usize, usize, usize),
) -> Result<(), String> {
    cx.kernels.use_gemm(t, GemmFn::MatMulB)?;
    let packing = Packing::ColPanels {
        rows: k,
        cols: n,
        width: t.nr(),
    };
    let (xa, xb, ys) = (cx.arg_in(0)?, cx.arg_packed(1, packing)?, cx.arg_out(0)?);
    let epi = epilogue(cx, DType::F32)?;
    let params = Arg::Struct {
        name: "MatMulPackedParams",
        by_ref: true,
        fields: vec![
            ("m", Arg::Usize(m)),
            ("n", Arg::Usize(n)),
            ("k", Arg::Usize(k)),
        ],
    };
    cx.call(None, "matmul_packed", vec![xa, xb, ys, params, epi]);
    Ok(())
}
