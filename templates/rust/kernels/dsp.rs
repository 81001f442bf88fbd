/// Two signed 16-bit values in one word, the low half first: the operand layout of the
/// Arm DSP extension's dual multiply-accumulate (SMLAD).
#[allow(dead_code)]
fn dsp_pair(lo: i32, hi: i32) -> u32 {
    (lo as u16 as u32) | ((hi as u16 as u32) << 16)
}

/// `dst[p]` = channels `2p` and `2p + 1` (0 past `c`) less `x_zero` of the input position
/// at `xs[0]`, channels `plane` apart.
#[allow(dead_code)]
fn dsp_channel_pairs<X: Copy + Into<i32>>(xs: &[X], plane: usize, c: usize, x_zero: i32, dst: &mut [u32]) {
    let v = |ic: usize| xs.get(ic * plane).map_or(0, |&v| v.into() - x_zero);
    for (p, o) in dst.iter_mut().enumerate() {
        let hi = if 2 * p + 1 < c { v(2 * p + 1) } else { 0 };
        *o = dsp_pair(v(2 * p), hi);
    }
}

/// [`int_conv_panels`] with `w` in SMLAD quads (see `Packing::DspQuads` in kiln): per
/// output position, its column of `x - x_zero` over taps and input channels (tap-major,
/// channels in pairs, each kernel row's run padded to whole quads, zero for padding) is
/// built in `col` as 16-bit pairs,
/// then multiplied by four output channels' weights at a time. `d` and `s` as for
/// [`int_conv2d`] (one group).
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dsp<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    col: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    let plane = h * wi;
    let half = c.div_ceil(2);
    let kcols = kh * (kw * half * 2).next_multiple_of(4);
    let Some(col) = col.get_mut(..kcols / 2) else { return };
    for b in 0..n {
        let Some(xb) = x.get(b * c * plane..(b + 1) * c * plane) else { return };
        for i in 0..oh {
            for j in 0..ow {
                let mut at = 0;
                for ki in 0..kh {
                    let r = i * sh + ki * dh;
                    for kj in 0..kw {
                        let q = j * sw + kj * dw;
                        let Some(dst) = col.get_mut(at..at + half) else { return };
                        at += half;
                        let xs = if r < pt || r - pt >= h || q < pl || q - pl >= wi {
                            None
                        } else {
                            xb.get((r - pt) * wi + q - pl..)
                        };
                        let Some(xs) = xs else {
                            dst.fill(0);
                            continue;
                        };
                        dsp_channel_pairs(xs, plane, c, x_zero, dst);
                    }
                    // Each kernel row's run is padded to whole quads.
                    if kw * half % 2 == 1 {
                        if let Some(o) = col.get_mut(at) {
                            *o = 0;
                        }
                        at += 1;
                    }
                }
                if let Some(rest) = col.get_mut(at..) {
                    rest.fill(0);
                }
                for p in 0..m.div_ceil(4) {
                    let Some(wp) = w.get(p * 4 * kcols..(p + 1) * 4 * kcols) else { return };
                    let mut acc = [0i32; 4];
                    dsp_dot4(col, wp, &mut acc);
                    for (t, &a) in acc.iter().enumerate().take(m - 4 * p) {
                        if let Some(o) = y.get_mut(((b * m + 4 * p + t) * oh + i) * ow + j) {
                            *o = f(a, 4 * p + t);
                        }
                    }
                }
            }
        }
    }
}

/// [`int_gemm`] with `b` in SMLAD quads: each row of `a - a_zero` as 16-bit pairs in `col`
/// (zero past `k`), times four columns of `b` at a time. `d` = [rows, k, n].
#[allow(dead_code)]
fn int_gemm_dsp<A: Copy + Into<i32>, Y>(
    a: &[A],
    b: &[i8],
    a_zero: i32,
    y: &mut [Y],
    col: &mut [u32],
    d: [usize; 3],
    f: impl Fn(i32, usize) -> Y,
) {
    let [rows, k, n] = d;
    let kcols = k.next_multiple_of(4);
    let Some(col) = col.get_mut(..kcols / 2) else { return };
    for r in 0..rows {
        let Some(ar) = a.get(r * k..(r + 1) * k) else { return };
        let pairs = ar.chunks_exact(2);
        let rest = pairs.remainder();
        let (full, tail) = col.split_at_mut((k / 2).min(col.len()));
        for (o, pair) in full.iter_mut().zip(pairs) {
            if let [lo, hi] = *pair {
                *o = dsp_pair(lo.into() - a_zero, hi.into() - a_zero);
            }
        }
        for (t, o) in tail.iter_mut().enumerate() {
            let lo = rest.get(t).map_or(0, |&v| v.into() - a_zero);
            *o = dsp_pair(lo, 0);
        }
        for p in 0..n.div_ceil(4) {
            let Some(bp) = b.get(p * 4 * kcols..(p + 1) * 4 * kcols) else { return };
            let mut acc = [0i32; 4];
            dsp_dot4(col, bp, &mut acc);
            for (t, &v) in acc.iter().enumerate().take(n - 4 * p) {
                if let Some(o) = y.get_mut(r * n + 4 * p + t) {
                    *o = f(v, 4 * p + t);
                }
            }
        }
    }
}
