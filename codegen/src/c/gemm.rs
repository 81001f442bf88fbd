//! The register-blocked float kernels in C, for the one-lane tiling (a microcontroller with
//! an FPU: Cortex-M4F/M7/M33), printed for the program's [`Tiling`] as the Rust ones are
//! (`rust/gemm/`): each accumulator a variable of its own, so the compiler keeps the
//! tile in FPU registers (the M4F's 32 single-precision registers hold a 4x4 tile and the
//! eight operands of one step). Each output sums its terms in the Rust kernels' order, a
//! multiply and an add per term, through the prelude's `KILN_MLA`: on a 32-bit Arm FPU one
//! `VMLA` (the same two roundings, as LLVM prints the Rust kernels), since GCC at
//! `-std=c99` contracts nothing and emits `VMUL` then `VADD` (MobileNet v1 on a Cortex-M4:
//! 4.19 instructions per MAC so, 2.85 with `VMLA`, the one-row Gemm tile unrolled by four
//! and the depthwise 3x3 kernel of `conv.c`).
//!
//! Vector tilings (x86-64, aarch64) are not printed in C: their lowering for C takes the
//! reference float kernels (`kiln_passes::kernels::c_has_tiled_float`).
//!
//! Every read is in bounds by construction, from the scratch sizes and packings of
//! `kiln_passes::kernels` (the Rust kernels check them with `get`; a C kernel cannot).

use crate::kernels::{GemmFn, Tiling};
use std::fmt::Write;

/// The kernels the steps call that `render` prints (f32 operands only), not the library's.
pub(super) const DRIVERS: [&str; 4] = [
    "conv_rows",
    "conv_pointwise",
    "gemm_packed",
    "matmul_packed",
];

/// The C text of the micro-kernels and drivers in `fns`, for `t`; an error for a tiling or
/// kernel C does not have.
pub(super) fn render(t: Tiling, fns: &[GemmFn]) -> Result<String, String> {
    if t.lanes != 1 {
        return Err(format!(
            "the {}-lane float micro-kernels in C (the C library has the one-lane ones only)",
            t.lanes
        ));
    }
    let mut s = String::new();
    // Each function after those it calls: tiles, then drivers, then what the steps call.
    let rank = |f: &GemmFn| match f {
        GemmFn::TileA { .. } | GemmFn::TileB { .. } | GemmFn::TileC { .. } => 0,
        GemmFn::DriverA | GemmFn::DriverB => 1,
        _ => 2,
    };
    let mut sorted = fns.to_vec();
    sorted.sort_by_key(rank);
    for f in sorted {
        match f {
            GemmFn::TileA { mr, nv } => tile_a(&mut s, mr, nv),
            GemmFn::TileB { mr, nv } => tile_b(&mut s, mr, nv),
            GemmFn::TileC { mr, nv } => tile_c(&mut s, mr, nv),
            GemmFn::DriverA => driver_a(&mut s, t),
            GemmFn::DriverB => driver_b(&mut s, t),
            GemmFn::ConvRows => conv_rows(&mut s, t),
            GemmFn::Pointwise => s.push_str(POINTWISE),
            GemmFn::GemmB => s.push_str(GEMM_B),
            GemmFn::MatMulB => s.push_str(MATMUL_B),
            other => {
                return Err(format!(
                    "the float micro-kernel {other:?} in C (not on a one-lane target)"
                ));
            }
        }
        s.push('\n');
    }
    Ok(s)
}

fn accs(mr: usize, nr: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..mr).flat_map(move |i| (0..nr).map(move |j| (i, j)))
}

/// The declarations of the accumulators `c{i}_{j}`, row `i` starting at `init(i)`.
fn accumulators(s: &mut String, mr: usize, nr: usize, init: impl Fn(usize) -> String) {
    for i in 0..mr {
        let row: Vec<String> = (0..nr).map(|j| format!("c{i}_{j} = {}", init(i))).collect();
        let _ = writeln!(s, "    float {};", row.join(", "));
    }
}

