static uint64_t kiln_f64_to_bits(double f)
{
    union { uint64_t u; double f; } v;
    v.f = f;
    return v.u;
}
