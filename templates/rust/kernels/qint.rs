/// `round_half_even(p / 2^s)` on integers: the requantization of kiln's integer kernels
/// (exact, no floating point).
#[allow(dead_code)]
#[inline(always)]
fn shift_round(p: i64, s: u32) -> i64 {
    if s == 0 {
        return p;
    }
    let q = p >> s;
    let r = p - (q << s);
    q + ((r + (q & 1)) > (1i64 << (s - 1))) as i64
}

/// `v` rounded to 24 significant bits, half to even: the integer an f32 holds for it.
#[allow(dead_code)]
#[inline(always)]
fn round_to_f32(v: i64) -> i64 {
    let mag = v.unsigned_abs();
    let bits = 64 - mag.leading_zeros();
    if bits <= 24 {
        return v;
    }
    let d = bits - 24;
    let r = shift_round(mag as i64, d) << d;
    if v < 0 { -r } else { r }
}

/// `zero + round_half_even(f32(f32(acc) * factor))`, clamped to `lo..=hi`, where
/// `factor = mult / 2^shift` is an f32 (`mult` 0 or of 24 bits): onnxruntime's
/// requantization, in integers. The f32 product is `m * 2^d` with `m` of 24 bits, so the
/// last shift is of `m`, in 32 bits. Sums below 2^24 (every 8-bit model's, in practice)
/// take a path of 32-bit operations and one 32x32 multiply: 64-bit shifts by a variable
/// count are many instructions on a 32-bit core.
#[allow(dead_code)]
#[inline(always)]
fn requant(acc: i64, mult: i32, shift: u32, zero: i32, lo: i32, hi: i32) -> i32 {
    // round_half_even(m / 2^s), or m * 2^-s for s <= 0, as an i64 (large ones clamp).
    let scale = |m: u32, d: u32| -> i64 {
        if d >= shift {
            if d - shift > 16 { 1 << 40 } else { (m as i64) << (d - shift) }
        } else {
            let s = shift - d;
            if s > 26 {
                0
            } else {
                let q = m >> s;
                let r = m - (q << s);
                (q + ((r + (q & 1)) > (1 << (s - 1))) as u32) as i64
            }
        }
    };
    if acc.unsigned_abs() < 1 << 24 && mult >= 0 {
        let prod = acc.unsigned_abs() as u32 as u64 * mult as u32 as u64;
        let (ph, pl) = ((prod >> 32) as u32, prod as u32);
        let d = if ph != 0 {
            64 - ph.leading_zeros() - 24
        } else if pl >= 1 << 24 {
            32 - pl.leading_zeros() - 24
        } else {
            0
        };
        let m = if d == 0 {
            pl
        } else {
            let m = (pl >> d) | (ph << (32 - d));
            let r = pl & ((1 << d) - 1);
            m + ((r + (m & 1)) > (1 << (d - 1))) as u32
        };
        let v = scale(m, d);
        return (if acc < 0 { -v } else { v } + zero as i64).clamp(lo as i64, hi as i64) as i32;
    }
    let p = round_to_f32(acc) * mult as i64;
    let mut mag = p.unsigned_abs();
    let mut d = 0;
    if mag >= 1 << 24 {
        // m rounded to 24 bits (it may carry to 2^24).
        d = 64 - mag.leading_zeros() - 24;
        mag = shift_round(mag as i64, d) as u64;
    }
    let v = scale(mag as u32, d);
    (if p < 0 { -v } else { v } + zero as i64).clamp(lo as i64, hi as i64) as i32
}

/// [`requant`] in f32, for cores with single-precision floating point: `acc + bias` to f32, times
/// `factor` (`mult / 2^shift`, exact in f32), rounded half to even, plus `zero`, clamped:
/// onnxruntime's own arithmetic, so the same result as [`requant`]'s integer emulation. The
/// rounding adds 1.5 * 2^23, which leaves `v` rounded to an integer in the low bits while
/// `|v| < 2^22`; larger values clamp to `lo` or `hi` either way.
#[allow(dead_code)]
#[inline(always)]
fn requant_f32(acc: i32, bias: i32, factor: f32, zero: i32, lo: i32, hi: i32) -> i32 {
    let range = offset_range([zero, lo, hi]);
    // 32-bit cores convert i64 to f32 by a library call (about 40 instructions on a
    // Cortex-M4): there the sum is taken in i32 where it fits (onnxruntime's own
    // arithmetic), else exactly in i64. 64-bit ones convert i64 in one instruction, and
    // without the branch LLVM vectorises the loops this closure is inlined in.
    #[cfg(target_pointer_width = "32")]
    let v = match acc.checked_add(bias) {
        Some(s) => s as f32,
        None => (i64::from(acc) + i64::from(bias)) as f32,
    };
    #[cfg(not(target_pointer_width = "32"))]
    let v = (i64::from(acc) + i64::from(bias)) as f32;
    from_offset(round_product(v, factor), range, zero)
}

/// `v * factor + ROUND_OFFSET`: the product rounded to f32, then to an integer half to
/// even, as onnxruntime rounds. A build that contracts multiplies and adds (`-C
/// llvm-args=-fp-contract=fast`, which `kiln bench` uses on hosts with FMA units) would
/// fuse the two into one rounding of the exact product, which differs where the rounded
/// product is a tie and the exact one is not; on 64-bit targets the select between them
/// keeps them apart, for one `max` (a product below -2^22 clamps to `lo` either way). On
/// 32-bit cores the select would be a compare and a flags transfer per output, and their
/// builds do not contract.
#[allow(dead_code)]
#[inline(always)]
fn round_product(v: f32, factor: f32) -> f32 {
    let p = v * factor;
    #[cfg(target_pointer_width = "64")]
    let p = if p < -4_194_304.0 { -4_194_304.0 } else { p };
    p + ROUND_OFFSET
}

