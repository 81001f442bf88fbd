//! Gemm (opsets 1–13: `Y = alpha * A' * B' + beta * C`, C unidirectionally broadcast) and
//! MatMul (opsets 1–13, numpy semantics: 1-D operands promoted, batch dims broadcast).
//! Specs: https://onnx.ai/onnx/operators/onnx__Gemm.html, .../onnx__MatMul.html
//!
//! Reference semantics for the spec's types: floats (f32, f64, f16, bf16) accumulate in f64
//! and round once; i32, i64, u32, u64 use wrapping arithmetic (numpy). Integer Gemm needs
//! integral `alpha` and `beta`.

use super::common::{
    Arith, Elem, broadcast_index, elems, floats, from_f64s, infer_on, numeric_dispatch,
    optional_floats, output,
};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType, broadcast_shapes};

/// Element types Gemm and MatMul are defined for (ONNX opset 13).
fn supported(dtype: DType) -> bool {
    dtype.is_float() || matches!(dtype, DType::I32 | DType::I64 | DType::U32 | DType::U64)
}

fn check_types(op: &str, tys: &[(&str, &TensorType)]) -> Result<(), String> {
    let (_, first) = tys[0];
    if !supported(first.dtype) {
        return Err(format!(
            "{op} is defined for f32, f64, f16, bf16, i32, i64, u32 and u64 tensors, got {first}"
        ));
    }
    for &(name, t) in &tys[1..] {
        if t.dtype != first.dtype {
            return Err(format!(
                "{name} {t} must have the element type of {} {first}",
                tys[0].0
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub struct GemmAttrs {
    pub alpha: f32,
    pub beta: f32,
    pub trans_a: bool,
    pub trans_b: bool,
}

impl Default for GemmAttrs {
    fn default() -> Self {
        GemmAttrs {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: false,
        }
    }
}

pub(crate) fn infer_gemm(
    a: &GemmAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let ta = input(inputs, 0, "A")?.ty;
    let tb = input(inputs, 1, "B")?.ty;
    if ta.rank() != 2 || tb.rank() != 2 {
        return Err(format!("A {ta} and B {tb} must be 2-D"));
    }
    let tc = inputs.get(2).copied().flatten().map(|c| c.ty);
    let mut tys = vec![("A", ta), ("B", tb)];
    tys.extend(tc.map(|c| ("C", c)));
    check_types("Gemm", &tys)?;
    let (m, k) = if a.trans_a {
        (ta.shape[1], ta.shape[0])
    } else {
        (ta.shape[0], ta.shape[1])
    };
    let (k2, n) = if a.trans_b {
        (tb.shape[1], tb.shape[0])
    } else {
        (tb.shape[0], tb.shape[1])
    };
    if k != k2 {
        return Err(format!(
            "inner dimensions differ: A' is {m}x{k}, B' is {k2}x{n}"
        ));
    }
    if let Some(c) = inputs.get(2).copied().flatten() {
        match broadcast_shapes(&c.ty.shape, &[m, n]) {
            Some(s) if s == [m, n] => {}
            _ => return Err(format!("C {} does not broadcast to [{m}, {n}]", c.ty)),
        }
    }
    Ok(vec![TensorType::new(ta.dtype, vec![m, n])])
}

/// Output shape of numpy matmul, or an error.
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    if a.is_empty() || b.is_empty() {
        return Err("MatMul operands must have rank ≥ 1".into());
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return Err(format!("inner dimensions differ: {a:?} x {b:?}"));
    }
    let batch = broadcast_shapes(&a2[..a2.len() - 2], &b2[..b2.len() - 2])
        .ok_or_else(|| format!("batch dimensions of {a:?} and {b:?} do not broadcast"))?;
    let mut out = batch;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Ok(out)
}

pub(crate) fn infer_matmul(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let ta = input(inputs, 0, "A")?.ty;
    let tb = input(inputs, 1, "B")?.ty;
    check_types("MatMul", &[("A", ta), ("B", tb)])?;
    Ok(vec![TensorType::new(
        ta.dtype,
        matmul_shape(&ta.shape, &tb.shape)?,
    )])
}

/// `out[i, j] = sum_p a[i*ars + p*acs] * b[p*brs + j*bcs]` for an `m x k` by `k x n`
/// product; the strides express transposition without copying.
#[allow(clippy::too_many_arguments)]
fn product<T: Arith>(
    a: &[T],
    (ars, acs): (usize, usize),
    b: &[T],
    (brs, bcs): (usize, usize),
    m: usize,
    k: usize,
    n: usize,
    out: &mut Vec<T>,
) {
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::default();
            for p in 0..k {
                acc = acc.add(a[i * ars + p * acs].mul(b[p * brs + j * bcs]));
            }
            out.push(acc);
        }
    }
}

pub(crate) fn eval_gemm(a: &GemmAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_gemm(a, ii))?.remove(0);
    let data = if ty.dtype.is_float() {
        let av = floats(tensor(inputs, 0, "A")?, "A")?;
        let bv = floats(tensor(inputs, 1, "B")?, "B")?;
        let cv = optional_floats(inputs, 2, "C")?;
        let y = gemm::<f64>(
            a,
            inputs,
            &av,
            &bv,
            cv.as_deref(),
            a.alpha as f64,
            a.beta as f64,
        )?;
        from_f64s(ty.dtype, y)?
    } else {
        numeric_dispatch!(ty.dtype, T => {
            let av = elems::<T>(tensor(inputs, 0, "A")?, "A")?;
            let bv = elems::<T>(tensor(inputs, 1, "B")?, "B")?;
            let cv = inputs.get(2).copied().flatten().map(|c| elems::<T>(c, "C")).transpose()?;
            let alpha = int_scalar::<T>("alpha", a.alpha, ty.dtype)?;
            let beta = int_scalar::<T>("beta", a.beta, ty.dtype)?;
            T::wrap(gemm::<T>(a, inputs, &av, &bv, cv.as_deref(), alpha, beta)?)
        }, bool => return Err("Gemm is not defined for bool tensors".into()))
    };
    Ok(vec![output(&ty, data)?])
}

/// An attribute scalar as an integer element, if it is one exactly (integer Gemm cannot
/// scale by 0.5, nor by -1 on unsigned data).
fn int_scalar<T: Elem>(what: &str, v: f32, dtype: DType) -> Result<T, String> {
    let t = T::from_f64(v as f64);
    if t.to_f64() != v as f64 {
        return Err(format!(
            "{what} = {v} is not a {dtype} value, which integer Gemm needs"
        ));
    }
    Ok(t)
}

/// Gemm on typed elements: shapes come from the tensors, which `infer_gemm` has checked.
fn gemm<T: Arith>(
    attrs: &GemmAttrs,
    inputs: &[Option<&Tensor>],
    av: &[T],
    bv: &[T],
    cv: Option<&[T]>,
    alpha: T,
    beta: T,
) -> Result<Vec<T>, String> {
    let (sa, sb) = (
        &tensor(inputs, 0, "A")?.shape,
        &tensor(inputs, 1, "B")?.shape,
    );
    // A is stored [M, K] (or [K, M] when transposed); B is [K, N] (or [N, K]).
    let (m, k, a_str) = if attrs.trans_a {
        (sa[1], sa[0], (1, sa[1]))
    } else {
        (sa[0], sa[1], (sa[1], 1))
    };
    let (n, b_str) = if attrs.trans_b {
        (sb[0], (1, sb[1]))
    } else {
        (sb[1], (sb[1], 1))
    };
    let mut y = Vec::with_capacity(m * n);
    product(av, a_str, bv, b_str, m, k, n, &mut y);
    for v in &mut y {
        *v = alpha.mul(*v);
    }
    if let (Some(c), Some(ct)) = (cv, inputs.get(2).copied().flatten()) {
        for (v, i) in y.iter_mut().zip(broadcast_index(&ct.shape, &[m, n])) {
            *v = v.add(beta.mul(c[i]));
        }
    }
    Ok(y)
}

pub(crate) fn eval_matmul(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_matmul)?.remove(0);
    let a = tensor(inputs, 0, "A")?;
    let b = tensor(inputs, 1, "B")?;
    let data = if ty.dtype.is_float() {
        from_f64s(
            ty.dtype,
            matmul(&floats(a, "A")?, &a.shape, &floats(b, "B")?, &b.shape),
        )?
    } else {
        numeric_dispatch!(ty.dtype, T => {
            T::wrap(matmul::<T>(&elems::<T>(a, "A")?, &a.shape, &elems::<T>(b, "B")?, &b.shape))
        }, bool => return Err("MatMul is not defined for bool tensors".into()))
    };
    Ok(vec![output(&ty, data)?])
}

