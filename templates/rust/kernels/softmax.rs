/// Softmax over groups of `len` elements `inner` apart (`outer * len * inner` elements in
/// all), with the group maximum subtracted first so exp cannot overflow. NaN inputs do not
/// take part in the maximum.
#[inline(never)]
fn softmax<T: Float>(x: &[T], y: &mut [T], outer: usize, len: usize, inner: usize) {
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let mut max = T::LOWEST;
            for j in 0..len {
                let v = x[base + j * inner];
                if v > max {
                    max = v;
                }
            }
            let mut sum = T::ZERO;
            for j in 0..len {
                let e = x[base + j * inner].minus(max).exp();
                y[base + j * inner] = e;
                sum = sum.plus(e);
            }
            for j in 0..len {
                let at = base + j * inner;
                y[at] = y[at].divide(sum);
            }
        }
    }
}
