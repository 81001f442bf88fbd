/// Lp pooling over `planes` (batch x channels) planes: `root(sum of power(x))` over the
/// taps inside the input (padding adds nothing); `power` is `|v|^p` and `root` `s^(1/p)`.
#[inline(never)]
fn lp_pool<T: Float>(x: &[T], y: &mut [T], w: &Window, planes: usize, pads_end: [usize; 3], power: impl Fn(T) -> T, root: impl Fn(T) -> T) {
    let [i0, i1, i2] = w.input;
    let [o0, o1, o2] = w.output;
    let (in_plane, out_plane) = (i0 * i1 * i2, o0 * o1 * o2);
    for p in 0..planes {
        let xp = &x[p * in_plane..][..in_plane];
        for a in 0..o0 {
            let (l0, h0, _) = pool_taps(w, 0, a, pads_end[0]);
            for b in 0..o1 {
                let (l1, h1, _) = pool_taps(w, 1, b, pads_end[1]);
                for c in 0..o2 {
                    let (l2, h2, _) = pool_taps(w, 2, c, pads_end[2]);
                    let mut sum = T::ZERO;
                    for t0 in l0..h0 {
                        let q0 = a * w.strides[0] + t0 * w.dilations[0] - w.pads[0];
                        for t1 in l1..h1 {
                            let q1 = b * w.strides[1] + t1 * w.dilations[1] - w.pads[1];
                            let row = &xp[(q0 * i1 + q1) * i2..][..i2];
                            for t2 in l2..h2 {
                                sum = sum.plus(power(row[c * w.strides[2] + t2 * w.dilations[2] - w.pads[2]]));
                            }
                        }
                    }
                    y[p * out_plane + (a * o1 + b) * o2 + c] = root(sum);
                }
            }
        }
    }
}
