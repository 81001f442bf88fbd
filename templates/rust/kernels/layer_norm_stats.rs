/// The statistics of a layer normalisation of rows of `len` elements: each row's mean and
/// `1 / sqrt(var + epsilon)` (biased variance), into whichever of `mean` and `inv_std` is
/// given (one element per row).
fn layer_norm_stats<T: Float>(x: &[T], mut mean: Option<&mut [T]>, mut inv_std: Option<&mut [T]>, epsilon: T, len: usize) {
    if len == 0 {
        return;
    }
    let n = T::from_count(len);
    for (r, xr) in x.chunks_exact(len).enumerate() {
        let mut sum = T::ZERO;
        for &v in xr {
            sum = sum.plus(v);
        }
        let m = sum.divide(n);
        let mut sq = T::ZERO;
        for &v in xr {
            let d = v.minus(m);
            sq = sq.plus(d.times(d));
        }
        if let Some(out) = mean.as_deref_mut() {
            out[r] = m;
        }
        if let Some(out) = inv_std.as_deref_mut() {
            out[r] = T::from_count(1).divide(sq.divide(n).plus(epsilon).sqrt());
        }
    }
}
