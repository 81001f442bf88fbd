// The SMLAD kernels' inner loops as printed with `--intrinsics` (in place of
// `dsp_tile.rs`): the Arm DSP extension's `SMLAD` and `SXTB16` by inline assembly where the
// code is compiled for Arm, the same sums in plain arithmetic elsewhere (so a host runs
// and tests the same program).

/// `acc + lo(a) * lo(b) + hi(a) * hi(b)`, each word two signed 16-bit halves (`SMLAD`).
#[allow(dead_code)]
#[inline(always)]
fn dsp_smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(target_arch = "arm")]
    return kiln_dsp::smlad(a, b, acc);
    #[cfg(not(target_arch = "arm"))]
    return dsp_smlad_safe(a, b, acc);
}

/// `acc + lo(a) * hi(b) + hi(a) * lo(b)` (`SMLADX`).
#[allow(dead_code)]
#[inline(always)]
fn dsp_smladx(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(target_arch = "arm")]
    return kiln_dsp::smladx(a, b, acc);
    #[cfg(not(target_arch = "arm"))]
    return dsp_smladx_safe(a, b, acc);
}

/// Bytes 0 and 2 of `v` sign-extended into the two halves of a word (`SXTB16`).
#[allow(dead_code)]
#[inline(always)]
fn dsp_sxtb16(v: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    return kiln_dsp::sxtb16(v);
    #[cfg(not(target_arch = "arm"))]
    return dsp_sxtb16_safe(v);
}

/// Bytes 1 and 3 of `v` sign-extended into the two halves of a word (`SXTB16` of `v`
/// rotated by 8).
#[allow(dead_code)]
#[inline(always)]
fn dsp_sxtb16_hi(v: u32) -> u32 {
    #[cfg(target_arch = "arm")]
    return kiln_dsp::sxtb16_hi(v);
    #[cfg(not(target_arch = "arm"))]
    return dsp_sxtb16_safe(v >> 8);
}

/// The four bytes of `q` from `I` as a word, the first lowest. LLVM does not merge four byte
/// loads into one word load here (unknown alignment), so on Arm one unaligned load.
#[allow(dead_code)]
#[inline(always)]
fn dsp_word<const I: usize, const N: usize>(q: &[i8; N]) -> u32 {
    #[cfg(target_arch = "arm")]
    return kiln_dsp::word::<I, N>(q);
    #[cfg(not(target_arch = "arm"))]
    return dsp_word_safe::<I, N>(q);
}

/// One quad of outputs `2T` and `2T + 1` of a four-output panel (`q`) times the pairs of
/// two positions (`c`, `e`): `acc` = [first position's two sums, second's].
#[allow(dead_code)]
#[inline(always)]
fn dsp_quad2x2<const T: usize>(c: [u32; 2], e: [u32; 2], q: &[i8; 16], acc: &mut [i32; 4]) {
    let v = if T == 0 { dsp_word::<0, 16>(q) } else { dsp_word::<8, 16>(q) };
    let lo = dsp_sxtb16(v);
    let hi = dsp_sxtb16_hi(v);
    acc[0] = dsp_smlad(c[1], hi, dsp_smlad(c[0], lo, acc[0]));
    acc[2] = dsp_smlad(e[1], hi, dsp_smlad(e[0], lo, acc[2]));
    let v = if T == 0 { dsp_word::<4, 16>(q) } else { dsp_word::<12, 16>(q) };
    let lo = dsp_sxtb16(v);
    let hi = dsp_sxtb16_hi(v);
    acc[1] = dsp_smlad(c[1], hi, dsp_smlad(c[0], lo, acc[1]));
    acc[3] = dsp_smlad(e[1], hi, dsp_smlad(e[0], lo, acc[3]));
}

/// Outputs `2T` and `2T + 1` of a four-output panel (`w`, its kernel rows `seg_bytes`
/// apart) times the operands of two output positions, over all `kh` kernel rows: kernel
/// row `ki` reads the input row in ring slot `(first + ki) % kh` of `rows` (`len` words
/// each), the first position's `words` words at `at`, the second's `step` further.
/// `acc` = [first position's two sums, second's]. Each weight word serves both positions;
/// the sums stay in registers across the kernel rows.
#[allow(dead_code, clippy::too_many_arguments)]
#[inline(always)]
fn dsp_conv2x2<const T: usize>(rows: &[u32], g: [usize; 6], w: &[i8], acc: &mut [i32; 4]) {
    let [len, kh, first, at, step, words] = g;
    let seg_bytes = words * 8;
    let mut sums = *acc;
    let mut sl = first;
    for ki in 0..kh {
        let o = sl * len + at;
        let (Some(c), Some(e), Some(wk)) = (rows.get(o..o + words), rows.get(o + step..o + step + words), w.get(ki * seg_bytes..(ki + 1) * seg_bytes)) else {
            return;
        };
        for ((c, e), q) in c.chunks_exact(2).zip(e.chunks_exact(2)).zip(wk.chunks_exact(16)) {
            let (Some(&c), Some(&e), Some(q)) = (c.first_chunk::<2>(), e.first_chunk::<2>(), q.first_chunk::<16>()) else {
                return;
            };
            dsp_quad2x2::<T>(c, e, q, &mut sums);
        }
        sl = if sl + 1 == kh { 0 } else { sl + 1 };
    }
    *acc = sums;
}

