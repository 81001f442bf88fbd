/// `y = f(a, b)` with numpy broadcasting. `shape` is the output shape with adjacent axes
/// merged where possible (rank R >= 1, `y` is non-empty); `sa` and `sb` are each operand's
/// element strides along it, 0 on broadcast axes (so the innermost ones are 0 or 1). The
/// operands may have other element types than `y` (Pow's exponent).
fn broadcast<A: Copy, B: Copy, T: Copy, const R: usize>(
    a: &[A],
    b: &[B],
    y: &mut [T],
    shape: &[usize; R],
    sa: &[usize; R],
    sb: &[usize; R],
    f: impl Fn(A, B) -> T,
) {
    let inner = shape[R - 1];
    let mut idx = [0usize; R];
    let (mut oa, mut ob) = (0usize, 0usize);
    for row in y.chunks_exact_mut(inner) {
        match (sa[R - 1], sb[R - 1]) {
            (1, 1) => {
                for ((o, &p), &q) in row.iter_mut().zip(&a[oa..oa + inner]).zip(&b[ob..ob + inner]) {
                    *o = f(p, q);
                }
            }
            (1, _) => {
                let q = b[ob];
                for (o, &p) in row.iter_mut().zip(&a[oa..oa + inner]) {
                    *o = f(p, q);
                }
            }
            (_, 1) => {
                let p = a[oa];
                for (o, &q) in row.iter_mut().zip(&b[ob..ob + inner]) {
                    *o = f(p, q);
                }
            }
            _ => {
                let v = f(a[oa], b[ob]);
                row.fill(v);
            }
        }
        // Odometer over the outer axes, moving both operand offsets along.
        let mut d = R - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            oa += sa[d];
            ob += sb[d];
            if idx[d] < shape[d] {
                break;
            }
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}
