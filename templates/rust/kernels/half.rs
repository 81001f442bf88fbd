// f16 and bf16 tensors are stored as their bit patterns (u16): stable Rust has no 16-bit
// float arithmetic, so kiln computes in f32 and converts at the edges with these.

/// The f32 with the same value as the f16 `h` (exact: every f16 is an f32).
#[allow(dead_code)] // one file for all four; a Cast uses one or two
fn f16_to_f32(h: u16) -> f32 {
    let sign = (u32::from(h) & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    if exp == 0 {
        // Zero or subnormal: man * 2^-24, exact in f32.
        let v = man as f32 * (1.0 / 16_777_216.0);
        return if sign != 0 { -v } else { v };
    }
    let bits = if exp == 0x1f {
        // Infinity, or NaN with its payload.
        sign | 0x7f80_0000 | (man << 13)
    } else {
        sign | ((exp + 112) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// `x` rounded to the nearest f16 (ties to even), as numpy's `astype(float16)` rounds,
/// straight from f64 so f64 sources are rounded once.
#[allow(dead_code)] // one file for all four; a Cast uses one or two
fn f64_to_f16(x: f64) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 48) & 0x8000) as u16;
    let exp = ((b >> 52) & 0x7ff) as i32;
    let man = b & 0x000f_ffff_ffff_ffff;
    if exp == 0x7ff {
        // Infinity, or a quiet NaN keeping the top of the payload.
        return if man == 0 {
            sign | 0x7c00
        } else {
            sign | 0x7e00 | ((man >> 42) as u16 & 0x3ff)
        };
    }
    if exp == 0 {
        // f64 zeros and subnormals are far below half the smallest f16 subnormal.
        return sign;
    }
    let e = exp - 1023;
    if e > 15 {
        return sign | 0x7c00;
    }
    let sig = man | (1 << 52);
    // Keep 11 significant bits for a normal f16, fewer for a subnormal one.
    let shift = if e >= -14 { 42 } else { 42 + (-14 - e) };
    if shift >= 54 {
        return sign;
    }
    let mut q = sig >> shift;
    let rem = sig & ((1 << shift) - 1);
    let half = 1 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q += 1;
    }
    if e >= -14 {
        // A carry out of the significand (q = 2^11) bumps the exponent, up to infinity.
        let bits = (((e + 15) as u32) << 10) + (q as u32 - 0x400);
        sign | bits.min(0x7c00) as u16
    } else {
        // Rounding up from the largest subnormal gives the smallest normal: same bits.
        sign | q as u16
    }
}

/// The f32 with the same value as the bf16 `h` (bf16 is the top half of an f32).
#[allow(dead_code)] // one file for all four; a Cast uses one or two
fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// `x` rounded to the nearest bf16 (ties to even); NaN stays a quiet NaN.
#[allow(dead_code)] // one file for all four; a Cast uses one or two
fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return (b >> 16) as u16 | 0x0040;
    }
    let round = 0x7fff + ((b >> 16) & 1);
    ((b + round) >> 16) as u16
}
