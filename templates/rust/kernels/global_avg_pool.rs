/// The mean of each of the `y.len()` planes of `len` elements (0 / 0 = NaN for empty ones).
fn global_avg_pool<T: Float>(x: &[T], y: &mut [T], len: usize) {
    for (p, o) in y.iter_mut().enumerate() {
        let mut sum = T::ZERO;
        for &v in &x[p * len..][..len] {
            sum = sum.plus(v);
        }
        *o = sum.divide(T::from_count(len));
    }
}
