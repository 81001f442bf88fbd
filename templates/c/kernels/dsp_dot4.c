/* acc[t] += the dot product of a column of `words` 16-bit pairs with output t's weights,
 * for the four outputs of one panel of SMLAD quads (w: one quad-word of $WQ elements per output and quad). One
 * quad a step: unrolled twice, gcc 12 hoists the loads and spills the sums (measured 9%
 * more instructions on a Cortex-M4). */
static void kiln_dot4$V(const uint32_t *col, size_t words, const $WT *w, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const uint32_t *end = col + words / 2 * 2;
    for (; col < end; col += 2, w += 4 * $WQ) {
        uint32_t c01 = col[0], c23 = col[1];
        KILN_WQUAD1$V(c01, c23, w, a0);
        KILN_WQUAD1$V(c01, c23, w + 1 * $WQ, a1);
        KILN_WQUAD1$V(c01, c23, w + 2 * $WQ, a2);
        KILN_WQUAD1$V(c01, c23, w + 3 * $WQ, a3);
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}


