/* int_conv2d of one group by SMLAD: per output position, its column of (x - x_zero) over
 * taps and input channels (tap-major, channels in pairs, each kernel row's run padded to
 * whole quads; padding zero)
 * is built in col as 16-bit pairs, then multiplied by four output channels' weights at a
 * time (w packed in SMLAD quads of four-output panels). d and s as for int_conv2d. */
KILN_SPECIALISED void int_conv_dsp_$S(const $X *x, size_t xn, const int8_t *w, size_t wn, int32_t x_zero, $Y *y, size_t yn,
    uint32_t *col, size_t coln, const size_t *d, size_t nd, const size_t *s, size_t ns,
    $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t n = d[0], c = d[1], h = d[2], wi = d[3], m = d[4], kh = d[6], kw = d[7];
    size_t oh = d[8], ow = d[9], sh = s[0], sw = s[1], dh = s[2], dw = s[3], pt = s[4], pl = s[5];
    size_t plane = h * wi, half = (c + 1) / 2, kcols = kh * ((kw * half * 2 + 3) / 4 * 4);
    size_t words = kcols / 2, b, i, j, ki, kj, p, t, oc;
    (void)xn; (void)wn; (void)yn; (void)nd; (void)ns;
    if (coln < words) {
        return;
    }
    for (b = 0; b < n; b++) {
        const $X *xb = x + b * c * plane;
        for (i = 0; i < oh; i++) {
            for (j = 0; j < ow; j++) {
                uint32_t *o = col;
                for (ki = 0; ki < kh; ki++) {
                    size_t r = i * sh + ki * dh;
                    for (kj = 0; kj < kw; kj++) {
                        size_t q = j * sw + kj * dw;
                        if (r < pt || r - pt >= h || q < pl || q - pl >= wi) {
                            for (p = 0; p < half; p++) {
                                *o++ = 0;
                            }
                        } else {
                            const $X *xs = xb + (r - pt) * wi + (q - pl);
                            for (p = 0; p < c / 2; p++) {
                                *o++ = kiln_pair((int32_t)xs[2 * p * plane] - x_zero,
                                    (int32_t)xs[(2 * p + 1) * plane] - x_zero);
                            }
                            if (c % 2 == 1) {
                                *o++ = kiln_pair((int32_t)xs[(c - 1) * plane] - x_zero, 0);
                            }
                        }
                    }
                    /* Each kernel row's run is padded to whole quads. */
                    if (kw * half % 2 == 1) {
                        *o++ = 0;
                    }
                }
                while (o < col + words) {
                    *o++ = 0;
                }
                for (oc = 0; oc < m; oc += 4) {
                    int32_t acc[4] = { 0, 0, 0, 0 };
                    kiln_dot4(col, words, w + oc * kcols, acc);
                    for (t = 0; t < 4 && oc + t < m; t++) {
                        y[((b * m + oc + t) * oh + i) * ow + j] = f(fc, acc[t], oc + t);
                    }
                }
            }
        }
    }
}
