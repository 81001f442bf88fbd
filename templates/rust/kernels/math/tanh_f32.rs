/// tanh for f32: an odd polynomial below |x| = 0.625 (Chebyshev fit of (tanh x - x) / x^3
/// in x^2, error below 1e-9), 1 - 2 / (e^2|x| + 1) above, where the subtraction no longer
/// amplifies the error of exp, and +-1 once tanh rounds to it. Every branch is computed
/// and one selected, so loops over it vectorise.
#[inline]
fn tanh_f32(x: f32) -> f32 {
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    let u = x * x;
    let p = -0.333_333_34
        + u * (0.133_333_04
            + u * (-0.053_959_258
                + u * (0.021_768_918 + u * (-0.008_343_945 + u * 0.002_292_744_8))));
    let near = x + x * u * p;
    let t = if a > 9.1 {
        1.0
    } else {
        1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0)
    };
    let far = if x < 0.0 { -t } else { t };
    // tanh x = x (1 - x^2 / 3 + ...) rounds to x below 2.4e-4 (x^2 / 3 < 2^-25); this also
    // keeps -0.0.
    if a < 2.4e-4 {
        x
    } else if a < 0.625 {
        near
    } else {
        far
    }
}
