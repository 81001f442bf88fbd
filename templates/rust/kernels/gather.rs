/// Gather along one axis: for each of the `y.len() / (idx.len() * inner)` outer blocks of
/// `x` (`d` rows of `inner` elements each), the rows `idx` names, in order. An index counts
/// from the end when negative; one outside `[-d, d)` (invalid input) gives a row of
/// `T::default()` rather than a panic.
fn gather_rows<T: Copy + Default, I: Copy + Into<i64>>(
    x: &[T],
    idx: &[I],
    y: &mut [T],
    d: usize,
    inner: usize,
) {
    let rows = idx.len() * inner;
    if d * inner == 0 {
        y.fill(T::default());
        return;
    }
    for (xo, yo) in x.chunks_exact(d * inner).zip(y.chunks_exact_mut(rows)) {
        for (&i, out) in idx.iter().zip(yo.chunks_exact_mut(inner)) {
            match index_in(i.into(), d) {
                Some(j) => out.copy_from_slice(&xo[j * inner..][..inner]),
                None => out.fill(T::default()),
            }
        }
    }
}

