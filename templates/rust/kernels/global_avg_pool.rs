/// The mean of each of the `y.len()` planes of `len` elements (0 / 0 = NaN for empty ones),
/// then the fused epilogue `epi(0, y)`. Each plane's sum in 16 partial lanes
/// ([`sum_lanes`]).
fn global_avg_pool<T: Float>(x: &[T], y: &mut [T], len: usize, epi: impl Fn(usize, &mut [T])) {
    for (p, o) in y.iter_mut().enumerate() {
        *o = sum_lanes(&x[p * len..][..len]).divide(T::from_count(len));
    }
    epi(0, y);
}
