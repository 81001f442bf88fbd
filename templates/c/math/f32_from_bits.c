/* Bit casts through a union (defined behaviour in C99 TC3), so no <string.h> is needed. */
static float kiln_f32_from_bits(uint32_t b)
{
    union { uint32_t u; float f; } v;
    v.u = b;
    return v.f;
}
