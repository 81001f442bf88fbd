/* int_gemm by SMLAD: each row of (A - a_zero) as 16-bit pairs in col (zero past k), times
 * four columns of B at a time (packed in SMLAD quads of four-output panels). dims = [rows,
 * k, n]. */
KILN_SPECIALISED void int_gemm_dsp_$S(const $A *a, size_t an, const int8_t *b, size_t bn, int32_t a_zero, $Y *y, size_t yn,
    uint32_t *col, size_t coln, const size_t *dims, size_t nd, $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t rows = dims[0], k = dims[1], n = dims[2], kcols = (k + 3) / 4 * 4, words = kcols / 2;
    size_t r, p, j, t;
    (void)an; (void)bn; (void)yn; (void)nd;
    if (coln < words) {
        return;
    }
    for (r = 0; r < rows; r++) {
        const $A *ar = a + r * k;
        for (p = 0; p < k / 2; p++) {
            col[p] = kiln_pair((int32_t)ar[2 * p] - a_zero, (int32_t)ar[2 * p + 1] - a_zero);
        }
        if (k % 2 == 1) {
            col[p++] = kiln_pair((int32_t)ar[k - 1] - a_zero, 0);
        }
        for (; p < words; p++) {
            col[p] = 0;
        }
        for (j = 0; j < n; j += 4) {
            int32_t acc[4] = { 0, 0, 0, 0 };
            kiln_dot4(col, words, b + j * kcols, acc);
            for (t = 0; t < 4 && j + t < n; t++) {
                y[r * n + j + t] = f(fc, acc[t], j + t);
            }
        }
    }
}
