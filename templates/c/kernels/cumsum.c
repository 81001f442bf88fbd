/* Running sums over groups of len elements inner apart; exclusive leaves each element out
 * of its own sum, reverse runs from the end. */
static void cumsum_$S(const $T *x, size_t xn, $T *y, size_t yn, size_t outer, size_t len, size_t inner,
    int exclusive, int reverse)
{
    size_t o, i, k;
    (void)xn; (void)yn;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            $T sum = 0;
            for (k = 0; k < len; k++) {
                size_t j = reverse ? len - 1 - k : k;
                size_t at = (o * len + j) * inner + i;
                $T v = x[at];
                if (exclusive) {
                    y[at] = sum;
                    sum = ($T)(sum + v);
                } else {
                    sum = ($T)(sum + v);
                    y[at] = sum;
                }
            }
        }
    }
}
