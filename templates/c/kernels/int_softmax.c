/* Softmax of quantized rows of row elements: the exponentials from table (2^24 exp(-d
 * x_scale) for d = max - x), their sum, then each output f(round(table[d] * recip / (sum *
 * 2^16))), all in integers. The quotient needs 128 bits: it is taken in two 64-bit steps. */
static uint64_t int_softmax_div(uint64_t num_hi, uint64_t num_lo, uint64_t den_hi, uint64_t den_lo)
{
    /* (num_hi:num_lo) / (den_hi:den_lo), both 128-bit, by shift and subtract. */
    uint64_t q = 0;
    int bit;
    uint64_t r_hi = 0, r_lo = 0;
    for (bit = 127; bit >= 0; bit--) {
        uint64_t nb = bit >= 64 ? (num_hi >> (bit - 64)) & 1u : (num_lo >> bit) & 1u;
        r_hi = (r_hi << 1) | (r_lo >> 63);
        r_lo = (r_lo << 1) | nb;
        if (r_hi > den_hi || (r_hi == den_hi && r_lo >= den_lo)) {
            uint64_t borrow = r_lo < den_lo;
            r_lo -= den_lo;
            r_hi -= den_hi + borrow;
            if (bit < 64) {
                q |= (uint64_t)1 << bit;
            }
        }
    }
    return q;
}

/* hi:lo = a * b for 64-bit a, b. */
static void int_softmax_mul(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (p00 & 0xffffffffu) | (mid << 32);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

static void int_softmax_$S(const $X *x, size_t xn, $Y *y, size_t yn, size_t row, const int64_t *table, size_t nt,
    int64_t recip, $Y (*f)(kiln_ctx, int64_t), kiln_ctx fc)
{
    size_t r, j;
    (void)nt;
    for (r = 0; row > 0 && r + row <= xn && r + row <= yn; r += row) {
        int32_t mx = INT32_MIN;
        uint64_t sum = 0, den_hi, den_lo, den2_hi, den2_lo;
        for (j = 0; j < row; j++) {
            if ((int32_t)x[r + j] > mx) {
                mx = (int32_t)x[r + j];
            }
        }
        for (j = 0; j < row; j++) {
            sum += (uint64_t)table[(uint8_t)(mx - (int32_t)x[r + j])];
        }
        /* den = sum << 16; the rounded quotient is ((num << 1) + den) / (den << 1). */
        den_hi = sum >> 48;
        den_lo = sum << 16;
        den2_hi = (den_hi << 1) | (den_lo >> 63);
        den2_lo = den_lo << 1;
        for (j = 0; j < row; j++) {
            uint64_t hi, lo, n_hi, n_lo;
            int_softmax_mul((uint64_t)table[(uint8_t)(mx - (int32_t)x[r + j])], (uint64_t)recip, &hi, &lo);
            n_hi = (hi << 1) | (lo >> 63);
            n_lo = lo << 1;
            n_lo += den_lo;
            n_hi += den_hi + (n_lo < den_lo);
            y[r + j] = f(fc, (int64_t)int_softmax_div(n_hi, n_lo, den2_hi, den2_lo));
        }
    }
}
