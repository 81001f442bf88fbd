/* y[e] = f(x[e], k) over an outer x axis x inner view, where k is the element's scale (and
 * zero point) number: o * st[0] + (a / block) * st[1] + i * st[2]. dims = [outer, axis,
 * inner, block]. */
static void affine_map_$S(const $X *x, size_t xn, $Y *y, size_t yn, const size_t *dims, size_t nd,
    const size_t *st, size_t ns, $Y (*f)(kiln_ctx, $X, size_t), kiln_ctx fc)
{
    size_t e = 0, o, a, i;
    (void)xn; (void)yn; (void)nd; (void)ns;
    for (o = 0; o < dims[0]; o++) {
        for (a = 0; a < dims[1]; a++) {
            size_t base = o * st[0] + (a / dims[3]) * st[1];
            for (i = 0; i < dims[2]; i++) {
                y[e] = f(fc, x[e], base + i * st[2]);
                e++;
            }
        }
    }
}
