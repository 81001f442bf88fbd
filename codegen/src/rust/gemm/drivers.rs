//! The GEMM drivers (`gemm_a`, `gemm_b`) and the kernels that are one call of them:
//! 1x1 convolutions, Gemm and MatMul by packed weights.

use super::*;

pub(super) fn driver_a(s: &mut String, t: Tiling) {
    let (mr, nr, l) = (t.mr, t.nr(), t.lanes);
    // The copy into the panel. A microcontroller's (one-lane tiling) takes its ranges with
    // `get`, leaving no panic path (see conv_rows4); on vector targets that form measured
    // three times slower on MobileNet's first pointwise convolution (8 input channels) on
    // x86-64, so they index as before.
    let panel_copy = if l == 1 {
        String::from(
            "        let Some(panel) = panel.get_mut(..k * pw) else { return };
        for (q, dst) in panel.chunks_exact_mut(pw).enumerate() {
            let from = q * ldb + j;
            if let (Some(d), Some(src)) = (dst.get_mut(..w), b.get(from..from + w)) {
                d.copy_from_slice(src);
            }
            if let Some(z) = dst.get_mut(w..) {
                z.fill(0.0);
            }
        }",
        )
    } else {
        // A whole block copies rows of a length the compiler knows (vector moves, not a
        // `memmove` call per row: with 32-column tiles and few input channels those calls
        // were a tenth of MobileNet's time).
        "        let panel = &mut panel[..k * pw];
        if w == NR {
            for (q, dst) in panel.chunks_exact_mut(NR).enumerate() {
                if let (Ok(d), Some(src)) = (<&mut [f32; NR]>::try_from(dst), b[q * ldb + j..].first_chunk::<NR>()) {
                    *d = *src;
                }
            }
        } else {
            for (q, dst) in panel.chunks_exact_mut(pw).enumerate() {
                dst[..w].copy_from_slice(&b[q * ldb + j..][..w]);
                dst[w..].fill(0.0);
            }
        }"
        .replace("NR", &nr.to_string())
    };
    let _ = writeln!(
        s,
        "/// `c = bias + a b` (`m x n`, rows `ldc` apart) for `a` `m x k` packed in row panels of
/// {mr} and `b` `k x n` (rows `ldb` apart); `bias` is each row's initial value. Then
/// `epi(c_at + offset, run)` on each row's finished columns, at least 256 at a time (a call
/// per block of {nr} cost more than the epilogue itself on wide planes). Columns go in blocks of {nr},
/// each first copied into `panel` (`k x {nr}`, zeros past the last column) so the
/// micro-kernel reads it contiguous, from cache, for every row panel of `a`. A last block
/// of at most {l} columns goes through the one-vector tile instead: on small planes (a 3x3
/// map is 9 columns) the full tile would mostly multiply zeros.
#[allow(clippy::too_many_arguments)]
fn gemm_a<E: Fn(usize, &mut [f32]) + ?Sized>(a: &[Wt], b: &[f32], ldb: usize, m: usize, n: usize, k: usize, bias: Option<&[f32]>, c: &mut [f32], ldc: usize, c_at: usize, epi: &E, panel: &mut [f32]) {{
    let (mut j, mut done) = (0, 0);
    while j < n {{
        let w = (n - j).min({nr});
        let pw = if w <= {l} {{ {l} }} else {{ {nr} }};
{panel_copy}
        for (p, ap) in a.chunks_exact(k * {mr}).enumerate() {{
            let mut init = [0.0f32; {mr}];
            if let Some(bias) = bias {{
                for (i, v) in init.iter_mut().enumerate() {{
                    *v = bias.get(p * {mr} + i).copied().unwrap_or(0.0);
                }}
            }}
            let rows = (m - p * {mr}).min({mr});
            let Some(cp) = c.get_mut(p * {mr} * ldc + j..) else {{ return }};
            if pw == {nr} {{
                gemm_tile_a{mr}x{nr}(ap, panel, {nr}, k, &init, cp, ldc, rows, w);
            }} else {{
                gemm_tile_a{mr}x{l}(ap, panel, {l}, k, &init, cp, ldc, rows, w);
            }}
        }}
        j += {nr};
        let end = j.min(n);
        if end - done >= 256 || end == n {{
            for i in 0..m {{
                if let Some(run) = c.get_mut(i * ldc + done..i * ldc + end) {{
                    epi(c_at + i * ldc + done, run);
                }}
            }}
            done = end;
        }}
    }}
}}"
    );
}

