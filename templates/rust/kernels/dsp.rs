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

/// `dst` = the input position at padded row `r`, column `q` of the batch item `xb` (`c`
/// channels of `h x wi`, padding `pt` above and `pl` to the left; `g = [r, q, pt, pl, h,
/// wi, c]`) as 16-bit pairs of channels less `x_zero`, zero where padding.
#[allow(dead_code)]
#[inline(always)]
fn dsp_position_pairs<X: Copy + Into<i32>>(xb: &[X], g: [usize; 7], x_zero: i32, dst: &mut [u32]) {
    let [r, q, pt, pl, h, wi, c] = g;
    let xs = if r < pt || r - pt >= h || q < pl || q - pl >= wi {
        None
    } else {
        xb.get((r - pt) * wi + q - pl..)
    };
    match xs {
        Some(xs) => dsp_channel_pairs(xs, h * wi, c, x_zero, dst),
        None => dst.fill(0),
    }
}

/// `dst` = padded input row `r` of the batch item `xb` (`g = [r, pt, pl, h, wi, c]`, as for
/// [`dsp_position_pairs`]) as 16-bit pairs of channels, `[x][pair]`.
#[allow(dead_code)]
fn dsp_row_channel_pairs<X: Copy + Into<i32>>(xb: &[X], g: [usize; 6], x_zero: i32, dst: &mut [u32]) {
    let [r, pt, pl, h, wi, c] = g;
    for (q, cell) in dst.chunks_exact_mut(c.div_ceil(2).max(1)).enumerate() {
        dsp_position_pairs(xb, [r, q, pt, pl, h, wi, c], x_zero, cell);
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
                        dsp_position_pairs(xb, [r, q, pt, pl, h, wi, c], x_zero, dst);
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

/// `acc + lo(a) * lo(b) + hi(a) * hi(b)`, each word two signed 16-bit halves: SMLAD's sum
/// in plain arithmetic.
#[allow(dead_code)]
#[inline(always)]
fn dsp_smlad_safe(a: u32, b: u32, acc: i32) -> i32 {
    acc.wrapping_add((a as i16 as i32) * (b as i16 as i32))
        .wrapping_add(((a >> 16) as i16 as i32) * ((b >> 16) as i16 as i32))
}

/// `acc + lo(a) * hi(b) + hi(a) * lo(b)`: SMLADX's sum (SMLAD with `b`'s halves swapped).
#[allow(dead_code)]
#[inline(always)]
fn dsp_smladx_safe(a: u32, b: u32, acc: i32) -> i32 {
    dsp_smlad_safe(a, b.rotate_left(16), acc)
}

/// Bytes 0 and 2 of `v` sign-extended into the two halves of a word: SXTB16's result.
#[allow(dead_code)]
#[inline(always)]
fn dsp_sxtb16_safe(v: u32) -> u32 {
    (v as i8 as i16 as u16 as u32) | (((v >> 16) as i8 as i16 as u16 as u32) << 16)
}

/// The four bytes of `q` from `I` as a word, the first lowest.
#[allow(dead_code)]
#[inline(always)]
fn dsp_word_safe<const I: usize, const N: usize>(q: &[i8; N]) -> u32 {
    u32::from_le_bytes([q[I] as u8, q[I + 1] as u8, q[I + 2] as u8, q[I + 3] as u8])
}

/// `dst` = one padded input row as 16-bit pairs of neighbouring columns: the value at
/// padded column `x` is `src[x - pl] - x_zero` inside `src`, zero in the padding (and zero
/// everywhere for a padding row, `src` absent).
#[allow(dead_code)]
fn dsp_row_column_pairs<X: Copy + Into<i32>>(src: Option<&[X]>, pl: usize, x_zero: i32, dst: &mut [u32]) {
    dst.fill(0);
    let Some(src) = src else { return };
    let v = |x: X| x.into() - x_zero;
    // With odd padding the first value shares a word with the padding's last zero.
    let (q, body) = if pl % 2 == 1 {
        if let (Some(o), Some(&x0)) = (dst.get_mut(pl / 2), src.first()) {
            *o = dsp_pair(0, v(x0));
        }
        (pl / 2 + 1, src.get(1..).unwrap_or(&[]))
    } else {
        (pl / 2, src)
    };
    let Some(out) = dst.get_mut(q..) else { return };
    let pairs = body.chunks_exact(2);
    let rest = pairs.remainder();
    for (o, p) in out.iter_mut().zip(pairs) {
        if let [a, b] = *p {
            *o = dsp_pair(v(a), v(b));
        }
    }
    if let (Some(&r), Some(o)) = (rest.first(), out.get_mut(body.len() / 2)) {
        *o = dsp_pair(v(r), 0);
    }
}

/// A depthwise convolution (`d` and `s` as for [`int_conv2d`], one input channel per
/// output) with kernels three wide, stride 1 or 2 along the width, no dilation; `w` packed
/// as `Packing::DspDepthwise` (in kiln). Per channel, its input rows go through a ring of
/// `kh` slots in `rows` as 16-bit pairs (see `kiln_passes::kernels::dsp_depthwise`), each
/// converted once, and four outputs of a row are summed at a time with SMLAD/SMLADX on the
/// words as they lie: at stride 1, with `a = (x0, x1)`, `b = (x2, x3)`, `c = (x4, x5)`,
/// output 0 is `a.(w0, w1) + b.(w2, 0)`, output 1 `a x (w0, 0) + b.(w1, w2)` (`x`:
/// halves crossed), outputs 2 and 3 the same one word on; at stride 2 output `k` is
/// `word k.(w0, w1) + word k+1.(w2, 0)`.
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dw_dsp<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    rows: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    match s[1] {
        1 => int_conv_dw_dsp_of::<X, Y, 1>(x, w, x_zero, y, rows, d, s, f),
        2 => int_conv_dw_dsp_of::<X, Y, 2>(x, w, x_zero, y, rows, d, s, f),
        _ => {}
    }
}

/// The most kernel rows [`int_conv_dw_dsp`] takes (`kiln_passes::kernels::DSP_DEPTHWISE_KH`).
#[allow(dead_code)]
const DW_DSP_KH: usize = 8;

/// One kernel row's taps of [`int_conv_dw_dsp`]'s four outputs `acc`, the ring row's
/// words from `o` (see there); `None` past the ring (not by construction).
#[allow(dead_code)]
#[inline(always)]
fn dw_dsp_taps<const S: usize>(rows: &[u32], o: usize, wk: &[u32; 4], acc: &mut [i32; 4]) -> Option<()> {
    if S == 1 {
        let &[a, b, c] = rows.get(o..)?.first_chunk::<3>()?;
        acc[0] = dsp_smlad(b, wk[1], dsp_smlad(a, wk[0], acc[0]));
        acc[1] = dsp_smlad(b, wk[3], dsp_smladx(a, wk[2], acc[1]));
        acc[2] = dsp_smlad(c, wk[1], dsp_smlad(b, wk[0], acc[2]));
        acc[3] = dsp_smlad(c, wk[3], dsp_smladx(b, wk[2], acc[3]));
    } else {
        let &[a, b, c, d, e] = rows.get(o..)?.first_chunk::<5>()?;
        acc[0] = dsp_smlad(b, wk[1], dsp_smlad(a, wk[0], acc[0]));
        acc[1] = dsp_smlad(c, wk[1], dsp_smlad(b, wk[0], acc[1]));
        acc[2] = dsp_smlad(d, wk[1], dsp_smlad(c, wk[0], acc[2]));
        acc[3] = dsp_smlad(e, wk[1], dsp_smlad(d, wk[0], acc[3]));
    }
    Some(())
}

/// [`int_conv_dw_dsp`] at stride `S` along the width.
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dw_dsp_of<X: Copy + Into<i32>, Y, const S: usize>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    rows: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    let [n, c, h, wi, _m, _group, kh, _kw, oh, ow] = d;
    let [sh, _sw, _dh, _dw, pt, pl] = s;
    let plane = h * wi;
    let steps = ow.div_ceil(4);
    let len = if S == 1 { 2 * steps + 1 } else { 4 * steps + 1 };
    if kh == 0 || kh > DW_DSP_KH || rows.len() < kh * len {
        return;
    }
    for b in 0..n {
        for ch in 0..c {
            let Some(xc) = x.get((b * c + ch) * plane..(b * c + ch + 1) * plane) else { return };
            let Some(wc) = w.get(ch * kh * 8..(ch + 1) * kh * 8) else { return };
            // Per kernel row: (w0, w1), (w2, 0), (w0, 0), (w1, w2).
            let mut wt = [[0u32; 4]; DW_DSP_KH];
            for (t, q) in wt.iter_mut().zip(wc.chunks_exact(8)) {
                let Some(q) = q.first_chunk::<8>() else { return };
                let (lo, hi) = (dsp_word::<0, 8>(q), dsp_word::<4, 8>(q));
                *t = [dsp_sxtb16(lo), dsp_sxtb16_hi(lo), dsp_sxtb16(hi), dsp_sxtb16_hi(hi)];
            }
            let Some(wt) = wt.get(..kh) else { return };
            // The padded input rows below `next` are in the ring (row `r` in slot `r % kh`).
            let mut next = 0;
            for i in 0..oh {
                for r in (i * sh).max(next)..i * sh + kh {
                    let sl = r % kh;
                    let Some(dst) = rows.get_mut(sl * len..(sl + 1) * len) else { return };
                    let src = if r >= pt && r - pt < h { xc.get((r - pt) * wi..(r - pt + 1) * wi) } else { None };
                    dsp_row_column_pairs(src, pl, x_zero, dst);
                }
                next = i * sh + kh;
                let first = i * sh % kh;
                let yr = ((b * c + ch) * oh + i) * ow;
                for t in 0..steps {
                    let mut acc = [0i32; 4];
                    let mut sl = first;
                    // Three kernel rows (every such model's) as a fixed-size array, so the
                    // rows' loop is unrolled (MobileNet v1 on a Cortex-M4: see
                    // docs/devices.md).
                    if let Ok(w3) = <&[[u32; 4]; 3]>::try_from(wt) {
                        for wk in w3 {
                            if dw_dsp_taps::<S>(rows, sl * len + 2 * S * t, wk, &mut acc).is_none() {
                                return;
                            }
                            sl = if sl + 1 == 3 { 0 } else { sl + 1 };
                        }
                    } else {
                        for wk in wt {
                            if dw_dsp_taps::<S>(rows, sl * len + 2 * S * t, wk, &mut acc).is_none() {
                                return;
                            }
                            sl = if sl + 1 == kh { 0 } else { sl + 1 };
                        }
                    }
                    let Some(out) = y.get_mut(yr + 4 * t..yr + ow) else { return };
                    for (o, &v) in out.iter_mut().zip(&acc) {
                        *o = f(v, ch);
                    }
                }
            }
        }
    }
}
