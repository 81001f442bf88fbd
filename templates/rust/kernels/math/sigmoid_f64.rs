/// The logistic function 1 / (1 + e^-x) for f64, written so that exp only sees
/// non-positive arguments (no overflow, and full relative accuracy for large negative x).
fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + exp_f64(-x))
    } else {
        let e = exp_f64(x);
        e / (1.0 + e)
    }
}
