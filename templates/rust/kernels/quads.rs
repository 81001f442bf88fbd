/// The most kernel rows a quad convolution has (the lowering takes taller ones elsewhere).
#[allow(dead_code)]
const QUAD_KH: usize = 16;

/// `acc[r * P + p][t] =` (wrapping) the dot product of position `r`'s operand with output
/// `16 * p + t`'s weights, for `R` positions and `P` panels of sixteen outputs of the quad
/// kernels: with `g = [at, ps, kh, seg, wstride]`, position `r`'s operand for kernel row
/// `ki` is the `seg` words of `rows` at `ko[ki] + at + r * ps`, each word four u8
/// activations; panel `p`'s weights start at `w[p * wstride]`, one 64-byte group (sixteen
/// outputs by four i8) per word, kernel rows one after the other. Portable Rust (about as
/// fast as the default kernels; `--intrinsics` has the VNNI form).
#[allow(dead_code, clippy::needless_range_loop)]
#[inline(always)]
fn quad_tile_safe<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
    let [at, ps, kh, seg, wstride] = g;
    let mut sum = [[[0i32; 16]; P]; R];
    for (ki, &off) in ko.iter().enumerate().take(kh) {
        for s in 0..seg {
            for p in 0..P {
                let Some(wv) = w.get(p * wstride + (ki * seg + s) * 64..).and_then(|v| v.first_chunk::<64>()) else { return };
                for r in 0..R {
                    let Some(&word) = rows.get(off + at + r * ps + s) else { return };
                    let [x0, x1, x2, x3] = word.to_le_bytes().map(i32::from);
                    for t in 0..16 {
                        let d = x0 * wv[4 * t] as i32 + x1 * wv[4 * t + 1] as i32 + x2 * wv[4 * t + 2] as i32 + x3 * wv[4 * t + 3] as i32;
                        sum[r][p][t] = sum[r][p][t].wrapping_add(d);
                    }
                }
            }
        }
    }
    for (r, sr) in sum.iter().enumerate() {
        for (p, s) in sr.iter().enumerate() {
            if let Some(a) = acc.get_mut(r * P + p) {
                *a = *s;
            }
        }
    }
}

/// The tile shapes of the quad kernels: `R` positions by `P` panels, `R` and `P` as
/// large as what is left allows (8 or 4 or 1 positions; 2 or 1 panels).
#[allow(dead_code)]
#[inline(always)]
fn quad_tiles(left: usize, panels_left: usize, rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) -> (usize, usize) {
    let two = panels_left >= 2;
    match (left, two) {
        (8.., true) => quad_tile::<8, 2>(rows, ko, g, w, acc),
        (8.., false) => quad_tile::<8, 1>(rows, ko, g, w, acc),
        (4.., true) => quad_tile::<4, 2>(rows, ko, g, w, acc),
        (4.., false) => quad_tile::<4, 1>(rows, ko, g, w, acc),
        (_, true) => quad_tile::<1, 2>(rows, ko, g, w, acc),
        (_, false) => quad_tile::<1, 1>(rows, ko, g, w, acc),
    }
    (if left >= 8 { 8 } else if left >= 4 { 4 } else { 1 }, if two { 2 } else { 1 })
}

