/* The axes of a Pad: along axis d, out[d] output positions: before[d] of padding, the len[d]
 * kept input elements from input index start[d] on, then padding; stride[d] is the input's
 * element stride (1 on the last axis). Each array has one entry per axis. */
typedef struct {
    const size_t *out; size_t out_len;
    const size_t *before; size_t before_len;
    const size_t *start; size_t start_len;
    const size_t *len; size_t len_len;
    const size_t *stride; size_t stride_len;
} PadAxes;

/* The input index output index o of axis d reads, in *src; 0 where constant mode (0) writes
 * the constant. Modes: 1 reflect, 2 edge, 3 wrap (repeating as numpy does). */
static int pad_source(const PadAxes *a, size_t d, size_t o, size_t mode, size_t *src)
{
    size_t before = a->before[d], len = a->len[d], k, period;
    if (o >= before && o - before < len) {
        *src = a->start[d] + o - before;
        return 1;
    }
    if (mode == 0 || len == 0) {
        return 0;
    }
    if (mode == 2) {
        k = o < before ? 0 : len - 1;
    } else if (mode == 3) {
        period = len;
        k = o < before ? (period - (before - o) % period) % period : (o - before) % period;
    } else if (len == 1) {
        k = 0;
    } else {
        period = 2 * (len - 1);
        k = o < before ? (period - (before - o) % period) % period : (o - before) % period;
        if (k >= len) {
            k = period - k;
        }
    }
    *src = a->start[d] + k;
    return 1;
}

/* Pad (and crop): writes y (non-empty, row-major over a->out) row by row along the last axis. */
static void pad_$S(const $T *x, size_t xn, $T *y, size_t yn, const PadAxes *a, size_t mode, $T value)
{
    size_t r = a->out_len, last = r - 1, rowlen = a->out[last];
    size_t idx[KILN_MAX_RANK] = {0};
    size_t row, j, d, s;
    (void)xn;
    for (row = 0; rowlen > 0 && row + rowlen <= yn; row += rowlen) {
        size_t base = 0;
        int inside = 1;
        for (d = 0; d < last && inside; d++) {
            if (pad_source(a, d, idx[d], mode, &s)) {
                base += s * a->stride[d];
            } else {
                inside = 0;
            }
        }
        for (j = 0; j < rowlen; j++) {
            y[row + j] = inside && pad_source(a, last, j, mode, &s) ? x[base + s] : value;
        }
        d = last;
        while (d > 0) {
            d--;
            idx[d]++;
            if (idx[d] < a->out[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}
