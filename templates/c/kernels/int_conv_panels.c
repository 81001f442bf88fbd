/* int_conv2d of one group with w packed in panels of d[10] output channels
 * (w[p][k][P], k over input channel and tap, padded with zeros). */
static void int_conv_panels_$S(const $X *x, size_t xn, const int8_t *w, size_t wn, int32_t x_zero, $Y *y, size_t yn,
    const size_t *d, size_t nd, const size_t *s, size_t ns, $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t n = d[0], c = d[1], h = d[2], wi = d[3], m = d[4], kh = d[6], kw = d[7];
    size_t oh = d[8], ow = d[9], sh = s[0], sw = s[1], dh = s[2], dw = s[3], pt = s[4], pl = s[5];
    size_t pw = d[10], taps = kh * kw, k = c * taps, b, oc, i, j, ic, ki, kj;
    (void)xn; (void)wn; (void)yn; (void)nd; (void)ns;
    for (b = 0; b < n; b++) {
        for (oc = 0; oc < m; oc++) {
            const int8_t *wp = w + (oc / pw) * pw * k;
            size_t lane = oc % pw;
            for (i = 0; i < oh; i++) {
                for (j = 0; j < ow; j++) {
                    int32_t acc = 0;
                    for (ki = 0; ki < kh; ki++) {
                        size_t r = i * sh + ki * dh;
                        if (r < pt || r - pt >= h) {
                            continue;
                        }
                        for (kj = 0; kj < kw; kj++) {
                            size_t q = j * sw + kj * dw;
                            size_t at;
                            if (q < pl || q - pl >= wi) {
                                continue;
                            }
                            at = (r - pt) * wi + q - pl;
                            for (ic = 0; ic < c; ic++) {
                                acc += ((int32_t)x[(b * c + ic) * h * wi + at] - x_zero)
                                    * (int32_t)wp[(ic * taps + ki * kw + kj) * pw + lane];
                            }
                        }
                    }
                    y[((b * m + oc) * oh + i) * ow + j] = f(fc, acc, oc);
                }
            }
        }
    }
}
