//! Padding and splitting an input by stride phase (`pad_split`), and copying runs of the
//! wide output back (`copy_run`, `store_wide`).

use super::*;

/// `copy_run(d, s)`: `d = s` for the runs of a row that `pad_split` and `store_wide` copy.
pub(super) fn copy_run(s: &mut String, l: usize) {
    if l == 1 {
        s.push_str(
            "
/// `d = s`.
#[inline(always)]
fn copy_run(d: &mut [f32], s: &[f32]) {
    d.copy_from_slice(s);
}
",
        );
        return;
    }
    // A run of at most four vectors: two moves of the largest power of two (of elements)
    // that fits, one from each end, overlapping. As loops, both the rest after the whole
    // vectors and the loop over whole vectors themselves became `memcpy` calls (7% of
    // ResNet-8's time, on its 8x8 and 16x16 maps' rows).
    let mut short = String::new();
    let mut w = 2 * l;
    while w >= 1 {
        // The last block ends the function: a `return` there is clippy's needless one.
        let ret = if w > 1 { "\n        return;" } else { "" };
        let _ = writeln!(
            short,
            "    if n >= {w} {{
        if let (Some(d0), Some(s0)) = (d.first_chunk_mut::<{w}>(), s.first_chunk::<{w}>()) {{
            *d0 = *s0;
        }}
        if let (Some(d1), Some(s1)) = (d.get_mut(n - {w}..).and_then(|d| d.first_chunk_mut::<{w}>()), s.get(n - {w}..).and_then(|s| s.first_chunk::<{w}>())) {{
            *d1 = *s1;
        }}{ret}
    }}"
        );
        w /= 2;
    }
    let long = 4 * l;
    let _ = write!(
        s,
        "
/// `d = s`, for runs of a few vectors: by moves of sizes known at compile time.
/// (`copy_from_slice` of a length known only at run time is a `memmove` call, which took
/// longer than the copy on rows of tens of elements: 9% of ResNet-8's time.)
#[inline(always)]
fn copy_run(d: &mut [f32], s: &[f32]) {{
    let n = d.len().min(s.len());
    if n > {long} {{
        let (mut dv, mut sv) = (d.chunks_exact_mut({l}), s.chunks_exact({l}));
        for (d, s) in (&mut dv).zip(&mut sv) {{
            if let (Some(d), Some(s)) = (d.first_chunk_mut::<{l}>(), s.first_chunk::<{l}>()) {{
                *d = *s;
            }}
        }}
        // The last whole vector again, ending at the end.
        if let (Some(d), Some(s)) = (d.get_mut(n - {l}..).and_then(|d| d.first_chunk_mut::<{l}>()), s.get(n - {l}..).and_then(|s| s.first_chunk::<{l}>())) {{
            *d = *s;
        }}
        return;
    }}
{short}}}
"
    );
}

pub(super) const SPLIT_PARAMS: &str =
    "/// A 2-D convolution on its input padded and split by stride phase in scratch: each
/// input channel's padded plane is stored as `strides[0] * strides[1]` phase planes of
/// `hq x wq`, so every tap reads one phase at a fixed offset (`taps`) with unit stride,
/// and output `(r, col)` is column `r * wq + col` of a wide output. `conv_split` works in
/// bands of `band` output rows: the phase planes hold the `hq` phase rows one band reads
/// (`band` is the output's height where the whole input's split fits its scratch). (For
/// `conv_depthwise_lanes`, `hq x wq` is the whole padded map, with a block of channels
/// interleaved, and `taps` are offsets in that block.)
// In a module whose only user is `conv_winograd`, which pads and splits its input with
// `pad_split`, the convolution's own fields are never read.
#[allow(dead_code)]
#[derive(Clone, Copy)]
struct SplitConvParams<const T: usize> {
    batch: usize,
    c_in: usize,
    c_out: usize,
    input: [usize; 2],
    output: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 2],
    hq: usize,
    wq: usize,
    band: usize,
    taps: [usize; T],
    /// `conv_split` runs each panel of output channels over all columns (the whole
    /// input split at once; weights beyond L2), not all panels for each block of columns.
    panels_outer: bool,
}
";

pub(super) const PAD_SPLIT: &str =
    "/// Whether some tap reads each of the first 16 phases (strides up to 4x4; Winograd
/// passes no taps and reads all), for [`pad_split_reading`]: worked out once per call,
/// not per channel and row (per row, the divisions took a third of the stride-2 split's
/// time; per channel, a third of a depthwise step on 3x80 maps).
fn split_reads<const T: usize>(p: &SplitConvParams<T>) -> [bool; 16] {
    let plane = p.hq * p.wq;
    let mut read = [T == 0; 16];
    for &t in &p.taps {
        if let Some(r) = read.get_mut(t / plane.max(1)) {
            *r = true;
        }
    }
    read
}

