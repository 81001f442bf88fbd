/* Writes y in row-major order over shape (rank r >= 1, y non-empty), reading x at
 * base + sum(index[d] * xs[d]): an affine view. Strides may be negative or zero. */
static void strided_$S(const $T *x, size_t xn, $T *y, size_t yn, size_t base, const size_t *shape, size_t r,
    const ptrdiff_t *xs, size_t rx)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t inner = shape[r - 1], row, j;
    ptrdiff_t step = xs[r - 1], off = (ptrdiff_t)base;
    (void)xn; (void)rx;
    for (row = 0; row + inner <= yn; row += inner) {
        size_t d = r - 1;
        for (j = 0; j < inner; j++) {
            y[row + j] = x[off + (ptrdiff_t)j * step];
        }
        while (d > 0) {
            d--;
            idx[d]++;
            off += xs[d];
            if (idx[d] < shape[d]) {
                break;
            }
            off -= xs[d] * (ptrdiff_t)shape[d];
            idx[d] = 0;
        }
    }
}
