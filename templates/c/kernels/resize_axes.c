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

