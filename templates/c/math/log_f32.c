/* ln x for f32 through log_f64: correctly rounded but for double rounding. */
static float log_f32(float x)
{
    return (float)log_f64((double)x);
}
