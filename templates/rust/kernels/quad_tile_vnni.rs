/// One tile of the quad kernels (`kiln compile --intrinsics`): x86's AVX-512 VNNI
/// (`VPDPBUSD`, sixty-four u8 by i8 products a vector instruction) where the code is
/// compiled for it (e.g. `-C target-cpu=native` on such a machine), else AVX2's
/// `VPMADDWD` (sixteen products of 16-bit values) where compiled for that,
/// [`quad_tile_safe`] elsewhere. The same sums either way (wrapping i32).
#[allow(dead_code)]
#[inline(always)]
fn quad_tile<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512vnni"))]
    kiln_vnni::quad_tile::<R, P>(rows, ko, g, w, acc);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2", not(all(target_feature = "avx512f", target_feature = "avx512vnni"))))]
    kiln_vnni::avx2::quad_tile::<R, P>(rows, ko, g, w, acc);
    #[cfg(not(all(target_arch = "x86_64", any(target_feature = "avx2", all(target_feature = "avx512f", target_feature = "avx512vnni")))))]
    quad_tile_safe::<R, P>(rows, ko, g, w, acc);
}

/// One tile of the wide-row quad kernel: VNNI or AVX2 where compiled for them, else
/// [`quad_row_tile_safe`] (see [`quad_tile`]).
#[allow(dead_code)]
#[inline(always)]
fn quad_row_tile<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512vnni"))]
    kiln_vnni::quad_row_tile::<MR, NV>(rows, ko, g, w, acc);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2", not(all(target_feature = "avx512f", target_feature = "avx512vnni"))))]
    kiln_vnni::avx2::quad_row_tile::<MR, NV>(rows, ko, g, w, acc);
    #[cfg(not(all(target_arch = "x86_64", any(target_feature = "avx2", all(target_feature = "avx512f", target_feature = "avx512vnni")))))]
    quad_row_tile_safe::<MR, NV>(rows, ko, g, w, acc);
}

/// A fused output table over u8 outputs, in place: sixty-four lookups by two AVX-512
/// VBMI byte permutes and a blend where the code is compiled for them, else
/// [`quad_lut_safe`]. The same bytes either way.
#[allow(dead_code)]
#[inline(always)]
fn quad_lut(y: &mut [u8], table: &[u8]) {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512vnni", target_feature = "avx512bw", target_feature = "avx512vbmi"))]
    kiln_vnni::lut(y, table);
    #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f", target_feature = "avx512vnni", target_feature = "avx512bw", target_feature = "avx512vbmi")))]
    quad_lut_safe(y, table);
}

