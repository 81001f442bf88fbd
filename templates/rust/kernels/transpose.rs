/// Writes `y` in row-major order over `shape` (rank R >= 1, adjacent axes merged, `y`
/// non-empty), reading `x` at `sum(index[d] * xs[d])`: the input strides permuted.
fn transpose<T: Copy, const R: usize>(x: &[T], y: &mut [T], shape: &[usize; R], xs: &[usize; R]) {
    let (inner, step) = (shape[R - 1], xs[R - 1]);
    let mut idx = [0usize; R];
    let mut off = 0usize;
    for row in y.chunks_exact_mut(inner) {
        for (j, o) in row.iter_mut().enumerate() {
            *o = x[off + j * step];
        }
        let mut d = R - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            off += xs[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= xs[d] * shape[d];
            idx[d] = 0;
        }
    }
}
