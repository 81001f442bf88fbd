/* Softmax of one contiguous group: the maximum and the sum kept in 16 partial lanes, then
 * combined in order, as the Rust kernel does, so both sum in the same order. */
static void softmax_row_f32(const float *x, float *y, size_t len)
{
    float lanes[16];
    float max = -KILN_INF_F32, sum = 0.0f;
    size_t i, full = len / 16 * 16;
    for (i = 0; i < 16; i++) {
        lanes[i] = -KILN_INF_F32;
    }
    for (i = 0; i < full; i++) {
        if (x[i] > lanes[i % 16]) {
            lanes[i % 16] = x[i];
        }
    }
    for (i = 0; i < 16; i++) {
        if (lanes[i] > max) {
            max = lanes[i];
        }
    }
    for (i = full; i < len; i++) {
        if (x[i] > max) {
            max = x[i];
        }
    }
    for (i = 0; i < len; i++) {
        y[i] = exp_f32(x[i] - max);
    }
    for (i = 0; i < 16; i++) {
        lanes[i] = 0.0f;
    }
    for (i = 0; i < full; i++) {
        lanes[i % 16] = lanes[i % 16] + y[i];
    }
    for (i = 0; i < 16; i++) {
        sum = sum + lanes[i];
    }
    for (i = full; i < len; i++) {
        sum = sum + y[i];
    }
    for (i = 0; i < len; i++) {
        y[i] = y[i] / sum;
    }
}

/* Softmax over groups of len elements inner apart (outer * len * inner in all), with the
 * group maximum subtracted first; NaN inputs do not take part in the maximum. */
static void softmax_f32(const float *x, size_t xn, float *y, size_t yn, size_t outer, size_t len, size_t inner)
{
    size_t o, i, j;
    (void)xn; (void)yn;
    if (len == 0) {
        return;
    }
    if (inner == 1) {
        for (o = 0; o < outer; o++) {
            softmax_row_f32(x + o * len, y + o * len, len);
        }
        return;
    }
    for (o = 0; o < outer; o++) {
        for (i = 0; i < inner; i++) {
            size_t base = o * len * inner + i;
            float max = -KILN_INF_F32, sum = 0.0f;
            for (j = 0; j < len; j++) {
                if (x[base + j * inner] > max) {
                    max = x[base + j * inner];
                }
            }
            for (j = 0; j < len; j++) {
                float e = exp_f32(x[base + j * inner] - max);
                y[base + j * inner] = e;
                sum = sum + e;
            }
            for (j = 0; j < len; j++) {
                y[base + j * inner] = y[base + j * inner] / sum;
            }
        }
    }
}
