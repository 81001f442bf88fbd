/* Writes y in row-major order over shape (rank r >= 1, y non-empty), reading x at
 * sum(index[d] * xs[d]): the input strides permuted. */
static void transpose_$S(const $T *x, size_t xn, $T *y, size_t yn, const size_t *shape, size_t r,
    const size_t *xs, size_t rx)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t inner = shape[r - 1], step = xs[r - 1], off = 0, row, j;
    (void)xn; (void)rx;
    for (row = 0; row + inner <= yn; row += inner) {
        size_t d = r - 1;
        for (j = 0; j < inner; j++) {
            y[row + j] = x[off + j * step];
        }
        while (d > 0) {
            d--;
            idx[d]++;
            off += xs[d];
            if (idx[d] < shape[d]) {
                break;
            }
            off -= xs[d] * shape[d];
            idx[d] = 0;
        }
    }
}