/// 1.5 * 2^23: `v + ROUND_OFFSET` is `v` rounded half to even, in the low bits of a float
/// in [2^23, 2^24), where floats are one unit apart (for `|v| < 2^22`).
#[allow(dead_code)]
const ROUND_OFFSET: f32 = 12582912.0;

/// The output range `lo..=hi` (`zlh = [zero, lo, hi]`) less `zero`, offset by
/// [`ROUND_OFFSET`], as the bits of those floats: where [`from_offset`] clamps.
#[allow(dead_code)]
#[inline(always)]
fn offset_range(zlh: [i32; 3]) -> (i32, i32) {
    let [zero, lo, hi] = zlh;
    let bits = |v: i32| (ROUND_OFFSET + v as f32).to_bits() as i32;
    (bits(lo - zero), bits(hi - zero))
}

/// `zero + v` for `r = v + ROUND_OFFSET`, clamped to `range` (see [`offset_range`]) while
/// offset, then read from the bits: no float-to-int conversion and its NaN handling, no
/// branch, so it vectorises. The clamp compares the bits as integers (one instruction each
/// on a Cortex-M, not a float compare and a flags transfer): positive floats order as their
/// bits do, and a negative `r` has the sign bit, so reads as below `range.0`.
#[allow(dead_code)]
#[inline(always)]
fn from_offset(r: f32, range: (i32, i32), zero: i32) -> i32 {
    (r.to_bits() as i32).max(range.0).min(range.1) - ROUND_OFFSET.to_bits() as i32 + zero
}

/// Whether sums over `k` products of 9-bit values (an 8-bit value less its zero point) by
/// i8 weights, plus each of the biases `bias`, add in i32 without overflow: the sums are
/// under `k * 255 * 128`, so both under 2^30 (every real model's) is enough. Where they do,
/// the quad kernels and `int_conv_dw_lanes` add in i32, one vector instruction, rather than
/// widening to i64 and back: a fifth of the quad kernels' output path, and ResNet-8's int8
/// run 0.123 -> 0.093 ms. (In `int_conv_dw` and `int_conv_dw_plane` the branch between the
/// two forms made ppocr_cls's depthwise steps slower: 0.59 -> 1.02 ms for the model.)
#[allow(dead_code)]
fn narrow_sums(k: usize, bias: &[i32]) -> bool {
    k.saturating_mul(255 * 128) < 1 << 30 && bias.iter().all(|&b| b.unsigned_abs() < 1 << 30)
}

/// `f(Σ_t (a[r, t] - a_zero) * b[t, j], j)` for each row `r` of A (`rows × k`) and column
/// `j` of B (`k × n`, i8, zero point 0), summed in i32 in order of `t`, sixteen columns at
/// a time (one vector of accumulators).
#[allow(dead_code, clippy::needless_range_loop)]
fn int_gemm<A: Copy + Into<i32>, Y>(
    a: &[A],
    b: &[i8],
    a_zero: i32,
    y: &mut [Y],
    dims: [usize; 3],
    f: impl Fn(i32, usize) -> Y,
) {
    let [rows, k, n] = dims;
    for r in 0..rows {
        // Ranges with `get`: in bounds by construction, and no panic path (see conv_rows4).
        let Some(ar) = a.get(r * k..(r + 1) * k) else { return };
        let mut j0 = 0;
        while j0 < n {
            let nb = (n - j0).min(16);
            let mut acc = [0i32; 16];
            if nb == 16 {
                // A whole vector: fixed-size rows, no bounds tests in the loop.
                for (t, &av) in ar.iter().enumerate() {
                    let av: i32 = av.into();
                    let av = av - a_zero;
                    let Some(br) = b.get(t * n + j0..).and_then(|r| r.first_chunk::<16>()) else { return };
                    for jj in 0..16 {
                        acc[jj] += av * br[jj] as i32;
                    }
                }
            } else {
                for (t, &av) in ar.iter().enumerate() {
                    let av: i32 = av.into();
                    let av = av - a_zero;
                    let Some(br) = b.get(t * n + j0..t * n + j0 + nb) else { return };
                    for jj in 0..nb {
                        acc[jj] += av * br[jj] as i32;
                    }
                }
            }
            let Some(yr) = y.get_mut(r * n + j0..r * n + j0 + nb) else { return };
            for (jj, (o, &s)) in yr.iter_mut().zip(&acc).enumerate() {
                *o = f(s, j0 + jj);
            }
            j0 += nb;
        }
    }
}

/// A convolution of one group as [`int_conv2d`] computes it, `d[10]` (16 or 8) output
/// channels at a time: `w` packed in panels of that many channels (`w[p][k][P]`, `k` over
/// input channel and tap, padded with zeros), so each tap's weights for the panel's
/// channels are one contiguous run and the sums of one output position sit in one vector
/// (16: an AVX-512 register) or in registers (8: a microcontroller's). The dispatch folds
/// away where the call is inlined, leaving one width in the program.
#[inline(always)]
#[allow(dead_code)]
fn int_conv_panels<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    d: [usize; 11],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    if d[10] == 8 {
        int_conv_panels_of::<X, Y, 8>(x, w, x_zero, y, d, s, f);
    } else {
        int_conv_panels_of::<X, Y, 16>(x, w, x_zero, y, d, s, f);
    }
}

