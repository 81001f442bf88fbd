/// ln x for f32 through `log_f64`: the correctly rounded result but for double rounding.
fn log_f32(x: f32) -> f32 {
    log_f64(x as f64) as f32
}