/// The requantization of the quad kernels' outputs: for output `o`, `to(zero +
/// round_half_even(f32(acc - zu * sums[o] + bias[o]) * factor[o]))`, clamped to `lo..=hi`
/// (`zlh = [zero, lo, hi]`): [`requant_f32`]'s arithmetic, over the sixteen outputs of one
/// panel at one position at once (the parameters copied in with one bounds test each, so
/// the compiler vectorises it), stored `stride` apart from `y[0]` for the outputs below
/// `sums.len()` (one bounds test, not one per store). The rounded value is read from the
/// bits of `v + 1.5 * 2^23` ([`from_offset`]).
#[allow(dead_code, clippy::too_many_arguments)]
#[inline(always)]
fn quad_out<Y>(acc: &[i32; 16], zu: i32, o0: usize, sums: &[i32], bias: &[i32], factor: &[f32], narrow: bool, zlh: [i32; 3], to: &impl Fn(i64) -> Y, y: &mut [Y], stride: usize) {
    let range = offset_range(zlh);
    let load = |src: &[i32], dst: &mut [i32; 16]| {
        let v = src.get(o0..).unwrap_or_default();
        let n = v.len().min(16);
        dst[..n].copy_from_slice(&v[..n]);
    };
    let (mut s, mut b, mut fa) = ([0i32; 16], [0i32; 16], [0f32; 16]);
    load(sums, &mut s);
    load(bias, &mut b);
    let v = factor.get(o0..).unwrap_or_default();
    let n = v.len().min(16);
    fa[..n].copy_from_slice(&v[..n]);
    let mut sum = [0i32; 16];
    for t in 0..16 {
        sum[t] = acc[t].wrapping_sub(zu.wrapping_mul(s[t]));
    }
    let mut q = [0i32; 16];
    quad_requant(&sum, &b, &fa, narrow, range, zlh[0], &mut q);
    let n = sums.len().saturating_sub(o0).min(16);
    if n == 0 {
        return;
    }
    if let Some(ys) = y.get_mut(..(n - 1) * stride + 1) {
        for (o, &v) in ys.iter_mut().step_by(stride).zip(&q) {
            *o = to(v as i64);
        }
    }
}

/// `sum + bias` requantized as [`requant_f32`] into `q`, lane by lane: added in i32 where
/// `narrow` (see [`narrow_sums`]) says that cannot overflow, one vector instruction, else
/// in i64 (a widening and back, a fifth of the output path's instructions).
#[allow(dead_code)]
#[inline(always)]
fn quad_requant(sum: &[i32; 16], bias: &[i32; 16], factor: &[f32; 16], narrow: bool, range: (i32, i32), zero: i32, q: &mut [i32; 16]) {
    let mut v = [0f32; 16];
    if narrow {
        for t in 0..16 {
            v[t] = sum[t].wrapping_add(bias[t]) as f32;
        }
    } else {
        for t in 0..16 {
            v[t] = (sum[t] as i64 + bias[t] as i64) as f32;
        }
    }
    for t in 0..16 {
        q[t] = from_offset(round_product(v[t], factor[t]), range, zero);
    }
}

/// The ring of input rows of the quad convolutions, for output row `i`: the `kh` padded
/// input rows it reads, `row` words each in `rows` (input row `r` in slot `r % kh` without
/// row dilation, where the rows the previous output rows converted are kept and `next` is
/// the first one they did not; else slot `ki`), each column's four channels' `x + bias`
/// as u8 in one word, at `place(quad, padded column)` in the row, the zero point `zu`
/// for padding and channels past `c`. Returns each kernel row's slot offset; `None` if
/// `rows` is short. `g = [c, h, wi, kh, sh, dh, pt, pl, wpad, row]`, `zb = [zu, bias]`.
#[allow(dead_code, clippy::too_many_arguments)]
#[inline(always)]
fn quad_ring<X: Copy + Into<i32>>(
    xb: &[X],
    rows: &mut [u32],
    i: usize,
    next: &mut usize,
    g: [usize; 10],
    zb: [i32; 2],
    place: impl Fn(usize, usize) -> usize,
) -> Option<[usize; QUAD_KH]> {
    let [c, h, wi, kh, sh, dh, pt, pl, wpad, row] = g;
    let [zu, bias] = zb;
    let plane = h * wi;
    let pad = u32::from_le_bytes([zu as u8; 4]);
    let mut ko = [0usize; QUAD_KH];
    for (ki, k) in ko.iter_mut().enumerate().take(kh) {
        let r = i * sh + ki * dh;
        let slot = if dh == 1 { r % kh } else { ki };
        *k = slot * row;
        if dh == 1 && r < *next {
            continue;
        }
        let dst = rows.get_mut(slot * row..(slot + 1) * row)?;
        dst.fill(pad);
        if r < pt || r - pt >= h {
            continue;
        }
        // Columns pl..pl + wi of the padded row hold the input row.
        let cols = wi.min(wpad.saturating_sub(pl));
        let from = (r - pt) * wi;
        for q in 0..c.div_ceil(4) {
            let ch = |e: usize| xb.get((4 * q + e) * plane + from..(4 * q + e) * plane + from + cols).filter(|_| 4 * q + e < c);
            let chans = [ch(0), ch(1), ch(2), ch(3)];
            for xx in 0..cols {
                let byte = |e: usize| chans[e].and_then(|s| s.get(xx)).map_or(zu as u8, |&v| (v.into() + bias) as u8);
                if let Some(o) = dst.get_mut(place(q, pl + xx)) {
                    *o = u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]);
                }
            }
        }
    }
    if dh == 1 {
        *next = i * sh + kh;
    }
    Some(ko)
}

