/// ScatterElements after `y` holds a copy of the data: `y[target(f)] = op(y[..], u[f])` in
/// order; an out-of-range index (invalid input) skips its update.
fn scatter_elements<T: Copy, I: Copy + Into<i64>, const R: usize>(
    y: &mut [T],
    idx: &[I],
    u: &[T],
    shape: &[usize; R],
    xs: &[usize; R],
    axis: usize,
    d: usize,
    op: impl Fn(T, T) -> T,
) {
    for (f, (&i, &v)) in idx.iter().zip(u).enumerate() {
        if let Some(t) = element_target(f, i.into(), shape, xs, axis, d) {
            y[t] = op(y[t], v);
        }
    }
}
