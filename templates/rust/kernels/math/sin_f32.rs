/// sin x for f32 through `sin_f64` (exact argument, f64 result rounded once).
fn sin_f32(x: f32) -> f32 {
    sin_f64(x as f64) as f32
}
