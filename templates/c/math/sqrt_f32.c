/* Correctly rounded square root for f32 without libm: the integer square root of the
 * significand scaled to 27 bits, rounded to nearest with a sticky bit. */
static float sqrt_f32(float x)
{
    uint32_t bits, mant, field;
    uint64_t m, r, bit, rem;
    int32_t e, shift, ex;
    int inexact;
    if (x != x || x == 0.0f || x == KILN_INF_F32) {
        return x;
    }
    if (x < 0.0f) {
        return KILN_NAN_F32;
    }
    bits = kiln_f32_to_bits(x);
    field = bits >> 23;
    if (field == 0) {
        m = bits;
        e = -149;
    } else {
        m = (bits & 0x7fffffu) | 0x800000u;
        e = (int32_t)field - 150;
    }
    if (e % 2 != 0) {
        m <<= 1;
        e -= 1;
    }
    /* An even shift brings m into [2^52, 2^54), so its root lies in [2^26, 2^27). */
    shift = 0;
    while ((m >> 52) == 0) {
        m <<= 2;
        shift += 2;
    }
    e -= shift;
    /* Integer square root, bit by bit. */
    r = 0;
    rem = m;
    for (bit = (uint64_t)1 << 62; bit > m; bit >>= 2) {
    }
    while (bit != 0) {
        if (rem >= r + bit) {
            rem -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    inexact = rem != 0;
    mant = (uint32_t)(r >> 3);
    ex = 26 + e / 2;
    if ((r & 7) > 4 || ((r & 7) == 4 && (inexact || (mant & 1) == 1))) {
        mant += 1;
        if (mant == (1u << 24)) {
            mant >>= 1;
            ex += 1;
        }
    }
    return kiln_f32_from_bits(((uint32_t)(ex + 127) << 23) | (mant & 0x7fffffu));
}
