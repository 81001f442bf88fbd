// The SMLAD kernels' inner loops in safe Rust, as printed without `--intrinsics` (with it,
// `dsp_tile_arm.rs` takes their place).

/// SMLAD ([`dsp_smlad_safe`]).
#[allow(dead_code)]
#[inline(always)]
fn dsp_smlad(a: u32, b: u32, acc: i32) -> i32 {
    dsp_smlad_safe(a, b, acc)
}

/// SMLADX ([`dsp_smladx_safe`]).
#[allow(dead_code)]
#[inline(always)]
fn dsp_smladx(a: u32, b: u32, acc: i32) -> i32 {
    dsp_smladx_safe(a, b, acc)
}

/// SXTB16 ([`dsp_sxtb16_safe`]).
#[allow(dead_code)]
#[inline(always)]
fn dsp_sxtb16(v: u32) -> u32 {
    dsp_sxtb16_safe(v)
}

/// SXTB16 of `v` rotated by 8.
#[allow(dead_code)]
#[inline(always)]
fn dsp_sxtb16_hi(v: u32) -> u32 {
    dsp_sxtb16_safe(v >> 8)
}

/// The word of `q` at byte `I` ([`dsp_word_safe`]).
#[allow(dead_code)]
#[inline(always)]
fn dsp_word<const I: usize, const N: usize>(q: &[i8; N]) -> u32 {
    dsp_word_safe::<I, N>(q)
}

/// `acc[t] +=` the column `col` (16-bit pairs) times output `t`'s weights, for the four
/// outputs of one panel of SMLAD quads (`w`: four bytes per output and quad, the quad's
/// elements 0, 2, 1, 3). In safe Rust, which has no DSP intrinsics on stable: on a
/// Cortex-M4 LLVM gives one 16x16 multiply-accumulate per product (`smlabb`/`smlabt`).
#[allow(dead_code)]
fn dsp_dot4(col: &[u32], w: &[i8], acc: &mut [i32; 4]) {
    for (a, ws) in col.chunks_exact(2).zip(w.chunks_exact(16)) {
        let (Some(&c01), Some(&c23)) = (a.first(), a.get(1)) else { return };
        let (a0, a1) = (c01 as i16 as i32, (c01 >> 16) as i16 as i32);
        let (a2, a3) = (c23 as i16 as i32, (c23 >> 16) as i16 as i32);
        for (acc, q) in acc.iter_mut().zip(ws.chunks_exact(4)) {
            let Some(&[q0, q1, q2, q3]) = q.first_chunk::<4>() else { return };
            *acc += a0 * q0 as i32 + a1 * q2 as i32 + a2 * q1 as i32 + a3 * q3 as i32;
        }
    }
}

/// [`int_conv_dsp`] with the input rows in `rows` (no dilation along the width): for each
/// output row, the `kh` input rows it reads as 16-bit pairs of channels, `[ki][x][pair]`
/// over the `wpad = (ow - 1) * sw + kw` columns of the padded row (zero for padding), so
/// each input value is converted once per kernel row, not once per tap. The operand of
/// output column `j` for kernel row `ki` is the `kw * pairs` words at `x = j * sw` (padded
/// to a multiple of two words, where the weights are zero).
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dsp_rows<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    rows: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, _dw, pt, pl] = s;
    let plane = h * wi;
    let pairs = c.div_ceil(2);
    let wpad = if ow > 0 { (ow - 1) * sw + kw } else { 0 };
    let row = wpad * pairs;
    let seg = (kw * pairs * 2).next_multiple_of(4);
    let kcols = kh * seg;
    for b in 0..n {
        let Some(xb) = x.get(b * c * plane..(b + 1) * c * plane) else { return };
        for i in 0..oh {
            for ki in 0..kh {
                let r = i * sh + ki * dh;
                let Some(dst) = rows.get_mut(ki * row..(ki + 1) * row) else { return };
                dsp_row_channel_pairs(xb, [r, pt, pl, h, wi, c], x_zero, dst);
            }
            for j in 0..ow {
                for p in 0..m.div_ceil(4) {
                    let Some(wp) = w.get(p * 4 * kcols..(p + 1) * 4 * kcols) else { return };
                    let mut acc = [0i32; 4];
                    for ki in 0..kh {
                        let at = ki * row + j * sw * pairs;
                        let (Some(a), Some(ws)) = (rows.get(at..at + seg / 2), wp.get(ki * seg * 4..(ki + 1) * seg * 4)) else {
                            return;
                        };
                        dsp_dot4(a, ws, &mut acc);
                    }
                    for (t, &v) in acc.iter().enumerate().take(m - 4 * p) {
                        if let Some(o) = y.get_mut(((b * m + 4 * p + t) * oh + i) * ow + j) {
                            *o = f(v, 4 * p + t);
                        }
                    }
                }
            }
        }
    }
}

/// The requantization of the SMLAD kernels' outputs ([`requant_f32`]).
#[allow(dead_code)]
#[inline(always)]
fn requant_dsp(acc: i32, bias: i32, factor: f32, zero: i32, lo: i32, hi: i32) -> i32 {
    requant_f32(acc, bias, factor, zero, lo, hi)
}
