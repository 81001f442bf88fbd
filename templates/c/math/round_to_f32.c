/* v rounded to 24 significant bits, half to even: the integer an f32 holds for it. */
static int64_t round_to_f32(int64_t v)
{
    uint64_t mag = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    unsigned bits = 0, d;
    int64_t r;
    while (bits < 64 && (mag >> bits) != 0) {
        bits++;
    }
    if (bits <= 24) {
        return v;
    }
    d = bits - 24;
    r = shift_round((int64_t)mag, d) * ((int64_t)1 << d);
    return v < 0 ? -r : r;
}
