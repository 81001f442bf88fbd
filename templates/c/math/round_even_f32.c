/* Round half to even (numpy's rint) without libm. Where float arithmetic is done in float
 * (FLT_EVAL_METHOD 0: SSE, Arm's FPU, soft float), adding 1.5 * 2^23 to |v| < 2^22 and
 * subtracting it again rounds v to an integer in the current rounding mode, to nearest
 * and ties to even by default: two instructions where the general path takes about twenty
 * (measured on a Cortex-M4: MobileNet's QuantizeLinear of its input, 42 to 32 instructions
 * an element). The general path keeps the rest, and compilers that evaluate in wider
 * types. */
static inline float round_even_f32(float v)
{
    int32_t t, n;
    float d;
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (v > -4194304.0f && v < 4194304.0f) {
        float s = v + 12582912.0f;
        return s - 12582912.0f;
    }
#endif
    /* From 2^23 on every f32 is whole; NaN and the infinities stay as they are. */
    if (!(v > -8388608.0f && v < 8388608.0f)) {
        return v;
    }
    t = (int32_t)v;
    d = v - (float)t;
    if (d > 0.5f || (d == 0.5f && (t & 1) == 1)) {
        n = t + 1;
    } else if (d < -0.5f || (d == -0.5f && (t & 1) != 0)) {
        n = t - 1;
    } else {
        n = t;
    }
    return (float)n;
}

#if defined(__ARM_FP) && (__ARM_FP & 4) && defined(__GNUC__)
#define KILN_VFP_ROUND 1
/* round_even_f32 into an int32 on a single-precision FPU: VCVTR, which rounds in the
 * FPU's mode (to nearest, ties to even) and saturates; one instruction where the
 * function above takes about ten on a Cortex-M4. The caller handles NaN. */
static inline int32_t round_even_vfp(float v)
{
    union {
        float f;
        int32_t i;
    } r;
    r.f = v;
    __asm__("vcvtr.s32.f32 %0, %0" : "+t"(r.f));
    return r.i;
}
#endif
