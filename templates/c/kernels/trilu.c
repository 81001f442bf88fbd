/* Trilu over rows x cols matrices: keeps element (i, j) when j - i >= k (upper) or
 * j - i <= k (lower), else zero. */
static void trilu_$S(const $T *x, size_t xn, $T *y, size_t yn, size_t rows, size_t cols, int64_t k, int upper)
{
    size_t f;
    (void)xn;
    for (f = 0; f < yn; f++) {
        int64_t d = (int64_t)(f % cols) - (int64_t)((f / cols) % rows);
        y[f] = ((upper && d >= k) || (!upper && d <= k)) ? x[f] : 0;
    }
}
