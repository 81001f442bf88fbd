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
        // Unit and stride-2 rows (Slice's common steps) as copies and as deinterleaves of
        // arrays of known length, which vectorise; as the general loop, each was a load
        // and a store an element (ddddocr_det's eight Slices, 0.9 ms).
        let start = off as usize;
        if step == 1 {
            row.copy_from_slice(&x[start..start + inner]);
        } else if step == 2 && inner >= 16 {
            let src = &x[start..start + 2 * inner - 1];
            let mut k = 0;
            while k + 16 <= inner {
                if let (Some(v), Some(o)) = (src[2 * k..].first_chunk::<31>(), row[k..].first_chunk_mut::<16>()) {
                    *o = core::array::from_fn(|l| v[2 * l]);
                }
                k += 16;
            }
            for (j, o) in row.iter_mut().enumerate().skip(k) {
                *o = src[2 * j];
            }
        } else {
            for (j, o) in row.iter_mut().enumerate() {
                *o = x[(off + j as isize * step) as usize];
            }
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
