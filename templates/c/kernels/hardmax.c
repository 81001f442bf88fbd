/* Hardmax over groups of len elements inner apart: one at the first maximum of each group
 * (a NaN, as numpy's argmax), zero elsewhere. */
static void hardmax_$S(const $T *x, size_t xn, $T *y, size_t yn, size_t outer, size_t len, size_t inner, $T zero, $T one)
{
    size_t o, i, j;
    (void)xn; (void)yn;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * len * inner + i, best = 0;
            for (j = 1; j < len; j++) {
                $T v = x[base + j * inner], b = x[base + best * inner];
                if (b == b && (v != v || v > b)) {
                    best = j;
                }
            }
            for (j = 0; j < len; j++) {
                y[base + j * inner] = j == best ? one : zero;
            }
        }
    }
}
