/// Trilu over `rows x cols` matrices: keeps element (i, j) when `j - i >= k` (upper) or
/// `j - i <= k` (lower), else `T::default()` (zero).
fn trilu<T: Copy + Default>(x: &[T], y: &mut [T], rows: usize, cols: usize, k: i64, upper: bool) {
    for (f, (o, &v)) in y.iter_mut().zip(x).enumerate() {
        let (i, j) = ((f / cols) % rows, f % cols);
        let d = j as i64 - i as i64;
        *o = if (upper && d >= k) || (!upper && d <= k) {
            v
        } else {
            T::default()
        };
    }
}
