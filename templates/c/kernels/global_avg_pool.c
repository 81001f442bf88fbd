/* The mean of each of the yn planes of len elements, then the fused epilogue. */
static void global_avg_pool_f32(const float *x, size_t xn, float *y, size_t yn, size_t len,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t p, i;
    (void)xn;
    for (p = 0; p < yn; p++) {
        float sum = 0.0f;
        for (i = 0; i < len; i++) {
            sum = sum + x[p * len + i];
        }
        y[p] = sum / (float)len;
    }
    if (epi) {
        epi(ec, 0, y, yn);
    }
}
