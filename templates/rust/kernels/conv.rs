/// Convolution parameters: batch and channel counts plus the window geometry.
struct ConvParams {
    batch: usize,
    c_in: usize,
    c_out: usize,
    group: usize,
    window: Window,
}

/// The output positions `lo..hi` along one axis whose kernel tap at offset `tap_offset`
/// (tap index times dilation) reads inside the input.
fn conv_span(out: usize, stride: usize, tap_offset: usize, pad: usize, len: usize) -> (usize, usize) {
    // Output o reads input position o * stride + tap_offset - pad.
    let lo = if pad > tap_offset { (pad - tap_offset).div_ceil(stride) } else { 0 };
    let hi = if len + pad > tap_offset {
        ((len + pad - tap_offset - 1) / stride + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// `planes[j][at..at + len] += wv[j] * x[i * step]` for four output planes: one input row
/// feeds four output channels.
///
/// The convolution kernels take every range with `get` and leave when it is out of bounds,
/// which never happens (the lowering sizes every operand); unlike indexing, that leaves no
/// panic path, so device code carries no panic machinery. Loops then index runs whose
/// lengths the compiler knows, without bounds tests.
#[allow(clippy::needless_range_loop)]
fn conv_rows4<T: Num>(planes: &mut [&mut [T]; 4], at: usize, len: usize, x: &[T], step: usize, wv: [T; 4]) {
    let [p0, p1, p2, p3] = planes;
    let (Some(r0), Some(r1), Some(r2), Some(r3)) = (
        p0.get_mut(at..at + len),
        p1.get_mut(at..at + len),
        p2.get_mut(at..at + len),
        p3.get_mut(at..at + len),
    ) else {
        return;
    };
    if step == 1 {
        let Some(x) = x.get(..len) else { return };
        for i in 0..len {
            let v = x[i];
            r0[i] = r0[i].plus(wv[0].times(v));
            r1[i] = r1[i].plus(wv[1].times(v));
            r2[i] = r2[i].plus(wv[2].times(v));
            r3[i] = r3[i].plus(wv[3].times(v));
        }
    } else {
        for (i, &v) in x.iter().step_by(step.max(1)).take(len).enumerate() {
            r0[i] = r0[i].plus(wv[0].times(v));
            r1[i] = r1[i].plus(wv[1].times(v));
            r2[i] = r2[i].plus(wv[2].times(v));
            r3[i] = r3[i].plus(wv[3].times(v));
        }
    }
}

/// `plane[j][at + i] += w[j][0] * x[i * step] + w[j][1] * x[i * step + dw] + w[j][2] * x[i *
/// step + 2 * dw]` for `i < len` and the first `mb` planes, added left to right: a kernel
/// row of three taps in one pass, in the order the taps would be added one by one.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn conv_row_k3<T: Num>(planes: &mut [&mut [T]; 4], mb: usize, at: usize, len: usize, x: &[T], step: usize, dw: usize, wv: &[[T; 3]; 4]) {
    let add3 = |y: T, w: &[T; 3], x0: T, x1: T, x2: T| y.plus(w[0].times(x0)).plus(w[1].times(x1)).plus(w[2].times(x2));
    if step == 1 {
        // Three shifted views of the input row, each as long as the output run, so the
        // loops below index without bounds tests.
        let (Some(x0), Some(x1), Some(x2)) = (x.get(..len), x.get(dw..dw + len), x.get(2 * dw..2 * dw + len)) else {
            return;
        };
        if mb == 4 {
            let [p0, p1, p2, p3] = planes;
            let (Some(r0), Some(r1), Some(r2), Some(r3)) = (
                p0.get_mut(at..at + len),
                p1.get_mut(at..at + len),
                p2.get_mut(at..at + len),
                p3.get_mut(at..at + len),
            ) else {
                return;
            };
            for i in 0..len {
                let (a, b, c) = (x0[i], x1[i], x2[i]);
                r0[i] = add3(r0[i], &wv[0], a, b, c);
                r1[i] = add3(r1[i], &wv[1], a, b, c);
                r2[i] = add3(r2[i], &wv[2], a, b, c);
                r3[i] = add3(r3[i], &wv[3], a, b, c);
            }
        } else {
            for (plane, w) in planes.iter_mut().zip(wv).take(mb) {
                let Some(r) = plane.get_mut(at..at + len) else { return };
                for i in 0..len {
                    r[i] = add3(r[i], w, x0[i], x1[i], x2[i]);
                }
            }
        }
    } else {
        let (Some(x1), Some(x2)) = (x.get(dw..), x.get(2 * dw..)) else { return };
        for (plane, w) in planes.iter_mut().zip(wv).take(mb) {
            let Some(r) = plane.get_mut(at..at + len) else { return };
            let step = step.max(1);
            let taps = x.iter().step_by(step).zip(x1.iter().step_by(step)).zip(x2.iter().step_by(step));
            for (o, ((&a, &b), &c)) in r.iter_mut().zip(taps) {
                *o = add3(*o, w, a, b, c);
            }
        }
    }
}

/// N-d convolution (up to three spatial axes) with groups, strides, dilations and padding,
/// then the fused epilogue: `epi(at, block)` on each finished block of output planes while
/// it is in cache (`at` is the block's flat offset in `y`). The heavy work is in
/// [`conv_block`]; it is inlined here (measured: out of line, with its call per block, the
/// MobileNet convolutions ran about 2.5x slower on x86-64).
fn conv<T: Num>(x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T], p: &ConvParams, epi: impl Fn(usize, &mut [T])) {
    let g = &p.window;
    let out_plane = g.output[0] * g.output[1] * g.output[2];
    let cg_out = p.c_out / p.group;
    for (n, yn) in y.chunks_exact_mut(p.c_out * out_plane).enumerate().take(p.batch) {
        let mut m = 0;
        while m < p.c_out {
            let mb = (cg_out - m % cg_out).min(4);
            let Some(block) = yn.get_mut(m * out_plane..m * out_plane + mb * out_plane) else { return };
            conv_block(x, w, b, block, n, m, p);
            epi((n * p.c_out + m) * out_plane, block);
            m += mb;
        }
    }
}

/// Output channels `m..m + mb` of batch item `n` (the planes of `block`).
/// Weight-stationary: for each input channel and kernel tap, a weight is multiplied into
/// whole output rows, so the inner loops run over contiguous memory without bounds tests
/// (the valid output range of each tap is computed first). Output channels of a group go
/// in blocks of four, which share every input row they read. A kernel row three taps wide
/// goes in one pass where all three read inside the input, which reads and writes the
/// output a third as often (measured with callgrind on x86-64, instructions per run:
/// ddddocr_det -23%, MobileNet v1 -29%, ResNet-8 +6%). Every output still sums its taps in
/// the reference order, so the results do not change.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn conv_block<T: Num>(x: &[T], w: &[T], b: Option<&[T]>, block: &mut [T], n: usize, m: usize, p: &ConvParams) {
    let g = &p.window;
    let [id, ih, iw] = g.input;
    let [od, oh, ow] = g.output;
    let [kd, kh, kw] = g.kernel;
    let [sd, sh, sw] = g.strides;
    let [dd, dh, dw] = g.dilations;
    let [pd, ph, pw] = g.pads;
    let (in_plane, out_plane, taps) = (id * ih * iw, od * oh * ow, kd * kh * kw);
    let (cg_in, cg_out) = (p.c_in / p.group, p.c_out / p.group);
    let grp = m / cg_out;
    let mb = (cg_out - m % cg_out).min(4);
    // The block's output planes, bias-filled; unused slots stay empty.
    let mut planes: [&mut [T]; 4] = [&mut [], &mut [], &mut [], &mut []];
    for (j, (slot, plane)) in planes.iter_mut().zip(block.chunks_exact_mut(out_plane)).enumerate() {
        plane.fill(b.and_then(|b| b.get(m + j).copied()).unwrap_or(T::ZERO));
        *slot = plane;
    }
    // Output columns where all three taps of a 3-wide kernel row read inside the input:
    // there the row's taps go in one pass (`conv_row_k3`), elsewhere one at a time.
    let spans3: [(usize, usize); 3] = core::array::from_fn(|c| conv_span(ow, sw, c * dw, pw, iw));
    let k3_lo = spans3.iter().map(|s| s.0).max().unwrap_or(0);
    let k3_hi = spans3.iter().map(|s| s.1).min().unwrap_or(0);
    let fuse_k3 = kw == 3 && k3_hi > k3_lo;
    for ci in 0..cg_in {
        let x_at = (n * p.c_in + grp * cg_in + ci) * in_plane;
        let Some(xp) = x.get(x_at..x_at + in_plane) else { return };
        for a in 0..kd {
            let (d_lo, d_hi) = conv_span(od, sd, a * dd, pd, id);
            for bb in 0..kh {
                let (h_lo, h_hi) = conv_span(oh, sh, bb * dh, ph, ih);
                if fuse_k3 {
                    let tap0 = (a * kh + bb) * kw;
                    let mut wv = [[T::ZERO; 3]; 4];
                    for (j, v) in wv.iter_mut().enumerate().take(mb) {
                        let at = ((m + j) * cg_in + ci) * taps + tap0;
                        let Some(w3) = w.get(at..at + 3) else { return };
                        v.copy_from_slice(w3);
                    }
                    for zd in d_lo..d_hi {
                        let xd = zd * sd + a * dd - pd;
                        for zh in h_lo..h_hi {
                            let xh = zh * sh + bb * dh - ph;
                            let x_row = (xd * ih + xh) * iw;
                            let (Some(xrow), Some(x_k3)) = (xp.get(x_row..x_row + iw), xp.get(x_row + k3_lo * sw - pw..x_row + iw)) else {
                                return;
                            };
                            let row = (zd * oh + zh) * ow;
                            conv_row_k3(&mut planes, mb, row + k3_lo, k3_hi - k3_lo, x_k3, sw, dw, &wv);
                            // The columns near the padding, tap by tap in order.
                            for (c, &(w_lo, w_hi)) in spans3.iter().enumerate() {
                                let left = w_lo..w_hi.min(k3_lo);
                                for zw in left.chain(w_lo.max(k3_hi)..w_hi) {
                                    let Some(&v) = xrow.get(zw * sw + c * dw - pw) else { return };
                                    for (plane, wj) in planes.iter_mut().zip(&wv).take(mb) {
                                        if let Some(o) = plane.get_mut(row + zw) {
                                            *o = o.plus(wj[c].times(v));
                                        }
                                    }
                                }
                            }
                        }
                    }
                    continue;
                }
                for c in 0..kw {
                    let (w_lo, w_hi) = conv_span(ow, sw, c * dw, pw, iw);
                    if w_lo == w_hi {
                        continue;
                    }
                    let tap = (a * kh + bb) * kw + c;
                    let mut wv = [T::ZERO; 4];
                    for (j, v) in wv.iter_mut().enumerate().take(mb) {
                        *v = w.get(((m + j) * cg_in + ci) * taps + tap).copied().unwrap_or(T::ZERO);
                    }
                    let x_w0 = w_lo * sw + c * dw - pw;
                    // When the tap covers whole rows and rows are as long in the input
                    // as in the output (e.g. 1x1 kernels at stride 1), consecutive rows
                    // are one contiguous run in both.
                    let whole = sw == 1 && sh == 1 && w_lo == 0 && w_hi == ow && ow == iw;
                    let (rows, len) = if whole {
                        (1, (h_hi - h_lo) * ow)
                    } else {
                        (h_hi - h_lo, w_hi - w_lo)
                    };
                    for zd in d_lo..d_hi {
                        let xd = zd * sd + a * dd - pd;
                        for zh in h_lo..h_lo + rows {
                            let xh = zh * sh + bb * dh - ph;
                            let Some(xrow) = xp.get((xd * ih + xh) * iw + x_w0..) else { return };
                            let at = (zd * oh + zh) * ow + w_lo;
                            if mb == 4 {
                                conv_rows4(&mut planes, at, len, xrow, sw, wv);
                                continue;
                            }
                            for (plane, &wj) in planes.iter_mut().zip(&wv).take(mb) {
                                let Some(yrow) = plane.get_mut(at..at + len) else { return };
                                for (o, &v) in yrow.iter_mut().zip(xrow.iter().step_by(sw.max(1))) {
                                    *o = o.plus(wj.times(v));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
