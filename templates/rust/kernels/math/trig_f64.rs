/// sin(x + y) for |x + y| <= pi/4, y a correction below ulp(x) (the fdlibm/musl kernel:
/// x + x^3 times a minimax polynomial in x^2).
fn sin_kernel_f64(x: f64, y: f64) -> f64 {
    const S1: f64 = -1.666_666_666_666_663_2e-1;
    const S2: f64 = 8.333_333_333_322_49e-3;
    const S3: f64 = -1.984_126_982_985_795e-4;
    const S4: f64 = 2.755_731_370_707_006_8e-6;
    const S5: f64 = -2.505_076_025_340_686_3e-8;
    const S6: f64 = 1.589_690_995_211_55e-10;
    let z = x * x;
    let w = z * z;
    let r = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
    let v = z * x;
    x - ((z * (0.5 * y - v * r) - y) - v * S1)
}

/// cos(x + y) for |x + y| <= pi/4 (the fdlibm/musl kernel: 1 - x^2 / 2 with its rounding
/// error recovered, plus x^4 times a minimax polynomial in x^2).
fn cos_kernel_f64(x: f64, y: f64) -> f64 {
    const C1: f64 = 4.166_666_666_666_660_2e-2;
    const C2: f64 = -1.388_888_888_887_411e-3;
    const C3: f64 = 2.480_158_728_947_673e-5;
    const C4: f64 = -2.755_731_435_139_066_3e-7;
    const C5: f64 = 2.087_572_321_298_175e-9;
    const C6: f64 = -1.135_964_755_778_819_5e-11;
    let z = x * x;
    let w = z * z;
    let r = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    w + (((1.0 - w) - hz) + (z * r - x * y))
}

/// x = n pi/2 + (y0 + y1) with |y0 + y1| <= pi/4 (fdlibm/musl's medium-size reduction,
/// pi/2 in three 33-bit parts so n times each part is exact): exact for |x| < 2^20 pi/2,
/// about 1.6e6. Beyond, the reduction loses accuracy (n times a part is rounded).
fn rem_pio2_f64(x: f64) -> (i32, f64, f64) {
    const TOINT: f64 = 6_755_399_441_055_744.0;
    const INVPIO2: f64 = 6.366_197_723_675_814e-1;
    const PIO2_1: f64 = 1.570_796_326_734_125_6;
    const PIO2_1T: f64 = 6.077_100_506_506_192e-11;
    const PIO2_2: f64 = 6.077_100_506_303_966e-11;
    const PIO2_2T: f64 = 2.022_266_248_795_950_6e-21;
    const PIO2_3: f64 = 2.022_266_248_711_166_5e-21;
    const PIO2_3T: f64 = 8.478_427_660_368_9e-32;
    let exponent = |v: f64| ((v.to_bits() >> 52) & 0x7ff) as i32;
    // Round to nearest by adding and removing 1.5 * 2^52.
    let n = x * INVPIO2 + TOINT - TOINT;
    let mut r = x - n * PIO2_1;
    let mut w = n * PIO2_1T;
    let mut y0 = r - w;
    let ex = exponent(x);
    if ex - exponent(y0) > 16 {
        // Cancellation: carry pi/2 further.
        let t = r;
        w = n * PIO2_2;
        r = t - w;
        w = n * PIO2_2T - ((t - r) - w);
        y0 = r - w;
        if ex - exponent(y0) > 49 {
            let t = r;
            w = n * PIO2_3;
            r = t - w;
            w = n * PIO2_3T - ((t - r) - w);
            y0 = r - w;
        }
    }
    let y1 = (r - y0) - w;
    // n is below 2^31 in magnitude wherever the reduction is accurate; `as` saturates beyond.
    (n as i64 as i32, y0, y1)
}
