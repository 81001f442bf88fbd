/// The sum of `x` kept in 16 partial lanes, then added up with the last partial block: a
/// float sum in one chain cannot be reordered, so would not vectorise, and waits on each
/// add (ppocr_cls's 200-channel GlobalAveragePools took 13 us so). Its order therefore
/// differs from a plain left-to-right one by float rounding only.
#[inline(always)]
fn sum_lanes<T: Float>(x: &[T]) -> T {
    let mut lanes = [T::ZERO; 16];
    let mut blocks = x.chunks_exact(16);
    for b in &mut blocks {
        for (s, &v) in lanes.iter_mut().zip(b) {
            *s = s.plus(v);
        }
    }
    let mut sum = T::ZERO;
    for &v in lanes.iter().chain(blocks.remainder()) {
        sum = sum.plus(v);
    }
    sum
}
