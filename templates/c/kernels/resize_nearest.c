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
