/// e^x for f32 without libm: x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2 so
/// k * LN2_HI is exact), e^r from its Taylor polynomial to degree 7 (truncation below
/// 0.1 ulp), then scaled by 2^k through the exponent bits.
fn exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    if x.is_nan() {
        return x;
    }
    // Beyond these e^x rounds to infinity or to zero.
    if x > 89.0 {
        return f32::INFINITY;
    }
    if x < -104.0 {
        return 0.0;
    }
    let t = x * core::f32::consts::LOG2_E;
    // Round to nearest (core has no f32::round); |t| < 151 so the cast cannot saturate.
    let k = if t < 0.0 { (t - 0.5) as i32 } else { (t + 0.5) as i32 };
    let kf = k as f32;
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (0.166_666_67
                    + r * (0.041_666_668
                        + r * (0.008_333_334 + r * (0.001_388_888_9 + r * 0.000_198_412_7))))));
    // 2^k for k in the normal exponent range.
    fn pow2(k: i32) -> f32 {
        f32::from_bits(((k + 127) as u32) << 23)
    }
    if k > 127 {
        p * pow2(127) * pow2(k - 127)
    } else if k < -126 {
        // Scale in two steps so that the result is rounded once, into the subnormals.
        p * pow2(k + 126) * pow2(-126)
    } else {
        p * pow2(k)
    }
}
