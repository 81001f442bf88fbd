/// OneHot: `y` is `[outer, depth, inner]`; element (o, j, k) is `values[1]` when index
/// (o, k) (as an integer, negative counting from the end) is `j`, else `values[0]`.
fn one_hot<T: Copy, I: Copy>(
    idx: &[I],
    values: &[T],
    y: &mut [T],
    depth: usize,
    inner: usize,
    to_int: impl Fn(I) -> i64,
) {
    y.fill(values[0]);
    for (f, &i) in idx.iter().enumerate() {
        if let Some(j) = index_in(to_int(i), depth) {
            y[((f / inner) * depth + j) * inner + f % inner] = values[1];
        }
    }
}
