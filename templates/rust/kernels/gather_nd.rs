/// GatherND: `batches` blocks of `per` index tuples of `dims.len()` entries; each tuple
/// copies a `slice`-element run of `x` (batch `b` starts at `b * batch`). An out-of-range
/// tuple gives `T::default()`.
fn gather_nd<T: Copy + Default>(
    x: &[T],
    idx: &[i64],
    y: &mut [T],
    dims: &[usize],
    strides: &[usize],
    per: usize,
    batch: usize,
    slice: usize,
) {
    let m = dims.len();
    for (t, (tuple, out)) in idx.chunks_exact(m).zip(y.chunks_exact_mut(slice)).enumerate() {
        match nd_start(tuple, dims, strides, (t / per) * batch) {
            Some(s) => out.copy_from_slice(&x[s..][..slice]),
            None => out.fill(T::default()),
        }
    }
}
