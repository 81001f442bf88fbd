/// The logistic function 1 / (1 + e^-x) for f32, written so that exp only sees
/// non-positive arguments (no overflow, and full relative accuracy for large negative x).
/// Both quotients are computed and one selected, without a branch, so loops over it (the
/// SiLU epilogue, say) vectorise.
#[inline]
fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_f32(if x >= 0.0 { -x } else { x });
    let d = 1.0 + e;
    if x >= 0.0 {
        1.0 / d
    } else {
        e / d
    }
}
