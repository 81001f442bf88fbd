//! The math routines emitted into generated code, measured against std. They are included
//! from the same template files the emitter embeds, so what is tested is what ships.
//! Run with `--nocapture` to see the measured errors.

#![allow(clippy::excessive_precision, clippy::approx_constant)]

include!("../../templates/rust/kernels/math/exp_f32.rs");
include!("../../templates/rust/kernels/math/exp_f64.rs");
include!("../../templates/rust/kernels/math/tanh_f32.rs");
include!("../../templates/rust/kernels/math/tanh_f64.rs");
include!("../../templates/rust/kernels/math/sigmoid_f32.rs");
include!("../../templates/rust/kernels/math/sigmoid_f64.rs");
include!("../../templates/rust/kernels/math/sqrt_f32.rs");
include!("../../templates/rust/kernels/math/sqrt_f64.rs");

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
    // The f64 references are themselves computed in f64 (about 1 ulp each way).
    assert!(t32 <= 3.0 && t64 <= 3.0 && s32 <= 3.0 && s64 <= 4.5);
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(30.0), 1.0);
    assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
    assert!(tanh_f32(f32::NAN).is_nan());
    assert_eq!(tanh_f64(-40.0), -1.0);
    assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
    assert_eq!(sigmoid_f32(f32::NEG_INFINITY), 0.0);
    assert_eq!(sigmoid_f64(0.0), 0.5);
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
    assert_eq!(sqrt_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(sqrt_f64(f64::INFINITY), f64::INFINITY);
}
