/* GatherElements: y[f] = x[target(f)], the flat index into x (strides xs, size d along
 * axis) of element f of the index tensor (shape shape), its coordinate on axis replaced by
 * the index (negative from the end); an index out of range gives zero. */
static void gather_elements_$S(const $T *x, size_t xn, const $I *idx, size_t ni, $T *y, size_t yn,
    const size_t *shape, size_t r, const size_t *xs, size_t rx, size_t axis, size_t d)
{
    size_t f;
    (void)xn; (void)rx;
    for (f = 0; f < yn && f < ni; f++) {
        int64_t i = (int64_t)idx[f];
        size_t rest = f, at = 0, a;
        if (i < 0) {
            i += (int64_t)d;
        }
        if (i < 0 || (uint64_t)i >= (uint64_t)d) {
            y[f] = 0;
            continue;
        }
        for (a = r; a > 0; a--) {
            size_t c = rest % shape[a - 1];
            rest /= shape[a - 1];
            at += (a - 1 == axis ? (size_t)i : c) * xs[a - 1];
        }
        y[f] = x[at];
    }
}
