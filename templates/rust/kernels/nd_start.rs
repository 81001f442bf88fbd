/// The flat start in data of the slice an index tuple names: `base` plus each entry (negative
/// counting from the end) times its stride; `None` when an entry is out of range.
fn nd_start(tuple: &[i64], dims: &[usize], strides: &[usize], base: usize) -> Option<usize> {
    let mut at = base;
    for ((&i, &d), &s) in tuple.iter().zip(dims).zip(strides) {
        at += index_in(i, d)? * s;
    }
    Some(at)
}
