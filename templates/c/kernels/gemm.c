/* Gemm shapes: A' is m x k, B' is k x n; C (if any) is read at
 * i * c_strides[0] + j * c_strides[1], with 0 strides on broadcast axes. */
typedef struct {
    size_t m, n, k;
    int trans_a, trans_b;
    size_t c_strides[2];
} GemmParams;

/* Y = alpha * A' B' + beta * C, then the fused epilogue on each finished row. Each output
 * sums its products in order of q from zero, as the reference kernel does. */
static void gemm_f32(const float *a, size_t an, const float *b, size_t bn, const float *c, size_t cn,
    float *y, size_t yn, const GemmParams *p, float alpha, float beta,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t m = p->m, n = p->n, k = p->k, i, j, q;
    (void)an; (void)bn; (void)cn; (void)yn;
    for (i = 0; i < m; i++) {
        float *row = y + i * n;
        for (j = 0; j < n; j++) {
            float acc = 0.0f, v;
            for (q = 0; q < k; q++) {
                float av = p->trans_a ? a[q * m + i] : a[i * k + q];
                float bv = p->trans_b ? b[j * k + q] : b[q * n + j];
                acc = acc + av * bv;
            }
            v = alpha * acc;
            row[j] = c ? v + beta * c[i * p->c_strides[0] + j * p->c_strides[1]] : v;
        }
        if (epi) {
            epi(ec, i * n, row, n);
        }
    }
}
