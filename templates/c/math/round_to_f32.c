/* The number of significant bits of v (a count of leading zeros, or halving steps: a
 * bit-at-a-time loop cost ~700 instructions a requantization on a Cortex-M4, 60% of an
 * int8 ResNet-8). */
static unsigned bit_length(uint64_t v)
{
#if defined(__GNUC__)
    return v == 0 ? 0u : 64u - (unsigned)__builtin_clzll(v);
#else
    unsigned bits = 0, s;
    for (s = 32; s > 0; s >>= 1) {
        if ((v >> s) != 0) {
            bits += s;
            v >>= s;
        }
    }
    return bits + (unsigned)v;
#endif
}

/* The leading zeros of v (> 0). */
static unsigned kiln_clz32(uint32_t v)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_clz(v);
#else
    unsigned n = 0, s;
    for (s = 16; s > 0; s >>= 1) {
        if ((v >> (32u - s)) == 0) {
            n += s;
            v <<= s;
        }
    }
    return n;
#endif
}

/* v rounded to 24 significant bits, half to even: the integer an f32 holds for it. */
static int64_t round_to_f32(int64_t v)
{
    uint64_t mag = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    unsigned d;
    int64_t r;
    if (mag < ((uint64_t)1 << 24)) {
        return v;
    }
    d = bit_length(mag) - 24;
    r = shift_round((int64_t)mag, d) * ((int64_t)1 << d);
    return v < 0 ? -r : r;
}
