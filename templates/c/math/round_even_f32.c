/* Round half to even (numpy's rint) without libm. */
static float round_even_f32(float v)
{
    int32_t t, n;
    float d;
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
