/// `i` as an index into an axis of size `d` (negative counting from the end), if in range.
fn index_in(i: i64, d: usize) -> Option<usize> {
    let j = if i < 0 { i + d as i64 } else { i };
    if j >= 0 && (j as usize) < d {
        Some(j as usize)
    } else {
        None
    }
}
