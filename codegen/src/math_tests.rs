//! The math routines emitted into generated code, measured against std. They are included
//! from the same template files the emitter embeds, so what is tested is what ships.
//! Run with `--nocapture` to see the measured errors.

#![allow(clippy::excessive_precision, clippy::approx_constant)]

include!("../templates/rust/kernels/math/exp_f32.rs");
include!("../templates/rust/kernels/math/exp_f64.rs");
include!("../templates/rust/kernels/math/tanh_f32.rs");
include!("../templates/rust/kernels/math/tanh_f64.rs");
include!("../templates/rust/kernels/math/sigmoid_f32.rs");
include!("../templates/rust/kernels/math/sigmoid_f64.rs");
include!("../templates/rust/kernels/math/silu_f32.rs");
include!("../templates/rust/kernels/math/sqrt_f32.rs");
include!("../templates/rust/kernels/math/sqrt_f64.rs");
include!("../templates/rust/kernels/math/erf_f32.rs");
include!("../templates/rust/kernels/math/erf_f64.rs");
include!("../templates/rust/kernels/math/pow_f32.rs");
include!("../templates/rust/kernels/math/pow_f64.rs");
include!("../templates/rust/kernels/math/log_f32.rs");
include!("../templates/rust/kernels/math/log_f64.rs");
include!("../templates/rust/kernels/math/trig_f64.rs");
include!("../templates/rust/kernels/math/sin_f32.rs");
include!("../templates/rust/kernels/math/sin_f64.rs");
include!("../templates/rust/kernels/math/cos_f32.rs");
include!("../templates/rust/kernels/math/cos_f64.rs");
include!("../templates/rust/kernels/math/atan_f64.rs");

/// The f32 square root of targets with an f64 unit (same name, so in a module of its own).
mod newton {
    include!("../templates/rust/kernels/math/sqrt_f32_newton.rs");
    pub(super) fn sqrt(x: f32) -> f32 {
        sqrt_f32(x)
    }
}

/// Distance of `got` from the exact value `want` (f64, exact enough for f32 results), in
/// units of the f32 spacing at `want`.
fn ulps_f32(got: f32, want: f64) -> f64 {
    let w = want as f32;
    let a = w.abs();
    let ulp = (f32::from_bits(a.to_bits() + 1) - a) as f64;
    ((got as f64) - want).abs() / ulp
}

/// Distance of `got` from std's result `want`, in units of the f64 spacing at `want`.
fn ulps_f64(got: f64, want: f64) -> f64 {
    let a = want.abs();
    let ulp = f64::from_bits(a.to_bits() + 1) - a;
    (got - want).abs() / ulp
}

/// f32 values from `lo` to `hi` (either sign), every `step`-th bit pattern.
fn f32_range(lo: f32, hi: f32, step: u32) -> impl Iterator<Item = f32> {
    (0..=u32::MAX / step)
        .map(move |i| f32::from_bits(i * step))
        .flat_map(|x| [x, -x])
        .filter(move |x| (lo..=hi).contains(x))
}

/// Deterministic pseudo-random f64 in `lo..hi`.
fn f64_samples(lo: f64, hi: f64, n: usize) -> impl Iterator<Item = f64> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n).map(move |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
    })
}

