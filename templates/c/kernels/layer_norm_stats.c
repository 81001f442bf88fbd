/* The statistics of a layer normalisation of rows of len elements: each row's mean and
 * 1 / sqrt(var + epsilon), into whichever of mean and inv_std is given. */
static void layer_norm_stats_f32(const float *x, size_t xn, float *mean, size_t mn, float *inv_std, size_t sn,
    float epsilon, size_t len)
{
    size_t r, i;
    float n = (float)len;
    (void)mn; (void)sn;
    if (len == 0) {
        return;
    }
    for (r = 0; (r + 1) * len <= xn; r++) {
        const float *xr = x + r * len;
        float sum = 0.0f, sq = 0.0f, m;
        for (i = 0; i < len; i++) {
            sum = sum + xr[i];
        }
        m = sum / n;
        for (i = 0; i < len; i++) {
            float d = xr[i] - m;
            sq = sq + d * d;
        }
        if (mean) {
            mean[r] = m;
        }
        if (inv_std) {
            inv_std[r] = 1.0f / sqrt_f32(sq / n + epsilon);
        }
    }
}
