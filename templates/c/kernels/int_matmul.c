/* f((A - a_zp) x (B - b_zp)) per output element, accumulated in i32 wrapping (computed
 * unsigned, where C defines overflow): A is batch x m x k, B k x n (or a stack of batch
 * when batched is 1); a zero point is one value or one per row of A / column of B.
 * dims = [batch, m, k, n, batched]. */
static void int_matmul_$S(const $A *a, size_t an, const $B *b, size_t bn, const $A *a_zp, size_t naz,
    const $B *b_zp, size_t nbz, $Y *y, size_t yn, const size_t *dims, size_t nd, $Y (*f)(kiln_ctx, int32_t), kiln_ctx fc)
{
    size_t batch = dims[0], m = dims[1], k = dims[2], n = dims[3], batched = dims[4], p, i, j, t;
    (void)an; (void)bn; (void)yn; (void)nd;
    for (p = 0; p < batch; p++) {
        size_t ao = p * m * k, bo = p * k * n * batched;
        for (i = 0; i < m; i++) {
            int32_t za = (int32_t)a_zp[naz == 1 ? 0 : i];
            for (j = 0; j < n; j++) {
                int32_t zb = (int32_t)b_zp[nbz == 1 ? 0 : j];
                uint32_t acc = 0;
                for (t = 0; t < k; t++) {
                    int32_t av = (int32_t)a[ao + i * k + t], bv = (int32_t)b[bo + t * n + j];
                    acc += (uint32_t)(av - za) * (uint32_t)(bv - zb);
                }
                y[(p * m + i) * n + j] = f(fc, (int32_t)acc);
            }
        }
    }
}
