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
    if indices.is_none()
        && w.input[0] == 1
        && w.output[0] == 1
        && w.kernel[0] == 1
        && w.dilations[1] == 1
        && w.dilations[2] == 1
        && w.kernel[2] <= MAX_POOL_SPAN
    {
        max_pool_separable(x, y, w, planes, epi);
        return;
    }
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

/// The widest run of padded columns [`max_pool_separable`] takes at once (a buffer on the
/// stack).
const MAX_POOL_SPAN: usize = 64;

/// [`max_pool`] over one- and two-dimensional windows without dilation or indices, as a
/// max over rows of maxima over columns: per output row, the window's rows are reduced
/// column by column into a buffer of padded columns (padding left at the lowest value),
/// then each output takes the max of its columns there. That is `kh + kw` comparisons an
/// output, not `kh * kw`, each pass over contiguous runs, so it vectorises (ddddocr_det's
/// 13x13 pools took 4% of its time as the direct loop). The results are the direct
/// loop's: NaN is skipped by `>` in both passes, and where the window's first element is
/// NaN, which the direct loop keeps, it is taken.
#[inline(never)]
fn max_pool_separable<T: Num>(x: &[T], y: &mut [T], w: &Window, planes: usize, epi: impl Fn(usize, &mut [T])) {
    let [_, i1, i2] = w.input;
    let [_, o1, o2] = w.output;
    let (s1, p1) = (w.strides[1], w.pads[1]);
    let (s2, k2, p2) = (w.strides[2], w.kernel[2], w.pads[2]);
    // Output columns per pass: their padded columns fit the buffer.
    let cols = (MAX_POOL_SPAN - k2) / s2 + 1;
    if o2 == 0 {
        return;
    }
    let mut buf = [T::LOWEST; MAX_POOL_SPAN];
    for p in 0..planes {
        let xp = &x[p * i1 * i2..][..i1 * i2];
        let yp = &mut y[p * o1 * o2..][..o1 * o2];
        // Whether the plane holds a NaN (never, for integers): only then can a window's
        // first element need taking (below). Tested per output, the test cost as much as
        // the pooling on ddddocr_det's 13x13 maps.
        #[allow(clippy::eq_op)]
        let nan = xp.iter().fold(false, |a, &v| a | (v != v));
        for (b, yr) in yp.chunks_exact_mut(o2).enumerate() {
            let (l1, h1, _) = pool_taps(w, 1, b, 0);
            let mut c0 = 0;
            while c0 < o2 {
                let c1 = (c0 + cols).min(o2);
                // Padded columns c0 * s2 .. (c1 - 1) * s2 + k2 (`span`); those in the
                // input are input columns lo..hi, at span[lo + p2 - start..].
                let (start, end) = (c0 * s2, (c1 - 1) * s2 + k2);
                let span = &mut buf[..end - start];
                span.fill(T::LOWEST);
                let (lo, hi) = (start.max(p2) - p2, end.min(p2 + i2).max(p2) - p2);
                if lo < hi {
                    let at = &mut span[lo + p2 - start..][..hi - lo];
                    // Selects, not branches: so the loops vectorise (as `if v > m { m = v }`
                    // they ran one compare-and-branch an element).
                    for t1 in l1..h1 {
                        let row = &xp[(b * s1 + t1 - p1) * i2..][lo..hi];
                        for (m, &v) in at.iter_mut().zip(row) {
                            *m = if v > *m { v } else { *m };
                        }
                    }
                }
                let out = &mut yr[c0..c1];
                out.fill(T::LOWEST);
                for t2 in 0..k2 {
                    if s2 == 1 {
                        for (o, &v) in out.iter_mut().zip(&span[t2..]) {
                            *o = if v > *o { v } else { *o };
                        }
                    } else {
                        for (o, &v) in out.iter_mut().zip(span[t2..].iter().step_by(s2)) {
                            *o = if v > *o { v } else { *o };
                        }
                    }
                }
                if nan && l1 < h1 {
                    for (c, o) in (c0..c1).zip(out.iter_mut()) {
                        let (l2, h2, _) = pool_taps(w, 2, c, 0);
                        if l2 < h2 {
                            let first = xp[(b * s1 + l1 - p1) * i2 + c * s2 + l2 - p2];
                            if first.partial_cmp(&first).is_none() {
                                *o = first;
                            }
                        }
                    }
                }
                c0 = c1;
            }
        }
        epi(p * o1 * o2, yp);
    }
}
