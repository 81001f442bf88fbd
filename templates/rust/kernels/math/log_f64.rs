/// ln x for f64 without libm (the method of fdlibm's e_log.c): x = 2^k (1 + f) with 1 + f
/// in [sqrt(1/2), sqrt(2)), ln(1 + f) = 2 atanh(s) with s = f / (2 + f) from a minimax
/// polynomial in s^2, assembled as f - (f^2/2 - s (f^2/2 + R)) so the large terms are exact,
/// plus k ln2 split in two (Cody-Waite) so k * LN2_HI is exact. Within 1 ulp (measured in
/// kiln's codegen/src/math_tests.rs).
fn log_f64(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const LG1: f64 = 6.666_666_666_666_735_130e-1;
    const LG2: f64 = 3.999_999_999_940_941_908e-1;
    const LG3: f64 = 2.857_142_874_366_239_149e-1;
    const LG4: f64 = 2.222_219_843_214_978_396e-1;
    const LG5: f64 = 1.818_357_216_161_805_012e-1;
    const LG6: f64 = 1.531_383_769_920_937_332e-1;
    const LG7: f64 = 1.479_819_860_511_658_591e-1;
    if x.is_nan() {
        return x;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return x;
    }
    let mut bits = x.to_bits();
    let mut k: i64 = 0;
    if bits < 1 << 52 {
        // Subnormal: scale into the normal range by 2^54.
        bits = (x * 18_014_398_509_481_984.0).to_bits();
        k = -54;
    }
    k += (bits >> 52) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52));
    if m >= core::f64::consts::SQRT_2 {
        m *= 0.5;
        k += 1;
    }
    // Exact: m is within a factor 2 of 1.
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))));
    let hfsq = 0.5 * f * f;
    let dk = k as f64;
    dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
}