/// [`int_conv_panels`] for panels of `P` channels. (Four neighbouring positions at once,
/// sharing each run of weights, measured slower on ResNet-8 with `P` 16: 1.30 against
/// 1.05-1.08 ms; the `vpmulld` per sixteen products is the bound.) Ranges are taken with
/// `get`, in bounds by construction, so no panic path is left (see `conv_rows4`).
#[allow(dead_code, clippy::needless_range_loop)]
fn int_conv_panels_of<X: Copy + Into<i32>, Y, const P: usize>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    d: [usize; 11],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow, _] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    let taps = kh * kw;
    let k = c * taps;
    let plane = h * wi;
    for b in 0..n {
        let Some(xb) = x.get(b * c * plane..(b + 1) * c * plane) else { return };
        for p in 0..m.div_ceil(P) {
            let Some(wp) = w.get(p * P * k..(p + 1) * P * k) else { return };
            let mb = (m - p * P).min(P);
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = [0i32; P];
                    for ki in 0..kh {
                        let r = i * sh + ki * dh;
                        if r < pt || r - pt >= h {
                            continue;
                        }
                        for kj in 0..kw {
                            let q = j * sw + kj * dw;
                            if q < pl || q - pl >= wi {
                                continue;
                            }
                            let (Some(xs), Some(ws)) = (xb.get((r - pt) * wi + q - pl..), wp.get((ki * kw + kj) * P..)) else {
                                return;
                            };
                            // Input channel `ic` at xs[ic * plane], its weights at
                            // ws[ic * taps * P..][..P].
                            for ic in 0..c {
                                let (Some(&v), Some(wr)) = (xs.get(ic * plane), ws.get(ic * taps * P..ic * taps * P + P)) else {
                                    return;
                                };
                                let v: i32 = v.into();
                                let v = v - x_zero;
                                for t in 0..P {
                                    acc[t] += v * wr[t] as i32;
                                }
                            }
                        }
                    }
                    for (t, &a) in acc.iter().enumerate().take(mb) {
                        if let Some(o) = y.get_mut(((b * m + p * P + t) * oh + i) * ow + j) {
                            *o = f(a, p * P + t);
                        }
                    }
                }
            }
        }
    }
}

/// `f(Σ (x - x_zero))` over each `kh × kw` window (strides `sh`, `sw`, every window full)
/// of each of the `planes` planes of `h × w`.
#[allow(dead_code)]
fn int_avg_pool<X: Copy + Into<i32>, Y>(
    x: &[X],
    y: &mut [Y],
    x_zero: i32,
    d: [usize; 9],
    f: impl Fn(i32) -> Y,
) {
    let [planes, h, w, kh, kw, sh, sw, oh, ow] = d;
    for p in 0..planes {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = 0i32;
                for ki in 0..kh {
                    let row = &plane[(i * sh + ki) * w + j * sw..][..kw];
                    for &v in row {
                        let v: i32 = v.into();
                        acc += v - x_zero;
                    }
                }
                y[(p * oh + i) * ow + j] = f(acc);
            }
        }
    }
}

/// The output positions `lo..hi` of `out` whose tap at `off` (tap index times dilation)
/// reads inside an input axis of `len` padded by `pad` at stride `stride`.
#[allow(dead_code)]
fn int_span(out: usize, stride: usize, off: usize, pad: usize, len: usize) -> (usize, usize) {
    let lo = if pad > off { (pad - off).div_ceil(stride) } else { 0 };
    let hi = if len + pad > off { ((len + pad - off - 1) / stride + 1).min(out) } else { 0 };
    (lo, hi.max(lo))
}

/// Columns of output a block of accumulators covers.
const INT_COLS: usize = 64;

/// How far [`int_conv_dw`]'s kernel columns may reach past a run's first column.
const DW_REACH: usize = 32;

/// A depthwise convolution (one input channel a group, so output channel `o` reads input
/// channel `o / (m / c)`, stride at most 2 along the width and `(kw - 1) * dw <= 32`) on a
/// host with vector registers. For each output channel and row, runs of up to 64 output
/// columns:
/// each input row the run reads is first copied, less the zero point and with zeros for
/// padding, into a row of i32, then every tap adds its weight times that row, at a fixed
/// offset, to all the run's sums (fixed-length loops the compiler keeps in vector registers; the
/// columns past the output's are computed and dropped). The sums are then requantized in
/// f32 together and stored as one run (`to(zero + round_half_even(f32(acc + bias[o]) *
/// factor[o]))` clamped to `lo..=hi`, `zlh = [zero, lo, hi]`, as [`requant_f32`]). `d` and
/// `s` as for [`int_conv2d`].
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dw<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    d: [usize; 10],
    s: [usize; 6],
    bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    // Runs as long as the output rows, up to 64 (narrow rows waste less of each run). Runs
    // of 16 on ppocrv4_rec's 80-wide stride-2 rows, which waste none, took 1.24x the time
    // of 64 and 16 (a padded row built per run and kernel row costs more than the columns).
    if d[9] <= 16 {
        int_conv_dw_of::<X, Y, 16, { 2 * 16 + DW_REACH }, { 16 + DW_REACH / 2 }>(x, w, x_zero, y, d, s, bias, factor, zlh, to);
    } else if d[9] <= 32 {
        int_conv_dw_of::<X, Y, 32, { 2 * 32 + DW_REACH }, { 32 + DW_REACH / 2 }>(x, w, x_zero, y, d, s, bias, factor, zlh, to);
    } else {
        int_conv_dw_of::<X, Y, INT_COLS, { 2 * INT_COLS + DW_REACH }, { INT_COLS + DW_REACH / 2 }>(
            x, w, x_zero, y, d, s, bias, factor, zlh, to,
        );
    }
}

