/// GatherElements: `y[f] = x[target(f)]`; an out-of-range index gives `T::default()`.
fn gather_elements<T: Copy + Default, I: Copy + Into<i64>, const R: usize>(
    x: &[T],
    idx: &[I],
    y: &mut [T],
    shape: &[usize; R],
    xs: &[usize; R],
    axis: usize,
    d: usize,
) {
    for (f, (o, &i)) in y.iter_mut().zip(idx).enumerate() {
        *o = match element_target(f, i.into(), shape, xs, axis, d) {
            Some(t) => x[t],
            None => T::default(),
        };
    }
}