/// A convolution of one group by quads (`w` in `Packing::Quads`, see kiln): the input
/// rows an output row reads are kept in `rows` as words of four channels' `x + bias`
/// (`bias` 128 for i8, 0 for u8, so every byte is a u8; padding and channels past `c` hold
/// the zero point), `[x][quad]` over the `(ow - 1) * sw + kw` columns of a padded row, in
/// a ring of `kh` rows (each input row converted once, without row dilation); then tiles
/// of positions by sixteen-output panels sum u8 by i8 products, and `sums[o] = Σ w[o]`
/// takes the zero point out: `Σ (x - x_zero) w = Σ (x + bias) w - (x_zero + bias) Σ w`,
/// exact in wrapping i32; `sum_bias`, `factor` and `zlh` requantize the sums as [`quad_out`]
/// says, and `to` makes the result a `Y`. `d` and `s` as for [`int_conv2d`]
/// (one group, no dilation along the width, `kh <= QUAD_KH`).
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_quads<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    sums: &[i32],
    zero_bias: [i32; 2],
    y: &mut [Y],
    rows: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    sum_bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, _dw, pt, pl] = s;
    let [x_zero, bias] = zero_bias;
    if kh > QUAD_KH {
        return;
    }
    let plane = h * wi;
    let quads = c.div_ceil(4);
    let wpad = if ow > 0 { (ow - 1) * sw + kw } else { 0 };
    let row = wpad * quads;
    let seg = kw * quads;
    let wstride = 64 * kh * seg;
    let zu = x_zero + bias;
    let panels = m.div_ceil(16);
    let narrow = narrow_sums(kh * kw * c, sum_bias);
    for b in 0..n {
        let Some(xb) = x.get(b * c * plane..(b + 1) * c * plane) else { return };
        let mut next = 0;
        for i in 0..oh {
            let Some(ko) = quad_ring(xb, rows, i, &mut next, [c, h, wi, kh, sh, dh, pt, pl, wpad, row], [zu, bias], |q, col| col * quads + q) else { return };
            let mut j = 0;
            while j < ow {
                let mut p = 0;
                let mut step = 1;
                while p < panels {
                    let mut acc = [[0i32; 16]; 16];
                    let Some(wp) = w.get(p * wstride..) else { return };
                    let g = [j * sw * quads, sw * quads, kh, seg, wstride];
                    let (rn, pn) = quad_tiles(ow - j, panels - p, rows, &ko, g, wp, &mut acc);
                    for rr in 0..rn {
                        for pp in 0..pn {
                            let o0 = (p + pp) * 16;
                            let at = ((b * m + o0) * oh + i) * ow + j + rr;
                            let Some(ys) = y.get_mut(at..) else { return };
                            quad_out(&acc[rr * pn + pp], zu, o0, sums, sum_bias, factor, narrow, zlh, &to, ys, oh * ow);
                        }
                    }
                    p += pn;
                    step = rn;
                }
                j += step;
            }
        }
    }
}

