/// tanh for f64: an odd polynomial below |x| = 0.625 (Chebyshev fit of (tanh x - x) / x^3
/// in x^2, error below 2e-18), 1 - 2 / (e^2|x| + 1) above, where the subtraction no longer
/// amplifies the error of exp, and +-1 once tanh rounds to it.
fn tanh_f64(x: f64) -> f64 {
    let a = f64::from_bits(x.to_bits() & 0x7fff_ffff_ffff_ffff);
    // tanh x = x (1 - x^2 / 3 + ...) rounds to x here (x^2 / 3 < 2^-54); this also keeps -0.0.
    if a < 1e-8 {
        return x;
    }
    if a < 0.625 {
        let u = x * x;
        let p = -0.333_333_333_333_333_3
            + u * (0.133_333_333_333_330_42
                + u * (-0.053_968_253_967_896_99
                    + u * (0.021_869_488_519_008_305
                        + u * (-0.008_863_235_103_240_878
                            + u * (0.003_592_121_751_154_962_2
                                + u * (-0.001_455_775_412_047_805_5
                                    + u * (0.000_589_660_657_775_704_3
                                        + u * (-0.000_237_590_649_605_556_2
                                            + u * (9.257_116_129_556_769e-5
                                                + u * (-3.120_110_142_579_74e-5
                                                    + u * 6.485_163_482_793_113e-6))))))))));
        return x + x * u * p;
    }
    let t = if a > 19.5 {
        1.0
    } else {
        1.0 - 2.0 / (exp_f64(2.0 * a) + 1.0)
    };
    if x < 0.0 { -t } else { t }
}
