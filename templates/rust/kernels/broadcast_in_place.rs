/// `y = f(y, x)` with numpy broadcasting of `x`: a binary op whose output overwrites the
/// operand of the output's full shape (`f` takes that operand first, whichever side of the
/// op it is on). `shape` is the output shape with adjacent axes merged where possible
/// (rank R >= 1, `y` is non-empty and row-major along it); `sx` is `x`'s element strides
/// along it, 0 on broadcast axes (so the innermost one is 0 or 1).
fn broadcast_in_place<T: Copy, const R: usize>(
    y: &mut [T],
    x: &[T],
    shape: &[usize; R],
    sx: &[usize; R],
    f: impl Fn(T, T) -> T,
) {
    let inner = shape[R - 1];
    let mut idx = [0usize; R];
    let mut ox = 0usize;
    for row in y.chunks_exact_mut(inner) {
        if sx[R - 1] == 1 {
            for (o, &q) in row.iter_mut().zip(&x[ox..ox + inner]) {
                *o = f(*o, q);
            }
        } else {
            let q = x[ox];
            for o in row.iter_mut() {
                *o = f(*o, q);
            }
        }
        // Odometer over the outer axes, moving the offset into `x` along.
        let mut d = R - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            ox += sx[d];
            if idx[d] < shape[d] {
                break;
            }
            ox -= sx[d] * shape[d];
            idx[d] = 0;
        }
    }
}
