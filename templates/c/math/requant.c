/* zero + round_half_even(f32(f32(acc) * factor)), clamped to lo..hi, where
 * factor = mult / 2^shift is an f32: onnxruntime's requantization, in integers. */
static int32_t requant(int64_t acc, int32_t mult, unsigned shift, int32_t zero, int32_t lo, int32_t hi)
{
    int64_t p = round_to_f32(round_to_f32(acc) * (int64_t)mult);
    int64_t v = shift_round(p, shift) + zero;
    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}
