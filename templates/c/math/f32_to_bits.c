static uint32_t kiln_f32_to_bits(float f)
{
    union { uint32_t u; float f; } v;
    v.f = f;
    return v.u;
}
