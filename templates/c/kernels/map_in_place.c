/* y[i] = f(y[i]): map where the output overwrites the input. */
static void map_in_place_$S($T *y, size_t yn, $T (*f)(kiln_ctx, $T), kiln_ctx fc)
{
    size_t i;
    for (i = 0; i < yn; i++) {
        y[i] = f(fc, y[i]);
    }
}
