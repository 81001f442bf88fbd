/// x^y for f32 through `pow_f64`, which is accurate far beyond f32: the result is the
/// correctly rounded one but for double rounding (within 0.5 + 2^-29 ulp).
fn pow_f32(x: f32, y: f32) -> f32 {
    pow_f64(x as f64, y as f64) as f32
}
