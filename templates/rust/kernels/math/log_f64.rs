/// ln x for f64 without libm (the fdlibm/musl method): x = 2^k (1 + f) with 1 + f in
/// [sqrt(1/2), sqrt(2)), ln(1 + f) = 2 atanh(s) with s = f / (2 + f), the series in s^2 by
/// a minimax polynomial, and k ln 2 added in two parts. Within 1 ulp.
fn log_f64(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_2e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const LG1: f64 = 6.666_666_666_666_735e-1;
    const LG2: f64 = 3.999_999_999_940_942e-1;
    const LG3: f64 = 2.857_142_874_366_239e-1;
    const LG4: f64 = 2.222_219_843_214_978_4e-1;
    const LG5: f64 = 1.818_357_216_161_805e-1;
    const LG6: f64 = 1.531_383_769_920_937_3e-1;
    const LG7: f64 = 1.479_819_860_511_658_6e-1;
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    let mut ix = x.to_bits();
    let mut k: i32 = 0;
    if ix < 1 << 52 {
        // Subnormal: scale by 2^54 into the normal range.
        k -= 54;
        ix = (x * 18_014_398_509_481_984.0).to_bits();
    }
    // The exponent, with the mantissa moved into [sqrt(1/2), sqrt(2)).
    let mut hx = (ix >> 32) as u32;
    hx += 0x3ff0_0000 - 0x3fe6_a09e;
    k += (hx >> 20) as i32 - 0x3ff;
    hx = (hx & 0x000f_ffff) + 0x3fe6_a09e;
    let m = f64::from_bits((u64::from(hx) << 32) | (ix & 0xffff_ffff));
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let dk = f64::from(k);
    s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI
}