/// [`int_conv_dw`] with runs of `COLS` output columns, a padded row of `ROW` entries
/// (`2 * COLS + DW_REACH`) and, at stride 2, its even and odd columns in `HALF` each.
#[allow(dead_code, clippy::too_many_arguments)]
#[inline(always)]
fn int_conv_dw_of<X: Copy + Into<i32>, Y, const COLS: usize, const ROW: usize, const HALF: usize>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    d: [usize; 10],
    s: [usize; 6],
    bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    if sw == 0 || sw > 2 || kw == 0 || (kw - 1) * dw > DW_REACH {
        return;
    }
    let range = offset_range(zlh);
    let per = (m / c.max(1)).max(1);
    let taps = kh * kw;
    for b in 0..n {
        for o in 0..m {
            let ic = b * c + o / per;
            let Some(plane) = x.get(ic * h * wi..(ic + 1) * h * wi) else { return };
            let Some(wo) = w.get(o * taps..(o + 1) * taps) else { return };
            let (bo, fo) = (bias.get(o).copied().unwrap_or(0) as i64, factor.get(o).copied().unwrap_or(0.0));
            for i in 0..oh {
                let mut j0 = 0;
                while j0 < ow {
                    let len = (ow - j0).min(COLS);
                    let mut acc = [0i32; COLS];
                    for ki in 0..kh {
                        let r = i * sh + ki * dh;
                        if r < pt || r - pt >= h {
                            continue;
                        }
                        let Some(row) = plane.get((r - pt) * wi..(r - pt + 1) * wi) else { return };
                        // pr[t] = input column j0 * sw - pl + t, less the zero point (0 outside).
                        let mut pr = [0i32; ROW];
                        let first = j0 * sw;
                        let (t_lo, q_lo) = if first >= pl { (0, first - pl) } else { (pl - first, 0) };
                        if q_lo < wi && t_lo < ROW {
                            let cnt = (wi - q_lo).min(ROW - t_lo);
                            if let (Some(dst), Some(src)) = (pr.get_mut(t_lo..t_lo + cnt), row.get(q_lo..q_lo + cnt)) {
                                for (p, &v) in dst.iter_mut().zip(src) {
                                    *p = v.into() - x_zero;
                                }
                            }
                        }
                        // Stride 2: the padded row split into its even and odd columns, so
                        // each tap reads one contiguous run (every other entry of `pr`, as
                        // LLVM vectorised it for a Zen 3 core, ran MobileNet's 48x48 stride-2
                        // step 3-4x slower). The split reads pairs and writes two runs, which
                        // LLVM turns into shuffles; written as one store a column
                        // (`ph[t % 2][t / 2]`), MobileNet's int8 24x24 stride-2 step took
                        // 31.9 us on a Zen 5 core against 10.5 us so (profiled medians).
                        if sw == 1 {
                            for kj in 0..kw {
                                let wv = wo.get(ki * kw + kj).copied().unwrap_or(0) as i32;
                                let Some(src) = pr.get(kj * dw..kj * dw + COLS) else { return };
                                for (a, &v) in acc.iter_mut().zip(src) {
                                    *a += wv * v;
                                }
                            }
                        } else {
                            let mut ph = [[0i32; HALF]; 2];
                            let [even, odd] = &mut ph;
                            for ((e, o), p) in even.iter_mut().zip(odd.iter_mut()).zip(pr.chunks_exact(2)) {
                                *e = p[0];
                                *o = p[1];
                            }
                            for kj in 0..kw {
                                let wv = wo.get(ki * kw + kj).copied().unwrap_or(0) as i32;
                                let off = kj * dw;
                                let Some(src) = ph[off % 2].get(off / 2..off / 2 + COLS) else { return };
                                for (a, &v) in acc.iter_mut().zip(src) {
                                    *a += wv * v;
                                }
                            }
                        }
                    }
                    let mut q = [0i32; COLS];
                    for (qo, &a) in q.iter_mut().zip(&acc) {
                        *qo = from_offset(round_product((a as i64 + bo) as f32, fo), range, zlh[0]);
                    }
                    let at = ((b * m + o) * oh + i) * ow + j0;
                    if let Some(out) = y.get_mut(at..at + len) {
                        for (yo, &v) in out.iter_mut().zip(&q) {
                            *yo = to(v as i64);
                        }
                    }
                    j0 += len;
                }
            }
        }
    }
}

