/* ln x for f64 without libm, as kiln's Rust log_f64 (the fdlibm/musl method):
 * x = 2^k (1 + f), ln(1 + f) = 2 atanh(s) with s = f / (2 + f), a minimax polynomial in
 * s^2, and k ln 2 added in two parts. Within 1 ulp. */
static double log_f64(double x)
{
    const double ln2_hi = 6.9314718036912382e-1, ln2_lo = 1.9082149292705877e-10;
    const double lg1 = 6.666666666666735e-1, lg2 = 3.999999999940942e-1;
    const double lg3 = 2.857142874366239e-1, lg4 = 2.2222198432149784e-1;
    const double lg5 = 1.818357216161805e-1, lg6 = 1.5313837699209373e-1;
    const double lg7 = 1.4798198605116586e-1;
    uint64_t ix;
    uint32_t hx;
    int32_t k = 0;
    double m, f, hfsq, s, z, w, t1, t2, r, dk;
    if (x != x || x == 1.0 / 0.0) {
        return x;
    }
    if (x == 0.0) {
        return -1.0 / 0.0;
    }
    if (x < 0.0) {
        return 0.0 / 0.0;
    }
    ix = kiln_f64_to_bits(x);
    if (ix < ((uint64_t)1 << 52)) {
        /* Subnormal: scale by 2^54 into the normal range. */
        k -= 54;
        ix = kiln_f64_to_bits(x * 18014398509481984.0);
    }
    hx = (uint32_t)(ix >> 32);
    hx += 0x3ff00000u - 0x3fe6a09eu;
    k += (int32_t)(hx >> 20) - 0x3ff;
    hx = (hx & 0x000fffffu) + 0x3fe6a09eu;
    m = kiln_f64_from_bits(((uint64_t)hx << 32) | (ix & 0xffffffffu));
    f = m - 1.0;
    hfsq = 0.5 * f * f;
    s = f / (2.0 + f);
    z = s * s;
    w = z * z;
    t1 = w * (lg2 + w * (lg4 + w * lg6));
    t2 = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7)));
    r = t2 + t1;
    dk = (double)k;
    return s * (hfsq + r) + dk * ln2_lo - hfsq + f + dk * ln2_hi;
}
