/* The Arm DSP extension's dual 16-bit multiply-accumulate. A word holds two signed 16-bit
 * values, the low half first. SMLAD adds lo(a) * lo(b) + hi(a) * hi(b) to acc; SXTB16
 * sign-extends bytes 0 and 2 of a word into its two halves. Through ACLE where the
 * compiler has them (Cortex-M4/M7/M33 with DSP), else the same sums in plain C. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define kiln_smlad(a, b, acc) __smlad((int32_t)(a), (int32_t)(b), (acc))
#define kiln_sxtb16(v) ((uint32_t)__sxtb16((int32_t)(v)))
/* SXTB16 of v rotated right by 8 (bytes 1 and 3): ACLE has no rotated form, and gcc does
 * not fold a rotation into __sxtb16 (one instruction more per two products). */
static inline uint32_t kiln_sxtb16_hi(uint32_t v)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#else
static inline int32_t kiln_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    int32_t lo = (int32_t)(int16_t)(uint16_t)(a & 0xffffu) * (int32_t)(int16_t)(uint16_t)(b & 0xffffu);
    int32_t hi = (int32_t)(int16_t)(uint16_t)(a >> 16) * (int32_t)(int16_t)(uint16_t)(b >> 16);
    return acc + lo + hi;
}
static inline uint32_t kiln_sxtb16(uint32_t v)
{
    uint32_t lo = (uint32_t)(uint16_t)(int16_t)(int8_t)(uint8_t)(v & 0xffu);
    uint32_t hi = (uint32_t)(uint16_t)(int16_t)(int8_t)(uint8_t)((v >> 16) & 0xffu);
    return lo | hi << 16;
}
static inline uint32_t kiln_sxtb16_hi(uint32_t v)
{
    return kiln_sxtb16(v >> 8);
}
#endif

/* Two signed 16-bit values as one word, lo first. */
static uint32_t kiln_pair(int32_t lo, int32_t hi)
{
    return (uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16;
}

/* The word of four bytes at w, the first lowest. Inline: a program whose SMLAD kernels all
 * read 16-bit weight pairs has no call of it. */
static inline uint32_t kiln_word(const int8_t *w)
{
    return (uint32_t)(uint8_t)w[0] | (uint32_t)(uint8_t)w[1] << 8 | (uint32_t)(uint8_t)w[2] << 16
        | (uint32_t)(uint8_t)w[3] << 24;
}

/* a += c01 . lo(p) + c23 . hi(p) and b += d01 . lo(p) + d23 . hi(p), where lo and hi are
 * the two 16-bit pairs of the quad of weights at p: from i8 weights (four bytes, the
 * quad's elements 0, 2, 1, 3) by SXTB16 of the word and of it shifted by 8; from weights
 * stored as 16-bit pairs (the _w forms: two words, where the flash holds them) as they
 * are, two loads and no SXTB16. An i8 quad's pairs are taken each just before its
 * products (taking both first cost the autoencoder's Gemms 4% more instructions under gcc
 * 12); the 16-bit ones both first in the 2x2 step (ResNet-8 0.4% fewer so). */
#define KILN_WQUAD1(c01, c23, p, a)                  \
    do {                                             \
        uint32_t wv_ = kiln_word(p);                 \
        (a) = kiln_smlad((c01), kiln_sxtb16(wv_), (a)); \
        (a) = kiln_smlad((c23), kiln_sxtb16_hi(wv_), (a)); \
    } while (0)
#define KILN_WQUAD1_w(c01, c23, p, a)                \
    do {                                             \
        (a) = kiln_smlad((c01), (p)[0], (a));        \
        (a) = kiln_smlad((c23), (p)[1], (a));        \
    } while (0)
#define KILN_WQUAD2(c01, c23, d01, d23, p, a, b) \
    do {                                         \
        uint32_t wv_ = kiln_word(p), e_;         \
        e_ = kiln_sxtb16(wv_);                   \
        (a) = kiln_smlad((c01), e_, (a));        \
        (b) = kiln_smlad((d01), e_, (b));        \
        e_ = kiln_sxtb16_hi(wv_);                \
        (a) = kiln_smlad((c23), e_, (a));        \
        (b) = kiln_smlad((d23), e_, (b));        \
    } while (0)
#define KILN_WQUAD2_w(c01, c23, d01, d23, p, a, b) \
    do {                                           \
        uint32_t e_ = (p)[0], g_ = (p)[1];         \
        (a) = kiln_smlad((c01), e_, (a));          \
        (b) = kiln_smlad((d01), e_, (b));          \
        (a) = kiln_smlad((c23), g_, (a));          \
        (b) = kiln_smlad((d23), g_, (b));          \
    } while (0)