/// The only `unsafe` code kiln emits, and only with `--intrinsics`: `core::arch` calls,
/// whose functions Rust makes `unsafe` to call outside a function with the same target
/// features, and unaligned vector loads and stores from ranges checked in bounds first.
#[cfg(all(target_arch = "x86_64", any(target_feature = "avx2", all(target_feature = "avx512f", target_feature = "avx512vnni"))))]
#[allow(unsafe_code)]
mod kiln_vnni {
    /// Whether a quad tile's shape is in range and every read of it (`R` positions by `P`
    /// panels, `g` as for `quad_tile`) is inside `rows` and `w`: checked once, not per load.
    #[inline(always)]
    fn tile_fits<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; super::QUAD_KH], g: [usize; 5], w: &[i8]) -> bool {
        let [at, ps, kh, seg, wstride] = g;
        if R == 0 || P == 0 || R * P > 16 || kh == 0 || kh > super::QUAD_KH || seg == 0 {
            return false;
        }
        let x_end = ko.iter().take(kh).max().copied().unwrap_or(0) + at + (R - 1) * ps + seg;
        let w_end = (P - 1) * wstride + kh * seg * 64;
        rows.len() >= x_end && w.len() >= w_end
    }

    /// [`tile_fits`] for a row tile (`MR` outputs by `NV` vectors, `g` as for
    /// `quad_row_tile`): the largest offset of a tap's vector, plus its sixteen words.
    #[inline(always)]
    fn row_tile_fits<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; super::QUAD_KH], g: [usize; 7], w: &[i8]) -> bool {
        let [j0, sw, wq, kh, kw, quads, t0] = g;
        if MR == 0 || MR > 16 || NV == 0 || NV > 2 || t0 + MR > 16 || kh == 0 || kh > super::QUAD_KH || kw == 0 || quads == 0 || sw == 0 {
            return false;
        }
        let tap_max = (0..kw).map(|kj| (kj % sw) * wq + kj / sw).max().unwrap_or(0);
        let x_end = ko.iter().take(kh).max().copied().unwrap_or(0) + (quads - 1) * sw * wq + tap_max + j0 + 16 * NV;
        let w_end = kh * kw * quads * 64;
        rows.len() >= x_end && w.len() >= w_end
    }

    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni"))]
    use core::arch::x86_64::{__m512i, _mm512_dpbusd_epi32, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_storeu_si512};

    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni"))]
    /// [`super::quad_tile_safe`]'s sums, `R x P` accumulator vectors in registers.
    #[inline(always)]
    pub(super) fn quad_tile<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; super::QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
        // SAFETY: this module is compiled only where the crate's target features include
        // AVX-512F and VNNI (the `cfg` above), so the CPU running it has them.
        unsafe { tile::<R, P>(rows, ko, g, w, acc) }
    }

    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni"))]
    #[target_feature(enable = "avx512f,avx512vnni")]
    fn tile<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; super::QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
        // Every read below is inside the bounds `tile_fits` checks (its `x_end`, `w_end`).
        if !tile_fits::<R, P>(rows, ko, g, w) {
            return;
        }
        let [at, ps, kh, seg, wstride] = g;
        let (xp, wp) = (rows.as_ptr(), w.as_ptr());
        let mut sum = [[_mm512_setzero_si512(); P]; R];
        for (ki, &off) in ko.iter().enumerate().take(kh) {
            for s in 0..seg {
                let mut wv = [_mm512_setzero_si512(); P];
                for (p, v) in wv.iter_mut().enumerate() {
                    // SAFETY: p * wstride + (ki * seg + s + 1) * 64 <= w_end <= w.len().
                    *v = unsafe { _mm512_loadu_si512(wp.add(p * wstride + (ki * seg + s) * 64).cast::<__m512i>()) };
                }
                for (r, sr) in sum.iter_mut().enumerate() {
                    // SAFETY: off + at + r * ps + s < x_end <= rows.len().
                    let word = unsafe { *xp.add(off + at + r * ps + s) };
                    let xv = _mm512_set1_epi32(word as i32);
                    for (a, &v) in sr.iter_mut().zip(&wv) {
                        *a = _mm512_dpbusd_epi32(*a, xv, v);
                    }
                }
            }
        }
        for (r, sr) in sum.iter().enumerate() {
            for (p, &v) in sr.iter().enumerate() {
                let out = &mut acc[r * P + p];
                // SAFETY: `out` is sixteen i32, the 64 bytes stored.
                unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast::<__m512i>(), v) };
            }
        }
    }

    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni"))]
    /// [`super::quad_row_tile_safe`]'s sums, `MR x NV` accumulator vectors in registers.
    #[inline(always)]
    pub(super) fn quad_row_tile<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; super::QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
        // SAFETY: as for `quad_tile`.
        unsafe { row_tile::<MR, NV>(rows, ko, g, w, acc) }
    }

    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni"))]
    #[target_feature(enable = "avx512f,avx512vnni")]
    fn row_tile<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; super::QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
        // Every read below is inside the bounds `row_tile_fits` checks.
        if !row_tile_fits::<MR, NV>(rows, ko, g, w) {
            return;
        }
        let [j0, sw, wq, kh, kw, quads, t0] = g;
        let (xp, wp) = (rows.as_ptr(), w.as_ptr());
        let mut sum = [[_mm512_setzero_si512(); NV]; MR];
        for (ki, &off) in ko.iter().enumerate().take(kh) {
            for kj in 0..kw {
                let base = off + (kj % sw) * wq + kj / sw + j0;
                for q in 0..quads {
                    let at = base + q * sw * wq;
                    let k4 = (ki * kw + kj) * quads + q;
                    let mut xv = [_mm512_setzero_si512(); NV];
                    for (v, x) in xv.iter_mut().enumerate() {
                        // SAFETY: at + 16 * v + 16 <= x_end <= rows.len().
                        *x = unsafe { _mm512_loadu_si512(xp.add(at + 16 * v).cast::<__m512i>()) };
                    }
                    for (t, st) in sum.iter_mut().enumerate() {
                        // SAFETY: (k4 * 16 + t0 + t) * 4 + 4 <= k4 * 64 + 64 <= w_end <= w.len().
                        let word = unsafe { core::ptr::read_unaligned(wp.add((k4 * 16 + t0 + t) * 4).cast::<i32>()) };
                        let wb = _mm512_set1_epi32(word);
                        for (a, &x) in st.iter_mut().zip(&xv) {
                            *a = _mm512_dpbusd_epi32(*a, x, wb);
                        }
                    }
                }
            }
        }
        for (t, st) in sum.iter().enumerate() {
            for (v, &a) in st.iter().enumerate() {
                let out = &mut acc[t][v];
                // SAFETY: `out` is sixteen i32, the 64 bytes stored.
                unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast::<__m512i>(), a) };
            }
        }
    }

    /// [`super::quad_lut_safe`]'s bytes, sixty-four at a time: entries 0-127 and 128-255
    /// each by one two-table byte permute (the index's low seven bits), the index's top bit
    /// choosing between them.
    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni", target_feature = "avx512bw", target_feature = "avx512vbmi"))]
    #[inline(always)]
    pub(super) fn lut(y: &mut [u8], table: &[u8]) {
        let Some(t) = table.first_chunk::<256>() else { return };
        // SAFETY: this function is compiled only where the crate's target features include
        // AVX-512F, BW and VBMI (the `cfg`s above), so the CPU running it has them.
        unsafe { lut_vbmi(y, t) }
    }

    #[cfg(all(target_feature = "avx512f", target_feature = "avx512vnni", target_feature = "avx512bw", target_feature = "avx512vbmi"))]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    fn lut_vbmi(y: &mut [u8], t: &[u8; 256]) {
        use core::arch::x86_64::{_mm512_mask_blend_epi8, _mm512_movepi8_mask, _mm512_permutex2var_epi8};
        let tp = t.as_ptr().cast::<__m512i>();
        // SAFETY: `t` is 256 bytes: four vectors of 64.
        let [t0, t1, t2, t3] = [0, 1, 2, 3].map(|k| unsafe { _mm512_loadu_si512(tp.add(k)) });
        let mut chunks = y.chunks_exact_mut(64);
        for c in &mut chunks {
            let p = c.as_mut_ptr().cast::<__m512i>();
            // SAFETY: `c` is 64 bytes, loaded and stored whole.
            let idx = unsafe { _mm512_loadu_si512(p) };
            let low = _mm512_permutex2var_epi8(t0, idx, t1);
            let high = _mm512_permutex2var_epi8(t2, idx, t3);
            let v = _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);
            // SAFETY: as the load.
            unsafe { _mm512_storeu_si512(p, v) };
        }
        for v in chunks.into_remainder() {
            *v = t[*v as usize];
        }
    }

    /// The AVX2 tiles (x86 without AVX-512 VNNI): each word's four u8 activations
    /// zero-extended to 16 bits and broadcast, times four outputs' four weights
    /// sign-extended to 16 bits, by `VPMADDWD`: eight i32 lanes of two products each, two
    /// lanes an output (its channels 0-1 and 2-3), added up once at the end. u8 by i8
    /// products sum exactly in 16-bit pairs (at most 2 * 255 * 128 in size), so the sums
    /// are the portable tiles' (wrapping i32). Two positions (or two outputs) at a time:
    /// their eight accumulators, four operand vectors and a broadcast fill 13 of the 16
    /// registers.
    #[cfg(all(target_feature = "avx2", not(all(target_feature = "avx512f", target_feature = "avx512vnni"))))]
    pub(super) mod avx2 {
        use core::arch::x86_64::{__m256i, _mm256_add_epi32, _mm256_broadcastq_epi64, _mm256_cvtepi8_epi16, _mm256_cvtepu8_epi16, _mm256_hadd_epi32, _mm256_madd_epi16, _mm256_permute4x64_epi64, _mm256_setzero_si256, _mm256_storeu_si256, _mm_cvtepi8_epi16, _mm_cvtepu8_epi16, _mm_cvtsi32_si128, _mm_loadu_si128};

        /// [`super::super::quad_tile_safe`]'s sums, two positions of one panel at a time.
        #[inline(always)]
        pub(in super::super) fn quad_tile<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; super::super::QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
            // SAFETY: this module is compiled only where the crate's target features
            // include AVX2 (the `cfg` above), so the CPU running it has them.
            unsafe { tile::<R, P>(rows, ko, g, w, acc) }
        }

        #[target_feature(enable = "avx2")]
        fn tile<const R: usize, const P: usize>(rows: &[u32], ko: &[usize; super::super::QUAD_KH], g: [usize; 5], w: &[i8], acc: &mut [[i32; 16]; 16]) {
            // Every read of `positions` is inside the bounds `tile_fits` checks.
            if !super::tile_fits::<R, P>(rows, ko, g, w) {
                return;
            }
            let [at, ps, kh, seg, wstride] = g;
            for p in 0..P {
                let mut r = 0;
                while r < R {
                    let n = if R - r >= 2 { 2 } else { 1 };
                    let mut out = [[0i32; 16]; 2];
                    if n == 2 {
                        positions::<2>(rows, ko, [at + r * ps, ps, kh, seg, p * wstride], w, &mut out);
                    } else {
                        positions::<1>(rows, ko, [at + r * ps, ps, kh, seg, p * wstride], w, &mut out);
                    }
                    for (i, o) in out.iter().enumerate().take(n) {
                        acc[(r + i) * P + p] = *o;
                    }
                    r += n;
                }
            }
        }

        /// `N` positions (`ps` apart from `at`) of the panel at `w[w0..]`; the caller has
        /// checked every read in bounds.
        #[target_feature(enable = "avx2")]
        #[inline]
        fn positions<const N: usize>(rows: &[u32], ko: &[usize; super::super::QUAD_KH], g: [usize; 5], w: &[i8], out: &mut [[i32; 16]; 2]) {
            let [at, ps, kh, seg, w0] = g;
            let (xp, wp) = (rows.as_ptr(), w.as_ptr());
            let mut sum = [[_mm256_setzero_si256(); 4]; N];
            for (ki, &off) in ko.iter().enumerate().take(kh) {
                for s in 0..seg {
                    let mut wv = [_mm256_setzero_si256(); 4];
                    for (q, v) in wv.iter_mut().enumerate() {
                        // SAFETY: w0 + (ki * seg + s) * 64 + 16 * q + 16 <= w_end <= w.len().
                        *v = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(wp.add(w0 + (ki * seg + s) * 64 + 16 * q).cast()) });
                    }
                    for (i, si) in sum.iter_mut().enumerate() {
                        // SAFETY: off + at + i * ps + s < x_end <= rows.len().
                        let word = unsafe { *xp.add(off + at + i * ps + s) };
                        let xv = _mm256_broadcastq_epi64(_mm_cvtepu8_epi16(_mm_cvtsi32_si128(word as i32)));
                        for (a, &v) in si.iter_mut().zip(&wv) {
                            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(xv, v));
                        }
                    }
                }
            }
            for (o, si) in out.iter_mut().zip(&sum) {
                *o = halves(si);
            }
        }

        /// Sixteen sums from four vectors of eight lanes, each lane pair `2j, 2j + 1` the
        /// two halves of sum `j` of its vector's four: adjacent lanes added (within each
        /// 128-bit half, so the 64-bit pieces come out as sums 0-1, 4-5, 2-3, 6-7 and are put
        /// back in order).
        #[target_feature(enable = "avx2")]
        #[inline]
        fn halves(v: &[__m256i; 4]) -> [i32; 16] {
            let mut out = [0i32; 16];
            for (k, o) in out.chunks_exact_mut(8).enumerate() {
                let s = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(v[2 * k], v[2 * k + 1]));
                // SAFETY: `o` is eight i32, the 32 bytes stored.
                unsafe { _mm256_storeu_si256(o.as_mut_ptr().cast::<__m256i>(), s) };
            }
            out
        }

        /// [`super::super::quad_row_tile_safe`]'s sums, two outputs at a time.
        #[inline(always)]
        pub(in super::super) fn quad_row_tile<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; super::super::QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
            // SAFETY: as for `quad_tile`.
            unsafe { row_tile::<MR, NV>(rows, ko, g, w, acc) }
        }

        #[target_feature(enable = "avx2")]
        fn row_tile<const MR: usize, const NV: usize>(rows: &[u32], ko: &[usize; super::super::QUAD_KH], g: [usize; 7], w: &[i8], acc: &mut [[[i32; 16]; 2]; 16]) {
            // Every read of `outputs` is inside the bounds `row_tile_fits` checks.
            if !super::row_tile_fits::<MR, NV>(rows, ko, g, w) {
                return;
            }
            let [j0, sw, wq, kh, kw, quads, t0] = g;
            for v in 0..NV {
                let mut t = 0;
                while t < MR {
                    let n = if MR - t >= 2 { 2 } else { 1 };
                    let mut out = [[0i32; 16]; 2];
                    if n == 2 {
                        outputs::<2>(rows, ko, [j0 + 16 * v, sw, wq, kh, kw, quads, t0 + t], w, &mut out);
                    } else {
                        outputs::<1>(rows, ko, [j0 + 16 * v, sw, wq, kh, kw, quads, t0 + t], w, &mut out);
                    }
                    for (i, o) in out.iter().enumerate().take(n) {
                        acc[t + i][v] = *o;
                    }
                    t += n;
                }
            }
        }

        /// `N` outputs (from `t0`) at sixteen positions (from `j0`); the caller has checked
        /// every read in bounds.
        #[target_feature(enable = "avx2")]
        #[inline]
        fn outputs<const N: usize>(rows: &[u32], ko: &[usize; super::super::QUAD_KH], g: [usize; 7], w: &[i8], out: &mut [[i32; 16]; 2]) {
            let [j0, sw, wq, kh, kw, quads, t0] = g;
            let (xp, wp) = (rows.as_ptr(), w.as_ptr());
            let mut sum = [[_mm256_setzero_si256(); 4]; N];
            for (ki, &off) in ko.iter().enumerate().take(kh) {
                for kj in 0..kw {
                    let base = off + (kj % sw) * wq + kj / sw + j0;
                    for q in 0..quads {
                        let at = base + q * sw * wq;
                        let k4 = (ki * kw + kj) * quads + q;
                        let mut xv = [_mm256_setzero_si256(); 4];
                        for (c, x) in xv.iter_mut().enumerate() {
                            // SAFETY: at + 4 * c + 4 <= at + 16 <= x_end <= rows.len().
                            *x = _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(xp.add(at + 4 * c).cast()) });
                        }
                        for (i, st) in sum.iter_mut().enumerate() {
                            // SAFETY: (k4 * 16 + t0 + i) * 4 + 4 <= k4 * 64 + 64 <= w_end <= w.len().
                            let word = unsafe { core::ptr::read_unaligned(wp.add((k4 * 16 + t0 + i) * 4).cast::<i32>()) };
                            let wb = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(word)));
                            for (a, &x) in st.iter_mut().zip(&xv) {
                                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(x, wb));
                            }
                        }
                    }
                }
            }
            for (o, st) in out.iter_mut().zip(&sum) {
                *o = halves(st);
            }
        }
    }
}
