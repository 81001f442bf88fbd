/// The mean of each of the `y.len()` planes of `len` elements (0 / 0 = NaN for empty ones),
/// then the fused epilogue `epi(0, y)`. Each plane's sum is kept in 16 partial lanes, as
/// Softmax's is (a sum in one chain cannot be reordered, so would not vectorise, and waited
/// on each add: ppocr_cls's 200-channel pools took 13 us); its order therefore differs
/// from a plain left-to-right one by float rounding only.
fn global_avg_pool<T: Float>(x: &[T], y: &mut [T], len: usize, epi: impl Fn(usize, &mut [T])) {
    for (p, o) in y.iter_mut().enumerate() {
        let mut lanes = [T::ZERO; 16];
        let mut blocks = x[p * len..][..len].chunks_exact(16);
        for b in &mut blocks {
            for (s, &v) in lanes.iter_mut().zip(b) {
                *s = s.plus(v);
            }
        }
        let mut sum = T::ZERO;
        for &v in lanes.iter().chain(blocks.remainder()) {
            sum = sum.plus(v);
        }
        *o = sum.divide(T::from_count(len));
    }
    epi(0, y);
}
