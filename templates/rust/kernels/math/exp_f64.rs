/// e^x for f64 without libm: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2 so
/// k * LN2_HI is exact), e^r from its Taylor polynomial to degree 13 (truncation below
/// 0.05 ulp), then scaled by 2^k through the exponent bits.
fn exp_f64(x: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    if x.is_nan() {
        return x;
    }
    // Beyond these e^x rounds to infinity or to zero.
    if x > 710.0 {
        return f64::INFINITY;
    }
    if x < -746.0 {
        return 0.0;
    }
    let t = x * core::f64::consts::LOG2_E;
    // Round to nearest (core has no f64::round); |t| < 1077 so the cast cannot saturate.
    let k = if t < 0.0 { (t - 0.5) as i32 } else { (t + 0.5) as i32 };
    let kf = f64::from(k);
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_666_666_666_66
                    + r * (0.041_666_666_666_666_664
                        + r * (0.008_333_333_333_333_333
                            + r * (0.001_388_888_888_888_889
                                + r * (0.000_198_412_698_412_698_4
                                    + r * (2.480_158_730_158_73e-5
                                        + r * (2.755_731_922_398_589_3e-6
                                            + r * (2.755_731_922_398_589e-7
                                                + r * (2.505_210_838_544_172e-8
                                                    + r * (2.087_675_698_786_81e-9
                                                        + r * 1.605_904_383_682_161_3e-10))))))))))));
    // 2^k for k in the normal exponent range.
    fn pow2(k: i32) -> f64 {
        f64::from_bits(((k + 1023) as u64) << 52)
    }
    if k > 1023 {
        p * pow2(1023) * pow2(k - 1023)
    } else if k < -1022 {
        // Scale in two steps so that the result is rounded once, into the subnormals.
        p * pow2(k + 1022) * pow2(-1022)
    } else {
        p * pow2(k)
    }
}
