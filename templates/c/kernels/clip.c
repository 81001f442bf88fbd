/* Clamps to lo then to hi; a missing bound does not clamp, lo > hi gives hi, NaN passes. */
static void clip_$S(const $T *x, size_t xn, $T *y, size_t yn, int has_lo, $T lo, int has_hi, $T hi)
{
    size_t i;
    (void)xn;
    for (i = 0; i < yn; i++) {
        $T v = x[i];
        if (has_lo && v < lo) {
            v = lo;
        }
        if (has_hi && v > hi) {
            v = hi;
        }
        y[i] = v;
    }
}
