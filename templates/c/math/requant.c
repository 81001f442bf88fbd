/* zero + round_half_even(f32(f32(acc) * factor)), clamped to lo..hi, where
 * factor = mult / 2^shift is an f32: onnxruntime's requantization, in integers. The f32
 * product is m * 2^d with m of 24 bits, so the last shift is of m, in 32 bits (64-bit
 * shifts by a variable count are many instructions on a 32-bit core). */
static int32_t requant(int64_t acc, int32_t mult, unsigned shift, int32_t zero, int32_t lo, int32_t hi)
{
    int64_t p = round_to_f32(acc) * (int64_t)mult, v;
    uint64_t mag = p < 0 ? 0u - (uint64_t)p : (uint64_t)p;
    uint32_t m, q, r;
    unsigned d = 0, s;
    if (mag >= ((uint64_t)1 << 24)) {
        /* The f32 product: m * 2^d, m rounded to 24 bits (it may carry to 2^24); the
         * remainder in 32 bits when it fits, as it does for 8-bit models. */
        d = bit_length(mag) - 24;
        if (d < 32) {
            m = (uint32_t)(mag >> d);
            r = (uint32_t)mag & ((1u << d) - 1u);
            m += (r + (m & 1u)) > (1u << (d - 1)) ? 1u : 0u;
            mag = m;
        } else {
            mag = (uint64_t)shift_round((int64_t)mag, d);
        }
    }
    m = (uint32_t)mag;
    if (d >= shift) {
        /* An exact integer; beyond 2^40 it clamps like any other too-large value. */
        v = d - shift > 16 ? (int64_t)1 << 40 : (int64_t)m << (d - shift);
    } else {
        s = shift - d;
        if (s > 26) {
            q = 0;
        } else {
            q = m >> s;
            r = m - (q << s);
            q += (r + (q & 1u)) > (1u << (s - 1)) ? 1u : 0u;
        }
        v = (int64_t)q;
    }
    v = (p < 0 ? -v : v) + zero;
    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}