/// [`int_gemm`] by quads (`b` in `Packing::Quads`, transposed, see kiln): up to eight
/// rows of `a + bias` at a time as words of four bytes in `col` (`k.div_ceil(4)` words a
/// row, the zero point past `k`), by sixteen-column panels, less `(a_zero + bias) *
/// sums[j]`, requantized, as in [`int_conv_quads`]. `d` = [rows, k, n].
#[allow(dead_code, clippy::too_many_arguments)]
fn int_gemm_quads<A: Copy + Into<i32>, Y>(
    a: &[A],
    b: &[i8],
    sums: &[i32],
    zero_bias: [i32; 2],
    y: &mut [Y],
    col: &mut [u32],
    d: [usize; 3],
    sum_bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    let [rows, k, n] = d;
    let [a_zero, bias] = zero_bias;
    let k4 = k.div_ceil(4);
    let zu = a_zero + bias;
    let panels = n.div_ceil(16);
    let wstride = 64 * k4;
    let narrow = narrow_sums(k, sum_bias);
    let ko = [0usize; QUAD_KH];
    let mut r0 = 0;
    while r0 < rows {
        let rn = (rows - r0).min(8);
        for rr in 0..rn {
            let Some(ar) = a.get((r0 + rr) * k..(r0 + rr + 1) * k) else { return };
            let Some(dst) = col.get_mut(rr * k4..(rr + 1) * k4) else { return };
            for (o, q) in dst.iter_mut().zip(0..) {
                let mut word = [zu as u8; 4];
                for (e, wb) in word.iter_mut().enumerate() {
                    if let Some(&v) = ar.get(4 * q + e) {
                        *wb = (v.into() + bias) as u8;
                    }
                }
                *o = u32::from_le_bytes(word);
            }
        }
        let mut p = 0;
        let mut step = 1;
        while p < panels {
            let mut acc = [[0i32; 16]; 16];
            let Some(wp) = b.get(p * wstride..) else { return };
            let (tn, pn) = quad_tiles(rn, panels - p, col, &ko, [0, k4, 1, k4, wstride], wp, &mut acc);
            for rr in 0..tn {
                for pp in 0..pn {
                    let o0 = (p + pp) * 16;
                    let Some(ys) = y.get_mut((r0 + rr) * n + o0..) else { return };
                    quad_out(&acc[rr * pn + pp], zu, o0, sums, sum_bias, factor, narrow, zlh, &to, ys, 1);
                }
            }
            p += pn;
            step = tn;
        }
        r0 += step;
    }
}

/// The wide-row form of [`int_conv_quads`] (output rows of 16 or more): sixteen
/// neighbouring output positions of one output channel in the lanes of a vector, so each
/// output's sixteen values are requantized together and stored as one run. `rows` holds a
/// ring of `kh` padded input rows, each `[quad][phase][wq]`: column `x` of quad `q` at
/// `q * sw * wq + (x % sw) * wq + x / sw` (`wq = wpad.div_ceil(sw)`), so at any stride a
/// tap's operand for sixteen neighbouring positions is sixteen consecutive words. Arguments
/// as for [`int_conv_quads`] (`w` in the same panels of sixteen outputs).
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_quad_rows<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    sums: &[i32],
    zero_bias: [i32; 2],
    y: &mut [Y],
    rows: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    sum_bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, _dw, pt, pl] = s;
    let [x_zero, bias] = zero_bias;
    if kh > QUAD_KH || sw == 0 {
        return;
    }
    let plane = h * wi;
    let quads = c.div_ceil(4);
    let wpad = if ow > 0 { (ow - 1) * sw + kw } else { 0 };
    let wq = wpad.div_ceil(sw);
    let row = quads * sw * wq;
    let zu = x_zero + bias;
    let wstride = 64 * kh * kw * quads;
    let narrow = narrow_sums(kh * kw * c, sum_bias);
    // Two vectors of positions by eight outputs where the row is long enough, else one
    // by sixteen: sixteen accumulators either way.
    let nv = if ow >= 32 { 2 } else { 1 };
    let range = offset_range(zlh);
    for b in 0..n {
        let Some(xb) = x.get(b * c * plane..(b + 1) * c * plane) else { return };
        let mut next = 0;
        for i in 0..oh {
            let place = |q: usize, col: usize| q * sw * wq + (col % sw) * wq + col / sw;
            let Some(ko) = quad_ring(xb, rows, i, &mut next, [c, h, wi, kh, sh, dh, pt, pl, wpad, row], [zu, bias], place) else { return };
            for p in 0..m.div_ceil(16) {
                let Some(wp) = w.get(p * wstride..(p + 1) * wstride) else { return };
                for half in 0..nv {
                    let t0 = half * 16 / nv;
                    if p * 16 + t0 >= m {
                        break;
                    }
                    let mut j0 = 0;
                    while j0 < ow {
                        let mut acc = [[[0i32; 16]; 2]; 16];
                        let g = [j0, sw, wq, kh, kw, quads, t0];
                        if nv == 2 {
                            quad_row_tile::<8, 2>(rows, &ko, g, wp, &mut acc);
                        } else {
                            quad_row_tile::<16, 1>(rows, &ko, g, wp, &mut acc);
                        }
                        for (t, at) in acc.iter().enumerate().take(16 / nv) {
                            let o = p * 16 + t0 + t;
                            let (Some(&sum), Some(&fo)) = (sums.get(o), factor.get(o)) else { break };
                            let (zs, bo) = (zu.wrapping_mul(sum), sum_bias.get(o).copied().unwrap_or(0));
                            for (v, a) in at.iter().enumerate().take(nv) {
                                let j = j0 + 16 * v;
                                if j >= ow {
                                    break;
                                }
                                let cnt = (ow - j).min(16);
                                let mut sum = [0i32; 16];
                                for (v, &al) in sum.iter_mut().zip(a) {
                                    *v = al.wrapping_sub(zs);
                                }
                                let mut vals = [0i32; 16];
                                quad_requant(&sum, &[bo; 16], &[fo; 16], narrow, range, zlh[0], &mut vals);
                                let at_y = ((b * m + o) * oh + i) * ow + j;
                                if let Some(ys) = y.get_mut(at_y..at_y + cnt) {
                                    for (yo, &v) in ys.iter_mut().zip(&vals) {
                                        *yo = to(v as i64);
                                    }
                                }
                            }
                        }
                        j0 += 16 * nv;
                    }
                }
            }
        }
    }
}

