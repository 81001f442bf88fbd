/// Correctly rounded square root for f64 without libm: the integer square root of the
/// significand, scaled to 56 bits, then rounded to nearest with a sticky bit.
fn sqrt_f64(x: f64) -> f64 {
    // NaN, +-0 and +inf are their own roots; negative numbers have none.
    if x.is_nan() || x == 0.0 || x == f64::INFINITY {
        return x;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    let bits = x.to_bits();
    let field = (bits >> 52) as i32;
    // x = m * 2^e with m an integer.
    let (mut m, mut e) = if field == 0 {
        (u128::from(bits), -1074)
    } else {
        (u128::from((bits & 0xf_ffff_ffff_ffff) | 0x10_0000_0000_0000), field - 1075)
    };
    if e % 2 != 0 {
        m <<= 1;
        e -= 1;
    }
    // An even shift brings m into [2^110, 2^112), so its root lies in [2^55, 2^56).
    let shift = (m.leading_zeros() as i32 - 16) & !1;
    m <<= shift;
    e -= shift;
    let r = m.isqrt();
    let inexact = r * r != m;
    let rem = r & 7;
    let mut mant = (r >> 3) as u64;
    let mut exp = 55 + e / 2;
    if rem > 4 || (rem == 4 && (inexact || mant & 1 == 1)) {
        mant += 1;
        if mant == 1 << 53 {
            mant >>= 1;
            exp += 1;
        }
    }
    f64::from_bits((((exp + 1023) as u64) << 52) | (mant & 0xf_ffff_ffff_ffff))
}
