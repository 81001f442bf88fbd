/* y = c ? a : b with numpy broadcasting of all three (Where): shape is the output shape
 * with adjacent axes merged (rank r >= 1, y non-empty); sc, sa and sb each operand's
 * element strides along it, 0 on broadcast axes. */
static void select_$S(const _Bool *c, size_t cn, const $T *a, size_t an, const $T *b, size_t bn, $T *y, size_t yn,
    const size_t *shape, size_t r, const size_t *sc, size_t rc, const size_t *sa, size_t ra, const size_t *sb, size_t rb)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t inner = shape[r - 1], oc = 0, oa = 0, ob = 0, row, e;
    (void)cn; (void)an; (void)bn; (void)rc; (void)ra; (void)rb;
    for (row = 0; row + inner <= yn; row += inner) {
        size_t d = r - 1;
        for (e = 0; e < inner; e++) {
            y[row + e] = c[oc + e * sc[r - 1]] ? a[oa + e * sa[r - 1]] : b[ob + e * sb[r - 1]];
        }
        while (d > 0) {
            d--;
            idx[d]++;
            oc += sc[d];
            oa += sa[d];
            ob += sb[d];
            if (idx[d] < shape[d]) {
                break;
            }
            oc -= sc[d] * shape[d];
            oa -= sa[d] * shape[d];
            ob -= sb[d] * shape[d];
            idx[d] = 0;
        }
    }
}
