/// Batched matrix product shapes: each of the `batch` (broadcast) matrices is `m x k` times
/// `k x n`; `a_strides`/`b_strides` step each operand per batch axis, 0 where it broadcasts.
struct MatMulParams<const R: usize> {
    m: usize,
    k: usize,
    n: usize,
    batch: [usize; R],
    a_strides: [usize; R],
    b_strides: [usize; R],
}

/// numpy matmul over broadcast batch axes (`y` is non-empty); `epi(at, row)` is the fused
/// epilogue, applied to each finished row (`at` is its flat offset).
#[inline(never)]
fn matmul<T: Num, const R: usize>(a: &[T], b: &[T], y: &mut [T], p: &MatMulParams<R>, epi: impl Fn(usize, &mut [T])) {
    let (m, k, n) = (p.m, p.k, p.n);
    let mut idx = [0usize; R];
    let (mut oa, mut ob) = (0usize, 0usize);
    for (bi, out) in y.chunks_exact_mut(m * n).enumerate() {
        let am = &a[oa..][..m * k];
        let bm = &b[ob..][..k * n];
        for (i, row) in out.chunks_exact_mut(n).enumerate() {
            row.fill(T::ZERO);
            for (q, &av) in am[i * k..][..k].iter().enumerate() {
                for (o, &bv) in row.iter_mut().zip(&bm[q * n..][..n]) {
                    *o = o.plus(av.times(bv));
                }
            }
            epi((bi * m + i) * n, row);
        }
        // Odometer over the batch axes.
        let mut d = R;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            oa += p.a_strides[d];
            ob += p.b_strides[d];
            if idx[d] < p.batch[d] {
                break;
            }
            oa -= p.a_strides[d] * p.batch[d];
            ob -= p.b_strides[d] * p.batch[d];
            idx[d] = 0;
        }
    }
}
