/* round_half_even(p / 2^s) on integers: the requantization of kiln's integer kernels
 * (exact, no floating point). Right shifts of negative values are arithmetic on every
 * compiler kiln targets (gcc, clang); left shifts are spelled as products. */
static int64_t shift_round(int64_t p, unsigned s)
{
    int64_t q, r;
    if (s == 0) {
        return p;
    }
    q = p >> s;
    r = p - q * ((int64_t)1 << s);
    return q + ((r + (q & 1)) > ((int64_t)1 << (s - 1)) ? 1 : 0);
}
