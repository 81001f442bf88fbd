/// `y[e] = f(x[e], k)` over an `outer × axis × inner` view, where `k` is the element's scale
/// (and zero point) number: `o * st[0] + (a / block) * st[1] + i * st[2]` (per-tensor,
/// per-axis and blocked quantisation).
#[allow(dead_code)] // one file for the quantisation kernels; a model may use one of them
fn affine_map<X: Copy, Y>(x: &[X], y: &mut [Y], dims: [usize; 4], st: [usize; 3], f: impl Fn(X, usize) -> Y) {
    let [outer, axis, inner, block] = dims;
    if st == [0, 0, 0] {
        // Per tensor: one parameter for all, a plain loop the compiler vectorises.
        for (o, &v) in y.iter_mut().zip(x).take(outer * axis * inner) {
            *o = f(v, 0);
        }
        return;
    }
    let mut e = 0;
    for o in 0..outer {
        for a in 0..axis {
            let base = o * st[0] + (a / block) * st[1];
            for i in 0..inner {
                y[e] = f(x[e], base + i * st[2]);
                e += 1;
            }
        }
    }
}

/// Round half to even (numpy's `rint`) without libm.
#[allow(dead_code)]
fn round_even_f32(v: f32) -> f32 {
    // Below 2^23, adding 2^23 leaves whole numbers one unit apart, so the addition rounds
    // |v| half to even; from 2^23 on every f32 is whole. NaN and the infinities stay as
    // they are, and the sign is kept (-0.4 gives -0.0, as numpy's `rint`). No branch, so
    // it vectorises.
    let a = v.abs();
    let r = if a < 8_388_608.0 { (a + 8_388_608.0) - 8_388_608.0 } else { a };
    r.copysign(v)
}

/// `v` (a whole number, or NaN) clamped to `lo..=hi` (inside an 8-bit range) as an i32,
/// NaN giving 0 as `as` would: without a float-to-int conversion, so it vectorises. While
/// `|v| < 2^22`, `v + 1.5 * 2^23` is in [2^23, 2^24), where floats are one unit apart, so
/// its bits less those of 1.5 * 2^23 are `v`.
#[allow(dead_code)]
#[inline(always)]
fn quantize_8(v: f32, lo: f32, hi: f32) -> i32 {
    const OFFSET: f32 = 12_582_912.0;
    #[allow(clippy::eq_op)]
    let v = if v == v { v } else { 0.0 };
    let v = if v < lo { lo } else { v };
    let v = if v > hi { hi } else { v };
    ((v + OFFSET).to_bits() as i32) - OFFSET.to_bits() as i32
}

/// DynamicQuantizeLinear: the range [min(x, 0), max(x, 0)] mapped onto u8.
#[allow(dead_code)]
fn dynamic_quantize(x: &[f32], y: &mut [u8], scale: &mut [f32], zero_point: &mut [u8]) {
    let (mut lo, mut hi) = (0.0f32, 0.0f32);
    for &v in x {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let s = (hi - lo) / 255.0;
    let z = if s == 0.0 { 0.0 } else { round_even_f32((0.0 - lo / s).clamp(0.0, 255.0)) };
    scale[0] = s;
    zero_point[0] = z as u8;
    for (o, &v) in y.iter_mut().zip(x) {
        *o = if s == 0.0 { z as u8 } else { (round_even_f32(v / s) + z).clamp(0.0, 255.0) as u8 };
    }
}

/// `f((A - a_zp) × (B - b_zp))` per output element, accumulated in i32 (wrapping, as int32
/// arithmetic does): A is `batch × m × k`, B `k × n` (or a stack of `batch` when `batched`
/// is 1); a zero point is one value or one per row of A / column of B.
#[allow(dead_code)]
fn int_matmul<A: Copy + Into<i32>, B: Copy + Into<i32>, Y>(
    a: &[A],
    b: &[B],
    a_zp: &[A],
    b_zp: &[B],
    y: &mut [Y],
    dims: [usize; 5],
    f: impl Fn(i32) -> Y,
) {
    let [batch, m, k, n, batched] = dims;
    for p in 0..batch {
        let (ao, bo) = (p * m * k, p * k * n * batched);
        for i in 0..m {
            let za: i32 = a_zp[if a_zp.len() == 1 { 0 } else { i }].into();
            for j in 0..n {
                let zb: i32 = b_zp[if b_zp.len() == 1 { 0 } else { j }].into();
                let mut acc = 0i32;
                for t in 0..k {
                    let av: i32 = a[ao + i * k + t].into();
                    let bv: i32 = b[bo + t * n + j].into();
                    acc = acc.wrapping_add((av - za).wrapping_mul(bv - zb));
                }
                y[(p * m + i) * n + j] = f(acc);
            }
        }
    }
}

/// Round half to even in f64 without libm.
#[allow(dead_code)]
fn round_even_f64(v: f64) -> f64 {
    // From 2^52 on every f64 is whole; NaN and the infinities stay as they are.
    if !(v > -4_503_599_627_370_496.0 && v < 4_503_599_627_370_496.0) {
        return v;
    }
    let t = v as i64;
    let d = v - t as f64;
    let n = if d > 0.5 || (d == 0.5 && t & 1 == 1) {
        t + 1
    } else if d < -0.5 || (d == -0.5 && t & 1 == 1) {
        t - 1
    } else {
        t
    };
    n as f64
}

/// `f((x - x_zp) ⊛ (w - w_zp), m)` per output element of a 2-D convolution (1-D ones have a
/// unit height), accumulated in i32; padding reads the zero point, so it adds nothing.
/// `d` = [n, c, h, w, m, group, kh, kw, oh, ow], `s` = [stride h, w, dilation h, w, pad
/// top, left]; `w_zp` is one value or one per output channel.
#[allow(dead_code, clippy::too_many_arguments)]
fn int_conv<X: Copy + Into<i32>, W: Copy + Into<i32>, Y>(
    x: &[X],
    w: &[W],
    x_zp: &[X],
    w_zp: &[W],
    y: &mut [Y],
    d: [usize; 10],
    s: [usize; 6],
    f: impl Fn(i32, usize) -> Y,
) {
    let [n, c, h, wi, m, group, kh, kw, oh, ow] = d;
    let [sh, sw, dh, dw, pt, pl] = s;
    let (cg, mg) = (c / group, m / group);
    let zx: i32 = x_zp[0].into();
    for b in 0..n {
        for oc in 0..m {
            let g = oc / mg;
            let zw: i32 = w_zp[if w_zp.len() == 1 { 0 } else { oc }].into();
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = 0i32;
                    for ic in 0..cg {
                        let xc = g * cg + ic;
                        for ki in 0..kh {
                            let r = i * sh + ki * dh;
                            if r < pt || r - pt >= h {
                                continue;
                            }
                            for kj in 0..kw {
                                let q = j * sw + kj * dw;
                                if q < pl || q - pl >= wi {
                                    continue;
                                }
                                let xv: i32 = x[((b * c + xc) * h + r - pt) * wi + q - pl].into();
                                let wv: i32 = w[((oc * cg + ic) * kh + ki) * kw + kj].into();
                                acc = acc.wrapping_add((xv - zx).wrapping_mul(wv - zw));
                            }
                        }
                    }
                    y[((b * m + oc) * oh + i) * ow + j] = f(acc, oc);
                }
            }
        }
    }
}
