/* Copies the consecutive block-element blocks of x into y, block o at o * stride + offset:
 * one input of a Concat. */
static void concat_part_$S(const $T *x, size_t xn, $T *y, size_t yn, size_t block, size_t stride, size_t offset)
{
    size_t o, j;
    (void)yn;
    for (o = 0; block > 0 && (o + 1) * block <= xn; o++) {
        for (j = 0; j < block; j++) {
            y[o * stride + offset + j] = x[o * block + j];
        }
    }
}
