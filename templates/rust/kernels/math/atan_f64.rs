/// atan x for f64 without libm (the fdlibm/musl method): |x| reduced to [0, 7/16) by
/// atan(x) = atan(c) + atan((x - c) / (1 + c x)) for c = 1/2, 1, 3/2 or infinity, with
/// atan(c) in two parts; atan of the reduced value as x - x^3 times a minimax polynomial
/// in x^2 (odd and even terms in two halves). The sign put back at the end.
fn atan_f64(x: f64) -> f64 {
    const HI: [f64; 4] = [
        4.636_476_090_008_061e-1,
        7.853_981_633_974_483e-1,
        9.827_937_232_473_29e-1,
        1.570_796_326_794_896_6,
    ];
    const LO: [f64; 4] = [
        2.269_877_745_296_168_7e-17,
        3.061_616_997_868_383e-17,
        1.390_331_103_123_099_8e-17,
        6.123_233_995_736_766e-17,
    ];
    const AT: [f64; 11] = [
        3.333_333_333_333_293e-1,
        -1.999_999_999_987_648_3e-1,
        1.428_571_427_250_346_6e-1,
        -1.111_111_040_546_235_6e-1,
        9.090_887_133_436_507e-2,
        -7.691_876_205_044_83e-2,
        6.661_073_137_387_531e-2,
        -5.833_570_133_790_573_5e-2,
        4.976_877_994_615_932_4e-2,
        -3.653_157_274_421_691_6e-2,
        1.628_582_011_536_578_2e-2,
    ];
    if x.is_nan() {
        return x;
    }
    let a = if x < 0.0 { -x } else { x };
    let (id, t) = if a < 0.4375 {
        // Below 2^-27 the cubic term is under half an ulp (and would underflow).
        if a < 7.450_580_596_923_828e-9 {
            return x;
        }
        (usize::MAX, a)
    } else if a < 0.6875 {
        (0, (2.0 * a - 1.0) / (2.0 + a))
    } else if a < 1.1875 {
        (1, (a - 1.0) / (a + 1.0))
    } else if a < 2.4375 {
        (2, (a - 1.5) / (1.0 + 1.5 * a))
    } else if a < 7.378_697_629_483_821e19 {
        (3, -1.0 / a)
    } else {
        // |x| >= 2^66 (infinity included): pi/2.
        (3, 0.0)
    };
    let z = t * t;
    let w = z * z;
    let s1 = z * (AT[0] + w * (AT[2] + w * (AT[4] + w * (AT[6] + w * (AT[8] + w * AT[10])))));
    let s2 = w * (AT[1] + w * (AT[3] + w * (AT[5] + w * (AT[7] + w * AT[9]))));
    let r = if id == usize::MAX {
        t - t * (s1 + s2)
    } else {
        HI[id] - ((t * (s1 + s2) - LO[id]) - t)
    };
    if x < 0.0 { -r } else { r }
}