pub(super) fn driver_b(s: &mut String, t: Tiling) {
    let (mr, nr) = (t.mr, t.nr());
    let _ = writeln!(
        s,
        "/// `c = a b` (`m x n`, rows `ldc` apart) for `a` `m x k` (rows `lda` apart) and `b`
/// `k x n` packed in column panels of {nr}: {mr} rows at a time, a lone row or two by the
/// one-row kernel.
#[allow(clippy::too_many_arguments)]
fn gemm_b(a: &[f32], lda: usize, b: &[Wt], m: usize, n: usize, k: usize, c: &mut [f32], ldc: usize) {{
    for (p, panel) in b.chunks_exact(k * {nr}).enumerate() {{
        let (j, cols) = (p * {nr}, (n - p * {nr}).min({nr}));
        let mut i = 0;
        while i < m {{
            let rows = (m - i).min({mr});
            let (Some(ai), Some(ci)) = (a.get(i * lda..), c.get_mut(i * ldc + j..)) else {{ return }};
            if rows * 4 > {mr} {{
                gemm_tile_b{mr}x{nr}(ai, lda, panel, k, ci, ldc, rows, cols);
                i += rows;
            }} else {{
                gemm_tile_b1x{nr}(ai, lda, panel, k, ci, ldc, 1, cols);
                i += 1;
            }}
        }}
    }}
}}"
    );
}

pub(super) const POINTWISE_PARAMS: &str =
    "/// A 1x1 convolution at stride 1 without padding, as one GEMM per batch item: the
/// weights (`c_out x c_in`, packed in row panels) times the input (`c_in x plane`).
struct PointwiseParams {
    batch: usize,
    c_in: usize,
    c_out: usize,
    plane: usize,
}
";

pub(super) const POINTWISE: &str = "
/// The convolution, then the fused epilogue `epi(at, run)` on each finished run of an
/// output plane (`at`: its flat offset in `y`).
#[inline(always)]
#[allow(clippy::too_many_arguments, dead_code)]
fn conv_pointwise(x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &PointwiseParams, epi: impl Fn(usize, &mut [f32])) {
    conv_pointwise_body(x, w, b, y, scratch, p, &epi)
}

/// `conv_pointwise` with its body shared by every call that takes this entry point (see
/// `conv_split_dyn`).
#[inline(always)]
#[allow(clippy::too_many_arguments, dead_code)]
fn conv_pointwise_dyn(x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &PointwiseParams, epi: impl Fn(usize, &mut [f32])) {
    conv_pointwise_body::<dyn Fn(usize, &mut [f32])>(x, w, b, y, scratch, p, &epi)
}

#[allow(clippy::too_many_arguments)]
fn conv_pointwise_body<E: Fn(usize, &mut [f32]) + ?Sized>(x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &PointwiseParams, epi: &E) {
    let (xn, yn) = (p.c_in * p.plane, p.c_out * p.plane);
    for n in 0..p.batch {
        // `get`: in bounds by construction, and no panic path (see conv_rows4).
        let (Some(x), Some(y)) = (x.get(n * xn..(n + 1) * xn), y.get_mut(n * yn..(n + 1) * yn)) else { return };
        gemm_a(w, x, p.plane, p.c_out, p.plane, p.c_in, b, y, p.plane, n * yn, epi, scratch);
    }
}
";

pub(super) const GEMM_B: &str = "/// Gemm shapes for weights packed in column panels: `A` is `m x k` (not transposed),
/// `B'` is `k x n`; C (if any) is read at `i * c_strides.0 + j * c_strides.1`.
struct GemmPackedParams {
    m: usize,
    n: usize,
    k: usize,
    c_strides: (usize, usize),
}

/// `Y = alpha * A B' + beta * C`, then the fused epilogue `epi(at, run)` on all of `Y` (its
/// rows are contiguous: one call, not one per row).
#[allow(clippy::too_many_arguments)]
fn gemm_packed(a: &[f32], b: &[Wt], c: Option<&[f32]>, y: &mut [f32], p: &GemmPackedParams, alpha: f32, beta: f32, epi: impl Fn(usize, &mut [f32])) {
    let (m, n, k) = (p.m, p.n, p.k);
    gemm_b(a, k, b, m, n, k, y, n);
    for (i, row) in y.chunks_exact_mut(n).enumerate().take(m) {
        for (j, o) in row.iter_mut().enumerate() {
            let v = alpha * *o;
            *o = match c {
                Some(c) => v + beta * c[i * p.c_strides.0 + j * p.c_strides.1],
                None => v,
            };
        }
    }
    if let Some(all) = y.get_mut(..m * n) {
        epi(0, all);
    }
}
";

pub(super) const MATMUL_B: &str = "/// MatMul of an `m x k` left operand (its leading axes flattened) by constant `k x n`
/// weights packed in column panels.
struct MatMulPackedParams {
    m: usize,
    n: usize,
    k: usize,
}

/// `Y = A B`, then the fused epilogue `epi(at, run)` on all of `Y` (one call: its rows are
/// contiguous).
fn matmul_packed(a: &[f32], b: &[Wt], y: &mut [f32], p: &MatMulPackedParams, epi: impl Fn(usize, &mut [f32])) {
    gemm_b(a, p.k, b, p.m, p.n, p.k, y, p.n);
    if let Some(all) = y.get_mut(..p.m * p.n) {
        epi(0, all);
    }
}
";
