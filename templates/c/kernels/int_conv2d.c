/* f(sum (x - x_zero) * w, m) per output element of a 2-D convolution (1-D: height 1) with
 * i8 weights (zero point 0), summed exactly in i32; taps reading padding add nothing.
 * d = [n, c, h, w, m, group, kh, kw, oh, ow], s = [stride h, w, dilation h, w, pad top,
 * left]. */
static void int_conv2d_$S(const $X *x, size_t xn, const int8_t *w, size_t wn, int32_t x_zero, $Y *y, size_t yn,
    const size_t *d, size_t nd, const size_t *s, size_t ns, $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t n = d[0], c = d[1], h = d[2], wi = d[3], m = d[4], group = d[5], kh = d[6], kw = d[7];
    size_t oh = d[8], ow = d[9], sh = s[0], sw = s[1], dh = s[2], dw = s[3], pt = s[4], pl = s[5];
    size_t cg = c / group, mg = m / group, b, oc, i, j, ic, ki, kj;
    (void)xn; (void)wn; (void)yn; (void)nd; (void)ns;
    for (b = 0; b < n; b++) {
        for (oc = 0; oc < m; oc++) {
            size_t g = oc / mg;
            for (i = 0; i < oh; i++) {
                for (j = 0; j < ow; j++) {
                    int32_t acc = 0;
                    for (ic = 0; ic < cg; ic++) {
                        const $X *plane = x + (b * c + g * cg + ic) * h * wi;
                        for (ki = 0; ki < kh; ki++) {
                            size_t r = i * sh + ki * dh;
                            if (r < pt || r - pt >= h) {
                                continue;
                            }
                            for (kj = 0; kj < kw; kj++) {
                                size_t q = j * sw + kj * dw;
                                if (q < pl || q - pl >= wi) {
                                    continue;
                                }
                                acc += ((int32_t)plane[(r - pt) * wi + q - pl] - x_zero)
                                    * (int32_t)w[((oc * cg + ic) * kh + ki) * kw + kj];
                            }
                        }
                    }
                    y[((b * m + oc) * oh + i) * ow + j] = f(fc, acc, oc);
                }
            }
        }
    }
}