/// `acc[t] +=` the column `col` (16-bit pairs) times output `t`'s weights, for the four
/// outputs of one panel of SMLAD quads (`w`: four bytes per output and quad, the quad's
/// elements 0, 2, 1, 3). Not inlined: inlined into a caller's loops, LLVM spilled a
/// pointer of its loop and addressed the weights from a second base (the autoencoder's
/// Gemms at 1.75 instructions per MAC in this loop, 1.5 as a call).
#[allow(dead_code)]
#[inline(never)]
fn dsp_dot4(col: &[u32], w: &[i8], acc: &mut [i32; 4]) {
    let mut s = *acc;
    for (c, q) in col.chunks_exact(2).zip(w.chunks_exact(16)) {
        let (Some(&[c01, c23]), Some(q)) = (c.first_chunk::<2>(), q.first_chunk::<16>()) else {
            return;
        };
        let v = [dsp_word::<0, 16>(q), dsp_word::<4, 16>(q), dsp_word::<8, 16>(q), dsp_word::<12, 16>(q)];
        for (s, v) in s.iter_mut().zip(v) {
            *s = dsp_smlad(c23, dsp_sxtb16_hi(v), dsp_smlad(c01, dsp_sxtb16(v), *s));
        }
    }
    *acc = s;
}

/// [`int_conv_dsp`] with the input rows in `rows` (no dilation along the width): for each
/// output row, the `kh` input rows it reads as 16-bit pairs of channels, `[x][pair]` over
/// the `wpad = (ow - 1) * sw + kw` columns of the padded row (zero for padding), in a ring
/// of `kh` slots: without row dilation, padded input row `r` lives in slot `r % kh`, so an
/// output row converts only the rows the previous ones did not (one at stride 1). The
/// operand of output column `j` for a kernel row is the `kw * pairs` words at `x = j * sw`
/// (padded to a multiple of two words, where the weights are zero; `rows` holds two words
/// more than the ring for the last one). Two output columns at a time, two outputs a pass
/// ([`dsp_conv2x2`]).
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
    let len = wpad * pairs;
    let seg = (kw * pairs * 2).next_multiple_of(4);
    let kcols = kh * seg;
    if kh == 0 || rows.len() < kh * len + 2 {
        return;
    }
    for b in 0..n {
        let Some(xb) = x.get(b * c * plane..(b + 1) * c * plane) else { return };
        let mut next = 0;
        for i in 0..oh {
            let first = if dh == 1 { i * sh % kh } else { 0 };
            for ki in 0..kh {
                let r = i * sh + ki * dh;
                if dh == 1 && r < next {
                    continue;
                }
                let sl = if dh == 1 { r % kh } else { ki };
                let Some(dst) = rows.get_mut(sl * len..(sl + 1) * len) else { return };
                dsp_row_channel_pairs(xb, [r, pt, pl, h, wi, c], x_zero, dst);
            }
            next = i * sh + kh;
            for j in (0..ow).step_by(2) {
                let g = [len, kh, first, j * sw * pairs, sw * pairs, seg / 2];
                for p in 0..m.div_ceil(4) {
                    let Some(wp) = w.get(p * 4 * kcols..(p + 1) * 4 * kcols) else { return };
                    // [output 4p + t at column j for t < 4, then at column j + 1]
                    let mut acc = [0i32; 8];
                    if j + 1 < ow {
                        let mut lo = [0i32; 4];
                        let mut hi = [0i32; 4];
                        dsp_conv2x2::<0>(rows, g, wp, &mut lo);
                        dsp_conv2x2::<1>(rows, g, wp, &mut hi);
                        acc = [lo[0], lo[1], hi[0], hi[1], lo[2], lo[3], hi[2], hi[3]];
                    } else {
                        let mut a4 = [0i32; 4];
                        let mut sl = first;
                        for ki in 0..kh {
                            let o = sl * len + j * sw * pairs;
                            let (Some(col), Some(ws)) = (rows.get(o..o + seg / 2), wp.get(ki * seg * 4..(ki + 1) * seg * 4)) else {
                                return;
                            };
                            dsp_dot4(col, ws, &mut a4);
                            sl = if sl + 1 == kh { 0 } else { sl + 1 };
                        }
                        acc[..4].copy_from_slice(&a4);
                    }
                    for t in 0..4.min(m - 4 * p) {
                        let at = ((b * m + 4 * p + t) * oh + i) * ow + j;
                        if let Some(o) = y.get_mut(at) {
                            *o = f(acc[t], 4 * p + t);
                        }
                        if j + 1 < ow {
                            if let Some(o) = y.get_mut(at + 1) {
                                *o = f(acc[4 + t], 4 * p + t);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The requantization of the SMLAD kernels' outputs, [`requant_f32`]'s arithmetic: on an
/// Arm core with a single-precision FPU the product is rounded to an integer by `VCVTR`
/// (to nearest, ties to even: the FPU's rounding mode, which start-up code leaves at its
/// default) and clamped with `USAT`/`SSAT` or compares, about eight instructions where the
/// portable rounding and clamp take about twenty.
#[allow(dead_code)]
#[inline(always)]
fn requant_dsp(acc: i32, bias: i32, factor: f32, zero: i32, lo: i32, hi: i32) -> i32 {
    // `round(p)` saturates; then `zero + round(p)` clamped to lo..=hi is the same as
    // `requant_f32`'s clamp of `round(p)` to `lo - zero..=hi - zero`, plus `zero`.
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    if let Some(s) = acc.checked_add(bias) {
        return kiln_dsp::round_product(s, factor).saturating_add(zero).clamp(lo, hi);
    }
    requant_f32(acc, bias, factor, zero, lo, hi)
}

/// The only `unsafe` code kiln emits for Arm, and only with `--intrinsics`: one instruction
/// of the DSP extension per function by inline assembly (stable Rust's `core::arch::arm`
/// has no DSP intrinsics), the requantization's FPU rounding, and one unaligned word load
/// from a byte array in bounds.
#[cfg(target_arch = "arm")]
#[allow(unsafe_code)]
mod kiln_dsp {
    use core::arch::asm;

    #[inline(always)]
    pub(super) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: one register-only instruction of the DSP extension, which every core this
        // code is generated for has (kiln takes these kernels only for such targets). Not
        // `preserves_flags`: an accumulation that overflows sets the Q flag (the sum
        // itself wraps, as the portable arithmetic does).
        unsafe {
            asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }

    #[inline(always)]
    pub(super) fn smladx(a: u32, b: u32, acc: i32) -> i32 {
        let r: i32;
        // SAFETY: as for `smlad`.
        unsafe {
            asm!("smladx {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }

    #[inline(always)]
    pub(super) fn sxtb16(v: u32) -> u32 {
        let r: u32;
        // SAFETY: as for `smlad`; SXTB16 leaves every flag alone.
        unsafe {
            asm!("sxtb16 {r}, {v}", r = lateout(reg) r, v = in(reg) v, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    #[inline(always)]
    pub(super) fn sxtb16_hi(v: u32) -> u32 {
        let r: u32;
        // SAFETY: as for `smlad`; SXTB16 leaves every flag alone.
        unsafe {
            asm!("sxtb16 {r}, {v}, ror #8", r = lateout(reg) r, v = in(reg) v, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }

    /// `round_half_even(f32(s) * factor)`: `VCVT`, `VMUL` and `VCVTR` (which saturates to
    /// the i32 range), as the FPU rounds each.
    #[cfg(target_abi = "eabihf")]
    #[inline(always)]
    pub(super) fn round_product(s: i32, factor: f32) -> i32 {
        let r: i32;
        // SAFETY: FPU instructions on registers only, on the hard-float targets (every
        // Cortex-M4F/M7 build); s0 and s1 are declared clobbered. Rust's `sreg` operands
        // need a target feature these targets do not name, hence the moves through core
        // registers. Not `preserves_flags`: the FPU's cumulative exception flags change.
        unsafe {
            asm!(
                "vmov s0, {s}",
                "vcvt.f32.s32 s0, s0",
                "vmov s1, {f}",
                "vmul.f32 s0, s0, s1",
                "vcvtr.s32.f32 s0, s0",
                "vmov {r}, s0",
                s = in(reg) s,
                f = in(reg) factor.to_bits(),
                r = lateout(reg) r,
                out("s0") _,
                out("s1") _,
                options(pure, nomem, nostack),
            );
        }
        r
    }

    #[inline(always)]
    pub(super) fn word<const I: usize, const N: usize>(q: &[i8; N]) -> u32 {
        const { assert!(I + 4 <= N) };
        // SAFETY: bytes I..I + 4 lie inside the N-byte array (checked above at compile
        // time); the load is unaligned, which these cores allow.
        unsafe { q.as_ptr().add(I).cast::<u32>().read_unaligned() }
    }
}
