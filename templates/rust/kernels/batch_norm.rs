/// Inference batch normalisation, `y = (x - mean) / sqrt(var + epsilon) * scale + bias` per
/// channel, over planes of `inner` elements; `stats` is `[scale, bias, mean, var]`.
fn batch_norm<T: Float>(x: &[T], y: &mut [T], stats: [&[T]; 4], epsilon: T, channels: usize, inner: usize) {
    let [scale, bias, mean, var] = stats;
    if inner == 0 {
        return;
    }
    for (p, (yp, xp)) in y.chunks_exact_mut(inner).zip(x.chunks_exact(inner)).enumerate() {
        let c = p % channels;
        let den = var[c].plus(epsilon).sqrt();
        for (o, &v) in yp.iter_mut().zip(xp) {
            *o = v.minus(mean[c]).divide(den).times(scale[c]).plus(bias[c]);
        }
    }
}
