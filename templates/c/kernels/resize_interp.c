/* Linear or cubic Resize: each output element is the sum over the product of the axes'
 * taps of the tap weights' product times the input element (in the Rust kernel's order),
 * or extrapolation outside the input. w0..w3 are laid out like p->index. */
static void resize_interp_f32(const float *x, size_t xn, float *y, size_t yn, const ResizeAxes *p,
    const float *w0, size_t nw0, const float *w1, size_t nw1, const float *w2, size_t nw2,
    const float *w3, size_t nw3, float extrapolation)
{
    size_t i1 = p->input[1], i2 = p->input[2], i3 = p->input[3];
    size_t o0 = p->output[0], o1 = p->output[1], o2 = p->output[2], o3 = p->output[3];
    size_t n0 = p->taps[0], n1 = p->taps[1], n2 = p->taps[2], n3 = p->taps[3];
    size_t at = 0, a, b, c, d, t0, t1, t2, t3;
    (void)xn; (void)nw0; (void)nw1; (void)nw2; (void)nw3;
    for (a = 0; a < o0; a++) {
        for (b = 0; b < o1; b++) {
            for (c = 0; c < o2; c++) {
                for (d = 0; d < o3; d++) {
                    float acc = 0.0f;
                    if (at >= yn) {
                        return;
                    }
                    if (resize_is_outside(p, a, b, c, d)) {
                        y[at++] = extrapolation;
                        continue;
                    }
                    for (t0 = a * n0; t0 < (a + 1) * n0; t0++) {
                        size_t j0 = p->index[0][t0];
                        float f0 = w0[t0];
                        for (t1 = b * n1; t1 < (b + 1) * n1; t1++) {
                            size_t j1 = j0 * i1 + p->index[1][t1];
                            float f1 = f0 * w1[t1];
                            for (t2 = c * n2; t2 < (c + 1) * n2; t2++) {
                                size_t j2 = j1 * i2 + p->index[2][t2];
                                float f2 = f1 * w2[t2];
                                for (t3 = d * n3; t3 < (d + 1) * n3; t3++) {
                                    acc = acc + f2 * w3[t3] * x[j2 * i3 + p->index[3][t3]];
                                }
                            }
                        }
                    }
                    y[at++] = acc;
                }
            }
        }
    }
}
