/* Bit casts through a union (defined behaviour in C99 TC3), so no <string.h> is needed. */
static float kiln_f32_from_bits(uint32_t b)
{
    union { uint32_t u; float f; } v;
    v.u = b;
    return v.f;
}

static uint32_t kiln_f32_to_bits(float f)
{
    union { uint32_t u; float f; } v;
    v.f = f;
    return v.u;
}

#define KILN_INF_F32 (kiln_f32_from_bits(0x7f800000u))
#define KILN_NAN_F32 (kiln_f32_from_bits(0x7fc00000u))
