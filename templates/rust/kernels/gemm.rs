/// Gemm shapes: A' is `m x k`, B' is `k x n`; C (if any) is read at
/// `i * c_strides.0 + j * c_strides.1`, with 0 strides on broadcast axes.
struct GemmParams {
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
    c_strides: (usize, usize),
}

/// `Y = alpha * A' B' + beta * C`, then the fused epilogue `epi(at, row)` on each finished
/// row (`at` is its flat offset).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm<T: Num>(a: &[T], b: &[T], c: Option<&[T]>, y: &mut [T], p: &GemmParams, alpha: T, beta: T, epi: impl Fn(usize, &mut [T])) {
    let (m, n, k) = (p.m, p.n, p.k);
    for i in 0..m {
        let row = &mut y[i * n..][..n];
        let a_at = |q: usize| if p.trans_a { a[q * m + i] } else { a[i * k + q] };
        if p.trans_b {
            // B is stored n x k: each output is a dot product of two contiguous rows. Four
            // outputs at a time: four independent sums (each still in order of q), so the
            // additions overlap and each A value is loaded once for four products.
            let mut j = 0;
            while j + 4 <= n {
                let rows: [&[T]; 4] = core::array::from_fn(|t| &b[(j + t) * k..][..k]);
                let mut acc = [T::ZERO; 4];
                for q in 0..k {
                    let av = a_at(q);
                    for (s, r) in acc.iter_mut().zip(&rows) {
                        *s = s.plus(av.times(r[q]));
                    }
                }
                row[j..j + 4].copy_from_slice(&acc);
                j += 4;
            }
            for (j, o) in row.iter_mut().enumerate().skip(j) {
                let brow = &b[j * k..][..k];
                let mut acc = T::ZERO;
                if p.trans_a {
                    for (q, &bv) in brow.iter().enumerate() {
                        acc = acc.plus(a_at(q).times(bv));
                    }
                } else {
                    for (&av, &bv) in a[i * k..][..k].iter().zip(brow) {
                        acc = acc.plus(av.times(bv));
                    }
                }
                *o = acc;
            }
        } else {
            // B is stored k x n: accumulate scaled rows of B into the output row.
            row.fill(T::ZERO);
            for q in 0..k {
                let av = a_at(q);
                for (o, &bv) in row.iter_mut().zip(&b[q * n..][..n]) {
                    *o = o.plus(av.times(bv));
                }
            }
        }
        for (j, o) in row.iter_mut().enumerate() {
            let v = alpha.times(*o);
            *o = match c {
                Some(c) => v.plus(beta.times(c[i * p.c_strides.0 + j * p.c_strides.1])),
                None => v,
            };
        }
        epi(i * n, row);
    }
}
