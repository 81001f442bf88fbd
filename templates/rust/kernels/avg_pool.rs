/// Average pooling over `planes` (batch x channels) planes. The divisor counts the taps
/// inside the input, or with `count_pad` also those in the padding (`pads_end` after each
/// axis), never the positions past it that only ceil-mode windows reach. `epi(at, plane)`
/// is the fused epilogue, applied to each finished output plane.
#[inline(never)]
fn avg_pool<T: Float>(
    x: &[T],
    y: &mut [T],
    w: &Window,
    planes: usize,
    pads_end: [usize; 3],
    count_pad: bool,
    epi: impl Fn(usize, &mut [T]),
) {
    let [i0, i1, i2] = w.input;
    let [o0, o1, o2] = w.output;
    let (in_plane, out_plane) = (i0 * i1 * i2, o0 * o1 * o2);
    for p in 0..planes {
        // `get`: in bounds by construction, and no panic path (see conv_rows4).
        let Some(xp) = x.get(p * in_plane..(p + 1) * in_plane) else { return };
        for a in 0..o0 {
            let (l0, h0, n0) = pool_taps(w, 0, a, pads_end[0]);
            for b in 0..o1 {
                let (l1, h1, n1) = pool_taps(w, 1, b, pads_end[1]);
                for c in 0..o2 {
                    let (l2, h2, n2) = pool_taps(w, 2, c, pads_end[2]);
                    let mut sum = T::ZERO;
                    for t0 in l0..h0 {
                        let q0 = a * w.strides[0] + t0 * w.dilations[0] - w.pads[0];
                        for t1 in l1..h1 {
                            let q1 = b * w.strides[1] + t1 * w.dilations[1] - w.pads[1];
                            let at = (q0 * i1 + q1) * i2;
                            let Some(row) = xp.get(at..at + i2) else { return };
                            for t2 in l2..h2 {
                                if let Some(&v) = row.get(c * w.strides[2] + t2 * w.dilations[2] - w.pads[2]) {
                                    sum = sum.plus(v);
                                }
                            }
                        }
                    }
                    let count = if count_pad {
                        n0 * n1 * n2
                    } else {
                        (h0 - l0) * (h1 - l1) * (h2 - l2)
                    };
                    if let Some(o) = y.get_mut(p * out_plane + (a * o1 + b) * o2 + c) {
                        *o = sum.divide(T::from_count(count));
                    }
                }
            }
        }
        if let Some(plane) = y.get_mut(p * out_plane..(p + 1) * out_plane) {
            epi(p * out_plane, plane);
        }
    }
}
