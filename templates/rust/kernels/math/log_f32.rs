/// ln x for f32 through `log_f64`, which is accurate far beyond f32: the result is the
/// correctly rounded one but for double rounding (within 0.5 + 2^-28 ulp).
fn log_f32(x: f32) -> f32 {
    log_f64(x as f64) as f32
}
