/* e^x for f32 without libm, the same steps as kiln's Rust exp_f32: x = k ln2 + r (Cody-Waite
 * split of ln2), e^r from its Taylor polynomial to degree 7, scaled by 2^k through the
 * exponent bits in two halves so a result beyond the normal range is rounded once.
 * Within 1.23 ulp of e^x on every f32. */
static float exp_f32(float x)
{
    const float ln2_hi = 0.69314575f;
    const float ln2_lo = 1.4286068e-6f;
    /* 1.5 * 2^23: adding it rounds |t| < 2^22 to an integer, in the low bits of the sum. */
    const float round = 12582912.0f;
    float xc = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
    float m, kf, r, p, e;
    int32_t k, k1;
    if (x != x) {
        return x;
    }
    m = xc * 1.44269504088896340736f + round;
    kf = m - round;
    k = (int32_t)kiln_f32_to_bits(m) - (int32_t)kiln_f32_to_bits(round);
    r = (xc - kf * ln2_hi) - kf * ln2_lo;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f
        + r * (0.008333334f + r * (0.0013888889f + r * 0.0001984127f))))));
    k1 = k >> 1;
    e = p * kiln_f32_from_bits((uint32_t)(k1 + 127) << 23) * kiln_f32_from_bits((uint32_t)(k - k1 + 127) << 23);
    if (x > 89.0f) {
        return KILN_INF_F32;
    }
    if (x < -104.0f) {
        return 0.0f;
    }
    return e;
}
