/* f(sum_t (a[r, t] - a_zero) * b[t, j], j) for each row r of A (rows x k) and column j of B
 * (k x n, i8, zero point 0), summed exactly in i32. dims = [rows, k, n]. */
static void int_gemm_$S(const $A *a, size_t an, const int8_t *b, size_t bn, int32_t a_zero, $Y *y, size_t yn,
    const size_t *dims, size_t nd, $Y (*f)(kiln_ctx, int32_t, size_t), kiln_ctx fc)
{
    size_t rows = dims[0], k = dims[1], n = dims[2], r, j, t;
    (void)an; (void)bn; (void)yn; (void)nd;
    for (r = 0; r < rows; r++) {
        for (j = 0; j < n; j++) {
            int32_t acc = 0;
            for (t = 0; t < k; t++) {
                acc += ((int32_t)a[r * k + t] - a_zero) * (int32_t)b[t * n + j];
            }
            y[r * n + j] = f(fc, acc, j);
        }
    }
}
