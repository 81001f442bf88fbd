/* ln(1 + e) for e = e^-|v| in [0, 1], as ln(u) e / (u - 1) with u = 1 + e: exact to
 * rounding even where e is tiny (Softplus and Mish). */
static float kiln_softplus_tail(float e)
{
    float u = 1.0f + e;
    return u == 1.0f ? e : log_f32(u) * e / (u - 1.0f);
}
