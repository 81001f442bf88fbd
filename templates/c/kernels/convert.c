/* y[i] = f(x[i]) into another element type. */
static void convert_$S(const $X *x, size_t xn, $Y *y, size_t yn, $Y (*f)(kiln_ctx, $X), kiln_ctx fc)
{
    size_t i;
    (void)xn;
    for (i = 0; i < yn; i++) {
        y[i] = f(fc, x[i]);
    }
}
