/// Correctly rounded square root for f32 without libm: the integer square root of the
/// significand, scaled to 27 bits, then rounded to nearest with a sticky bit.
fn sqrt_f32(x: f32) -> f32 {
    // NaN, +-0 and +inf are their own roots; negative numbers have none.
    if x.is_nan() || x == 0.0 || x == f32::INFINITY {
        return x;
    }
    if x < 0.0 {
        return f32::NAN;
    }
    let bits = x.to_bits();
    let field = (bits >> 23) as i32;
    // x = m * 2^e with m an integer.
    let (mut m, mut e) = if field == 0 {
        (u64::from(bits), -149)
    } else {
        (u64::from((bits & 0x7f_ffff) | 0x80_0000), field - 150)
    };
    if e % 2 != 0 {
        m <<= 1;
        e -= 1;
    }
    // An even shift brings m into [2^52, 2^54), so its root lies in [2^26, 2^27).
    let shift = (m.leading_zeros() as i32 - 10) & !1;
    m <<= shift;
    e -= shift;
    let r = m.isqrt();
    let inexact = r * r != m;
    let rem = r & 7;
    let mut mant = (r >> 3) as u32;
    let mut exp = 26 + e / 2;
    if rem > 4 || (rem == 4 && (inexact || mant & 1 == 1)) {
        mant += 1;
        if mant == 1 << 24 {
            mant >>= 1;
            exp += 1;
        }
    }
    f32::from_bits((((exp + 127) as u32) << 23) | (mant & 0x7f_ffff))
}