/// One step: the `nr` values `b{j}` from `bv`, then every accumulator gets its row's
/// value `a(i)` times its column's.
fn step(s: &mut String, mr: usize, nr: usize, indent: &str, a: impl Fn(usize) -> String) {
    let loads: Vec<String> = (0..nr).map(|j| format!("b{j} = bv[{j}]")).collect();
    let _ = writeln!(s, "{indent}const float {};", loads.join(", "));
    for (i, j) in accs(mr, nr) {
        let _ = writeln!(s, "{indent}c{i}_{j} = KILN_MLA(c{i}_{j}, {}, b{j});", a(i));
    }
}

/// [`step`] in the same block again: the values `b{j}` are assigned, not declared.
fn step_again(s: &mut String, mr: usize, nr: usize, indent: &str, a: impl Fn(usize) -> String) {
    let _ = writeln!(s, "{indent}{{");
    step(s, mr, nr, &format!("{indent}    "), a);
    let _ = writeln!(s, "{indent}}}");
}

/// Stores rows `..rows` and columns `..cols` of the accumulators at `c` (rows `ldc` apart).
fn store(s: &mut String, mr: usize, nr: usize) {
    let _ = writeln!(s, "    {{\n        const float t[{mr}][{nr}] = {{");
    for i in 0..mr {
        let row: Vec<String> = (0..nr).map(|j| format!("c{i}_{j}")).collect();
        let _ = writeln!(s, "            {{ {} }},", row.join(", "));
    }
    let _ = writeln!(
        s,
        "        }};
        size_t i, j;
        for (i = 0; i < rows; i++) {{
            for (j = 0; j < cols; j++) {{
                c[i * ldc + j] = t[i][j];
            }}
        }}
    }}"
    );
}

