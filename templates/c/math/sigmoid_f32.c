/* The logistic function 1 / (1 + e^-x), exp only seeing non-positive arguments. */
static float sigmoid_f32(float x)
{
    float e = exp_f32(x >= 0.0f ? -x : x);
    float d = 1.0f + e;
    return (x >= 0.0f ? 1.0f : e) / d;
}
