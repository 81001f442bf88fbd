static double kiln_f64_from_bits(uint64_t b)
{
    union { uint64_t u; double f; } v;
    v.u = b;
    return v.f;
}