/// Copies one batch item `x` (`c_in x h x w`) into `s`, padded and split by stride phase
/// (see `SplitConvParams`); zeros the rest of `s`, which the last tile reads past the end.
// `conv_split` and `conv_depthwise` call `pad_split_reading` directly, so alone they
// leave this unused.
#[allow(dead_code)]
fn pad_split<const T: usize>(x: &[f32], s: &mut [f32], p: &SplitConvParams<T>) {
    pad_split_reading(x, s, p, &split_reads(p), 0);
}

/// [`pad_split`] with the phases the taps read (`read`, from [`split_reads`]) given, from
/// phase row `row0` (a band's first output row): each phase plane gets phase rows
/// `row0..row0 + hq`.
fn pad_split_reading<const T: usize>(x: &[f32], s: &mut [f32], p: &SplitConvParams<T>, read: &[bool; 16], row0: usize) {
    let ([h, w], [sh, sw], [ph, pw]) = (p.input, p.strides, p.pads);
    let plane = p.hq * p.wq;
    let channel = sh * sw * plane;
    // Phases past the first 16: worked out when met.
    let reads = |phase: usize| T == 0 || p.taps.iter().any(|&t| t / plane == phase);
    if sw == 2 && w >= 32 && pad_split_pairs(x, s, p, read, row0) {
        return;
    }
    for (c, xc) in x.chunks_exact(h * w).enumerate().take(p.c_in) {
        for a in 0..sh {
            for bb in 0..sw {
                let dst = &mut s[c * channel + (a * sw + bb) * plane..][..plane];
                // Columns j * sw + bb of the padded row: those in the input are j0..j1.
                let j0 = pw.saturating_sub(bb).div_ceil(sw).min(p.wq);
                let j1 = (pw + w).saturating_sub(bb).div_ceil(sw).clamp(j0, p.wq);
                // Zeros first, in one call, then each row's run from the input: on small
                // maps, a fill and a copy call per row cost more than the copy itself.
                dst.fill(0.0);
                // A phase no tap reads stays zero (a 1x1 kernel at stride 2 reads one of
                // four); Winograd's split passes no taps and reads every phase.
                let phase = a * sw + bb;
                if j1 == j0 || !read.get(phase).copied().unwrap_or_else(|| reads(phase)) {
                    continue;
                }
                for (i, row) in dst.chunks_exact_mut(p.wq).enumerate() {
                    let r = (row0 + i) * sh + a;
                    if r < ph || r - ph >= h {
                        continue;
                    }
                    let xr = &xc[(r - ph) * w..][..w];
                    let from = j0 * sw + bb - pw;
                    let run = &mut row[j0..j1];
                    if sw == 1 {
                        copy_run(run, &xr[from..from + run.len()]);
                    } else if sw == 2 {
                        // Stride 2 (the common one) 16 at a time from 31 inputs, arrays of
                        // lengths LLVM knows, so it deinterleaves with vector shuffles
                        // (AVX-512: one two-source permute). As pairs it vectorised only
                        // runs of 64 and more; as a loop over a slice of 31, with gathers
                        // or one element at a time.
                        let src = &xr[from..];
                        let mut full = run.chunks_exact_mut(16);
                        let mut k = 0;
                        for o in &mut full {
                            let (Some(v), Ok(o)) = (src[2 * k..].first_chunk::<31>(), <&mut [f32; 16]>::try_from(o)) else {
                                break;
                            };
                            *o = core::array::from_fn(|l| v[2 * l]);
                            k += 16;
                        }
                        // The rest: the run's last 16 again when it has 16 (the same
                        // values twice), else one at a time.
                        let len = run.len();
                        if k < len && len >= 16 {
                            let at = len - 16;
                            if let (Some(v), Some(o)) = (src.get(2 * at..).and_then(|v| v.first_chunk::<31>()), run.get_mut(at..).and_then(|o| o.first_chunk_mut::<16>())) {
                                *o = core::array::from_fn(|l| v[2 * l]);
                            }
                        } else if k < len {
                            for (o, v) in run[k..].iter_mut().zip(src[2 * k..].chunks(2)) {
                                *o = v[0];
                            }
                        }
                    } else {
                        for (o, v) in run.iter_mut().zip(xr[from..].iter().step_by(sw)) {
                            *o = *v;
                        }
                    }
                }
            }
        }
    }
    s[p.c_in * channel..].fill(0.0);
}

