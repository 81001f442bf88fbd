/* int_conv_dsp with the input rows in scratch (d[7] = kw, no dilation along the width):
 * for each output row, the kh input rows it reads as 16-bit pairs of channels,
 * rows[ki][x][pair] over the wpad = (ow - 1) * sw + kw columns of the padded row (zero for
 * padding), so each input value is converted once per kernel row, not once per tap. The
 * operand of output column j for kernel row ki is the kw * pairs words at x = j * sw
 * (padded to a multiple of two words; the weights there are zero). Two output columns
 * at a time, two outputs a pass (kiln_dot2x2: all four outputs at once spills the eight
 * sums under gcc, measured slower on a Cortex-M4). */
KILN_SPECIALISED void int_conv_dsp_rows$V_$S(const $X *x, size_t xn, const $WT *w, size_t wn, int32_t x_zero, $Y *y,
    size_t yn, uint32_t *rows, size_t rowsn, const size_t *d, size_t nd, const size_t *s, size_t ns,
    $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t n = d[0], c = d[1], h = d[2], wi = d[3], m = d[4], kh = d[6], kw = d[7];
    size_t oh = d[8], ow = d[9], sh = s[0], sw = s[1], dh = s[2], pt = s[4], pl = s[5];
    size_t plane = h * wi, pairs = (c + 1) / 2, wpad = ow > 0 ? (ow - 1) * sw + kw : 0;
    size_t seg = (kw * pairs * 2 + 3) / 4 * 4, kcols = kh * seg, b, i, j, ki, xx, p, t, oc;
    (void)xn; (void)wn; (void)yn; (void)nd; (void)ns;
    if (rowsn < kh * wpad * pairs + 2) {
        return;
    }
    for (b = 0; b < n; b++) {
        const $X *xb = x + b * c * plane;
        /* Without row dilation, padded input row r lives in slot r % kh, and an output row
         * builds only the rows the previous ones have not: with stride 1 one row. */
        size_t next = 0, len = wpad * pairs;
        for (i = 0; i < oh; i++) {
            size_t first = dh == 1 ? i * sh % kh : 0;
            for (ki = 0; ki < kh; ki++) {
                size_t r = i * sh + ki * dh, sl = dh == 1 ? r % kh : ki;
                uint32_t *o = rows + sl * len;
                int inside = r >= pt && r - pt < h;
                if (dh == 1 && r < next) {
                    continue;
                }
                for (xx = 0; xx < wpad; xx++) {
                    const $X *xs;
                    if (!inside || xx < pl || xx - pl >= wi) {
                        for (p = 0; p < pairs; p++) {
                            *o++ = 0;
                        }
                        continue;
                    }
                    xs = xb + (r - pt) * wi + (xx - pl);
                    for (p = 0; p < c / 2; p++) {
                        *o++ = kiln_pair((int32_t)xs[2 * p * plane] - x_zero, (int32_t)xs[(2 * p + 1) * plane] - x_zero);
                    }
                    if (c % 2 == 1) {
                        *o++ = kiln_pair((int32_t)xs[(c - 1) * plane] - x_zero, 0);
                    }
                }
            }
            next = i * sh + kh;
            for (j = 0; j < ow; j += 2) {
                size_t at = j * sw * pairs;
                for (oc = 0; oc < m; oc += 4) {
                    const $WT *wp = w + oc * kcols / 4 * $WQ;
                    if (j + 1 < ow) {
                        /* Each pair of outputs requantized from its sums as they are: a
                         * four-word local the inlined kiln_conv2x2 keeps in registers
                         * (an array of all eight took two trips through memory). */
                        for (t = 0; t < 4 && oc + t < m; t += 2) {
                            int32_t sums[4];
                            size_t at_y = ((b * m + oc + t) * oh + i) * ow + j;
                            /* Not an initializer: gcc may make one a memset call. */
                            sums[0] = sums[1] = sums[2] = sums[3] = 0;
                            kiln_conv2x2$V(rows, len, kh, first, at, sw * pairs, seg / 2, wp + t * $WQ, seg * $WQ, sums);
                            y[at_y] = f(fc, sums[0], oc + t);
                            y[at_y + 1] = f(fc, sums[2], oc + t);
                            if (oc + t + 1 < m) {
                                y[at_y + oh * ow] = f(fc, sums[1], oc + t + 1);
                                y[at_y + oh * ow + 1] = f(fc, sums[3], oc + t + 1);
                            }
                        }
                    } else {
                        int32_t acc[4];
                        acc[0] = acc[1] = acc[2] = acc[3] = 0;
                        for (ki = 0; ki < kh; ki++) {
                            kiln_dot4$V(rows + (first + ki) % kh * len + at, seg / 2, wp + ki * seg * $WQ, acc);
                        }
                        for (t = 0; t < 4 && oc + t < m; t++) {
                            y[((b * m + oc + t) * oh + i) * ow + j] = f(fc, acc[t], oc + t);
                        }
                    }
                }
            }
        }
    }
}
