/* The mean over the axes along which ys (the output's strides laid along the input's
 * axes) is 0: the input walked in order, each element added to its output element. */
static void reduce_mean_f32(const float *x, size_t xn, float *y, size_t yn, const size_t *shape, size_t r,
    const size_t *ys, size_t ry, size_t count)
{
    size_t idx[KILN_MAX_RANK] = {0};
    size_t at = 0, i;
    (void)ry;
    for (i = 0; i < yn; i++) {
        y[i] = 0.0f;
    }
    for (i = 0; i < xn; i++) {
        size_t d = r;
        y[at] = y[at] + x[i];
        while (d > 0) {
            d--;
            idx[d]++;
            at += ys[d];
            if (idx[d] < shape[d]) {
                break;
            }
            at -= ys[d] * shape[d];
            idx[d] = 0;
        }
    }
    for (i = 0; i < yn; i++) {
        y[i] = y[i] / (float)count;
    }
}
