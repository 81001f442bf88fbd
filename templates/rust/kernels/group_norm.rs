/// Group (and instance) normalisation: rows of `len` elements (one group of channels of one
/// batch item) normalised with the row's mean and biased variance, then per channel
/// `* scale[s] + bias[s]`, where element `i` is in channel `c = (i / spatial) % channels`
/// and `s = c / (channels / scale.len())` (scale per channel, or per group).
fn group_norm<T: Float>(x: &[T], y: &mut [T], scale: &[T], bias: &[T], epsilon: T, len: usize, spatial: usize, channels: usize) {
    if len == 0 || spatial == 0 || scale.is_empty() {
        return;
    }
    let n = T::from_count(len);
    let per = channels / scale.len();
    for (r, (yr, xr)) in y.chunks_exact_mut(len).zip(x.chunks_exact(len)).enumerate() {
        let mut sum = T::ZERO;
        for &v in xr {
            sum = sum.plus(v);
        }
        let mean = sum.divide(n);
        let mut sq = T::ZERO;
        for &v in xr {
            let d = v.minus(mean);
            sq = sq.plus(d.times(d));
        }
        let den = sq.divide(n).plus(epsilon).sqrt();
        for (j, (o, &v)) in yr.iter_mut().zip(xr).enumerate() {
            let c = ((r * len + j) / spatial) % channels;
            let s = c / per;
            *o = v.minus(mean).divide(den).times(scale[s]).plus(bias[s]);
        }
    }
}
