/* Gather along one axis: for each outer block of x (d rows of inner elements), the rows idx
 * names, in order; negative indices count from the end, one out of range gives zeros. */
static void gather_rows_$S(const $T *x, size_t xn, const $I *idx, size_t ni, $T *y, size_t yn, size_t d, size_t inner)
{
    size_t rows = ni * inner, o, t, j;
    if (d * inner == 0 || rows == 0) {
        for (j = 0; j < yn; j++) {
            y[j] = 0;
        }
        return;
    }
    for (o = 0; (o + 1) * d * inner <= xn && (o + 1) * rows <= yn; o++) {
        for (t = 0; t < ni; t++) {
            int64_t i = (int64_t)idx[t];
            $T *out = y + o * rows + t * inner;
            if (i < 0) {
                i += (int64_t)d;
            }
            for (j = 0; j < inner; j++) {
                out[j] = (i >= 0 && (uint64_t)i < (uint64_t)d) ? x[(o * d + (size_t)i) * inner + j] : 0;
            }
        }
    }
}
