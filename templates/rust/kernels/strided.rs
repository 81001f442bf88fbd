/// Writes `y` in row-major order over `shape` (rank R >= 1, `y` non-empty), reading `x` at
/// `base + sum(index[d] * xs[d])`: an affine view (Slice, Split, Expand, Tile,
/// DepthToSpace, SpaceToDepth). Strides may be negative (reversed slices) or zero
/// (broadcast and repeated axes).
fn strided<T: Copy, const R: usize>(
    x: &[T],
    y: &mut [T],
    base: usize,
    shape: &[usize; R],
    xs: &[isize; R],
) {
    let (inner, step) = (shape[R - 1], xs[R - 1]);
    let mut idx = [0usize; R];
    let mut off = base as isize;
    for row in y.chunks_exact_mut(inner) {
        for (j, o) in row.iter_mut().enumerate() {
            *o = x[(off + j as isize * step) as usize];
        }
        let mut d = R - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            off += xs[d];
            if idx[d] < shape[d] {
                break;
            }
            off -= xs[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
}
