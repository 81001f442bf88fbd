/* One kernel row's taps of int_conv_dw_dsp's four outputs a[0..4]: q the ring row's words
 * from the first output's, wk the row's weights (see there). */
KILN_SPECIALISED void int_conv_dw_dsp_taps_$S(const uint32_t *q, const uint32_t *wk, size_t sw, int32_t *a)
{
    if (sw == 1) {
        uint32_t qa = q[0], qb = q[1], qc = q[2];
        a[0] = kiln_smlad(qb, wk[1], kiln_smlad(qa, wk[0], a[0]));
        a[1] = kiln_smlad(qb, wk[3], kiln_smladx(qa, wk[2], a[1]));
        a[2] = kiln_smlad(qc, wk[1], kiln_smlad(qb, wk[0], a[2]));
        a[3] = kiln_smlad(qc, wk[3], kiln_smladx(qb, wk[2], a[3]));
    } else {
        uint32_t qa = q[0], qb = q[1], qc = q[2], qd = q[3], qe = q[4];
        a[0] = kiln_smlad(qb, wk[1], kiln_smlad(qa, wk[0], a[0]));
        a[1] = kiln_smlad(qc, wk[1], kiln_smlad(qb, wk[0], a[1]));
        a[2] = kiln_smlad(qd, wk[1], kiln_smlad(qc, wk[0], a[2]));
        a[3] = kiln_smlad(qe, wk[1], kiln_smlad(qd, wk[0], a[3]));
    }
}

/* int_conv_dw_dsp's outputs of one row, four at a time (see there). Three kernel rows
 * (every such model's) are written out: gcc -O2 kept the rows' loop, with its pointer
 * loads, although kh was a constant. */
KILN_SPECIALISED void int_conv_dw_dsp_row_$S(const uint32_t *const *ring, uint32_t (*wt)[4], size_t kh, size_t sw,
    size_t steps, size_t ow, $Y *yr, $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc, size_t ch)
{
    size_t t, k;
    for (t = 0; t < steps; t++) {
        int32_t a[4] = { 0, 0, 0, 0 };
        size_t at = 2 * sw * t;
        if (kh == 3) {
            int_conv_dw_dsp_taps_$S(ring[0] + at, wt[0], sw, a);
            int_conv_dw_dsp_taps_$S(ring[1] + at, wt[1], sw, a);
            int_conv_dw_dsp_taps_$S(ring[2] + at, wt[2], sw, a);
        } else {
            for (k = 0; k < kh; k++) {
                int_conv_dw_dsp_taps_$S(ring[k] + at, wt[k], sw, a);
            }
        }
        k = 4 * t;
        yr[k] = f(fc, a[0], ch);
        if (k + 1 < ow) {
            yr[k + 1] = f(fc, a[1], ch);
        }
        if (k + 2 < ow) {
            yr[k + 2] = f(fc, a[2], ch);
        }
        if (k + 3 < ow) {
            yr[k + 3] = f(fc, a[3], ch);
        }
    }
}

/* A depthwise convolution (d and s as for int_conv2d, one input channel per output) with
 * kernels three wide, stride 1 or 2 along the width, no dilation; w packed per channel and
 * kernel row as the bytes w0 w2 w1 0 w0 w1 0 w2 (SXTB16 of the two words gives (w0, w1),
 * (w2, 0), (w0, 0), (w1, w2)). Per channel, the input rows go through a ring of kh slots
 * in rows as 16-bit pairs of neighbouring columns (zero for padding), each converted once;
 * four outputs of a row are summed at a time with SMLAD/SMLADX on the words as they lie.
 * At stride 1, with a = (x0, x1), b = (x2, x3), c = (x4, x5): output 0 is a.(w0, w1) +
 * b.(w2, 0), output 1 a x (w0, 0) + b.(w1, w2) (x: halves crossed), outputs 2 and 3 the
 * same a word on; at stride 2 output k is word k.(w0, w1) + word k+1.(w2, 0). */
KILN_SPECIALISED void int_conv_dw_dsp_$S(const $X *x, size_t xn, const int8_t *w, size_t wn, int32_t x_zero, $Y *y,
    size_t yn, uint32_t *rows, size_t rowsn, const size_t *d, size_t nd, const size_t *s, size_t ns,
    $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t n = d[0], c = d[1], h = d[2], wi = d[3], kh = d[6], oh = d[8], ow = d[9];
    size_t sh = s[0], sw = s[1], pt = s[4], pl = s[5], plane = h * wi, steps = (ow + 3) / 4;
    size_t len = sw == 1 ? 2 * steps + 1 : 4 * steps + 1, b, ch, i, r, k;
    uint32_t wt[8][4];
    const uint32_t *ring[8];
    (void)xn; (void)wn; (void)yn; (void)nd; (void)ns;
    if (kh == 0 || kh > 8 || (sw != 1 && sw != 2) || rowsn < kh * len) {
        return;
    }
    for (b = 0; b < n; b++) {
        for (ch = 0; ch < c; ch++) {
            const $X *xc = x + (b * c + ch) * plane;
            size_t next = 0;
            for (k = 0; k < kh; k++) {
                uint32_t lo = kiln_word(w + (ch * kh + k) * 8), hi = kiln_word(w + (ch * kh + k) * 8 + 4);
                wt[k][0] = kiln_sxtb16(lo);
                wt[k][1] = kiln_sxtb16_hi(lo);
                wt[k][2] = kiln_sxtb16(hi);
                wt[k][3] = kiln_sxtb16_hi(hi);
            }
            for (i = 0; i < oh; i++) {
                size_t first = i * sh % kh;
                $Y *yr = y + ((b * c + ch) * oh + i) * ow;
                /* The padded input rows below next are in the ring (row r in slot r % kh). */
                for (r = i * sh > next ? i * sh : next; r < i * sh + kh; r++) {
                    uint32_t *o = rows + r % kh * len;
                    const $X *src;
                    size_t q, lo = pl, hi = pl + wi < 2 * len ? pl + wi : 2 * len;
                    if (r < pt || r - pt >= h || lo >= hi) {
                        for (q = 0; q < len; q++) {
                            o[q] = 0;
                        }
                        continue;
                    }
                    /* Zeros only in the words the row's values do not fill (a word per
                     * column pair: the rows are most of the depthwise layers' stores). */
                    for (q = 0; q < lo / 2; q++) {
                        o[q] = 0;
                    }
                    for (q = (hi + 1) / 2; q < len; q++) {
                        o[q] = 0;
                    }
                    src = xc + (r - pt) * wi;
                    /* Padded column xx holds src[xx - pl] - x_zero: an odd first column
                     * shares its word with the padding, then whole pairs, then a last
                     * half. */
                    if (lo % 2 == 1 && lo < hi) {
                        o[lo / 2] = kiln_pair(0, (int32_t)src[0] - x_zero);
                        lo++;
                    }
                    for (; lo + 1 < hi; lo += 2) {
                        o[lo / 2] = kiln_pair((int32_t)src[lo - pl] - x_zero, (int32_t)src[lo + 1 - pl] - x_zero);
                    }
                    if (lo < hi) {
                        o[lo / 2] = kiln_pair((int32_t)src[lo - pl] - x_zero, 0);
                    }
                }
                next = i * sh + kh;
                for (k = 0; k < kh; k++) {
                    ring[k] = rows + (first + k) % kh * len;
                }
                int_conv_dw_dsp_row_$S(ring, wt, kh, sw, steps, ow, yr, f, fc, ch);
            }
        }
    }
}