/// A depthwise convolution (as [`int_conv_dw`] computes it) with its channels in the vector
/// lanes, for maps too small for runs of one channel's columns (a 6x6 map fills six of
/// sixteen lanes a row there). Per block of `d[10]` (16) output channels, and per
/// band of `d[11]` output rows: the padded input rows the band reads, less the zero point,
/// in `scratch` (`[row][column][lane]` as i32, zeros in the padding; lane `l` reads input
/// channel `(o0 + l) / (m / c)`); then each output the sum over the taps, in order, of the
/// tap's weights (packed `[block][tap][lane]`) times one vector of the block, four output
/// positions at a time; each requantized in the lanes (as [`requant_f32`]) into the words
/// after the rows (`[position][lane]`), and the band stored into the block's planes.
/// Scratch: `kiln_passes::kernels::int_dw_lanes`. On MobileNet v1's depthwise layers of
/// 12x12 and smaller (x86-64 with AVX-512), 75 us in all became 43 us.
#[inline(always)]
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dw_lanes<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    scratch: &mut [u32],
    d: [usize; 12],
    s: [usize; 6],
    bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    // Sixteen lanes, AVX-512's, or eight, AVX2's: the widths kiln takes it at (see
    // `kiln_passes::kernels::int_dw_lanes_width`).
    if d[10] == 16 {
        int_conv_dw_lanes_of::<X, Y, 16>(x, w, x_zero, y, scratch, d, s, bias, factor, zlh, to);
    } else if d[10] == 8 {
        int_conv_dw_lanes_of::<X, Y, 8>(x, w, x_zero, y, scratch, d, s, bias, factor, zlh, to);
    }
}

/// `acc + w * v` lane by lane, `v` the `L` words of `s` from `at` (in bounds by
/// construction; `acc` otherwise, which leaves no panic path). The words hold 9-bit
/// values, so their low halves as i16 are the values, which lets the multiply be a 16-bit
/// one (`VPMADDWD`/`VPDPWSSD` on x86). The caller keeps each column's sums in its own
/// variable and returns here by value: with the columns in an array, LLVM vectorised
/// across them with gathers and ran about four times slower.
#[inline(always)]
fn int_lanes_mac<const L: usize>(acc: [i32; L], w: &[i32; L], s: &[u32], at: usize) -> [i32; L] {
    let Some(v) = s.get(at..).and_then(|v| v.first_chunk::<L>()) else { return acc };
    let mut r = acc;
    for l in 0..L {
        r[l] += w[l] * (v[l] as i16 as i32);
    }
    r
}

/// The `L` weights of a tap, widened.
#[inline(always)]
fn int_lanes_widen<const L: usize>(w: &[i8; L]) -> [i32; L] {
    let mut r = [0i32; L];
    for l in 0..L {
        r[l] = w[l] as i32;
    }
    r
}

/// The lanes' sums `a` plus `bias`, requantized as [`requant_f32`] into `out`, in i32 where
/// `narrow` says the sums cannot overflow it, else in i64.
#[inline(always)]
fn int_lanes_requant<const L: usize>(
    a: [i32; L],
    bias: &[i32; L],
    factor: &[f32; L],
    narrow: bool,
    range: (i32, i32),
    zero: i32,
    out: &mut [u32],
) {
    let mut v = [0f32; L];
    if narrow {
        for l in 0..L {
            v[l] = a[l].wrapping_add(bias[l]) as f32;
        }
    } else {
        for l in 0..L {
            v[l] = (a[l] as i64 + bias[l] as i64) as f32;
        }
    }
    for (o, (&v, &f)) in out.iter_mut().zip(v.iter().zip(factor)) {
        *o = from_offset(round_product(v, f), range, zero) as u32;
    }
}