fn tile_a(s: &mut String, mr: usize, nr: usize) {
    let _ = writeln!(
        s,
        "/* Rows ..rows (at most {mr}) and columns ..cols (of {nr} computed) of c (rows ldc apart) =
 * init[i] + sum over q of a[q * {mr} + i] * b[q * ldb + j]: one row panel of the packed
 * left operand times {nr} columns of the right one. */
static void gemm_tile_a{mr}x{nr}_f32(const float *a, const float *b, size_t ldb, size_t k, const float *init,
    float *c, size_t ldc, size_t rows, size_t cols)
{{"
    );
    accumulators(s, mr, nr, |i| format!("init[{i}]"));
    let _ = writeln!(
        s,
        "    size_t q;
    for (q = 0; q < k; q++) {{
        const float *av = a + q * {mr}, *bv = b + q * ldb;"
    );
    step(s, mr, nr, "        ", |i| format!("av[{i}]"));
    s.push_str("    }\n");
    store(s, mr, nr);
    s.push_str("}\n");
}

fn tile_b(s: &mut String, mr: usize, nr: usize) {
    let _ = writeln!(
        s,
        "/* Rows ..rows (at most {mr}) and columns ..cols of c (rows ldc apart) = sum over q of
 * a[i * lda + q] * b[q * {nr} + j]: {mr} rows of the left operand times one column panel
 * of the packed right one. */
static void gemm_tile_b{mr}x{nr}_f32(const float *a, size_t lda, const float *b, size_t k, float *c, size_t ldc,
    size_t rows, size_t cols)
{{"
    );
    // Rows past `rows` repeat the last one: computed, never stored.
    for i in 0..mr {
        let at = if i == 0 {
            String::new()
        } else {
            format!(" + (rows > {i} ? {i} : rows - 1) * lda")
        };
        let _ = writeln!(s, "    const float *a{i} = a{at};");
    }
    if mr == 1 {
        s.push_str("    (void)lda;\n");
    }
    accumulators(s, mr, nr, |_| "0.0f".into());
    s.push_str("    size_t q = 0;\n");
    if mr == 1 {
        // One row (a matrix-vector product) reads a weight per multiply-add: four steps a
        // pass cut the loop's overhead (a Cortex-M4's 1x4 loop was 13 instructions for 4
        // MACs). Each accumulator still adds its terms in order.
        let _ = writeln!(
            s,
            "    for (; q < k - k % 4; q += 4) {{
        const float *bv = b + q * {nr};"
        );
        step(s, mr, nr, "        ", |i| format!("a{i}[q]"));
        for u in 1..4 {
            let _ = writeln!(s, "        bv += {nr};");
            step_again(s, mr, nr, "        ", |i| format!("a{i}[q + {u}]"));
        }
        s.push_str("    }\n");
    }
    let _ = writeln!(
        s,
        "    for (; q < k; q++) {{
        const float *bv = b + q * {nr};"
    );
    step(s, mr, nr, "        ", |i| format!("a{i}[q]"));
    s.push_str("    }\n");
    store(s, mr, nr);
    s.push_str("}\n");
}

fn tile_c(s: &mut String, mr: usize, nr: usize) {
    let _ = writeln!(
        s,
        "/* Rows ..rows and columns ..{nr} of c (rows ldc apart) = init[i] + sum over channels ch
 * and taps t of a[(ch * nt + t) * {mr} + i] * b[ch * channel + taps[t] + j]: one row panel
 * of the packed weights times {nr} columns of the split input rows. */
static void gemm_tile_c{mr}x{nr}_f32(const float *a, const float *b, size_t channel, size_t c_in,
    const size_t *taps, size_t nt, const float *init, float *c, size_t ldc, size_t rows)
{{
    const size_t cols = {nr};"
    );
    accumulators(s, mr, nr, |i| format!("init[{i}]"));
    let _ = writeln!(
        s,
        "    size_t ch, t;
    for (ch = 0; ch < c_in; ch++) {{
        const float *bc = b + ch * channel;
        for (t = 0; t < nt; t++) {{
            const float *av = a + (ch * nt + t) * {mr}, *bv = bc + taps[t];"
    );
    step(s, mr, nr, "            ", |i| format!("av[{i}]"));
    s.push_str("        }\n    }\n");
    store(s, mr, nr);
    s.push_str("}\n");
}

fn conv_rows(s: &mut String, t: Tiling) {
    let (mr, nr) = (t.mr, t.nr());
    let _ = writeln!(
        s,
        "/* A convolution of one group, one output row at a time (kiln_passes::kernels::RowConv):
 * the kh padded input rows an output row reads, split by stride phase along the width, go
 * into scratch ([channel][ki][phase][wq], zero where padding), so each tap reads a fixed
 * offset with unit stride; then the weights (packed in row panels of {mr}) times {nr}
 * columns of that output row at a time, and the fused epilogue on each stored run. */
typedef struct {{
    size_t batch, c_in, c_out;
    const size_t *input; size_t input_len;
    const size_t *output; size_t output_len;
    const size_t *strides; size_t strides_len;
    const size_t *pads; size_t pads_len;
    size_t kh, wq;
    const size_t *taps; size_t taps_len;
}} RowConvParams;

static void conv_rows_f32(const float *x, size_t xn, const float *w, size_t wn, const float *b, size_t bn,
    float *y, size_t yn, float *scratch, size_t sn, const RowConvParams *p,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{{
    size_t h = p->input[0], wi = p->input[1], oh = p->output[0], ow = p->output[1];
    size_t sh = p->strides[0], sw = p->strides[1], ph = p->pads[0], pw = p->pads[1];
    size_t nt = p->taps_len, xs = p->c_in * h * wi, ys = p->c_out * oh * ow;
    size_t channel = p->kh * sw * p->wq, k = p->c_in * nt, n, i, c, ki, bb, q, pi, r, j;
    float tile[{mr} * {nr}];
    (void)xn; (void)wn; (void)bn; (void)yn;
    /* The columns the last tile reads past the rows: never stored, but kept finite. */
    for (j = p->c_in * channel; j < sn; j++) {{
        scratch[j] = 0.0f;
    }}
    for (n = 0; n < p->batch; n++) {{
        const float *xb = x + n * xs;
        float *yb = y + n * ys;
        for (i = 0; i < oh; i++) {{
            /* Row ki of channel c, phase bb: padded columns j * sw + bb, in the input for j
             * in j0..j1. */
            for (c = 0; c < p->c_in; c++) {{
                for (ki = 0; ki < p->kh; ki++) {{
                    size_t row = i * sh + ki;
                    for (bb = 0; bb < sw; bb++) {{
                        float *dst = scratch + c * channel + (ki * sw + bb) * p->wq;
                        size_t j0 = pw > bb ? (pw - bb + sw - 1) / sw : 0, j1;
                        const float *src;
                        if (j0 > p->wq) {{
                            j0 = p->wq;
                        }}
                        j1 = pw + wi > bb ? (pw + wi - bb + sw - 1) / sw : 0;
                        j1 = j1 < j0 ? j0 : (j1 > p->wq ? p->wq : j1);
                        if (row < ph || row - ph >= h) {{
                            j1 = j0;
                        }}
                        for (j = 0; j < j0; j++) {{
                            dst[j] = 0.0f;
                        }}
                        if (j1 > j0) {{
                            src = xb + c * h * wi + (row - ph) * wi + j0 * sw + bb - pw;
                            for (j = j0; j < j1; j++) {{
                                dst[j] = src[(j - j0) * sw];
                            }}
                        }}
                        for (j = j1; j < p->wq; j++) {{
                            dst[j] = 0.0f;
                        }}
                    }}
                }}
            }}
            for (q = 0; q < ow; q += {nr}) {{
                size_t cols = ow - q < {nr} ? ow - q : {nr};
                for (pi = 0; pi * {mr} < p->c_out; pi++) {{
                    size_t rows = p->c_out - pi * {mr} < {mr} ? p->c_out - pi * {mr} : {mr};
                    float init[{mr}] = {{ 0.0f }};
                    if (b) {{
                        for (r = 0; r < rows; r++) {{
                            init[r] = b[pi * {mr} + r];
                        }}
                    }}
                    gemm_tile_c{mr}x{nr}_f32(w + pi * k * {mr}, scratch + q, channel, p->c_in, p->taps, nt, init, tile, {nr}, rows);
                    for (r = 0; r < rows; r++) {{
                        size_t at = ((pi * {mr} + r) * oh + i) * ow + q;
                        for (j = 0; j < cols; j++) {{
                            yb[at + j] = tile[r * {nr} + j];
                        }}
                        if (epi) {{
                            epi(ec, n * ys + at, yb + at, cols);
                        }}
                    }}
                }}
            }}
        }}
    }}
}}"
    );
}

fn driver_a(s: &mut String, t: Tiling) {
    let (mr, nr) = (t.mr, t.nr());
    let _ = writeln!(
        s,
        "/* c = bias + a b (m x n, rows ldc apart) for a m x k packed in row panels of {mr} and b
 * k x n (rows ldb apart); bias is each row's initial value. Then the epilogue at
 * c_at + offset on each finished run of a row. Columns go in blocks of {nr}, each first
 * copied into panel (k x {nr}, zeros past the last column) so the micro-kernel reads it
 * contiguous; a last lone column goes through the one-column tile. */
static void gemm_a_f32(const float *a, const float *b, size_t ldb, size_t m, size_t n, size_t k,
    const float *bias, float *c, size_t ldc, size_t c_at,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec, float *panel)
{{
    size_t j, q, v, p, i;
    for (j = 0; j < n; j += {nr}) {{
        size_t w = n - j < {nr} ? n - j : {nr};
        size_t pw = w <= 1 ? 1 : {nr};
        for (q = 0; q < k; q++) {{
            for (v = 0; v < pw; v++) {{
                panel[q * pw + v] = v < w ? b[q * ldb + j + v] : 0.0f;
            }}
        }}
        for (p = 0; p * {mr} < m; p++) {{
            size_t rows = m - p * {mr} < {mr} ? m - p * {mr} : {mr};
            float init[{mr}] = {{ 0.0f }};
            if (bias) {{
                for (i = 0; i < rows; i++) {{
                    init[i] = bias[p * {mr} + i];
                }}
            }}
            if (pw == {nr}) {{
                gemm_tile_a{mr}x{nr}_f32(a + p * k * {mr}, panel, {nr}, k, init, c + p * {mr} * ldc + j, ldc, rows, w);
            }} else {{
                gemm_tile_a{mr}x1_f32(a + p * k * {mr}, panel, 1, k, init, c + p * {mr} * ldc + j, ldc, rows, w);
            }}
        }}
        if (epi) {{
            for (i = 0; i < m; i++) {{
                epi(ec, c_at + i * ldc + j, c + i * ldc + j, w);
            }}
        }}
    }}
}}"
    );
}

fn driver_b(s: &mut String, t: Tiling) {
    let (mr, nr) = (t.mr, t.nr());
    let _ = writeln!(
        s,
        "/* c = a b (m x n, rows ldc apart) for a m x k (rows lda apart) and b k x n packed in
 * column panels of {nr}: {mr} rows at a time, a lone row by the one-row kernel. */
static void gemm_b_f32(const float *a, size_t lda, const float *b, size_t m, size_t n, size_t k, float *c,
    size_t ldc)
{{
    size_t p, i;
    for (p = 0; p * {nr} < n; p++) {{
        size_t j = p * {nr}, cols = n - j < {nr} ? n - j : {nr};
        const float *panel = b + p * k * {nr};
        i = 0;
        while (i < m) {{
            size_t rows = m - i < {mr} ? m - i : {mr};
            if (rows > 1) {{
                gemm_tile_b{mr}x{nr}_f32(a + i * lda, lda, panel, k, c + i * ldc + j, ldc, rows, cols);
                i += rows;
            }} else {{
                gemm_tile_b1x{nr}_f32(a + i * lda, lda, panel, k, c + i * ldc + j, ldc, 1, cols);
                i += 1;
            }}
        }}
    }}
}}"
    );
}

const POINTWISE: &str = "/* A 1x1 convolution at stride 1 without padding, as one GEMM per batch item: the
 * weights (c_out x c_in, packed in row panels) times the input (c_in x plane), then the
 * fused epilogue on each finished run of an output plane. */
typedef struct {
    size_t batch, c_in, c_out, plane;
} PointwiseParams;

static void conv_pointwise_f32(const float *x, size_t xn, const float *w, size_t wn, const float *b, size_t bn,
    float *y, size_t yn, float *scratch, size_t sn, const PointwiseParams *p,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t xs = p->c_in * p->plane, ys = p->c_out * p->plane, n;
    (void)xn; (void)wn; (void)bn; (void)yn; (void)sn;
    for (n = 0; n < p->batch; n++) {
        gemm_a_f32(w, x + n * xs, p->plane, p->c_out, p->plane, p->c_in, b, y + n * ys, p->plane, n * ys,
            epi, ec, scratch);
    }
}
";

const GEMM_B: &str = "/* Gemm shapes for weights packed in column panels: A is m x k (not transposed), B' is
 * k x n; C (if any) is read at i * c_strides[0] + j * c_strides[1]. */
typedef struct {
    size_t m, n, k;
    size_t c_strides[2];
} GemmPackedParams;

/* Y = alpha * A B' + beta * C, then the fused epilogue on each row. */
static void gemm_packed_f32(const float *a, size_t an, const float *b, size_t bn, const float *c, size_t cn,
    float *y, size_t yn, const GemmPackedParams *p, float alpha, float beta,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t i, j;
    (void)an; (void)bn; (void)cn; (void)yn;
    gemm_b_f32(a, p->k, b, p->m, p->n, p->k, y, p->n);
    for (i = 0; i < p->m; i++) {
        float *row = y + i * p->n;
        for (j = 0; j < p->n; j++) {
            float v = alpha * row[j];
            row[j] = c ? v + beta * c[i * p->c_strides[0] + j * p->c_strides[1]] : v;
        }
        if (epi) {
            epi(ec, i * p->n, row, p->n);
        }
    }
}
";

const MATMUL_B: &str = "/* MatMul of an m x k left operand (its leading axes flattened) by constant k x n
 * weights packed in column panels. */
typedef struct {
    size_t m, n, k;
} MatMulPackedParams;

/* Y = A B, then the fused epilogue on each row. */
static void matmul_packed_f32(const float *a, size_t an, const float *b, size_t bn, float *y, size_t yn,
    const MatMulPackedParams *p, void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    size_t i;
    (void)an; (void)bn; (void)yn;
    gemm_b_f32(a, p->k, b, p->m, p->n, p->k, y, p->n);
    if (epi) {
        for (i = 0; i < p->m; i++) {
            epi(ec, i * p->n, y + i * p->n, p->n);
        }
    }
}
";
