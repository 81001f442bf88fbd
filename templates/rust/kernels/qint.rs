/// `round_half_even(p / 2^s)` on integers: the requantization of kiln's integer kernels
/// (exact, no floating point).
#[allow(dead_code)]
#[inline(always)]
fn shift_round(p: i64, s: u32) -> i64 {
    if s == 0 {
        return p;
    }
    let q = p >> s;
    let r = p - (q << s);
    q + ((r + (q & 1)) > (1i64 << (s - 1))) as i64
}

/// `v` rounded to 24 significant bits, half to even: the integer an f32 holds for it.
#[allow(dead_code)]
#[inline(always)]
fn round_to_f32(v: i64) -> i64 {
    let mag = v.unsigned_abs();
    let bits = 64 - mag.leading_zeros();
    if bits <= 24 {
        return v;
    }
    let d = bits - 24;
    let r = shift_round(mag as i64, d) << d;
    if v < 0 { -r } else { r }
}

/// `zero + round_half_even(f32(f32(acc) * factor))`, clamped to `lo..=hi`, where
/// `factor = mult / 2^shift` is an f32: onnxruntime's requantization, in integers.
#[allow(dead_code)]
#[inline(always)]
fn requant(acc: i64, mult: i32, shift: u32, zero: i32, lo: i32, hi: i32) -> i32 {
    let p = round_to_f32(round_to_f32(acc) * mult as i64);
    (shift_round(p, shift) + zero as i64).clamp(lo as i64, hi as i64) as i32
}

/// `f(Σ_t (a[r, t] - a_zero) * b[t, j], j)` for each row `r` of A (`rows × k`) and column
/// `j` of B (`k × n`, i8, zero point 0), summed in i32.
#[allow(dead_code)]
fn int_gemm<A: Copy + Into<i32>, Y>(
    a: &[A],
    b: &[i8],
    a_zero: i32,
    y: &mut [Y],
    dims: [usize; 3],
    f: impl Fn(i32, usize) -> Y,
) {
    let [rows, k, n] = dims;
    for r in 0..rows {
        let ar = &a[r * k..(r + 1) * k];
        for j in 0..n {
            let mut acc = 0i32;
            for t in 0..k {
                let av: i32 = ar[t].into();
                acc = acc.wrapping_add((av - a_zero).wrapping_mul(b[t * n + j] as i32));
            }
            y[r * n + j] = f(acc, j);
        }
    }
}

/// `f(Σ (x - x_zero))` over each `kh × kw` window (strides `sh`, `sw`, every window full)
/// of each of the `planes` planes of `h × w`.
#[allow(dead_code)]
fn int_avg_pool<X: Copy + Into<i32>, Y>(
    x: &[X],
    y: &mut [Y],
    x_zero: i32,
    d: [usize; 9],
    f: impl Fn(i32) -> Y,
) {
    let [planes, h, w, kh, kw, sh, sw, oh, ow] = d;
    for p in 0..planes {
        let plane = &x[p * h * w..(p + 1) * h * w];
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = 0i32;
                for ki in 0..kh {
                    let row = &plane[(i * sh + ki) * w + j * sw..][..kw];
                    for &v in row {
                        let v: i32 = v.into();
                        acc += v - x_zero;
                    }
                }
                y[(p * oh + i) * ow + j] = f(acc);
            }
        }
    }
}
