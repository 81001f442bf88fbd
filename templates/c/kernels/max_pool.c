/* Max pooling over planes (batch x channels) planes. Ties keep the first maximum in kernel
 * order; a window wholly in padding gives the lowest value and index -1. ind, when present,
 * receives the flat input index of each maximum. Then the epilogue on each plane. */
static void max_pool_$S(const $T *x, size_t xn, $T *y, size_t yn, int64_t *ind, size_t indn, const Window *w,
    size_t planes, int column_major, void (*epi)(kiln_ctx, size_t, $T *, size_t), kiln_ctx ec)
{
    size_t i0 = w->input[0], i1 = w->input[1], i2 = w->input[2];
    size_t o0 = w->output[0], o1 = w->output[1], o2 = w->output[2];
    size_t in_plane = i0 * i1 * i2, out_plane = o0 * o1 * o2, p, a, b, c, t0, t1, t2, unused;
    (void)xn; (void)yn; (void)indn;
    for (p = 0; p < planes; p++) {
        const $T *xp = x + p * in_plane;
        for (a = 0; a < o0; a++) {
            size_t l0, h0;
            pool_taps(w, 0, a, 0, &l0, &h0, &unused);
            for (b = 0; b < o1; b++) {
                size_t l1, h1;
                pool_taps(w, 1, b, 0, &l1, &h1, &unused);
                for (c = 0; c < o2; c++) {
                    size_t l2, h2, q0 = 0, q1 = 0, q2 = 0, o;
                    int found = 0;
                    $T best = $LOWEST;
                    pool_taps(w, 2, c, 0, &l2, &h2, &unused);
                    for (t0 = l0; t0 < h0; t0++) {
                        size_t r0 = a * w->strides[0] + t0 * w->dilations[0] - w->pads[0];
                        for (t1 = l1; t1 < h1; t1++) {
                            size_t r1 = b * w->strides[1] + t1 * w->dilations[1] - w->pads[1];
                            const $T *row = xp + (r0 * i1 + r1) * i2;
                            for (t2 = l2; t2 < h2; t2++) {
                                size_t r2 = c * w->strides[2] + t2 * w->dilations[2] - w->pads[2];
                                $T v = row[r2];
                                if (!found || v > best) {
                                    best = v;
                                    found = 1;
                                    q0 = r0;
                                    q1 = r1;
                                    q2 = r2;
                                }
                            }
                        }
                    }
                    o = p * out_plane + (a * o1 + b) * o2 + c;
                    y[o] = best;
                    if (ind) {
                        if (!found) {
                            ind[o] = -1;
                        } else if (column_major) {
                            ind[o] = (int64_t)(p * in_plane + q0 + q1 * i0 + q2 * i0 * i1);
                        } else {
                            ind[o] = (int64_t)(p * in_plane + (q0 * i1 + q1) * i2 + q2);
                        }
                    }
                }
            }
        }
        if (epi) {
            epi(ec, p * out_plane, y + p * out_plane, out_plane);
        }
    }
}
