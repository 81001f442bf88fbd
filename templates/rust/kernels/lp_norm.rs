/// LpNormalization over groups of `len` elements `inner` apart (`outer * len * inner`
/// elements in all): each element divided by the group's L1 norm (`p1`) or L2 norm; a zero
/// norm gives zeros.
fn lp_norm<T: Float>(x: &[T], y: &mut [T], outer: usize, len: usize, inner: usize, p1: bool) {
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let mut sum = T::ZERO;
            for j in 0..len {
                let v = x[base + j * inner];
                sum = sum.plus(if p1 { if v < T::ZERO { T::ZERO.minus(v) } else { v } } else { v.times(v) });
            }
            let norm = if p1 { sum } else { sum.sqrt() };
            for j in 0..len {
                let at = base + j * inner;
                y[at] = if norm == T::ZERO { T::ZERO } else { x[at].divide(norm) };
            }
        }
    }
}
