/* y[o] = f(group o) for the output elements in order: group o holds the elements of x at
 * one position of the kept axes (kept, steps kept_strides, outermost first) and every
 * position of the reduced axes (red, steps red_strides); an empty reduced axis gives
 * empty groups. */
static void reduce_$S(const $X *x, size_t xn, $Y *y, size_t yn, const size_t *kept, size_t k,
    const size_t *kept_strides, size_t nks, const size_t *red, size_t q, const size_t *red_strides, size_t nrs,
    $Y (*f)(kiln_ctx, kiln_group_$XNAME), kiln_ctx fc)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t count = 1, base = 0, o, d;
    (void)xn; (void)nks; (void)nrs;
    for (d = 0; d < q; d++) {
        count *= red[d];
    }
    for (o = 0; o < yn; o++) {
        kiln_group_$XNAME g;
        g.x = x;
        g.shape = red;
        g.strides = red_strides;
        g.q = q;
        g.at = base;
        g.left = count;
        for (d = 0; d < KILN_MAX_RANK; d++) {
            g.idx[d] = 0;
        }
        y[o] = f(fc, g);
        d = k;
        while (d > 0) {
            d--;
            idx[d]++;
            base += kept_strides[d];
            if (idx[d] < kept[d]) {
                break;
            }
            base -= kept_strides[d] * kept[d];
            idx[d] = 0;
        }
    }
}
