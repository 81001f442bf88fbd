/// x^y for f64 without libm, with the special cases of IEEE 754 (C99 Annex F). Integer
/// exponents up to 1024 in magnitude by binary powering in double-double (exact results
/// come out exact); other exponents as e^(y log x): log x as a double-double (x = 2^k m with
/// m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), the s and s^3 terms
/// in double-double), y log x formed exactly (Dekker's product), and e^(hi + lo) =
/// e^hi (1 + lo). Within 2 ulp (measured in kiln's codegen/src/math_tests.rs).
fn pow_f64(x: f64, y: f64) -> f64 {
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const TWO_THIRDS: (f64, f64) = (0.666_666_666_666_666_6, 3.700_743_415_417_188e-17);
    // Dekker's splitting and exact product: a * b = p + e (for |a|, |b| below 2^996).
    fn split(a: f64) -> (f64, f64) {
        let c = 134_217_729.0 * a;
        let h = c - (c - a);
        (h, a - h)
    }
    fn two_prod(a: f64, b: f64) -> (f64, f64) {
        let p = a * b;
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        (p, ((ah * bh - p) + ah * bl + al * bh) + al * bl)
    }
    fn two_sum(a: f64, b: f64) -> (f64, f64) {
        let s = a + b;
        let bb = s - a;
        (s, (a - (s - bb)) + (b - bb))
    }
    fn mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        let (p, e) = two_prod(a.0, b.0);
        two_sum(p, e + (a.0 * b.1 + a.1 * b.0))
    }
    let abs = |v: f64| f64::from_bits(v.to_bits() & 0x7fff_ffff_ffff_ffff);
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if x.is_nan() || y.is_nan() {
        return x + y;
    }
    let (ax, ay) = (abs(x), abs(y));
    if ay == f64::INFINITY {
        return if ax == 1.0 {
            1.0
        } else if (ax > 1.0) == (y > 0.0) {
            f64::INFINITY
        } else {
            0.0
        };
    }
    // Every f64 from 2^53 on is an even integer.
    let (y_int, y_odd) = if ay >= 9_007_199_254_740_992.0 {
        (true, false)
    } else {
        let t = y as i64;
        (t as f64 == y, t & 1 == 1)
    };
    let neg = x.to_bits() >> 63 == 1 && y_odd;
    let sign = |r: f64| if neg { -r } else { r };
    if ax == 0.0 || ax == f64::INFINITY {
        return sign(if (ax == 0.0) == (y < 0.0) { f64::INFINITY } else { 0.0 });
    }
    if x < 0.0 && !y_int {
        return f64::NAN;
    }
    if y_int && ay <= 1024.0 {
        // Binary powering while every value stays where Dekker's product is exact.
        let (mut n, mut b, mut r) = (ay as u32, (ax, 0.0), (1.0, 0.0));
        let fits = |v: (f64, f64)| v.0 < 2.9e135 && v.0 > 3.5e-136;
        let mut ok = true;
        while n > 0 && ok {
            if n & 1 == 1 {
                r = mul(r, b);
            }
            n >>= 1;
            if n > 0 {
                b = mul(b, b);
            }
            ok = fits(r) && fits(b);
        }
        if ok {
            if y > 0.0 {
                return sign(r.0 + r.1);
            }
            // 1 / (hi + lo), corrected once.
            let q = 1.0 / r.0;
            let (p, e) = two_prod(q, r.0);
            let rem = ((1.0 - p) - e) - q * r.1;
            return sign(q + q * rem);
        }
    }
    // Beyond 2^64 the product y log x is 0 (x = -1) or far past the range of exp
    // (|log x| >= 2^-53 otherwise).
    if ay > 18_446_744_073_709_551_616.0 {
        return sign(if ax == 1.0 {
            1.0
        } else if (ax > 1.0) == (y > 0.0) {
            f64::INFINITY
        } else {
            0.0
        });
    }
    // x = 2^k m.
    let (mut bits, mut k) = (ax.to_bits(), 0i32);
    if bits < 1 << 52 {
        bits = (ax * 18_014_398_509_481_984.0).to_bits();
        k = -54;
    }
    k += (bits >> 52) as i32 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > core::f64::consts::SQRT_2 {
        m *= 0.5;
        k += 1;
    }
    // s = f / (2 + f) as a double-double (f = m - 1 and 2 + f = d + dl are exact).
    let f = m - 1.0;
    let d = 2.0 + f;
    let dl = f - (d - 2.0);
    let s = f / d;
    let (p, pe) = two_prod(s, d);
    let sl = (((f - p) - pe) - s * dl) / d;
    // log m = 2 s + 2 s^3 / 3 + s^5 (2/5 + 2 s^2 / 7 + ...): the tail is below 1.2e-4 and
    // its truncation below 2^-66 of log m.
    let s2 = mul((s, sl), (s, sl));
    let s3 = mul(s2, (s, sl));
    let t3 = mul(s3, TWO_THIRDS);
    let z = s2.0;
    let mut q = 2.0 / 27.0;
    for c in [25.0, 23.0, 21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0] {
        q = q * z + 2.0 / c;
    }
    let tail = s3.0 * z * q;
    let (h, e1) = two_sum(2.0 * s, t3.0);
    let lo = e1 + (2.0 * sl + t3.1 + tail);
    let kf = f64::from(k);
    let (hh, e2) = two_sum(kf * LN2_HI, h);
    let (lh, ll) = two_sum(hh, e2 + lo + kf * LN2_LO);
    // t = y log x = th + tl.
    let (p, e) = two_prod(y, lh);
    let (th, tl) = two_sum(p, e + y * ll);
    let r = exp_f64(th);
    if r == 0.0 || r == f64::INFINITY {
        return sign(r);
    }
    sign(r + r * tl)
}
