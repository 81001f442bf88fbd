/// ScatterND after `y` holds a copy of the data: each index tuple combines a `slice`-element
/// run of `u` into `y` with `op`, in order; an out-of-range tuple skips its update.
fn scatter_nd<T: Copy>(
    y: &mut [T],
    idx: &[i64],
    u: &[T],
    dims: &[usize],
    strides: &[usize],
    slice: usize,
    op: impl Fn(T, T) -> T,
) {
    let m = dims.len();
    for (tuple, src) in idx.chunks_exact(m).zip(u.chunks_exact(slice)) {
        if let Some(s) = nd_start(tuple, dims, strides, 0) {
            for (o, &v) in y[s..][..slice].iter_mut().zip(src) {
                *o = op(*o, v);
            }
        }
    }
}
