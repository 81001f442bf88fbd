/* LogSoftmax over groups of len elements inner apart: x - max - ln(sum(e^(x - max))), the
 * group maximum subtracted first; NaN inputs do not take part in the maximum. */
static void log_softmax_f32(const float *x, size_t xn, float *y, size_t yn, size_t outer, size_t len, size_t inner,
    float (*ln)(float))
{
    size_t o, i, j;
    (void)xn; (void)yn;
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            float max = -KILN_INF_F32, sum = 0.0f, shift;
            for (j = 0; j < len; j++) {
                if (x[base + j * inner] > max) {
                    max = x[base + j * inner];
                }
            }
            for (j = 0; j < len; j++) {
                sum = sum + exp_f32(x[base + j * inner] - max);
            }
            shift = max + ln(sum);
            for (j = 0; j < len; j++) {
                y[base + j * inner] = x[base + j * inner] - shift;
            }
        }
    }
}
