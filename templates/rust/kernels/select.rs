/// `y = c ? a : b` with numpy broadcasting of all three (Where). `shape` is the output
/// shape with adjacent axes merged where possible (rank R >= 1, `y` is non-empty); `sc`,
/// `sa` and `sb` are each operand's element strides along it, 0 on broadcast axes.
fn select<T: Copy, const R: usize>(
    c: &[bool],
    a: &[T],
    b: &[T],
    y: &mut [T],
    shape: &[usize; R],
    strides: [&[usize; R]; 3],
) {
    let [sc, sa, sb] = strides;
    let inner = shape[R - 1];
    let mut idx = [0usize; R];
    let (mut oc, mut oa, mut ob) = (0usize, 0usize, 0usize);
    for row in y.chunks_exact_mut(inner) {
        for (e, o) in row.iter_mut().enumerate() {
            *o = if c[oc + e * sc[R - 1]] {
                a[oa + e * sa[R - 1]]
            } else {
                b[ob + e * sb[R - 1]]
            };
        }
        // Odometer over the outer axes, moving the three offsets along.
        let mut d = R - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            oc += sc[d];
            oa += sa[d];
            ob += sb[d];
            if idx[d] < shape[d] {
                break;
            }
            oc -= sc[d] * shape[d];
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}
