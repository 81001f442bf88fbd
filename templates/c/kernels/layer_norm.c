/* Layer normalisation of rows of len elements; scale and bias repeat along the row. */
static void layer_norm_f32(const float *x, size_t xn, float *y, size_t yn, const float *scale, size_t sn,
    const float *bias, size_t bn, float epsilon, size_t len)
{
    size_t r, i;
    float n = (float)len;
    (void)xn;
    if (len == 0) {
        return;
    }
    for (r = 0; r + len <= yn; r += len) {
        const float *xr = x + r;
        float *yr = y + r;
        float sum = 0.0f, sq = 0.0f, mean, den;
        size_t s = 0, b = 0;
        for (i = 0; i < len; i++) {
            sum = sum + xr[i];
        }
        mean = sum / n;
        for (i = 0; i < len; i++) {
            float d = xr[i] - mean;
            sq = sq + d * d;
        }
        den = sqrt_f32(sq / n + epsilon);
        for (i = 0; i < len; i++) {
            float v = (xr[i] - mean) / den * scale[s];
            if (++s == sn) {
                s = 0;
            }
            if (bias) {
                v = v + bias[b];
                if (++b == bn) {
                    b = 0;
                }
            }
            yr[i] = v;
        }
    }
}
