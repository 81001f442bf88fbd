/// Max pooling over `planes` (batch x channels) planes. Ties keep the first maximum in
/// kernel order; a window lying wholly in padding gives the lowest value and index -1.
/// `indices`, when present, receives the flat input index of each maximum (batch and
/// channel offset included), row-major or, with `column_major`, column-major in space.
/// `epi(at, plane)` is the fused epilogue, applied to each finished output plane.
#[inline(never)]
fn max_pool<T: Num>(
    x: &[T],
    y: &mut [T],
    mut indices: Option<&mut [i64]>,
    w: &Window,
    planes: usize,
    column_major: bool,
    epi: impl Fn(usize, &mut [T]),
) {
    let [i0, i1, i2] = w.input;
    let [o0, o1, o2] = w.output;
    let (in_plane, out_plane) = (i0 * i1 * i2, o0 * o1 * o2);
    for p in 0..planes {
        let xp = &x[p * in_plane..][..in_plane];
        for a in 0..o0 {
            let (l0, h0, _) = pool_taps(w, 0, a, 0);
            for b in 0..o1 {
                let (l1, h1, _) = pool_taps(w, 1, b, 0);
                for c in 0..o2 {
                    let (l2, h2, _) = pool_taps(w, 2, c, 0);
                    let mut best = T::LOWEST;
                    let mut at: Option<(usize, usize, usize)> = None;
                    for t0 in l0..h0 {
                        let q0 = a * w.strides[0] + t0 * w.dilations[0] - w.pads[0];
                        for t1 in l1..h1 {
                            let q1 = b * w.strides[1] + t1 * w.dilations[1] - w.pads[1];
                            let row = &xp[(q0 * i1 + q1) * i2..][..i2];
                            for t2 in l2..h2 {
                                let q2 = c * w.strides[2] + t2 * w.dilations[2] - w.pads[2];
                                let v = row[q2];
                                if at.is_none() || v > best {
                                    best = v;
                                    at = Some((q0, q1, q2));
                                }
                            }
                        }
                    }
                    let o = p * out_plane + (a * o1 + b) * o2 + c;
                    y[o] = best;
                    if let Some(ind) = indices.as_deref_mut() {
                        ind[o] = match at {
                            Some((q0, q1, q2)) if column_major => {
                                (p * in_plane + q0 + q1 * i0 + q2 * i0 * i1) as i64
                            }
                            Some((q0, q1, q2)) => (p * in_plane + (q0 * i1 + q1) * i2 + q2) as i64,
                            None => -1,
                        };
                    }
                }
            }
        }
        epi(p * out_plane, &mut y[p * out_plane..][..out_plane]);
    }
}