/// `pad_split` at column stride 2 for rows of 32 and more, if each row's two column phases
/// fit their planes' width (else false, nothing written): each input row is read once, 32
/// at a time, and dealt into its even and odd columns (two vector permutes on AVX-512),
/// which go to the two column phases of its row phase. (Phase by phase, each row was read
/// twice and each run's tail copied one element at a time: a depthwise convolution at
/// stride 2 spent three quarters of its time here.)
fn pad_split_pairs<const T: usize>(x: &[f32], s: &mut [f32], p: &SplitConvParams<T>, read: &[bool; 16], row0: usize) -> bool {
    let ([h, w], [sh, _], [ph, pw]) = (p.input, p.strides, p.pads);
    let (plane, wq) = (p.hq * p.wq, p.wq);
    let channel = sh * 2 * plane;
    // Input column `x` is padded column `x + pw` = `2 j + phase`: the even ones go to phase
    // `pw % 2` from `j = pw / 2`, the odd ones to the other phase from `(pw + 1) / 2`.
    let (even_phase, even_at, odd_at) = (pw % 2, pw / 2, pw.div_ceil(2));
    if sh > 4 || even_at + w.div_ceil(2) > wq || odd_at + w / 2 > wq || s.len() < p.c_in * channel {
        return false;
    }
    let last = (w - 32) & !1;
    for (c, xc) in x.chunks_exact(h * w).enumerate().take(p.c_in) {
        let cs = &mut s[c * channel..][..channel];
        cs.fill(0.0);
        // Input row `r` is padded row `r + ph`, phase row `(r + ph) / sh`: from the band's
        // first.
        let first = (row0 * sh).saturating_sub(ph);
        for (r, xr) in xc.chunks_exact(w).enumerate().skip(first) {
            let (a, i) = ((r + ph) % sh, (r + ph) / sh - row0);
            if i >= p.hq {
                break;
            }
            let (pe, po) = (a * 2 + even_phase, a * 2 + 1 - even_phase);
            let (re, ro) = (pe * plane + i * wq + even_at, po * plane + i * wq + odd_at);
            let (we, wo) = (read.get(pe) != Some(&false), read.get(po) != Some(&false));
            // Whole blocks of 32, then the last 32 (from an even column) again.
            let mut m = 0;
            while m < w {
                let at = if m + 32 <= w { m } else { last };
                if let Some(v) = xr.get(at..).and_then(|v| v.first_chunk::<32>()) {
                    let e: [f32; 16] = core::array::from_fn(|l| v[2 * l]);
                    let o: [f32; 16] = core::array::from_fn(|l| v[2 * l + 1]);
                    if let Some(d) = cs.get_mut(re + at / 2..).and_then(|d| d.first_chunk_mut::<16>()).filter(|_| we) {
                        *d = e;
                    }
                    if let Some(d) = cs.get_mut(ro + at / 2..).and_then(|d| d.first_chunk_mut::<16>()).filter(|_| wo) {
                        *d = o;
                    }
                }
                m += 32;
            }
            // An odd width's last column, which the last block (from an even column) misses.
            let odd_last = cs.get_mut(re + w / 2).filter(|_| !w.is_multiple_of(2) && we);
            if let (Some(d), Some(&v)) = (odd_last, xr.last()) {
                *d = v;
            }
        }
    }
    s[p.c_in * channel..].fill(0.0);
    true
}
";

/// `wide_runs` and `store_wide`: a tile's columns of the wide output to the output planes.
pub(super) fn store_wide(s: &mut String, t: Tiling) {
    // A run is at least one column: a tile of `nr` columns has at most `nr` of them.
    let most = t.room();
    let _ = write!(
        s,
        "/// The runs of columns `q..q + cols` of the wide output that are output columns (not
/// the padding columns past the output's width): per run its first column in the tile,
/// its offset in a channel's plane and its length; and how many there are. Worked out
/// once per block of columns, not per output row of each channel.
fn wide_runs<const T: usize>(q: usize, cols: usize, p: &SplitConvParams<T>) -> ([(usize, usize, usize); {most}], usize) {{
    let [oh, ow] = p.output;
    let wide = oh * p.wq;
    let mut runs = [(0, 0, 0); {most}];
    let (mut j, mut n) = (0, 0);
    while j < cols && q + j < wide && n < {most} {{
        let (r, col) = ((q + j) / p.wq, (q + j) % p.wq);
        let run = (p.wq - col).min(cols - j).min(wide - q - j);
        if col < ow {{
            runs[n] = (j, r * ow + col, run.min(ow - col));
            n += 1;
        }}
        j += run;
    }}
    (runs, n)
}}

/// Stores a tile's row `src` (one channel's columns of the wide output) by `runs` (see
/// `wide_runs`) into that channel's plane at `y[plane..]`.
fn store_wide(src: &[f32], runs: &[(usize, usize, usize)], y: &mut [f32], plane: usize) {{
    for &(j, at, len) in runs {{
        if let (Some(d), Some(s)) = (y.get_mut(plane + at..plane + at + len), src.get(j..j + len)) {{
            copy_run(d, s);
        }}
    }}
}}

/// `store_wide`, adding the tile's row to what the plane holds (a later block of input
/// channels' sums, see `conv_split`'s `panels_outer`).
fn add_wide(src: &[f32], runs: &[(usize, usize, usize)], y: &mut [f32], plane: usize) {{
    for &(j, at, len) in runs {{
        if let (Some(d), Some(s)) = (y.get_mut(plane + at..plane + at + len), src.get(j..j + len)) {{
            for (d, &s) in d.iter_mut().zip(s) {{
                *d += s;
            }}
        }}
    }}
}}
"
    );
}
