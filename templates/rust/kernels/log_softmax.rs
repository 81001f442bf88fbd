/// LogSoftmax over groups of `len` elements `inner` apart (`outer * len * inner` elements in
/// all): `x - max - ln(sum(e^(x - max)))`, with the group maximum subtracted first so exp
/// cannot overflow. NaN inputs do not take part in the maximum.
#[inline(never)]
fn log_softmax<T: Float>(x: &[T], y: &mut [T], outer: usize, len: usize, inner: usize, ln: impl Fn(T) -> T) {
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
                sum = sum.plus(x[base + j * inner].minus(max).exp());
            }
            let shift = max.plus(ln(sum));
            for j in 0..len {
                let at = base + j * inner;
                y[at] = x[at].minus(shift);
            }
        }
    }
}