/// `acc[t][v][l]` = (wrapping) the dot product of output `t0 + t`'s weights (of one panel
/// `w` of sixteen) with the operand of position `j0 + 16 v + l`, for `MR` outputs by `NV`
/// vectors: `g = [j0, sw, wq, kh, kw, quads, t0]`, the operand of tap `(ki, kj)` and quad
/// `q` at `ko[ki] + q * sw * wq + (kj % sw) * wq + kj / sw + j0` in `rows` (see
/// [`int_conv_quad_rows`]); `acc` starts at zero. Portable Rust.
#[allow(dead_code, clippy::needless_range_loop)]
#[inline(always)]
fn quad_row_tile_safe<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
    let [j0, sw, wq, kh, kw, quads, t0] = g;
    for (ki, &off) in ko.iter().enumerate().take(kh) {
        for kj in 0..kw {
            for q in 0..quads {
                let at = off + q * sw * wq + (kj % sw) * wq + kj / sw + j0;
                let k4 = (ki * kw + kj) * quads + q;
                for v in 0..NV {
                    let Some(xv) = rows.get(at + 16 * v..at + 16 * v + 16) else { return };
                    for t in 0..MR {
                        let Some(&[w0, w1, w2, w3]) = w.get((k4 * 16 + t0 + t) * 4..).and_then(|s| s.first_chunk::<4>()) else { return };
                        let Some(a) = acc.get_mut(t).and_then(|a| a.get_mut(v)) else { return };
                        for l in 0..16 {
                            let [x0, x1, x2, x3] = xv[l].to_le_bytes().map(i32::from);
                            let d = x0 * w0 as i32 + x1 * w1 as i32 + x2 * w2 as i32 + x3 * w3 as i32;
                            a[l] = a[l].wrapping_add(d);
                        }
                    }
                }
            }
        }
    }
}

/// `y[i] = table[y[i]]` over u8 outputs, in place: the table `fuse-int-tables` moved into
/// a quad or depthwise convolution, applied to its finished output in one pass (a lookup
/// per element inside the kernels' vector loops cost more: about 1.7 ns an output on
/// ppocrv4_rec's depthwise convolutions). Portable; [`quad_lut`] has the byte-permute form.
#[allow(dead_code)]
fn quad_lut_safe(y: &mut [u8], table: &[u8]) {
    let Some(t) = table.first_chunk::<256>() else { return };
    for v in y.iter_mut() {
        *v = t[*v as usize];
    }
}

