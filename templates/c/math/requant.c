/* zero + round_half_even(f32(f32(acc) * factor)), clamped to lo..hi, where
 * factor = mult / 2^shift is an f32 (mult 0 or of 24 bits): onnxruntime's requantization,
 * in integers. The f32 product is m * 2^d with m of 24 bits, so the last shift is of m, in
 * 32 bits. Sums below 2^24 (every 8-bit model's, in practice) take a path of 32-bit
 * operations and one 32x32 multiply: 64-bit shifts by a variable count are many
 * instructions on a 32-bit core. */
#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__GNUC__)
#define KILN_VFP_REQUANT 1
/* On a single-precision FPU it is onnxruntime's own arithmetic, about ten instructions:
 * f32(acc), the product by the f32 factor, both rounded as the FPU rounds (to nearest,
 * ties to even), then VCVTR to an integer in that mode (saturating). The conversion is
 * inline assembly: a C cast truncates, and an add of 1.5 * 2^23 could be fused with the
 * multiply (a single rounding) under -ffp-contract=fast. */
static inline int32_t requant_vfp(int32_t acc, float factor)
{
    union {
        float f;
        int32_t i;
    } v;
    v.f = (float)acc * factor;
    __asm__("vcvtr.s32.f32 %0, %0" : "+t"(v.f));
    return v.i;
}

/* The factor mult / 2^shift (mult of 24 bits) as an f32, built from its bits. */
static inline float requant_vfp_factor(int32_t mult, unsigned shift)
{
    union {
        uint32_t u;
        float f;
    } k;
    k.u = (uint32_t)(150u - shift) << 23 | ((uint32_t)mult & 0x7fffffu);
    return k.f;
}

/* requant_vfp's result v clamped to lo..hi less the zero point, then offset by it: in 32
 * bits when the bounds less the zero point fit (constants where this is inlined, so the
 * test folds away). */
static inline int32_t requant_vfp_clamp(int32_t v, int32_t zero, int32_t lo, int32_t hi)
{
    int64_t l = (int64_t)lo - zero, u = (int64_t)hi - zero;
    if (l >= INT32_MIN && u <= INT32_MAX) {
        return v < (int32_t)l ? lo : (v > (int32_t)u ? hi : v + zero);
    }
    return (int32_t)(v < l ? lo : (v > u ? hi : (int64_t)v + zero));
}
#endif

/* round_half_even(m * 2^d / 2^shift) for m <= 2^24; beyond 2^40 (16 doublings) it clamps
 * like any other too-large value. */
static int64_t kiln_scale(uint32_t m, unsigned d, unsigned shift)
{
    uint32_t q, r;
    unsigned s;
    if (d >= shift) {
        return d - shift > 16 ? (int64_t)1 << 40 : (int64_t)m << (d - shift);
    }
    s = shift - d;
    if (s > 26) {
        return 0;
    }
    q = m >> s;
    r = m - (q << s);
    return (int64_t)(q + ((r + (q & 1u)) > (1u << (s - 1u)) ? 1u : 0u));
}

static int32_t requant_int(int64_t acc, int32_t mult, unsigned shift, int32_t zero, int32_t lo, int32_t hi)
{
    uint32_t m;
    unsigned d = 0;
    int neg;
    int64_t v;
    if (acc > -16777216 && acc < 16777216 && mult >= 0) {
        uint32_t am = (uint32_t)(acc < 0 ? -acc : acc), ph, pl, r;
        uint64_t prod = (uint64_t)am * (uint32_t)mult;
        ph = (uint32_t)(prod >> 32);
        pl = (uint32_t)prod;
        if (ph != 0) {
            d = 64u - kiln_clz32(ph) - 24u;
        } else if (pl >= (1u << 24)) {
            d = 32u - kiln_clz32(pl) - 24u;
        }
        if (d == 0) {
            m = pl;
        } else {
            m = (pl >> d) | (ph << (32u - d));
            r = pl & ((1u << d) - 1u);
            m += (r + (m & 1u)) > (1u << (d - 1u)) ? 1u : 0u;
        }
        neg = acc < 0;
    } else {
        int64_t p = round_to_f32(acc) * (int64_t)mult;
        uint64_t mag = p < 0 ? 0u - (uint64_t)p : (uint64_t)p;
        if (mag >= ((uint64_t)1 << 24)) {
            /* The f32 product: m * 2^d, m rounded to 24 bits (it may carry to 2^24). */
            d = bit_length(mag) - 24;
            mag = (uint64_t)shift_round((int64_t)mag, d);
        }
        m = (uint32_t)mag;
        neg = p < 0;
    }
    v = kiln_scale(m, d, shift);
    v = (neg ? -v : v) + zero;
    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

#if defined(KILN_VFP_REQUANT)
/* requant_f's path for a sum beyond 32 bits (never taken by an 8-bit model's sums): the
 * integer requantization, with mult and shift read back from the factor's bits (a factor
 * of 0, a channel whose mult is 0, gives the zero point). Out of line, so the closures do
 * not load the tables for it. */
static __attribute__((noinline)) int32_t requant_f_wide(int32_t acc, int32_t bias, float factor, int32_t zero,
    int32_t lo, int32_t hi)
{
    union {
        float f;
        uint32_t u;
    } k;
    k.f = factor;
    if (k.u == 0) {
        return requant_int(0, 0, 0, zero, lo, hi);
    }
    return requant_int((int64_t)acc + bias, (int32_t)(k.u & 0x7fffffu) | 0x800000, 150u - (k.u >> 23), zero, lo, hi);
}

/* requant of acc + bias with the factor given as the f32 it is (mult / 2^shift, a normal
 * f32 with mult of 24 bits: the closure's table): the sum in 32 bits unless it overflows,
 * then f32(sum) * factor and VCVTR, about ten instructions an output. Rebuilding the
 * factor from mult and shift, and testing a 64-bit sum, took a quarter of MobileNet's
 * instructions on a Cortex-M4 with requant. */
static inline int32_t requant_f(int32_t acc, int32_t bias, float factor, int32_t zero, int32_t lo, int32_t hi)
{
    int32_t sum;
    if (__builtin_add_overflow(acc, bias, &sum)) {
        return requant_f_wide(acc, bias, factor, zero, lo, hi);
    }
    return requant_vfp_clamp(requant_vfp(sum, factor), zero, lo, hi);
}

/* requant_f of a sum that cannot have overflowed (the closure's bound: see
 * `ElemFn::FixedRequant`'s `sum_fits`): no test of the add. */
static inline int32_t requant_f_sum(int32_t sum, float factor, int32_t zero, int32_t lo, int32_t hi)
{
    return requant_vfp_clamp(requant_vfp(sum, factor), zero, lo, hi);
}
#endif

/* The FPU's path inline in each requantizing closure (the call cost a third of it), the
 * integer one called. */
static inline int32_t requant(int64_t acc, int32_t mult, unsigned shift, int32_t zero, int32_t lo, int32_t hi)
{
#if defined(KILN_VFP_REQUANT)
    if ((int64_t)(int32_t)acc == acc && mult > 0) {
        return requant_vfp_clamp(requant_vfp((int32_t)acc, requant_vfp_factor(mult, shift)), zero, lo, hi);
    }
#endif
    return requant_int(acc, mult, shift, zero, lo, hi);
}