/// [`int_conv_dw_lanes`] for `L` lanes.
#[allow(dead_code, clippy::too_many_arguments, clippy::needless_range_loop)]
fn int_conv_dw_lanes_of<X: Copy + Into<i32>, Y, const L: usize>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    scratch: &mut [u32],
    d: [usize; 12],
    s: [usize; 6],
    bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow, _, band] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    if kh == 0 || kw == 0 || oh == 0 || ow == 0 || wi == 0 || band == 0 {
        return;
    }
    let range = offset_range(zlh);
    let per = (m / c.max(1)).max(1);
    // As kiln_passes::kernels::int_dw_lanes sizes it: the padded rows a band of output rows
    // reads, the columns the outputs read, then the band's requantized outputs.
    let rows = (band - 1) * sh + (kh - 1) * dh + 1;
    let wq = (ow - 1) * sw + (kw - 1) * dw + 1;
    let Some(scratch) = scratch.get_mut(..(rows * wq + band * ow) * L) else { return };
    let (plane, done) = scratch.split_at_mut(rows * wq * L);
    // Padded column t is input column t - pl, for t in pl..wq.
    let cols = wi.min(wq.saturating_sub(pl));
    let (blocks, _) = w.as_chunks::<L>();
    let taps = kh * kw;
    // The padding columns are zero for every band: each writes the same interior, and
    // a padding row all of its columns.
    plane.fill(0);
    for b in 0..n {
        for (blk, wb) in blocks.chunks_exact(taps).enumerate() {
            let o0 = blk * L;
            if o0 >= m {
                break;
            }
            let nc = (m - o0).min(L);
            // Each lane's input channel (lanes past the channels repeat the last one: their
            // weights are zero and their sums dropped).
            let mut at = [0usize; L];
            for (l, a) in at.iter_mut().enumerate() {
                *a = (b * c + (o0 + l.min(nc - 1)) / per) * h * wi;
            }
            let (mut bo, mut fo) = ([0i32; L], [0f32; L]);
            for l in 0..nc {
                bo[l] = bias.get(o0 + l).copied().unwrap_or(0);
                fo[l] = factor.get(o0 + l).copied().unwrap_or(0.0);
            }
            let narrow = narrow_sums(taps, &bo);
            let requant = |a: [i32; L], out: &mut [u32]| int_lanes_requant(a, &bo, &fo, narrow, range, zlh[0], out);
            let mut i0 = 0;
            while i0 < oh {
                let nb = band.min(oh - i0);
                // The band's padded rows from i0 * sh: an input row's run of `cols` values
                // per lane, one vector of the block per column; a padding row all zeros.
                for (k, row) in plane.chunks_exact_mut(wq * L).take((nb - 1) * sh + (kh - 1) * dh + 1).enumerate() {
                    let r = i0 * sh + k;
                    if r < pt || r - pt >= h {
                        row.fill(0);
                        continue;
                    }
                    let r = r - pt;
                    let Some(dst) = row.get_mut(pl * L..(pl + cols) * L) else { return };
                    let mut runs: [&[X]; L] = [&[]; L];
                    for (run, &a) in runs.iter_mut().zip(&at) {
                        let Some(v) = x.get(a + r * wi..a + r * wi + cols) else { return };
                        *run = v;
                    }
                    for (q, o) in dst.chunks_exact_mut(L).enumerate() {
                        for (o, run) in o.iter_mut().zip(&runs) {
                            let v: i32 = run.get(q).copied().map_or(0, Into::into);
                            *o = (v - x_zero) as u32;
                        }
                    }
                }
                // The band's output positions in order, four at a time (across rows, so a
                // map of six columns fills every group), each at its own offset.
                let (mut i, mut j) = (0, 0);
                let mut next = || {
                    let at = (i * sh * wq + j * sw) * L;
                    j += 1;
                    if j == ow {
                        (i, j) = (i + 1, 0);
                    }
                    at
                };
                let count = nb * ow;
                let mut p = 0;
                while p + 4 <= count {
                    let (b0, b1, b2, b3) = (next(), next(), next(), next());
                    let (mut a0, mut a1, mut a2, mut a3) = ([0i32; L], [0i32; L], [0i32; L], [0i32; L]);
                    for (ki, wr) in wb.chunks_exact(kw).enumerate() {
                        let r = ki * dh * wq * L;
                        for (kj, wt) in wr.iter().enumerate() {
                            let (o, wt) = (r + kj * dw * L, int_lanes_widen(wt));
                            a0 = int_lanes_mac(a0, &wt, plane, b0 + o);
                            a1 = int_lanes_mac(a1, &wt, plane, b1 + o);
                            a2 = int_lanes_mac(a2, &wt, plane, b2 + o);
                            a3 = int_lanes_mac(a3, &wt, plane, b3 + o);
                        }
                    }
                    let Some(out) = done.get_mut(p * L..(p + 4) * L) else { return };
                    let (o01, o23) = out.split_at_mut(2 * L);
                    let (o0, o1) = o01.split_at_mut(L);
                    let (o2, o3) = o23.split_at_mut(L);
                    requant(a0, o0);
                    requant(a1, o1);
                    requant(a2, o2);
                    requant(a3, o3);
                    p += 4;
                }
                while p < count {
                    let b0 = next();
                    let mut a = [0i32; L];
                    for (ki, wr) in wb.chunks_exact(kw).enumerate() {
                        let r = ki * dh * wq * L;
                        for (kj, wt) in wr.iter().enumerate() {
                            a = int_lanes_mac(a, &int_lanes_widen(wt), plane, b0 + r + kj * dw * L);
                        }
                    }
                    let Some(out) = done.get_mut(p * L..(p + 1) * L) else { return };
                    requant(a, out);
                    p += 1;
                }
                // Each lane's run of the band's outputs at once (a strided read of the
                // band's sums, rather than a short one per row).
                for lane in 0..nc {
                    let at = ((b * m + o0 + lane) * oh + i0) * ow;
                    let (Some(yp), Some(src)) = (y.get_mut(at..at + count), done.get(lane..)) else { return };
                    for (o, &v) in yp.iter_mut().zip(src.iter().step_by(L)) {
                        *o = to(v as i32 as i64);
                    }
                }
                i0 += nb;
            }
        }
    }
}

