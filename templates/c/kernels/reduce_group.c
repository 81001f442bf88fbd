/* The elements of one reduction group: left elements of x from at on, walked with an
 * odometer over shape (the q reduced axes, outermost first) whose steps are strides. */
typedef struct {
    const $T *x;
    const size_t *shape, *strides;
    size_t q, at, left;
    size_t idx[KILN_MAX_RANK];
} kiln_group_$S;

/* The group's next element in *v; 0 when there is none. */
static int kiln_group_next_$S(kiln_group_$S *g, $T *v)
{
    size_t d = g->q;
    if (g->left == 0) {
        return 0;
    }
    g->left--;
    *v = g->x[g->at];
    while (d > 0) {
        d--;
        g->idx[d]++;
        g->at += g->strides[d];
        if (g->idx[d] < g->shape[d]) {
            break;
        }
        g->at -= g->strides[d] * g->shape[d];
        g->idx[d] = 0;
    }
    return 1;
}
