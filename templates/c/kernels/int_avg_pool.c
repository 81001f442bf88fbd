/* f(sum (x - x_zero)) over each kh x kw window (strides sh, sw, every window full) of each
 * of the planes planes of h x w. d = [planes, h, w, kh, kw, sh, sw, oh, ow]. */
static void int_avg_pool_$S(const $X *x, size_t xn, $Y *y, size_t yn, int32_t x_zero, const size_t *d, size_t nd,
    $Y (*f)(kiln_ctx, int32_t), kiln_ctx fc)
{
    size_t planes = d[0], h = d[1], w = d[2], kh = d[3], kw = d[4], sh = d[5], sw = d[6], oh = d[7], ow = d[8];
    size_t p, i, j, ki, kj;
    (void)xn; (void)yn; (void)nd;
    for (p = 0; p < planes; p++) {
        const $X *plane = x + p * h * w;
        for (i = 0; i < oh; i++) {
            for (j = 0; j < ow; j++) {
                int32_t acc = 0;
                for (ki = 0; ki < kh; ki++) {
                    for (kj = 0; kj < kw; kj++) {
                        acc += (int32_t)plane[(i * sh + ki) * w + j * sw + kj] - x_zero;
                    }
                }
                y[(p * oh + i) * ow + j] = f(fc, acc);
            }
        }
    }
}
