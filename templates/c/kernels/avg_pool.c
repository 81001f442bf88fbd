/* Average pooling over planes planes. The divisor counts the taps inside the input, or with
 * count_pad also those in the padding (pads_end after each axis). */
static void avg_pool_f32(const float *x, size_t xn, float *y, size_t yn, const Window *w, size_t planes,
    const size_t *pads_end, size_t npe, int count_pad, void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t i0 = w->input[0], i1 = w->input[1], i2 = w->input[2];
    size_t o0 = w->output[0], o1 = w->output[1], o2 = w->output[2];
    size_t in_plane = i0 * i1 * i2, out_plane = o0 * o1 * o2, p, a, b, c, t0, t1, t2;
    (void)xn; (void)yn; (void)npe;
    for (p = 0; p < planes; p++) {
        const float *xp = x + p * in_plane;
        for (a = 0; a < o0; a++) {
            size_t l0, h0, n0;
            pool_taps(w, 0, a, pads_end[0], &l0, &h0, &n0);
            for (b = 0; b < o1; b++) {
                size_t l1, h1, n1;
                pool_taps(w, 1, b, pads_end[1], &l1, &h1, &n1);
                for (c = 0; c < o2; c++) {
                    size_t l2, h2, n2, count;
                    float sum = 0.0f;
                    pool_taps(w, 2, c, pads_end[2], &l2, &h2, &n2);
                    for (t0 = l0; t0 < h0; t0++) {
                        size_t q0 = a * w->strides[0] + t0 * w->dilations[0] - w->pads[0];
                        for (t1 = l1; t1 < h1; t1++) {
                            size_t q1 = b * w->strides[1] + t1 * w->dilations[1] - w->pads[1];
                            const float *row = xp + (q0 * i1 + q1) * i2;
                            for (t2 = l2; t2 < h2; t2++) {
                                sum = sum + row[c * w->strides[2] + t2 * w->dilations[2] - w->pads[2]];
                            }
                        }
                    }
                    count = count_pad ? n0 * n1 * n2 : (h0 - l0) * (h1 - l1) * (h2 - l2);
                    y[p * out_plane + (a * o1 + b) * o2 + c] = sum / (float)count;
                }
            }
        }
        if (epi) {
            epi(ec, p * out_plane, y + p * out_plane, out_plane);
        }
    }
}
