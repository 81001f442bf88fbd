/* tanh for f32, as kiln's Rust tanh_f32: an odd polynomial below |x| = 0.625,
 * 1 - 2 / (e^2|x| + 1) above, +-1 once tanh rounds to it. */
static float tanh_f32(float x)
{
    float a = kiln_f32_from_bits(kiln_f32_to_bits(x) & 0x7fffffffu);
    float u = x * x;
    float p = -0.33333334f + u * (0.13333304f + u * (-0.053959258f
        + u * (0.021768918f + u * (-0.008343945f + u * 0.0022927448f))));
    float t;
    if (a < 2.4e-4f) {
        return x;
    }
    if (a < 0.625f) {
        return x + x * u * p;
    }
    t = a > 9.1f ? 1.0f : 1.0f - 2.0f / (exp_f32(2.0f * a) + 1.0f);
    return x < 0.0f ? -t : t;
}
