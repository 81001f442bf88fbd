/// Layer normalisation of rows of `len` elements: `y = (x - mean) / sqrt(var + epsilon) *
/// scale + bias` with the row's mean and (biased) variance; `scale` and `bias` repeat along
/// the row (their lengths divide `len`).
fn layer_norm<T: Float>(x: &[T], y: &mut [T], scale: &[T], bias: Option<&[T]>, epsilon: T, len: usize) {
    if len == 0 {
        return;
    }
    let n = T::from_count(len);
    for (yr, xr) in y.chunks_exact_mut(len).zip(x.chunks_exact(len)) {
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
        let (mut s, mut b) = (0, 0);
        for (o, &v) in yr.iter_mut().zip(xr) {
            let mut r = v.minus(mean).divide(den).times(scale[s]);
            s += 1;
            if s == scale.len() {
                s = 0;
            }
            if let Some(bias) = bias {
                r = r.plus(bias[b]);
                b += 1;
                if b == bias.len() {
                    b = 0;
                }
            }
            *o = r;
        }
    }
}
