/* SMLADX: SMLAD with b's halves swapped, lo(a) * hi(b) + hi(a) * lo(b) added to acc. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define kiln_smladx(a, b, acc) __smladx((int32_t)(a), (int32_t)(b), (acc))
#else
static int32_t kiln_smladx(uint32_t a, uint32_t b, int32_t acc)
{
    return kiln_smlad(a, b >> 16 | b << 16, acc);
}
#endif
