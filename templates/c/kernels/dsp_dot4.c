/* acc[t] += the dot product of a column of `words` 16-bit pairs with output t's weights,
 * for the four outputs of one panel of SMLAD quads (w: one word per output and quad). One
 * quad a step: unrolled twice, gcc 12 hoists the loads and spills the sums (measured 9%
 * more instructions on a Cortex-M4). */
static void kiln_dot4(const uint32_t *col, size_t words, const int8_t *w, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const uint32_t *end = col + words / 2 * 2;
    for (; col < end; col += 2, w += 16) {
        uint32_t c01 = col[0], c23 = col[1], v;
        v = kiln_word(w);
        a0 = kiln_smlad(c01, kiln_sxtb16(v), a0);
        a0 = kiln_smlad(c23, kiln_sxtb16_hi(v), a0);
        v = kiln_word(w + 4);
        a1 = kiln_smlad(c01, kiln_sxtb16(v), a1);
        a1 = kiln_smlad(c23, kiln_sxtb16_hi(v), a1);
        v = kiln_word(w + 8);
        a2 = kiln_smlad(c01, kiln_sxtb16(v), a2);
        a2 = kiln_smlad(c23, kiln_sxtb16_hi(v), a2);
        v = kiln_word(w + 12);
        a3 = kiln_smlad(c01, kiln_sxtb16(v), a3);
        a3 = kiln_smlad(c23, kiln_sxtb16_hi(v), a3);
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
}


