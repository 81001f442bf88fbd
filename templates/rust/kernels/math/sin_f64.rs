/// sin x for f64 without libm: reduced by `rem_pio2_f64` to [-pi/4, pi/4], then the sin or
/// cos kernel by quadrant (fdlibm/musl). Within 1 ulp for |x| < 1.6e6 (measured in kiln's
/// codegen/src/math_tests.rs).
fn sin_f64(x: f64) -> f64 {
    // NaN for NaN and the infinities.
    if !x.is_finite() {
        return f64::NAN;
    }
    if x > -0.785_398_163_397_448_3 && x < 0.785_398_163_397_448_3 {
        return sin_kernel_f64(x, 0.0);
    }
    let (n, a, b) = rem_pio2_f64(x);
    match n & 3 {
        0 => sin_kernel_f64(a, b),
        1 => cos_kernel_f64(a, b),
        2 => -sin_kernel_f64(a, b),
        _ => -cos_kernel_f64(a, b),
    }
}
