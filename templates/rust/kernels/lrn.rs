/// Local response normalisation across channels: `y = x / (bias + alpha / size *
/// sum(x^2 over channels c - (size - 1) / 2 ..= c + size / 2))^beta` for `items` batch
/// items of `channels` channels of `spatial` elements; `pow` raises to `beta`.
fn lrn<T: Float>(x: &[T], y: &mut [T], items: usize, channels: usize, spatial: usize, size: usize, alpha: T, beta: T, bias: T, pow: impl Fn(T, T) -> T) {
    let scale = alpha.divide(T::from_count(size));
    let (before, after) = ((size - 1) / 2, size / 2);
    for n in 0..items {
        for c in 0..channels {
            let lo = c.saturating_sub(before);
            let hi = if c + after < channels { c + after } else { channels - 1 };
            for s in 0..spatial {
                let mut sq = T::ZERO;
                for k in lo..=hi {
                    let v = x[(n * channels + k) * spatial + s];
                    sq = sq.plus(v.times(v));
                }
                let at = (n * channels + c) * spatial + s;
                y[at] = x[at].divide(pow(bias.plus(scale.times(sq)), beta));
            }
        }
    }
}
