/// The mean over the axes along which `ys`, the output's element strides laid along the
/// input's axes, is 0: the input is walked in order with an odometer over `shape` (rank
/// R >= 1), each element added to its output element, and every sum divided by `count`
/// (0 / 0 = NaN for an empty reduction).
fn reduce_mean<T: Float, const R: usize>(x: &[T], y: &mut [T], shape: &[usize; R], ys: &[usize; R], count: usize) {
    for o in y.iter_mut() {
        *o = T::ZERO;
    }
    let mut idx = [0usize; R];
    let mut at = 0usize;
    for &v in x {
        y[at] = y[at].plus(v);
        let mut d = R;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            at += ys[d];
            if idx[d] < shape[d] {
                break;
            }
            at -= ys[d] * shape[d];
            idx[d] = 0;
        }
    }
    let n = T::from_count(count);
    for o in y.iter_mut() {
        *o = o.divide(n);
    }
}
