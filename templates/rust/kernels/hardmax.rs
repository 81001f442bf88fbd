/// Hardmax over groups of `len` elements `inner` apart (`outer * len * inner` elements in
/// all): `one` at the first maximum of each group (a NaN, as numpy's argmax), `zero`
/// elsewhere.
#[inline(never)]
fn hardmax<T: Copy + PartialOrd>(x: &[T], y: &mut [T], outer: usize, len: usize, inner: usize, zero: T, one: T) {
    #[allow(clippy::eq_op)]
    let nan = |v: T| v != v;
    for o in 0..outer {
        for i in 0..inner {
            let base = o * len * inner + i;
            let mut best = 0;
            for j in 1..len {
                let (v, b) = (x[base + j * inner], x[base + best * inner]);
                if !nan(b) && (nan(v) || v > b) {
                    best = j;
                }
            }
            for j in 0..len {
                y[base + j * inner] = if j == best { one } else { zero };
            }
        }
    }
}
