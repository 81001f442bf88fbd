/// Training-mode batch normalisation: each channel is normalised with the batch's own mean
/// and biased variance over every axis but 1 (`channels` planes of `inner` elements per
/// batch item); `params` is `[scale, bias, input_mean, input_var]`. The running statistics,
/// when asked for, are `input * momentum + batch * keep` with `keep = 1 - momentum`.
#[allow(clippy::too_many_arguments)]
fn batch_norm_train<T: Float>(x: &[T], y: &mut [T], params: [&[T]; 4], epsilon: T, momentum: T, keep: T, channels: usize, inner: usize, mut running_mean: Option<&mut [T]>, mut running_var: Option<&mut [T]>) {
    let [scale, bias, input_mean, input_var] = params;
    let batch = if channels * inner == 0 { 0 } else { x.len() / (channels * inner) };
    let count = T::from_count(batch * inner);
    for c in 0..channels {
        let mut sum = T::ZERO;
        for n in 0..batch {
            for &v in &x[(n * channels + c) * inner..][..inner] {
                sum = sum.plus(v);
            }
        }
        let mean = sum.divide(count);
        let mut sq = T::ZERO;
        for n in 0..batch {
            for &v in &x[(n * channels + c) * inner..][..inner] {
                let d = v.minus(mean);
                sq = sq.plus(d.times(d));
            }
        }
        let var = sq.divide(count);
        let den = var.plus(epsilon).sqrt();
        for n in 0..batch {
            let at = (n * channels + c) * inner;
            for (o, &v) in y[at..at + inner].iter_mut().zip(&x[at..at + inner]) {
                *o = v.minus(mean).divide(den).times(scale[c]).plus(bias[c]);
            }
        }
        if let Some(r) = running_mean.as_deref_mut() {
            r[c] = input_mean[c].times(momentum).plus(mean.times(keep));
        }
        if let Some(r) = running_var.as_deref_mut() {
            r[c] = input_var[c].times(momentum).plus(var.times(keep));
        }
    }
}