/// numpy matmul on shapes `matmul_shape` accepted: a 1-D A is a row `[1, K]`, a 1-D B a
/// column `[K, 1]`, and the leading (batch) axes broadcast. The result's memory layout is
/// the same whether or not the promoted unit axes are dropped from its shape.
fn matmul<T: Arith>(a: &[T], sa: &[usize], b: &[T], sb: &[usize]) -> Vec<T> {
    let sa: Vec<usize> = if sa.len() == 1 {
        vec![1, sa[0]]
    } else {
        sa.to_vec()
    };
    let sb: Vec<usize> = if sb.len() == 1 {
        vec![sb[0], 1]
    } else {
        sb.to_vec()
    };
    let (ra, rb) = (sa.len(), sb.len());
    let (m, k, n) = (sa[ra - 2], sa[ra - 1], sb[rb - 1]);
    let (batch_a, batch_b) = (&sa[..ra - 2], &sb[..rb - 2]);
    let batch = broadcast_shapes(batch_a, batch_b).unwrap_or_default();
    let ia = broadcast_index(batch_a, &batch);
    let ib = broadcast_index(batch_b, &batch);
    let mut out = Vec::with_capacity(ia.len() * m * n);
    for (&i, &j) in ia.iter().zip(&ib) {
        let a_mat = &a[i * m * k..(i + 1) * m * k];
        let b_mat = &b[j * k * n..(j + 1) * k * n];
        product(a_mat, (k, 1), b_mat, (n, 1), m, k, n, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

    fn gemm_op(alpha: f32, beta: f32, trans_a: bool, trans_b: bool) -> Op {
        Op::Gemm(GemmAttrs {
            alpha,
            beta,
            trans_a,
            trans_b,
        })
    }

    fn transpose2(t: &Tensor) -> Tensor {
        let (r, c) = (t.shape[0], t.shape[1]);
        let v = as_f32(t);
        f32s(
            &[c, r],
            &(0..r * c)
                .map(|i| v[(i % r) * c + i / r])
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn hand_checked_product_with_bias() {
        let a = f32s(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = f32s(&[3, 2], &[7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
        let c = f32s(&[2], &[1.0, -1.0]);
        let y = run1(&Op::Gemm(GemmAttrs::default()), &[&a, &b, &c]);
        assert_eq!(y.shape, vec![2, 2]);
        assert_close(&as_f32(&y), &[59.0, 63.0, 140.0, 153.0]);
    }

    #[test]
    fn alpha_two_doubles_and_beta_scales_c() {
        let a = iota(&[3, 4]);
        let b = iota(&[4, 2]);
        let c = f32s(&[3, 1], &[1.0, 2.0, 3.0]);
        let plain = as_f32(&run1(&gemm_op(1.0, 1.0, false, false), &[&a, &b]));
        let twice = as_f32(&run1(&gemm_op(2.0, 1.0, false, false), &[&a, &b]));
        assert_close(&twice, &plain.iter().map(|x| 2.0 * x).collect::<Vec<_>>());
        // C [3, 1] broadcasts along the columns.
        let y = as_f32(&run1(&gemm_op(1.0, 0.5, false, false), &[&a, &b, &c]));
        let want: Vec<f32> = plain
            .iter()
            .enumerate()
            .map(|(i, x)| x + 0.5 * [1.0, 2.0, 3.0][i / 2])
            .collect();
        assert_close(&y, &want);
    }

    #[test]
    fn transposes_match_explicit_transposition() {
        let a = iota(&[3, 4]);
        let b = f32s(&[4, 2], &[1.0, -1.0, 2.0, 0.5, 0.0, 3.0, -2.0, 1.0]);
        let plain = run1(&gemm_op(1.0, 1.0, false, false), &[&a, &b]);
        let ta = run1(&gemm_op(1.0, 1.0, true, false), &[&transpose2(&a), &b]);
        let tb = run1(&gemm_op(1.0, 1.0, false, true), &[&a, &transpose2(&b)]);
        let tab = run1(
            &gemm_op(1.0, 1.0, true, true),
            &[&transpose2(&a), &transpose2(&b)],
        );
        assert_eq!(plain, ta);
        assert_eq!(plain, tb);
        assert_eq!(plain, tab);
    }

    #[test]
    fn integer_gemm_wraps() {
        let a = Tensor::new(vec![1, 2], TensorData::I32(vec![i32::MAX, 1])).unwrap();
        let b = Tensor::new(vec![2, 1], TensorData::I32(vec![1, 1])).unwrap();
        let y = run1(&gemm_op(1.0, 1.0, false, false), &[&a, &b]);
        assert_eq!(y.data, TensorData::I32(vec![i32::MIN]));
        let half = gemm_op(0.5, 1.0, false, false);
        assert!(run(&half, &[Some(&a), Some(&b)]).is_err());
        let ua = Tensor::new(vec![1, 1], TensorData::U64(vec![3])).unwrap();
        let y = run1(&gemm_op(2.0, 1.0, false, false), &[&ua, &ua]);
        assert_eq!(y.data, TensorData::U64(vec![18]));
        let neg = gemm_op(-1.0, 1.0, false, false);
        assert!(run(&neg, &[Some(&ua), Some(&ua)]).is_err());
    }

    #[test]
    fn gemm_rejects_mismatches() {
        let op = Op::Gemm(GemmAttrs::default());
        let a = iota(&[2, 3]);
        assert!(run(&op, &[Some(&a), Some(&iota(&[2, 3]))]).is_err());
        let bad_c = iota(&[3]);
        assert!(run(&op, &[Some(&a), Some(&iota(&[3, 2])), Some(&bad_c)]).is_err());
        let b64 = Tensor::new(vec![3, 2], TensorData::F64(vec![0.0; 6])).unwrap();
        assert!(run(&op, &[Some(&a), Some(&b64)]).is_err());
    }

    #[test]
    fn matmul_follows_numpy_for_vectors() {
        let v = f32s(&[3], &[1.0, 2.0, 3.0]);
        let w = f32s(&[3], &[4.0, 5.0, 6.0]);
        let y = run1(&Op::MatMul, &[&v, &w]);
        assert!(y.shape.is_empty());
        assert_close(&as_f32(&y), &[32.0]);
        // [3] x [2, 3, 2] -> [2, 2]: the vector multiplies each matrix.
        let m = iota(&[2, 3, 2]);
        let y = run1(&Op::MatMul, &[&v, &m]);
        assert_eq!(y.shape, vec![2, 2]);
        assert_close(&as_f32(&y), &[16.0, 22.0, 52.0, 58.0]);
        // [2, 3, 2] x [2] -> [2, 3].
        let y = run1(&Op::MatMul, &[&m, &f32s(&[2], &[1.0, -1.0])]);
        assert_close(&as_f32(&y), &[-1.0; 6]);
    }

    #[test]
    fn matmul_broadcasts_batches_like_gemm_per_batch() {
        let a = iota(&[2, 1, 2, 3]);
        let b = f32s(&[3, 3, 1], &[1.0, 0.0, 2.0, -1.0, 1.0, 0.0, 0.5, 0.5, 0.5]);
        let y = run1(&Op::MatMul, &[&a, &b]);
        assert_eq!(y.shape, vec![2, 3, 2, 1]);
        let got = as_f32(&y);
        let (av, bv) = (as_f32(&a), as_f32(&b));
        for i in 0..2 {
            for j in 0..3 {
                let am = f32s(&[2, 3], &av[i * 6..i * 6 + 6]);
                let bm = f32s(&[3, 1], &bv[j * 3..j * 3 + 3]);
                let want = as_f32(&run1(&Op::Gemm(GemmAttrs::default()), &[&am, &bm]));
                let at = (i * 3 + j) * 2;
                assert_close(&got[at..at + 2], &want);
            }
        }
    }

    #[test]
    fn integer_matmul_wraps_and_types_must_agree() {
        let a = Tensor::new(vec![1, 2], TensorData::U32(vec![u32::MAX, 2])).unwrap();
        let b = Tensor::new(vec![2, 1], TensorData::U32(vec![2, 1])).unwrap();
        let y = run1(&Op::MatMul, &[&a, &b]);
        assert_eq!(y.data, TensorData::U32(vec![0]));
        let f = iota(&[2, 1]);
        assert!(run(&Op::MatMul, &[Some(&a), Some(&f)]).is_err());
        let i8s = Tensor::new(vec![1, 1], TensorData::I8(vec![1])).unwrap();
        assert!(run(&Op::MatMul, &[Some(&i8s), Some(&i8s)]).is_err());
    }
}
