/// Softmax over groups of `len` elements `inner` apart (`outer * len * inner` elements in
/// all), with the group maximum subtracted first so exp cannot overflow. NaN inputs do not
/// take part in the maximum.
#[inline(never)]
fn softmax<T: Float>(x: &[T], y: &mut [T], outer: usize, len: usize, inner: usize) {
    if len == 0 {
        return;
    }
    if inner == 1 {
        for (xr, yr) in x.chunks_exact(len).zip(y.chunks_exact_mut(len)).take(outer) {
            softmax_row(xr, yr);
        }
        return;
    }
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

/// Softmax of one contiguous group. The maximum and the sum ([`sum_lanes`]) are kept in 16
/// partial lanes, so they vectorise.
#[inline(always)]
fn softmax_row<T: Float>(x: &[T], y: &mut [T]) {
    let mut lanes = [T::LOWEST; 16];
    let mut blocks = x.chunks_exact(16);
    for b in &mut blocks {
        for (m, &v) in lanes.iter_mut().zip(b) {
            if v > *m {
                *m = v;
            }
        }
    }
    let mut max = T::LOWEST;
    for &v in lanes.iter().chain(blocks.remainder()) {
        if v > max {
            max = v;
        }
    }
    for (e, &v) in y.iter_mut().zip(x) {
        *e = v.minus(max).exp();
    }
    let sum = sum_lanes(y);
    for e in y.iter_mut() {
        *e = e.divide(sum);
    }
}
