/* The logistic function 1 / (1 + e^-x), the same steps as kiln's Rust sigmoid_f32: its own
 * exponential of -|x| (degree-6 Taylor polynomial, one scaling by 2^k, 0 below -87), then
 * one division. Within 4.1 ulp where the result is at least 2^-126 (measured on the Rust
 * one over every f32). */
static float sigmoid_f32(float x)
{
    const float ln2_hi = 0.69314575f;
    const float ln2_lo = 1.4286068e-6f;
    const float round = 12582912.0f;
    float a = x >= 0.0f ? -x : x;
    float ac, m, kf, r, p, e;
    int32_t k;
    if (x != x) {
        return x;
    }
    ac = a < -87.0f ? -87.0f : a;
    m = ac * 1.44269504088896340736f + round;
    kf = m - round;
    k = (int32_t)kiln_f32_to_bits(m) - (int32_t)kiln_f32_to_bits(round);
    r = (ac - kf * ln2_hi) - kf * ln2_lo;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f
        + r * (0.008333334f + r * 0.0013888889f)))));
    e = a < -87.0f ? 0.0f : p * kiln_f32_from_bits((uint32_t)(k + 127) << 23);
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}
