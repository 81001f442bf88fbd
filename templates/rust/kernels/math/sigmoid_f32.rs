/// The logistic function 1 / (1 + e^-x) for f32, written so that exp only sees
/// non-positive arguments (no overflow, and full relative accuracy for large negative x).
fn sigmoid_f32(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + exp_f32(-x))
    } else {
        let e = exp_f32(x);
        e / (1.0 + e)
    }
}
