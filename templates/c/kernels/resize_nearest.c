/* Resize geometry over four axes: output position o of axis d reads input positions
 * index[d][o * taps[d]..][..taps[d]], or, where outside[d][o] (no array: never), is the
 * extrapolation value. */
typedef struct {
    const size_t *input; size_t input_len;
    const size_t *output; size_t output_len;
    const size_t *taps; size_t taps_len;
    const size_t *index[4]; size_t index_len[4];
    const _Bool *outside[4]; size_t outside_len[4];
} ResizeAxes;

static int resize_is_outside(const ResizeAxes *p, size_t a, size_t b, size_t c, size_t d)
{
    size_t o[4];
    size_t k;
    o[0] = a; o[1] = b; o[2] = c; o[3] = d;
    for (k = 0; k < 4; k++) {
        if (p->outside_len[k] > 0 && p->outside[k][o[k]]) {
            return 1;
        }
    }
    return 0;
}

/* Nearest-neighbour Resize: each output element copies one input element, or is
 * extrapolation outside the input. */
static void resize_nearest_$S(const $T *x, size_t xn, $T *y, size_t yn, const ResizeAxes *p, $T extrapolation)
{
    size_t i1 = p->input[1], i2 = p->input[2], i3 = p->input[3];
    size_t o0 = p->output[0], o1 = p->output[1], o2 = p->output[2], o3 = p->output[3];
    size_t n0 = p->taps[0], n1 = p->taps[1], n2 = p->taps[2], n3 = p->taps[3];
    size_t at = 0, a, b, c, d;
    (void)xn;
    for (a = 0; a < o0; a++) {
        size_t j0 = p->index[0][a * n0];
        for (b = 0; b < o1; b++) {
            size_t j1 = j0 * i1 + p->index[1][b * n1];
            for (c = 0; c < o2; c++) {
                size_t j2 = j1 * i2 + p->index[2][c * n2];
                for (d = 0; d < o3; d++) {
                    if (at >= yn) {
                        return;
                    }
                    y[at++] = resize_is_outside(p, a, b, c, d) ? extrapolation : x[j2 * i3 + p->index[3][d * n3]];
                }
            }
        }
    }
}
