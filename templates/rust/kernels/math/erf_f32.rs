/// erf for f32 without libm. Below |x| = 0.92, x + x P(x^2) with P a Chebyshev fit of
/// erf(x) / x - 1 (error below 5e-10); up to 3.92, four pieces 0.75 wide, each erf(c + t) =
/// HI + p(t) around the piece's middle c, with HI = erf(c) rounded and p a degree-8
/// Chebyshev fit of the rest (error below 1e-9); beyond, +-1, to which erf rounds. Within
/// 1 ulp (measured in kiln's codegen/src/math_tests.rs).
fn erf_f32(x: f32) -> f32 {
    const A: [f32; 7] = [1.2837917e-1, -3.7612635e-1, 1.1283691e-1, -2.6859151e-2, 5.200369e-3, -8.134709e-4, 8.3347186e-5];
    const MID: [f32; 4] = [1.295, 2.045, 2.795, 3.545];
    const HI: [f32; 4] = [9.329601e-1, 9.9617285e-1, 9.9992275e-1, 9.9999946e-1];
    const P: [[f32; 9]; 4] = [
        [1.551582e-8, 2.109271e-1, -2.7315062e-1, 1.6551264e-1, -1.6117204e-2, -4.134489e-2, 2.2104748e-2, 2.0217148e-3, -5.067244e-3],
        [-1.04903375e-8, 1.7227592e-2, -3.523042e-2, 4.2288095e-2, -3.149662e-2, 1.30822e-2, -5.0761795e-4, -2.8572485e-3, 1.4777323e-3],
        [-1.794782e-8, 4.568108e-4, -1.2767846e-3, 2.2267224e-3, -2.686292e-3, 2.3372716e-3, -1.4611174e-3, 5.921328e-4, -9.7371965e-5],
        [1.6405197e-9, 3.932239e-6, -1.3940527e-5, 3.1656054e-5, -5.143351e-5, 6.293336e-5, -6.108389e-5, 5.1406558e-5, -2.990046e-5],
    ];
    let a = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    if a < 0.92 {
        let u = x * x;
        let mut p = A[6];
        for &c in A[..6].iter().rev() {
            p = p * u + c;
        }
        // Keeps -0.0 and is exact enough for subnormal x.
        return x + x * p;
    }
    if a.is_nan() {
        return x;
    }
    if a >= 3.92 {
        return if x < 0.0 { -1.0 } else { 1.0 };
    }
    // The piece; t = a - c is exact (c / 2 <= a <= 2 c).
    let k = ((a - 0.92) * (4.0 / 3.0)) as usize;
    let k = if k > 3 { 3 } else { k };
    let t = a - MID[k];
    let q = &P[k];
    let mut p = q[8];
    for &c in q[..8].iter().rev() {
        p = p * t + c;
    }
    let r = HI[k] + p;
    if x < 0.0 { -r } else { r }
}