fn max_f32(xs: impl Iterator<Item = f32>, f: fn(f32) -> f32, exact: fn(f64) -> f64) -> (f64, f32) {
    xs.map(|x| (ulps_f32(f(x), exact(x as f64)), x))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

fn max_f64(xs: impl Iterator<Item = f64>, f: fn(f64) -> f64, std: fn(f64) -> f64) -> (f64, f64) {
    xs.map(|x| (ulps_f64(f(x), std(x)), x))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

fn sigmoid_exact(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn exp_is_within_2_ulp_on_the_normal_range() {
    // Results are normal f32 from e^-87.3 up to overflow at 88.72.
    let (e32, at32) = max_f32(f32_range(-87.3, 88.72, 61), exp_f32, f64::exp);
    let (e64, at64) = max_f64(f64_samples(-708.0, 709.7, 2_000_000), exp_f64, f64::exp);
    println!("exp_f32: max {e32:.3} ulp (at {at32}); exp_f64: max {e64:.3} ulp vs std (at {at64})");
    assert!(e32 <= 2.0 && e64 <= 2.0);
}

#[test]
fn exp_edge_cases() {
    assert_eq!(exp_f32(0.0), 1.0);
    assert_eq!(exp_f32(89.0), f32::INFINITY);
    assert_eq!(exp_f32(88.8), f32::INFINITY);
    assert_eq!(exp_f32(-104.5), 0.0);
    assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
    assert!(exp_f32(f32::NAN).is_nan());
    assert!(exp_f32(-100.0) > 0.0 && exp_f32(-100.0) < 1e-43);
    assert!(exp_f32(88.72).is_finite());
    assert_eq!(exp_f64(0.0), 1.0);
    assert_eq!(exp_f64(709.8), f64::INFINITY);
    assert_eq!(exp_f64(-746.5), 0.0);
    assert!(exp_f64(709.7).is_finite());
    assert!(exp_f64(-740.0) > 0.0);
    // Subnormal results are rounded once.
    for x in [-100.0f32, -95.5, -103.2] {
        assert!(ulps_f32(exp_f32(x), (x as f64).exp()) <= 1.0, "{x}");
    }
}

#[test]
fn tanh_and_sigmoid_errors() {
    let (t32, a32) = max_f32(f32_range(-20.0, 20.0, 61), tanh_f32, f64::tanh);
    let (t64, b64) = max_f64(
        f64_samples(-25.0, 25.0, 1_000_000).chain(f64_samples(-1.0, 1.0, 1_000_000)),
        tanh_f64,
        f64::tanh,
    );
    let (s32, c32) = max_f32(f32_range(-87.0, 88.0, 61), sigmoid_f32, sigmoid_exact);
    let (s64, d64) = max_f64(
        f64_samples(-700.0, 700.0, 1_000_000).chain(f64_samples(-5.0, 5.0, 1_000_000)),
        sigmoid_f64,
        sigmoid_exact,
    );
    println!(
        "tanh_f32: max {t32:.3} ulp (at {a32}); tanh_f64: max {t64:.3} ulp vs std (at {b64}); \
         sigmoid_f32: max {s32:.3} ulp (at {c32}); sigmoid_f64: max {s64:.3} ulp vs 1/(1+exp(-x)) (at {d64})"
    );
    // The f64 references are themselves computed in f64 (about 1 ulp each way). sigmoid_f32
    // trades accuracy for speed (its exponential to degree 6): 4.1 ulp over every f32
    // whose result is normal, measured outside the suite.
    assert!(t32 <= 3.0 && t64 <= 3.0 && s32 <= 4.5 && s64 <= 4.5);
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(30.0), 1.0);
    assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
    assert!(tanh_f32(f32::NAN).is_nan());
    assert_eq!(tanh_f64(-40.0), -1.0);
    assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
    assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
    assert!(sigmoid_f32(f32::NAN).is_nan());
    assert_eq!(sigmoid_f32(0.0), 0.5);
    // Below -87, where the result is within 2^-126 of 0, it is 0.
    assert_eq!(sigmoid_f32(-87.5), 0.0);
    assert!(sigmoid_f32(-86.9) >= f32::MIN_POSITIVE);
    assert_eq!(sigmoid_f64(0.0), 0.5);
}

fn silu_exact(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

#[test]
fn silu_errors() {
    // Where the result is normal: x from -88 (about -1e-36) up. 4.4 ulp over every f32
    // there, measured outside the suite (4.0 with the multiply-adds fused).
    let (e, at) = max_f32(f32_range(-88.0, 1e6, 61), silu_f32, silu_exact);
    println!("silu_f32: max {e:.3} ulp vs x/(1+exp(-x)) (at {at})");
    assert!(e <= 4.5, "silu_f32: {e} ulp at {at}");
    // Below -88 the exact result is under 6e-37 in magnitude: -0 (then NaN at -inf, as
    // x * sigmoid(x) is: -inf * 0).
    for x in [-88.01f32, -95.0, -1e30] {
        let y = silu_f32(x);
        assert!(y == 0.0 && y.is_sign_negative(), "{x}: {y}");
        assert!(silu_exact(x as f64).abs() < 6e-37);
    }
    assert!(silu_f32(f32::NEG_INFINITY).is_nan());
    assert!((f32::NEG_INFINITY * sigmoid_f32(f32::NEG_INFINITY)).is_nan());
    assert_eq!(silu_f32(f32::INFINITY), f32::INFINITY);
    assert!(silu_f32(f32::NAN).is_nan());
    assert_eq!(silu_f32(0.0).to_bits(), 0.0f32.to_bits());
    assert_eq!(silu_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    // Within an ulp or two of the unfused pair the reference rounds.
    for x in [-87.0f32, -10.0, -1.278, -0.5, 1e-30, 0.5, 3.0, 87.0, 88.5] {
        let (a, b) = (silu_f32(x), x * sigmoid_f32(x));
        assert!(ulps_f32(a, b as f64) <= 8.0, "{x}: {a} vs {b}");
    }
}

#[test]
fn sqrt_is_correctly_rounded() {
    for x in f32_range(0.0, f32::MAX, 257).filter(|x| *x >= 0.0) {
        assert_eq!(sqrt_f32(x).to_bits(), x.sqrt().to_bits(), "{x:e}");
    }
    for x in f64_samples(0.0, 1.0, 200_000)
        .map(|u| f64::from_bits((u * 0x7fef_ffff_ffff_ffffu64 as f64) as u64))
        .chain([0.0, 4.0, 2.0, 5e-324, 1e-310, f64::MAX, f64::MIN_POSITIVE])
    {
        assert_eq!(sqrt_f64(x).to_bits(), x.sqrt().to_bits(), "{x:e}");
    }
    assert!(sqrt_f32(-1.0).is_nan() && sqrt_f64(-1e-300).is_nan());
    // The f64 Newton form: every non-negative f32 from 0 up to +inf and NaN a step of 7 bit
    // patterns apart (307 M; every pattern was checked once, 2^31, outside the suite), and
    // every f32 around the powers of two, where the spacing of neighbours halves.
    let around_powers = (-149i32..128).flat_map(|e| {
        let p = 2f32.powi(e).to_bits();
        (p.saturating_sub(64)..p + 64).map(f32::from_bits)
    });
    for x in (0..=0x7f80_0000u32 / 7)
        .map(|i| f32::from_bits(i * 7))
        .chain(around_powers)
        .chain([f32::INFINITY, f32::MAX, f32::MIN_POSITIVE, 1e-45])
    {
        assert_eq!(newton::sqrt(x).to_bits(), x.sqrt().to_bits(), "{x:e}");
    }
    for x in [-0.0f32, 0.0, -1.0, -1e-45, f32::NEG_INFINITY] {
        let (got, want) = (newton::sqrt(x), x.sqrt());
        assert!(
            got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
            "{x:e}"
        );
    }
    assert!(newton::sqrt(f32::NAN).is_nan());
    assert_eq!(sqrt_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(sqrt_f64(f64::INFINITY), f64::INFINITY);
}

/// `a + b` exactly, as a double-double.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

fn dd_add(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (s, e) = two_sum(a.0, b.0);
    let (s, e2) = two_sum(s, e + a.1 + b.1);
    (s, e2)
}

fn dd_mul(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let p = a.0 * b.0;
    let e = a.0.mul_add(b.0, -p) + (a.0 * b.1 + a.1 * b.0);
    two_sum(p, e)
}

fn dd_div(a: (f64, f64), b: f64) -> (f64, f64) {
    let q = a.0 / b;
    let r = dd_add(a, dd_mul((q, 0.0), (-b, 0.0)));
    two_sum(q, r.0 / b)
}

/// erf as a double-double, independent of the shipped code: below |x| = 3 the Taylor series
/// summed in double-double (its terms stay below 200, so about 1e-29 absolute), above
/// 1 - erfc(x) with erfc from its continued fraction (erfc < 2.3e-5 there, so its 1e-15
/// relative error is far below an f64 ulp of 1).
fn erf_exact(x: f64) -> (f64, f64) {
    let a = x.abs();
    let (hi, lo) = if a >= 3.0 {
        let mut f = a;
        for n in (1..=80).rev() {
            f = a + (n as f64 / 2.0) / f;
        }
        let erfc =
            (-a * a).exp() * (1.0 - a.mul_add(a, -(a * a))) / (std::f64::consts::PI.sqrt() * f);
        two_sum(1.0, -erfc)
    } else {
        // sum (-1)^n x^(2n+1) / (n! (2n + 1)), times 2 / sqrt(pi).
        let x2 = dd_mul((a, 0.0), (a, 0.0));
        let (mut p, mut sum) = ((a, 0.0), (a, 0.0));
        for n in 1..200 {
            p = dd_div(dd_mul(p, x2), n as f64);
            let t = dd_div(p, (2 * n + 1) as f64);
            sum = dd_add(sum, if n % 2 == 1 { (-t.0, -t.1) } else { t });
            if t.0.abs() < 1e-34 {
                break;
            }
        }
        dd_mul(sum, (1.1283791670955126, 1.533545961316588e-17))
    };
    if x < 0.0 { (-hi, -lo) } else { (hi, lo) }
}

#[test]
fn erf_errors() {
    // f32: every 509th bit pattern up to where erf rounds to 1, both signs.
    let (mut e32, mut at32) = (0.0f64, 0.0f32);
    for x in f32_range(0.0, 4.5, 509) {
        let (hi, lo) = erf_exact(x as f64);
        let e = ulps_f32(erf_f32(x), hi + lo);
        if e > e32 {
            (e32, at32) = (e, x);
        }
    }
    // f64: against the double-double reference, in units of the f64 spacing at erf(x).
    let (mut e64, mut at64) = (0.0f64, 0.0f64);
    for x in f64_samples(-6.5, 6.5, 150_000)
        .chain(f64_samples(-1.0, 1.0, 50_000))
        .chain(f64_samples(-1e-3, 1e-3, 10_000))
    {
        let (hi, lo) = erf_exact(x);
        let a = hi.abs();
        let ulp = f64::from_bits(a.to_bits() + 1) - a;
        let e = ((erf_f64(x) - hi) - lo).abs() / ulp;
        if e > e64 {
            (e64, at64) = (e, x);
        }
    }
    println!("erf_f32: max {e32:.3} ulp (at {at32}); erf_f64: max {e64:.3} ulp (at {at64})");
    assert!(e32 <= 2.0 && e64 <= 2.0);
    assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(erf_f64(-0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(erf_f32(f32::INFINITY), 1.0);
    assert_eq!(erf_f32(-10.0), -1.0);
    assert_eq!(erf_f64(f64::NEG_INFINITY), -1.0);
    assert!(erf_f32(f32::NAN).is_nan() && erf_f64(f64::NAN).is_nan());
    // Subnormal results are within one subnormal step.
    assert!(ulps_f32(erf_f32(1e-40), 1e-40 * 1.1283791670955126) <= 1.0);
}

#[test]
fn pow_errors() {
    // f64 against std (itself within 1 ulp): bases over many binades, exponents small and
    // large, results in the normal range.
    let bases: Vec<f64> = f64_samples(-40.0, 40.0, 400_000).map(f64::exp2).collect();
    let exps: Vec<f64> = f64_samples(-30.0, 30.0, 400_000).collect();
    let (mut e64, mut at64) = (0.0f64, (0.0, 0.0));
    for (&x, &y) in bases.iter().zip(&exps) {
        let want = x.powf(y);
        if !(want.is_normal()) {
            continue;
        }
        let e = ulps_f64(pow_f64(x, y), want);
        if e > e64 {
            (e64, at64) = (e, (x, y));
        }
    }
    // Near 1 with large exponents, where log x must be carried to about 2^-64.
    for (u, v) in f64_samples(-1e-3, 1e-3, 200_000).zip(f64_samples(-6e5, 6e5, 200_000)) {
        let (x, y) = (1.0 + u, v);
        let want = x.powf(y);
        if want.is_normal() {
            let e = ulps_f64(pow_f64(x, y), want);
            if e > e64 {
                (e64, at64) = (e, (x, y));
            }
        }
    }
    // f32 against the f64 result, in f32 ulps.
    let (mut e32, mut at32) = (0.0f64, (0.0f32, 0.0f32));
    for (u, v) in f64_samples(-20.0, 20.0, 300_000).zip(f64_samples(-12.0, 12.0, 300_000)) {
        let (x, y) = (u.exp2() as f32, v as f32);
        let want = (x as f64).powf(y as f64);
        if (want as f32).is_normal() {
            let e = ulps_f32(pow_f32(x, y), want);
            if e > e32 {
                (e32, at32) = (e, (x, y));
            }
        }
    }
    println!(
        "pow_f64: max {e64:.3} ulp vs std (at {at64:?}); pow_f32: max {e32:.3} ulp (at {at32:?})"
    );
    assert!(e64 <= 2.0 && e32 <= 0.51);
    // Integer powers are exact when the result is representable; special cases as IEEE.
    assert_eq!(pow_f64(3.0, 33.0), 5559060566555523.0);
    assert_eq!(pow_f64(-2.0, -3.0), -0.125);
    assert_eq!(pow_f64(10.0, -2.0), 0.01);
    assert!(ulps_f64(pow_f64(1.5, 1024.0), 1.5f64.powf(1024.0)) <= 1.0);
    assert_eq!(pow_f32(2.0, 5.0), 32.0);
    for (x, y) in [
        (0.0, -1.0),
        (-0.0, -1.0),
        (-0.0, 3.0),
        (-0.0, 0.5),
        (0.0, 0.0),
        (f64::NAN, 0.0),
        (1.0, f64::NAN),
        (-1.0, f64::INFINITY),
        (0.5, f64::NEG_INFINITY),
        (2.0, f64::NEG_INFINITY),
        (f64::NEG_INFINITY, 3.0),
        (f64::NEG_INFINITY, -3.0),
        (f64::NEG_INFINITY, 0.5),
        (f64::INFINITY, -2.0),
        (-8.0, 1.0 / 3.0),
        (-2.0, 1e300),
        (-1.0, -1e300),
        (1e-300, 2.0),
        (2.0, 1100.0),
        (2.0, -1075.0),
        (5e-324, 0.5),
        (0.999, 1e20),
    ] {
        let (got, want) = (pow_f64(x, y), x.powf(y));
        assert!(
            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
            "pow({x}, {y}) = {got}, not {want}"
        );
    }
}

#[test]
fn log_errors() {
    // f32: every 61st bit pattern of the positive finite floats (subnormals included),
    // against the f64 logarithm (itself within 1 f64 ulp, far below an f32 ulp).
    let (e32, at32) = max_f32(
        f32_range(0.0, f32::MAX, 61).filter(|x| *x > 0.0),
        log_f32,
        f64::ln,
    );
    // f64 against std, over the whole exponent range and near 1.
    let wide = f64_samples(-1070.0, 1023.0, 1_000_000).map(f64::exp2);
    let near_one = f64_samples(0.5, 2.0, 1_000_000);
    let (e64, at64) = max_f64(
        wide.chain(near_one).filter(|&x| (x - 1.0).abs() > 1e-300),
        log_f64,
        f64::ln,
    );
    println!("log_f32: max {e32:.3} ulp (at {at32}); log_f64: max {e64:.3} ulp vs std (at {at64})");
    assert!(e32 <= 2.0 && e64 <= 2.0);
    assert_eq!(log_f32(1.0), 0.0);
    assert_eq!(log_f64(1.0), 0.0);
    assert_eq!(log_f32(0.0), f32::NEG_INFINITY);
    assert_eq!(log_f64(-0.0), f64::NEG_INFINITY);
    assert!(log_f32(-1.0).is_nan() && log_f64(f64::NAN).is_nan());
    assert_eq!(log_f64(f64::INFINITY), f64::INFINITY);
    assert_eq!(log_f64(5e-324), -744.4400719213812);
}

#[test]
fn sin_cos_errors() {
    // Where the argument reduction is exact: |x| < 2^20 pi/2.
    let limit = 1.6e6;
    let (s32, a32) = max_f32(f32_range(-1.6e6, 1.6e6, 61), sin_f32, f64::sin);
    let (c32, b32) = max_f32(f32_range(-1.6e6, 1.6e6, 61), cos_f32, f64::cos);
    let xs = || {
        f64_samples(-limit, limit, 1_000_000)
            .chain(f64_samples(-10.0, 10.0, 1_000_000))
            .chain(f64_samples(-1e-6, 1e-6, 100_000))
    };
    let (s64, c64x) = max_f64(xs(), sin_f64, f64::sin);
    let (k64, d64) = max_f64(xs(), cos_f64, f64::cos);
    println!(
        "sin_f32: max {s32:.3} ulp (at {a32}); cos_f32: max {c32:.3} ulp (at {b32}); \
         sin_f64: max {s64:.3} ulp vs std (at {c64x}); cos_f64: max {k64:.3} ulp vs std (at {d64})"
    );
    assert!(s32 <= 2.0 && c32 <= 2.0 && s64 <= 2.0 && k64 <= 2.0);
    assert_eq!(sin_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(sin_f64(0.0), 0.0);
    assert_eq!(cos_f64(0.0), 1.0);
    assert!(sin_f64(f64::INFINITY).is_nan() && cos_f32(f32::NAN).is_nan());
    // Close to multiples of pi/2, where the reduction cancels most digits.
    for k in 1..2000 {
        let x = k as f64 * std::f64::consts::FRAC_PI_2;
        assert!(ulps_f64(sin_f64(x), x.sin()) <= 2.0, "sin({x})");
        assert!(ulps_f64(cos_f64(x), x.cos()) <= 2.0, "cos({x})");
    }
}

#[test]
fn atan_errors() {
    let xs = f64_samples(-3.0, 3.0, 1_000_000)
        .chain(f64_samples(-1e-6, 1e-6, 100_000))
        .chain(f64_samples(-1e6, 1e6, 100_000))
        .chain((-300..300).map(|e| 1.7f64 * 10f64.powi(e)))
        .chain((-300..300).map(|e| -2.3f64 * 10f64.powi(e)));
    let (e, at) = max_f64(xs, atan_f64, f64::atan);
    println!("atan_f64: max {e:.3} ulp vs std (at {at})");
    assert!(e <= 1.0);
    assert_eq!(atan_f64(-0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(atan_f64(f64::INFINITY), std::f64::consts::FRAC_PI_2);
    assert_eq!(atan_f64(f64::NEG_INFINITY), -std::f64::consts::FRAC_PI_2);
    assert!(atan_f64(f64::NAN).is_nan());
}
