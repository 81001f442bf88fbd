/* y = f(a, b) with numpy broadcasting: shape is the output shape with adjacent axes
 * merged (rank r >= 1, y non-empty), sa and sb each operand's element strides along it,
 * 0 on broadcast axes. */
static void broadcast_$S(const $A *a, size_t an, const $B *b, size_t bn, $T *y, size_t yn,
    const size_t *shape, size_t r, const size_t *sa, size_t ra, const size_t *sb, size_t rb,
    $T (*f)(kiln_ctx, $A, $B), kiln_ctx fc)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t inner = shape[r - 1], oa = 0, ob = 0, row, j;
    (void)an; (void)bn; (void)ra; (void)rb;
    for (row = 0; row + inner <= yn; row += inner) {
        $T *o = y + row;
        size_t d = r - 1;
        for (j = 0; j < inner; j++) {
            o[j] = f(fc, a[oa + j * sa[r - 1]], b[ob + j * sb[r - 1]]);
        }
        /* Odometer over the outer axes, moving both operand offsets along. */
        while (d > 0) {
            d--;
            idx[d]++;
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < shape[d]) {
                break;
            }
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}
