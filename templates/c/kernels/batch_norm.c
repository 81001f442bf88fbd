/* Inference batch normalisation per channel over planes of inner elements. */
static void batch_norm_f32(const float *x, size_t xn, float *y, size_t yn,
    const float *scale, size_t n0, const float *bias, size_t n1, const float *mean, size_t n2,
    const float *var, size_t n3, float epsilon, size_t channels, size_t inner)
{
    size_t p, i;
    (void)xn; (void)n0; (void)n1; (void)n2; (void)n3;
    if (inner == 0) {
        return;
    }
    for (p = 0; (p + 1) * inner <= yn; p++) {
        size_t c = p % channels;
        float den = sqrt_f32(var[c] + epsilon);
        for (i = 0; i < inner; i++) {
            size_t at = p * inner + i;
            y[at] = (x[at] - mean[c]) / den * scale[c] + bias[c];
        }
    }
}
