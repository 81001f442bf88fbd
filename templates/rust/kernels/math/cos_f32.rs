/// cos x for f32 through `cos_f64` (exact argument, f64 result rounded once).
fn cos_f32(x: f32) -> f32 {
    cos_f64(x as f64) as f32
}
