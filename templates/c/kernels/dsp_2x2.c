/* Two outputs (w at the first one's word of a four-output panel) times two columns:
 * acc[0..2] for col, acc[2..4] for col2; each weight word serves both columns. Fourteen
 * values live: on a Cortex-M4 gcc 12 keeps all but the loop bound in registers (1.44
 * instructions per MAC against kiln_dot4's 1.6). */
static void kiln_dot2x2(const uint32_t *col, const uint32_t *col2, size_t words, const int8_t *w, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    const uint32_t *end = col + words / 2 * 2;
    for (; col < end; col += 2, col2 += 2, w += 16) {
        uint32_t c01 = col[0], c23 = col[1], d01 = col2[0], d23 = col2[1], v, e;
        v = kiln_word(w);
        e = kiln_sxtb16(v);
        a0 = kiln_smlad(c01, e, a0);
        b0 = kiln_smlad(d01, e, b0);
        e = kiln_sxtb16_hi(v);
        a0 = kiln_smlad(c23, e, a0);
        b0 = kiln_smlad(d23, e, b0);
        v = kiln_word(w + 4);
        e = kiln_sxtb16(v);
        a1 = kiln_smlad(c01, e, a1);
        b1 = kiln_smlad(d01, e, b1);
        e = kiln_sxtb16_hi(v);
        a1 = kiln_smlad(c23, e, a1);
        b1 = kiln_smlad(d23, e, b1);
    }
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
}
