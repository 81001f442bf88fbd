/* One quad of two outputs' weights (at w, the second's quad-word $WQ elements on) times
 * two positions' pairs. */
#define KILN_QUAD2x2$V(col, col2, w)                    \
    do {                                                \
        uint32_t c01 = (col)[0], c23 = (col)[1];        \
        uint32_t d01 = (col2)[0], d23 = (col2)[1];      \
        KILN_WQUAD2$V(c01, c23, d01, d23, w, a0, b0);   \
        KILN_WQUAD2$V(c01, c23, d01, d23, (w) + $WQ, a1, b1); \
    } while (0)

/* Two outputs (w at the first one's word of a four-output panel) times the operands of two
 * output positions, over the kh kernel rows in one call: s[0..2] for the first position,
 * s[2..4] for the second; each weight word serves both. Kernel row ki reads the input row in slot (first + ki) % kh of rows (len words each), its first
 * column at `at` and its second `step` further, and its weights seg elements after row ki-1's. The inner loop has
 * fourteen values live: on a Cortex-M4 gcc 12 keeps all but its bound in registers, 1.44
 * instructions per MAC against kiln_dot4's 1.6. Inlined into each convolution (as Rust's
 * dsp_conv2x2 is): as a call, its setup and the sums' trip through memory dominated the
 * 1x1 convolutions of 8 to 32 channels (MobileNet v1 on a Cortex-M4: 3.21 instructions
 * per MAC as a call, 2.77 inlined; .text 3 KB more). */
KILN_SPECIALISED void kiln_conv2x2$V(const uint32_t *rows, size_t len, size_t kh, size_t first, size_t at, size_t step,
    size_t words, const $WT *w, size_t seg, int32_t *s)
{
    int32_t a0 = s[0], a1 = s[1], b0 = s[2], b1 = s[3];
    size_t ki, sl = first;
    for (ki = 0; ki < kh; ki++, w += seg, sl = sl + 1 == kh ? 0 : sl + 1) {
        const uint32_t *col = rows + sl * len + at, *col2 = col + step, *end = col + words / 8 * 8;
        const $WT *v8 = w;
        size_t q;
        for (; col < end; col += 8, col2 += 8, v8 += 16 * $WQ) {
            KILN_QUAD2x2$V(col, col2, v8);
            KILN_QUAD2x2$V(col + 2, col2 + 2, v8 + 4 * $WQ);
            KILN_QUAD2x2$V(col + 4, col2 + 4, v8 + 8 * $WQ);
            KILN_QUAD2x2$V(col + 6, col2 + 6, v8 + 12 * $WQ);
        }
        for (q = words % 8 / 2; q > 0; q--, col += 2, col2 += 2, v8 += 4 * $WQ) {
            KILN_QUAD2x2$V(col, col2, v8);
        }
    }
    s[0] = a0; s[1] = a1; s[2] = b0; s[3] = b1;
}