/// [`int_conv_dw`] at stride 1 or 2 along the width with one input channel's padded plane
/// in `plane` (the memory plan's scratch, `kiln_passes::kernels::int_dw_plane`): converted
/// once per input channel to i32 less the zero point (zero for padding), `[row][t]` for
/// padded column `t` at stride 1, and at stride 2 each row's even columns and then its odd
/// ones (`[row][t % 2][t / 2]`), so each tap of sixteen output columns reads sixteen
/// consecutive words. Sixteen outputs of a row at a time sum all their taps in registers (in order of
/// kernel row and column; exact in i32), then are requantized and stored together.
/// [`int_conv_dw`] converts each input row once per output row that reads it and keeps its
/// sums in memory across the taps: with this kernel for MobileNet's depthwise layers at
/// stride 1, its int8 run took about 5% less time (x86-64 with AVX-512, paired runs of the
/// two builds). At stride 2, where [`int_conv_dw`] splits each padded row again for every
/// run and output row that reads it, this kernel splits it once per channel: on a Zen 5
/// core MobileNet's int8 24x24 stride-2 step took 7.9 us against 10.5, ppocrv4_rec's 12x80
/// one 0.071 ms against 0.213 (profiled medians), with the scratch inside the arenas the
/// plans had.
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv_dw_plane<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    plane: &mut [u32],
    d: [usize; 10],
    s: [usize; 6],
    bias: &[i32],
    factor: &[f32],
    zlh: [i32; 3],
    to: impl Fn(i64) -> Y,
) {
    let [n, c, h, wi, m, _group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    if !(1..=2).contains(&sw) || kw == 0 || kh == 0 || oh == 0 || ow == 0 {
        return;
    }
    let range = offset_range(zlh);
    let per = (m / c.max(1)).max(1);
    let taps = kh * kw;
    // As kiln_passes::kernels::int_dw_plane sizes it: at stride 2 a row is two halves of
    // `wh` words, the even padded columns and the odd.
    let rows = (oh - 1) * sh + (kh - 1) * dh + 1;
    let wh = ow.next_multiple_of(16) + (kw - 1) * dw / 2;
    let wq = if sw == 1 { ow.next_multiple_of(16) + (kw - 1) * dw } else { 2 * wh };
    let Some(plane) = plane.get_mut(..rows * wq) else { return };
    // Padded column t is input column t - pl, for t in t0..t1.
    let (t0, t1) = (pl.min(wq), (pl + wi).clamp(pl.min(wq), wq));
    // The padding (the rows above and below the input, the columns either side) is zero
    // for every channel: written once here, and then only each input row's run per channel
    // (filled per channel, MobileNet's depthwise steps at stride 1 took 4-9% longer).
    plane.fill(0);
    for b in 0..n {
        for o in 0..m {
            let ic = b * c + o / per;
            if o % per == 0 {
                let Some(xc) = x.get(ic * h * wi..(ic + 1) * h * wi) else { return };
                for (pr, src) in plane.chunks_exact_mut(wq).skip(pt).zip(xc.chunks_exact(wi.max(1))) {
                    if sw == 1 {
                        let Some(run) = pr.get_mut(t0..t1) else { return };
                        for (q, &v) in run.iter_mut().zip(src) {
                            *q = (v.into() - x_zero) as u32;
                        }
                        continue;
                    }
                    // Stride 2: input column q is padded column t0 + q. Read in pairs from
                    // the first even t (a pair's first entry even, its second odd) and
                    // written as two runs, which LLVM turns into shuffles.
                    let (even, odd) = pr.split_at_mut(wh);
                    let Some(src) = src.get(..t1 - t0) else { return };
                    let (src, e0) = match src.split_first() {
                        Some((&v, rest)) if t0 % 2 == 1 => {
                            let Some(q) = odd.get_mut(t0 / 2) else { return };
                            *q = (v.into() - x_zero) as u32;
                            (rest, t0 / 2 + 1)
                        }
                        _ => (src, t0 / 2),
                    };
                    let (Some(ev), Some(od)) = (even.get_mut(e0..), odd.get_mut(e0..)) else { return };
                    let pairs = src.chunks_exact(2);
                    let last = pairs.remainder();
                    for ((e, o), p) in ev.iter_mut().zip(od.iter_mut()).zip(pairs) {
                        *e = (p[0].into() - x_zero) as u32;
                        *o = (p[1].into() - x_zero) as u32;
                    }
                    if let (Some(&v), Some(e)) = (last.first(), ev.get_mut(src.len() / 2)) {
                        *e = (v.into() - x_zero) as u32;
                    }
                }
            }
            let Some(wo) = w.get(o * taps..(o + 1) * taps) else { return };
            let (bo, fo) = (bias.get(o).copied().unwrap_or(0) as i64, factor.get(o).copied().unwrap_or(0.0));
            let at = (b * m + o) * oh * ow;
            let Some(yo) = y.get_mut(at..at + oh * ow) else { return };
            for (i, yr) in yo.chunks_exact_mut(ow).enumerate() {
                for (ci, oc) in yr.chunks_mut(16).enumerate() {
                    let mut acc = [0i32; 16];
                    for (ki, wr) in wo.chunks_exact(kw).enumerate() {
                        let base = (i * sh + ki * dh) * wq + ci * 16;
                        for (kj, &wv) in wr.iter().enumerate() {
                            // Output column j reads padded column j * sw + kj * dw: at stride
                            // 2, the half of that offset's parity, half the offset on.
                            let off = kj * dw;
                            let at = base + if sw == 1 { off } else { off % 2 * wh + off / 2 };
                            let Some(src) = plane.get(at..at + 16) else { return };
                            let wv = wv as i32;
                            for (a, &v) in acc.iter_mut().zip(src) {
                                *a += wv * v as i32;
                            }
                        }
                    }
                    let mut q = [0i32; 16];
                    for (qo, &a) in q.iter_mut().zip(&acc) {
                        *qo = from_offset(round_product((a as i64 + bo) as f32, fo), range, zlh[0]);
                    }
                    // A whole block in one store of known length (vectorised), a last
                    // partial one element by element.
                    if let Some(o16) = oc.first_chunk_mut::<16>() {
                        for (yv, &v) in o16.iter_mut().zip(&q) {
                            *yv = to(v as i64);
                        }
                    } else {
                        for (yv, &v) in oc.iter_mut().zip(&q) {
                            *yv = to(v as i64);
                        }
                    }
                }
            }
        }
    }
}

/// `f(Σ (x - x_zero) * w, m)` per output element of a 2-D convolution (1-D: height 1) with
/// i8 weights (zero point 0), summed in i32 over the input channels and taps in order.
/// Weight-stationary, as the float reference kernel: each weight multiplies a run of up
/// to 64 output columns of up to four output channels at once, held in i32 accumulators
/// on the stack; the taps that read padding are skipped (they add zero). `d` = [n, c, h,
/// w, m, group, kh, kw, oh, ow], `s` = [stride h, w, dilation h, w, pad top, left].
#[allow(dead_code, clippy::needless_range_loop)]
fn int_conv2d<X: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[i8],
    x_zero: i32,
    y: &mut [Y],
    d: [usize; 10],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    let [n, c, h, wi, m, group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    let (cg, mg) = (c / group, m / group);
    let taps = kh * kw;
    for b in 0..n {
        let mut oc = 0;
        while oc < m {
            let g = oc / mg;
            let mb = (mg - oc % mg).min(4);
            for i in 0..oh {
                let mut j0 = 0;
                while j0 < ow {
                    let len = (ow - j0).min(INT_COLS);
                    let mut acc = [[0i32; INT_COLS]; 4];
                    for ic in 0..cg {
                        let plane = &x[(b * c + g * cg + ic) * h * wi..][..h * wi];
                        for ki in 0..kh {
                            let r = i * sh + ki * dh;
                            if r < pt || r - pt >= h {
                                continue;
                            }
                            let row = &plane[(r - pt) * wi..][..wi];
                            for kj in 0..kw {
                                let (lo, hi) = int_span(ow, sw, kj * dw, pl, wi);
                                let (lo, hi) = (lo.max(j0), hi.min(j0 + len));
                                if lo >= hi {
                                    continue;
                                }
                                let mut wv = [0i32; 4];
                                for jj in 0..mb {
                                    wv[jj] = w[((oc + jj) * cg + ic) * taps + ki * kw + kj] as i32;
                                }
                                // Input column of output column `lo`.
                                let first = lo * sw + kj * dw - pl;
                                let (a0, a1) = acc.split_at_mut(2);
                                let (r0, r1) = a0.split_at_mut(1);
                                let (r2, r3) = a1.split_at_mut(1);
                                let (r0, r1) = (&mut r0[0][lo - j0..hi - j0], &mut r1[0][lo - j0..hi - j0]);
                                let (r2, r3) = (&mut r2[0][lo - j0..hi - j0], &mut r3[0][lo - j0..hi - j0]);
                                let cnt = hi - lo;
                                if mb == 1 {
                                    // One channel a group (depthwise): one row of sums.
                                    for t in 0..cnt {
                                        let v: i32 = row[first + t * sw].into();
                                        r0[t] += wv[0] * (v - x_zero);
                                    }
                                } else if sw == 1 {
                                    let xr = &row[first..first + cnt];
                                    for t in 0..cnt {
                                        let v: i32 = xr[t].into();
                                        let v = v - x_zero;
                                        r0[t] += wv[0] * v;
                                        r1[t] += wv[1] * v;
                                        r2[t] += wv[2] * v;
                                        r3[t] += wv[3] * v;
                                    }
                                } else {
                                    let xr = &row[first..first + (cnt - 1) * sw + 1];
                                    for t in 0..cnt {
                                        let v: i32 = xr[t * sw].into();
                                        let v = v - x_zero;
                                        r0[t] += wv[0] * v;
                                        r1[t] += wv[1] * v;
                                        r2[t] += wv[2] * v;
                                        r3[t] += wv[3] * v;
                                    }
                                }
                            }
                        }
                    }
                    for jj in 0..mb {
                        let out = &mut y[((b * m + oc + jj) * oh + i) * ow + j0..][..len];
                        for (t, o) in out.iter_mut().enumerate() {
                            *o = f(acc[jj][t], oc + jj);
                        }
                    }
                    j0 += len;
                }
            }
            oc += mb;
        }
    }
}

/// Softmax of quantized rows of `row` elements (see kiln's `IntSoftmaxAttrs`): the row's
/// exponentials from `table` (2^24 · exp(-d · x_scale) for d = max - x), their sum, then
/// each output `f(round(table[d] * recip / (sum * 2^16)))`, all in integers.
#[allow(dead_code)]
fn int_softmax<X: Copy + Into<i32>, Y>(
    x: &[X],
    y: &mut [Y],
    row: usize,
    table: [u32; 256],
    recip: u64,
    f: impl Fn(i64) -> Y,
) {
    for (xr, yr) in x.chunks_exact(row).zip(y.chunks_exact_mut(row)) {
        let (mut mx, mut mn) = (i32::MIN, i32::MAX);
        for &v in xr {
            let v: i32 = v.into();
            mx = mx.max(v);
            mn = mn.min(v);
        }
        let mut sum = 0u64;
        for &v in xr {
            let v: i32 = v.into();
            sum += table[(mx - v) as u8 as usize] as u64;
        }
        let den = (sum as u128) << 16;
        // `den` is positive (the row's largest element adds a whole table entry); checked
        // all the same, so no panic path is left.
        let q = |t: u32| (((t as u128 * recip as u128) << 1) + den).checked_div(den << 1).unwrap_or(0) as i64;
        if xr.len() > 256 {
            // An output depends on `max - x` alone: a row longer than the 256 values that
            // can take divides once per value present, `0..=max - min` (a 128-bit division
            // is a library call of tens of cycles: ppocrv4_rec's rows of 6625 spent 0.8 ms
            // on them).
            let mut outs = [0i64; 256];
            let span = (mx - mn).clamp(0, 255) as usize;
            for (o, &t) in outs.iter_mut().zip(&table).take(span + 1) {
                *o = q(t);
            }
            for (o, &v) in yr.iter_mut().zip(xr) {
                let v: i32 = v.into();
                *o = f(outs[(mx - v) as u8 as usize]);
            }
        } else {
            for (o, &v) in yr.iter_mut().zip(xr) {
                let v: i32 = v.into();
                *o = f(q(table[(mx - v) as u8 as usize]));
            }
        }
    }
}
