/* y = f(y, x) with numpy broadcasting of x (strides sx along the merged output shape). */
static void broadcast_in_place_$S($T *y, size_t yn, const $T *x, size_t xn,
    const size_t *shape, size_t r, const size_t *sx, size_t rx, $T (*f)(kiln_ctx, $T, $T), kiln_ctx fc)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t inner = shape[r - 1], ox = 0, row, j;
    (void)xn; (void)rx;
    for (row = 0; row + inner <= yn; row += inner) {
        $T *o = y + row;
        size_t d = r - 1;
        for (j = 0; j < inner; j++) {
            o[j] = f(fc, o[j], x[ox + j * sx[r - 1]]);
        }
        while (d > 0) {
            d--;
            idx[d]++;
            ox += sx[d];
            if (idx[d] < shape[d]) {
                break;
            }
            ox -= sx[d] * shape[d];
            idx[d] = 0;
        }
    }
}
