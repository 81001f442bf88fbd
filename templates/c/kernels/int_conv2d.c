/* f(sum (x - x_zero) * w, m) per output element of a 2-D convolution (1-D: height 1) with
 * i8 weights (zero point 0), summed exactly in i32; taps reading padding add nothing.
 * d = [n, c, h, w, m, group, kh, kw, oh, ow], s = [stride h, w, dilation h, w, pad top,
 * left]. Each output's taps inside the input are found first (a range per axis), so the
 * inner loop has no bounds test: a test per tap made a depthwise 3x3 about 300 instructions
 * an output on a Cortex-M4. */
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
                /* Kernel rows ki0..ki1 read rows pt..pt + h of the padded input. */
                size_t r0 = i * sh, ki0 = 0, ki1;
                if (r0 < pt) {
                    ki0 = (pt - r0 + dh - 1) / dh;
                }
                ki1 = r0 >= pt + h ? 0 : (pt + h - r0 + dh - 1) / dh;
                ki1 = ki1 > kh ? kh : ki1;
                for (j = 0; j < ow; j++) {
                    size_t q0 = j * sw, kj0 = 0, kj1;
                    int32_t acc = 0;
                    if (q0 < pl) {
                        kj0 = (pl - q0 + dw - 1) / dw;
                    }
                    kj1 = q0 >= pl + wi ? 0 : (pl + wi - q0 + dw - 1) / dw;
                    kj1 = kj1 > kw ? kw : kj1;
                    for (ic = 0; ic < cg; ic++) {
                        const $X *plane = x + (b * c + g * cg + ic) * h * wi;
                        const int8_t *wk = w + (oc * cg + ic) * kh * kw;
                        for (ki = ki0; ki < ki1 && kj0 < kj1; ki++) {
                            /* The first tap inside: no pointer before the plane is formed. */
                            const $X *row = plane + (r0 + ki * dh - pt) * wi + (q0 + kj0 * dw - pl);
                            const int8_t *wr = wk + ki * kw + kj0;
                            if (kj1 - kj0 == 3 && dw == 1) {
                                /* A whole 3-tap row (depthwise 3x3s), without a loop. */
                                acc += ((int32_t)row[0] - x_zero) * (int32_t)wr[0]
                                    + ((int32_t)row[1] - x_zero) * (int32_t)wr[1]
                                    + ((int32_t)row[2] - x_zero) * (int32_t)wr[2];
                                continue;
                            }
                            for (kj = 0; kj < kj1 - kj0; kj++) {
                                acc += ((int32_t)row[kj * dw] - x_zero) * (int32_t)wr[kj];
                            }
                        }
                    }
                    y[((b * m + oc) * oh + i) * ow + j] = f(fc, acc, oc);
                }
            }
        }
    }
}
