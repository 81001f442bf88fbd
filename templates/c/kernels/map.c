/* y[i] = f(x[i]). */
static void map_$S(const $T *x, size_t xn, $T *y, size_t yn, $T (*f)(kiln_ctx, $T), kiln_ctx fc)
{
    size_t i;
    (void)xn;
    for (i = 0; i < yn; i++) {
        y[i] = f(fc, x[i]);
    }
}
