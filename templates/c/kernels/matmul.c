/* Batched matrix product shapes: each of the batch (broadcast) matrices is m x k times
 * k x n; a_strides/b_strides step each operand per batch axis, 0 where it broadcasts. */
typedef struct {
    size_t m, k, n;
    const size_t *batch; size_t batch_len;
    const size_t *a_strides; size_t a_strides_len;
    const size_t *b_strides; size_t b_strides_len;
} MatMulParams;

/* numpy matmul over broadcast batch axes (y non-empty), then the epilogue on each row. */
static void matmul_f32(const float *a, size_t an, const float *b, size_t bn, float *y, size_t yn,
    const MatMulParams *p, void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t m = p->m, k = p->k, n = p->n, r = p->batch_len;
    size_t idx[KILN_MAX_RANK] = {0};
    size_t oa = 0, ob = 0, bi, i, j, q;
    (void)an; (void)bn;
    for (bi = 0; m * n > 0 && (bi + 1) * m * n <= yn; bi++) {
        const float *am = a + oa, *bm = b + ob;
        size_t d = r;
        for (i = 0; i < m; i++) {
            float *row = y + (bi * m + i) * n;
            for (j = 0; j < n; j++) {
                row[j] = 0.0f;
            }
            for (q = 0; q < k; q++) {
                float av = am[i * k + q];
                const float *brow = bm + q * n;
                for (j = 0; j < n; j++) {
                    row[j] = row[j] + av * brow[j];
                }
            }
            if (epi) {
                epi(ec, (bi * m + i) * n, row, n);
            }
        }
        while (d > 0) {
            d--;
            idx[d]++;
            oa += p->a_strides[d];
            ob += p->b_strides[d];
            if (idx[d] < p->batch[d]) {
                break;
            }
            oa -= p->a_strides[d] * p->batch[d];
            ob -= p->b_strides[d] * p->batch[d];
            idx[d] = 0;
        }
    }
}
