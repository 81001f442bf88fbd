//! The register-blocked GEMM micro-kernels, printed for the program's [`Tiling`].
//!
//! They are generated rather than written generically over the tile shape because LLVM
//! only keeps the accumulators in registers when each one is a variable of its own: with
//! an accumulator array indexed in loops (even fully unrollable ones), its loop vectoriser
//! vectorised the reduction loop instead, with gathers, and the kernel ran at 1-2 GFLOP/s
//! instead of 130-190 (measured on x86-64 with AVX-512, see ARCHITECTURE.md). Each `Lanes`
//! variable is one vector register; the loop over `k` holds only straight-line code.
//!
//! Two operand orders: `gemm_a` reads its left operand (`m x k`, e.g. convolution weights)
//! packed in row panels and the right one (`k x n`, e.g. an activation) as rows `ldb`
//! apart; `gemm_b` reads its left operand (an activation) as rows `lda` apart and the
//! right one (Gemm or MatMul weights) packed in column panels. Both sum each output over
//! `k` in order, from the row's initial value, with a multiply and an add per term (stable
//! `no_std` Rust has no fused multiply-add): the reference semantics' order. With
//! [`Tiling::fused`] (`--fma`) each term is one `f32::mul_add` instead, from `std`.

use crate::kernels::{GemmFn, Tiling};
use std::fmt::Write;

/// The Rust text of the micro-kernels and drivers in `fns`, all for `t`.
pub(crate) fn render(t: Tiling, fns: &[GemmFn]) -> String {
    let l = t.lanes;
    let mut s = String::new();
    let tiles = fns.iter().any(|f| {
        matches!(
            f,
            GemmFn::TileA { .. }
                | GemmFn::TileB { .. }
                | GemmFn::TileC { .. }
                | GemmFn::TileT { .. }
                | GemmFn::TileS { .. }
                | GemmFn::Depthwise
        )
    });
    if t.fused {
        s.push_str(
            "// Fused multiply-add kernels (`--fma`): `f32::mul_add` is in `std`, not `core`.
extern crate std;

",
        );
    }
    // Depthwise convolutions alone need no micro-kernel, so no `Lanes`.
    if tiles {
        let _ = write!(
            s,
            "/// The f32 lanes of one vector register of the target ({bytes} bytes): the GEMM
/// micro-kernels keep each accumulator in a variable of this type, held in one register.
type Lanes = [f32; {l}];

#[inline(always)]
fn lanes_load(v: &[f32], at: usize) -> Lanes {{
    let mut r = [0.0; {l}];
    // `get`: in bounds by construction, and no panic path (see conv_rows4).
    if let Some(v) = v.get(at..at + {l}) {{
        r.copy_from_slice(v);
    }}
    r
}}

/// `c + a * b`, lane by lane{fused_doc}.
#[inline(always)]
fn lanes_mul_add(c: Lanes, a: f32, b: Lanes) -> Lanes {{
    let mut r = c;
    for i in 0..{l} {{
        r[i] = {mul_add};
    }}
    r
}}
",
            bytes = l * 4,
            fused_doc = if t.fused { ", in one rounding" } else { "" },
            mul_add = if t.fused {
                "a.mul_add(b[i], c[i])"
            } else {
                "c[i] + a * b[i]"
            },
        );
    }
    // The transposed tile stores lane by lane; the others a run of each row.
    let runs = fns.iter().any(|f| {
        matches!(
            f,
            GemmFn::TileA { .. } | GemmFn::TileB { .. } | GemmFn::TileC { .. }
        )
    });
    if runs {
        let _ = write!(
            s,
            "
/// Stores the first `cols` lanes of `row` at the start of `c`.
#[inline(always)]
fn lanes_store<const N: usize>(c: &mut [f32], row: &[Lanes; N], cols: usize) {{
    for (v, x) in row.iter().enumerate() {{
        let lo = v * {l};
        if lo >= cols {{
            break;
        }}
        let n = (cols - lo).min({l});
        // `get`: in bounds by construction, and no panic path (see conv_rows4).
        if let Some(d) = c.get_mut(lo..lo + n) {{
            d.copy_from_slice(&x[..n]);
        }}
    }}
}}
"
        );
        // Used by the GEMM tiles' whole-tile stores (see `store`).
        let whole = fns
            .iter()
            .any(|f| matches!(f, GemmFn::TileA { .. } | GemmFn::TileB { .. }));
        if whole && whole_tile_stores(t) {
            let _ = write!(
                s,
                "
/// Stores `row` whole at the start of `c`: a vector store each, no length to test.
#[inline(always)]
fn lanes_store_full<const N: usize>(c: &mut [f32], row: &[Lanes; N]) {{
    for (v, x) in row.iter().enumerate() {{
        if let Some(d) = c.get_mut(v * {l}..).and_then(|d| d.first_chunk_mut::<{l}>()) {{
            *d = *x;
        }}
    }}
}}
"
            );
        }
    }
    for f in fns {
        s.push('\n');
        match *f {
            GemmFn::TileA { mr, nv } => tile_a(&mut s, l, mr, nv, whole_tile_stores(t)),
            GemmFn::TileB { mr, nv } => tile_b(&mut s, l, mr, nv, whole_tile_stores(t)),
            GemmFn::TileC { mr, nv } => tile_c(&mut s, l, mr, nv),
            GemmFn::TileT { mr, nv } => tile_t(&mut s, l, mr, nv),
            GemmFn::TileS { nv } => tile_s(&mut s, l, nv),
            GemmFn::ConvSplitT => conv_split_t(&mut s, t),
            GemmFn::PointwiseT => pointwise_t(&mut s, t, !fns.contains(&GemmFn::Pointwise)),
            GemmFn::SplitParams => s.push_str(SPLIT_PARAMS),
            GemmFn::PadSplit => {
                // `copy_run` goes with it: `store_wide` and `conv_depthwise` come with it too.
                s.push_str(PAD_SPLIT);
                copy_run(&mut s, l);
            }
            GemmFn::StoreWide => store_wide(&mut s, t),
            GemmFn::ConvScratch { nv } => conv_split(&mut s, t, nv),
            GemmFn::Depthwise => depthwise(&mut s, t),
            GemmFn::DepthwiseLanes => depthwise_lanes(&mut s, t),
            GemmFn::ConvRows => conv_rows(&mut s, t),
            GemmFn::Winograd => winograd(&mut s, t),
            GemmFn::DriverA => driver_a(&mut s, t),
            GemmFn::DriverB => driver_b(&mut s, t),
            GemmFn::Pointwise => {
                s.push_str(POINTWISE_PARAMS);
                s.push_str(POINTWISE);
            }
            GemmFn::GemmB => s.push_str(GEMM_B),
            GemmFn::MatMulB => s.push_str(MATMUL_B),
        }
    }
    s
}

fn accs(mr: usize, nv: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..mr).flat_map(move |i| (0..nv).map(move |v| (i, v)))
}

/// The accumulators `c{i}_{v}`, one `Lanes` variable each, row `i` starting at `init(i)`.
fn accumulators(s: &mut String, l: usize, mr: usize, nv: usize, init: impl Fn(usize) -> String) {
    for (i, v) in accs(mr, nv) {
        let _ = writeln!(s, "    let mut c{i}_{v}: Lanes = [{}; {l}];", init(i));
    }
}

/// The loads of one step's `nv` vectors `b{v}` from the row `bv`.
fn loads(s: &mut String, l: usize, nv: usize, indent: &str) {
    // One test of the step's length, after which every load's offset is known in bounds.
    // One test of the step's length, after which every load's offset is known in bounds.
    let _ = writeln!(
        s,
        "{indent}let Some(bv) = bv.first_chunk::<{}>() else {{ break }};",
        l * nv
    );
    for v in 0..nv {
        let _ = writeln!(s, "{indent}let b{v} = lanes_load(bv, {});", v * l);
    }
}

/// One step's multiply-adds: every accumulator gets its row's value `a(i)` times its vector.
fn mul_adds(s: &mut String, mr: usize, nv: usize, indent: &str, a: impl Fn(usize) -> String) {
    for (i, v) in accs(mr, nv) {
        let _ = writeln!(
            s,
            "{indent}c{i}_{v} = lanes_mul_add(c{i}_{v}, {}, b{v});",
            a(i)
        );
    }
}

/// Whether the GEMM tiles (not `conv_split`'s) store a whole tile after one range test, a
/// vector at a time (see `store`): on 16-lane targets (AVX-512, where it was measured)
/// without `--fma`. Through `lanes_store` alone, each row's run of a length only known at
/// run time became a `memmove` call, around which LLVM spilled and reloaded the
/// accumulators: with a short panel (a 1x1 convolution of 8 input channels, 8 steps) that
/// store took twice the multiply-adds' time. With `f32::mul_add` LLVM split the 1x1
/// convolutions' multiply-adds into half-width vectors with spills once the path was there
/// (ppocrv4_rec 2.7x slower); on AArch64's 8x12 tiles it raised the Raspberry Pi's
/// instructions per MAC (ddddocr_det 0.94 -> 1.35). `conv_split`'s tile stores into a
/// tile buffer whose rows are whole vectors already, and with the path its fused
/// multiply-adds went scalar.
fn whole_tile_stores(t: Tiling) -> bool {
    t.lanes >= 16 && !t.fused
}

/// The offset of row `i` of a tile in `c` (rows `ldc` apart), as code.
fn row_offset(i: usize) -> String {
    match i {
        0 => "0".to_string(),
        1 => "ldc".to_string(),
        _ => format!("{i} * ldc"),
    }
}

/// The store of the accumulators, row by row, `rows` of them and `cols` columns; first,
/// if `whole` (see [`whole_tile_stores`]), the whole tile's in one go.
fn store(s: &mut String, l: usize, mr: usize, nv: usize, whole: bool) {
    if whole {
        let nr = l * nv;
        let whole = if mr == 1 {
            format!("cols == {nr}")
        } else {
            format!("rows == {mr} && cols == {nr}")
        };
        let end = match mr {
            1 => format!("{nr}"),
            2 => format!("ldc + {nr}"),
            _ => format!("{} * ldc + {nr}", mr - 1),
        };
        let _ = writeln!(
            s,
            "    if let Some(c) = c.get_mut(..{end}).filter(|_| {whole}) {{"
        );
        for i in 0..mr {
            let row: Vec<String> = (0..nv).map(|v| format!("c{i}_{v}")).collect();
            let _ = writeln!(
                s,
                "        if let Some(c) = c.get_mut({}..) {{\n            lanes_store_full(c, &[{}]);\n        }}",
                row_offset(i),
                row.join(", ")
            );
        }
        s.push_str("        return;\n    }\n");
    }
    for i in 0..mr {
        let row: Vec<String> = (0..nv).map(|v| format!("c{i}_{v}")).collect();
        // Row `i`'s run, taken with `get` (no panic path), when there is such a row.
        if i == 0 {
            let _ = writeln!(s, "    lanes_store(c, &[{}], cols);", row.join(", "));
            continue;
        }
        let _ = writeln!(
            s,
            "    if let Some(c) = c.get_mut({}..).filter(|_| rows > {i}) {{\n        lanes_store(c, &[{}], cols);\n    }}",
            row_offset(i),
            row.join(", ")
        );
    }
}

/// `whole`: see [`whole_tile_stores`].
fn tile_a(s: &mut String, l: usize, mr: usize, nv: usize, whole: bool) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Rows `..rows` and columns `..cols` (of {nr} computed) of `c` (rows `ldc` apart) = `init[i] + sum over q of
/// a[q * {mr} + i] * b[q * ldb + j]`: one row panel of the packed left operand times {nr}
/// columns of the right one.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_a{mr}x{nr}(a: &[f32], b: &[f32], ldb: usize, k: usize, init: &[f32; {mr}], c: &mut [f32], ldc: usize, rows: usize, cols: usize) {{"
    );
    accumulators(s, l, mr, nv, |i| format!("init[{i}]"));
    let _ = writeln!(
        s,
        "    let Some(ap) = a.get(..k * {mr}) else {{ return }};\n    for (av, bv) in ap.chunks_exact({mr}).zip(b.chunks(ldb.max(1))) {{"
    );
    loads(s, l, nv, "        ");
    mul_adds(s, mr, nv, "        ", |i| format!("av[{i}]"));
    s.push_str("    }\n");
    store(s, l, mr, nv, whole);
    s.push_str("}\n");
}

/// `whole`: see [`whole_tile_stores`].
fn tile_b(s: &mut String, l: usize, mr: usize, nv: usize, whole: bool) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Rows `..rows` (at most {mr}) and columns `..cols` of `c` (rows `ldc` apart) = `sum over
/// q of a[i * lda + q] * b[q * {nr} + j]`: {mr} rows of the left operand times one column
/// panel of the packed right one.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_b{mr}x{nr}(a: &[f32], lda: usize, b: &[f32], k: usize, c: &mut [f32], ldc: usize, rows: usize, cols: usize) {{"
    );
    if mr == 1 {
        // The one-row kernel shares the signature; it has no other rows to step to.
        s.push_str("    let _ = (lda, ldc, rows);\n");
        if l > 1 {
            one_row_split(s, l, nv, whole);
            return;
        }
    }
    for i in 0..mr {
        // Rows past `rows` repeat the last one: computed, never stored.
        let at = if i == 0 {
            "0".to_string()
        } else {
            format!("{i}.min(rows - 1) * lda")
        };
        let _ = writeln!(
            s,
            "    let Some(a{i}) = a.get({at}..).and_then(|r| r.get(..k)) else {{ return }};"
        );
    }
    accumulators(s, l, mr, nv, |_| "0.0".into());
    // Each row's value rides along the panel's steps (zipped, not indexed: no bounds test).
    let mut pat = "bv".to_string();
    let mut zips = String::new();
    for i in 0..mr {
        pat = format!("({pat}, &x{i})");
        zips += &format!(".zip(a{i})");
    }
    let _ = writeln!(
        s,
        "    let Some(bp) = b.get(..k * {nr}) else {{ return }};\n    for {pat} in bp.chunks_exact({nr}){zips} {{"
    );
    loads(s, l, nv, "        ");
    mul_adds(s, mr, nv, "        ", |i| format!("x{i}"));
    s.push_str("    }\n");
    store(s, l, mr, nv, whole);
    s.push_str("}\n");
}

/// Partial sums the one-row tile keeps per vector of columns on a vector target: with one
/// row its `nv` accumulators are `nv` dependent chains of multiply-adds, each step waiting
/// on the last (four cycles for a fused one on recent x86-64 and AArch64 cores), so the
/// panel's steps are dealt round-robin to this many sets of accumulators, added at the end,
/// and about eight multiply-adds are in flight. (The autoencoder's one-row Gemms ran 1.4x
/// slower once contraction made each multiply and add one fused, four-cycle step.)
fn one_row_sets(nv: usize) -> usize {
    8usize.div_ceil(nv).max(1)
}

/// The body of the one-row tile on a vector target (see [`one_row_sets`]): the row's steps
/// go round-robin to the sets `c{set}_{v}`, the steps past a whole round to set 0, and the
/// sets are added into set 0 in order before the store.
fn one_row_split(s: &mut String, l: usize, nv: usize, whole: bool) {
    let (nr, sets) = (l * nv, one_row_sets(nv));
    s.push_str("    let Some(a0) = a.get(..k) else { return };\n");
    accumulators(s, l, sets, nv, |_| "0.0".into());
    let _ = writeln!(
        s,
        "    let Some(bp) = b.get(..k * {nr}) else {{ return }};
    let (rounds, xs) = (bp.chunks_exact({sets} * {nr}), a0.chunks_exact({sets}));
    let (rest, xrest) = (rounds.remainder(), xs.remainder());
    for (br, xr) in rounds.zip(xs) {{
        let Some(xr) = xr.first_chunk::<{sets}>() else {{ break }};"
    );
    for set in 0..sets {
        let _ = writeln!(s, "        let bv = &br[{}..];", set * nr);
        loads(s, l, nv, "        ");
        for v in 0..nv {
            let _ = writeln!(
                s,
                "        c{set}_{v} = lanes_mul_add(c{set}_{v}, xr[{set}], b{v});"
            );
        }
    }
    let _ = writeln!(
        s,
        "    }}\n    for (bv, &x0) in rest.chunks_exact({nr}).zip(xrest) {{"
    );
    loads(s, l, nv, "        ");
    mul_adds(s, 1, nv, "        ", |_| "x0".into());
    s.push_str("    }\n");
    for set in 1..sets {
        for v in 0..nv {
            let _ = writeln!(
                s,
                "    for (o, p) in c0_{v}.iter_mut().zip(c{set}_{v}) {{\n        *o += p;\n    }}"
            );
        }
    }
    store(s, l, 1, nv, whole);
    s.push_str("}\n");
}

fn tile_c(s: &mut String, l: usize, mr: usize, nv: usize) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Rows `..rows` and columns `..{nr}` of `c` (rows `ldc` apart) = `init[i] + sum over
/// channels ch and taps t of a[(ch * taps.len() + t) * {mr} + i] * b[ch * channel + taps[t] + j]`:
/// one row panel of the packed weights times {nr} columns of the wide output.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_c{mr}x{nr}<const T: usize>(a: &[f32], b: &[f32], channel: usize, c_in: usize, taps: &[usize; T], init: &[f32; {mr}], c: &mut [f32], ldc: usize, rows: usize) {{"
    );
    accumulators(s, l, mr, nv, |i| format!("init[{i}]"));
    if l == 1 {
        // A microcontroller's: ranges with `get`, in bounds by construction, so no panic
        // path is left (see conv_rows4).
        let _ = writeln!(
            s,
            "    let Some(a) = a.get(..c_in * T * {mr}) else {{ return }};
    for (ch, ap) in a.chunks_exact(T * {mr}).enumerate() {{
        let Some(bc) = b.get(ch * channel..) else {{ break }};
        for (&t, av) in taps.iter().zip(ap.chunks_exact({mr})) {{
            let (Some(bv), Some(av)) = (bc.get(t..), av.first_chunk::<{mr}>()) else {{ break }};"
        );
    } else {
        let _ = writeln!(
            s,
            "    // One bounds test per step, for the tap's run (LLVM does not unroll nine taps).
    for (ch, ap) in a[..c_in * T * {mr}].chunks_exact(T * {mr}).enumerate() {{
        let bc = &b[ch * channel..];
        for (&t, av) in taps.iter().zip(ap.chunks_exact({mr})) {{
            let bv = &bc[t..];"
        );
    }
    loads(s, l, nv, "            ");
    mul_adds(s, mr, nv, "            ", |i| format!("av[{i}]"));
    let _ = writeln!(s, "        }}\n    }}\n    let cols = {nr};");
    store(s, l, mr, nv, false);
    s.push_str("}\n");
}

fn tile_t(s: &mut String, l: usize, mr: usize, nv: usize) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Positions `at..at + {mr}` of the output planes of the first `cols` of {nr} output
/// channels (planes `plane` apart in `y`) = `init[j] + sum over q of x[q * plane + at + i] *
/// w[q * {nr} + j]`: {mr} positions of the input (`k x plane`) times one panel of {nr}
/// output channels of the packed weights, the channels in the lanes.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_t{mr}x{nr}(x: &[f32], plane: usize, at: usize, w: &[f32], k: usize, init: &[f32; {nr}], y: &mut [f32], cols: usize) {{"
    );
    for (i, v) in accs(mr, nv) {
        let _ = writeln!(
            s,
            "    let mut c{i}_{v}: Lanes = lanes_load(init, {});",
            v * l
        );
    }
    let _ = writeln!(
        s,
        "    let Some(wp) = w.get(..k * {nr}) else {{ return }};
    for (bv, xq) in wp.chunks_exact({nr}).zip(x.chunks_exact(plane.max(1))) {{
        let Some(xs) = xq.get(at..).and_then(|r| r.first_chunk::<{mr}>()) else {{ break }};"
    );
    loads(s, l, nv, "        ");
    for i in 0..mr {
        let _ = writeln!(s, "        let x{i} = xs[{i}];");
    }
    mul_adds(s, mr, nv, "        ", |i| format!("x{i}"));
    s.push_str("    }\n");
    // Each lane is one channel's output, its {mr} positions one run.
    store_lanes(s, l, mr, nv, |lo| {
        format!(
            "        let run: [f32; {mr}] = core::array::from_fn(|i| t[i][j]);
        if let Some(o) = y.get_mut(({lo} + j) * plane + at..).and_then(|o| o.first_chunk_mut::<{mr}>()) {{
            *o = run;
        }}"
        )
    });
    s.push_str("}\n");
}

/// The store of a tile with output channels in its lanes: per vector `v`, its `mr` rows
/// stored whole into an array `t` first, then `store(lo)` for each lane `j` of channels
/// `lo..` below `cols`. (Stored lane by lane straight from the accumulators, LLVM kept
/// them as scalars when they were fused multiply-adds: scalar `vfmadd231ss`, MobileNet
/// 3.6x slower with `--fma`.)
fn store_lanes(s: &mut String, l: usize, mr: usize, nv: usize, store: impl Fn(usize) -> String) {
    for v in 0..nv {
        let row: Vec<String> = (0..mr).map(|i| format!("c{i}_{v}")).collect();
        let lo = v * l;
        let _ = writeln!(
            s,
            "    let t: [Lanes; {mr}] = [{}];
    for j in 0..cols.saturating_sub({lo}).min({l}) {{
{}
    }}",
            row.join(", "),
            store(lo)
        );
    }
}

fn tile_s(s: &mut String, l: usize, nv: usize) {
    let (mr, nr) = (kiln_passes::kernels::SPLIT_T_ROWS, l * nv);
    let _ = writeln!(
        s,
        "/// Output `out[i]` of the planes (`plane` apart in `y`) of the first `cols` of {nr} output
/// channels = `init[j] + sum over channels ch and taps t of b[ch * channel + taps[t] + at[i]] *
/// a[(ch * taps.len() + t) * {nr} + j]`, for {mr} positions `at` of the wide output: one
/// panel of the packed weights, the output channels in the lanes, times {mr} positions of
/// the split input.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_s{mr}x{nr}<const T: usize>(a: &[f32], b: &[f32], channel: usize, c_in: usize, taps: &[usize; T], at: [usize; {mr}], init: &[f32; {nr}], y: &mut [f32], plane: usize, out: [usize; {mr}], cols: usize) {{"
    );
    for (i, v) in accs(mr, nv) {
        let _ = writeln!(
            s,
            "    let mut c{i}_{v}: Lanes = lanes_load(init, {});",
            v * l
        );
    }
    let _ = writeln!(
        s,
        "    let Some(a) = a.get(..c_in * T * {nr}) else {{ return }};
    for (ch, ap) in a.chunks_exact(T * {nr}).enumerate() {{
        let Some(bc) = b.get(ch * channel..) else {{ break }};
        for (&t, bv) in taps.iter().zip(ap.chunks_exact({nr})) {{"
    );
    loads(s, l, nv, "            ");
    for i in 0..mr {
        let _ = writeln!(
            s,
            "            let x{i} = bc.get(t + at[{i}]).copied().unwrap_or(0.0);"
        );
    }
    mul_adds(s, mr, nv, "            ", |i| format!("x{i}"));
    s.push_str("        }\n    }\n");
    // Each lane is one channel's output, its positions scattered over its plane.
    store_lanes(s, l, mr, nv, |lo| {
        format!(
            "        for (r, &o) in t.iter().zip(&out) {{
            if let Some(d) = y.get_mut(({lo} + j) * plane + o) {{
                *d = r[j];
            }}
        }}"
        )
    });
    s.push_str("}\n");
}

fn conv_split_t(s: &mut String, t: Tiling) {
    let (mr, nr) = (kiln_passes::kernels::SPLIT_T_ROWS, t.pointwise_t_width());
    let _ = writeln!(
        s,
        "/// A convolution (one group) on its input padded and split by stride phase in scratch
/// (see `pad_split`), for outputs of at most one vector a channel: per panel of {nr} output
/// channels (weights packed `[panel][c_in * taps][{nr}]`), the output positions {mr} at a time
/// (the last repeated past the plane's end: computed twice, stored twice, the same values),
/// the channels in the lanes; then the epilogue on each channel's plane.
fn conv_split_t<const T: usize>(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
    let [oh, ow] = p.output;
    let (xn, plane) = (p.c_in * p.input[0] * p.input[1], oh * ow);
    let yn = p.c_out * plane;
    let channel = p.strides[0] * p.strides[1] * p.hq * p.wq;
    let k = p.c_in * T;
    if plane == 0 {{
        return;
    }}
    for n in 0..p.batch {{
        pad_split(&x[n * xn..][..xn], scratch, p);
        let yb = &mut y[n * yn..][..yn];
        for (pi, wp) in w.chunks_exact(k * {nr}).enumerate() {{
            let j0 = pi * {nr};
            let cols = (p.c_out - j0).min({nr});
            let mut init = [0.0f32; {nr}];
            if let Some(b) = b {{
                init[..cols].copy_from_slice(&b[j0..j0 + cols]);
            }}
            let yp = &mut yb[j0 * plane..];
            let mut q = 0;
            while q < plane {{
                let out: [usize; {mr}] = core::array::from_fn(|i| (q + i).min(plane - 1));
                let at = out.map(|o| o / ow * p.wq + o % ow);
                gemm_tile_s{mr}x{nr}(wp, scratch, channel, p.c_in, &p.taps, at, &init, yp, plane, out, cols);
                q += {mr};
            }}
            for j in 0..cols {{
                let at = (j0 + j) * plane;
                epi(n * yn + at, &mut yb[at..at + plane]);
            }}
        }}
    }}
}}"
    );
}

fn pointwise_t(s: &mut String, t: Tiling, params: bool) {
    let mr = kiln_passes::kernels::POINTWISE_T_ROWS;
    let (nr, half) = (t.pointwise_t_width(), mr / 2);
    if params {
        s.push_str(POINTWISE_PARAMS);
    }
    let _ = writeln!(
        s,
        "/// A 1x1 convolution with the output channels in the vector lanes (for planes that
/// are not whole vectors): per panel of {nr} output channels (weights packed `[panel][c_in][{nr}]`),
/// the plane's positions {mr} at a time, a last block of at most {half} by the half-height
/// tile; a block past the plane's end is moved back to end there (positions computed
/// twice store the same values twice). Then the epilogue on each channel's plane.
fn conv_pointwise_t(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], p: &PointwiseParams, epi: impl Fn(usize, &mut [f32])) {{
    let (xn, yn, plane) = (p.c_in * p.plane, p.c_out * p.plane, p.plane);
    for n in 0..p.batch {{
        let (xb, yb) = (&x[n * xn..][..xn], &mut y[n * yn..][..yn]);
        for (pi, wp) in w.chunks_exact(p.c_in * {nr}).enumerate() {{
            let j0 = pi * {nr};
            let cols = (p.c_out - j0).min({nr});
            let mut init = [0.0f32; {nr}];
            if let Some(b) = b {{
                init[..cols].copy_from_slice(&b[j0..j0 + cols]);
            }}
            let yp = &mut yb[j0 * plane..];
            let mut at = 0;
            while at < plane {{
                if plane - at > {half} {{
                    gemm_tile_t{mr}x{nr}(xb, plane, at.min(plane - {mr}), wp, p.c_in, &init, yp, cols);
                    at += {mr};
                }} else {{
                    gemm_tile_t{half}x{nr}(xb, plane, plane - {half}, wp, p.c_in, &init, yp, cols);
                    at = plane;
                }}
            }}
            for j in 0..cols {{
                let at = (j0 + j) * plane;
                epi(n * yn + at, &mut yb[at..at + plane]);
            }}
        }}
    }}
}}"
    );
}

fn conv_split(s: &mut String, t: Tiling, nv: usize) {
    let (mr, nr, l) = (t.mr, t.lanes * nv, t.lanes);
    // Named as the lowering calls it (`conv::conv_on_split`).
    let name = if nv == t.nv {
        "conv_split"
    } else {
        "conv_split_narrow"
    };
    // The last block of the wide output, when it fits one vector, takes the one-vector
    // tile: an 8x8 map is 80 wide columns, two blocks of 32 and one of 16.
    let tail = if nv > 1 {
        format!(
            "if wide - q <= {l} {{
                    gemm_tile_c{mr}x{l}(panel, &scratch[q..], channel, p.c_in, &p.taps, &init, &mut tile, {nr}, rows);
                }} else {{
                    gemm_tile_c{mr}x{nr}(panel, &scratch[q..], channel, p.c_in, &p.taps, &init, &mut tile, {nr}, rows);
                }}"
        )
    } else {
        format!(
            "gemm_tile_c{mr}x{nr}(panel, &scratch[q..], channel, p.c_in, &p.taps, &init, &mut tile, {nr}, rows);"
        )
    };
    let _ = writeln!(
        s,
        "/// A convolution of one group on its input padded and split by stride phase in
/// `scratch` (see `pad_split`): per batch item, the weights (packed in row panels of {mr})
/// times the split input, {nr} columns of the wide output at a time, each tile scattered
/// to the output rows it covers; then the fused epilogue `epi(at, run)` on each channel's
/// finished rows, a band of at least 256 outputs at a time. (Run by run, a tile's few
/// outputs per call, the calls cost MobileNet's first convolution as much as its
/// arithmetic.)
fn {name}<const T: usize>(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
    let [oh, ow] = p.output;
    let (xn, yn) = (p.c_in * p.input[0] * p.input[1], p.c_out * oh * ow);
    let channel = p.strides[0] * p.strides[1] * p.hq * p.wq;
    let wide = oh * p.wq;
    let k = p.c_in * T;
    let mut tile = [0.0f32; {mr} * {nr}];
    for n in 0..p.batch {{
        pad_split(&x[n * xn..][..xn], scratch, p);
        let yb = &mut y[n * yn..][..yn];
        let (mut q, mut done) = (0, 0);
        while q < wide {{
            let cols = (wide - q).min({nr});
            let (runs, nruns) = wide_runs(q, cols, p);
            let runs = &runs[..nruns];
            for (pi, panel) in w.chunks_exact(k * {mr}).enumerate() {{
                let rows = (p.c_out - pi * {mr}).min({mr});
                let mut init = [0.0f32; {mr}];
                if let Some(b) = b {{
                    // By element: a copy of `rows` values was a `memmove` call a tile.
                    for (v, &x) in init.iter_mut().zip(&b[pi * {mr}..]).take(rows) {{
                        *v = x;
                    }}
                }}
                {tail}
                for (i, src) in tile.chunks_exact({nr}).enumerate().take(rows) {{
                    let plane = (pi * {mr} + i) * oh * ow;
                    store_wide(src, runs, yb, plane);
                }}
            }}
            q += {nr};
            // Output rows below q / wq are stored in every channel.
            let finished = (q / p.wq).min(oh);
            if finished > done && ((finished - done) * ow >= 256 || finished == oh) {{
                for c in 0..p.c_out {{
                    let at = (c * oh + done) * ow;
                    epi(n * yn + at, &mut yb[at..at + (finished - done) * ow]);
                }}
                done = finished;
            }}
        }}
    }}
}}"
    );
}

fn conv_rows(s: &mut String, t: Tiling) {
    let (mr, nr) = (t.mr, t.nr());
    let _ = writeln!(
        s,
        "/// A convolution of one group, one output row at a time (`kiln_passes::kernels::RowConv`):
/// the `kh` padded input rows an output row reads, split by stride phase along the width,
/// go into `scratch` (`[channel][ki][phase][wq]`, zero where padding), so each tap reads a
/// fixed offset with unit stride; then the weights (packed in row panels of {mr}) times
/// {nr} columns of that output row at a time, and the fused epilogue `epi(at, run)` on each
/// stored run. Every range is taken with `get`: no panic path.
struct RowConvParams<const T: usize> {{
    batch: usize,
    c_in: usize,
    c_out: usize,
    input: [usize; 2],
    output: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 2],
    kh: usize,
    wq: usize,
    taps: [usize; T],
}}

fn conv_rows<const T: usize>(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &RowConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
    let ([h, wi], [oh, ow], [sh, sw], [ph, pw]) = (p.input, p.output, p.strides, p.pads);
    let (xn, yn) = (p.c_in * h * wi, p.c_out * oh * ow);
    let channel = p.kh * sw * p.wq;
    let k = p.c_in * T;
    let mut tile = [0.0f32; {mr} * {nr}];
    for n in 0..p.batch {{
        let (Some(xb), Some(yb)) = (x.get(n * xn..(n + 1) * xn), y.get_mut(n * yn..(n + 1) * yn)) else {{ return }};
        for i in 0..oh {{
            // Row ki of channel c, phase bb: padded columns j * sw + bb, in the input for
            // j in j0..j1.
            for (c, xc) in xb.chunks_exact(h * wi).enumerate().take(p.c_in) {{
                for ki in 0..p.kh {{
                    let r = i * sh + ki;
                    for bb in 0..sw {{
                        let at = c * channel + (ki * sw + bb) * p.wq;
                        let Some(dst) = scratch.get_mut(at..at + p.wq) else {{ return }};
                        dst.fill(0.0);
                        if r < ph || r - ph >= h {{
                            continue;
                        }}
                        let j0 = pw.saturating_sub(bb).div_ceil(sw).min(p.wq);
                        let j1 = (pw + wi).saturating_sub(bb).div_ceil(sw).clamp(j0, p.wq);
                        let (Some(run), Some(xr)) = (dst.get_mut(j0..j1), xc.get((r - ph) * wi + j0 * sw + bb - pw..)) else {{ continue }};
                        for (o, v) in run.iter_mut().zip(xr.iter().step_by(sw)) {{
                            *o = *v;
                        }}
                    }}
                }}
            }}
            let mut q = 0;
            while q < ow {{
                let cols = (ow - q).min({nr});
                let Some(bq) = scratch.get(q..) else {{ return }};
                for (pi, panel) in w.chunks_exact(k * {mr}).enumerate() {{
                    let rows = (p.c_out - pi * {mr}).min({mr});
                    let mut init = [0.0f32; {mr}];
                    if let (Some(d), Some(bs)) = (init.get_mut(..rows), b.and_then(|b| b.get(pi * {mr}..pi * {mr} + rows))) {{
                        d.copy_from_slice(bs);
                    }}
                    gemm_tile_c{mr}x{nr}(panel, bq, channel, p.c_in, &p.taps, &init, &mut tile, {nr}, rows);
                    for (r, src) in tile.chunks_exact({nr}).enumerate().take(rows) {{
                        let at = ((pi * {mr} + r) * oh + i) * ow + q;
                        if let (Some(d), Some(src)) = (yb.get_mut(at..at + cols), src.get(..cols)) {{
                            d.copy_from_slice(src);
                            epi(n * yn + at, d);
                        }}
                    }}
                }}
                q += {nr};
            }}
        }}
    }}
}}"
    );
}

fn driver_a(s: &mut String, t: Tiling) {
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
fn gemm_a(a: &[f32], b: &[f32], ldb: usize, m: usize, n: usize, k: usize, bias: Option<&[f32]>, c: &mut [f32], ldc: usize, c_at: usize, epi: &impl Fn(usize, &mut [f32]), panel: &mut [f32]) {{
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

fn driver_b(s: &mut String, t: Tiling) {
    let (mr, nr) = (t.mr, t.nr());
    let _ = writeln!(
        s,
        "/// `c = a b` (`m x n`, rows `ldc` apart) for `a` `m x k` (rows `lda` apart) and `b`
/// `k x n` packed in column panels of {nr}: {mr} rows at a time, a lone row or two by the
/// one-row kernel.
#[allow(clippy::too_many_arguments)]
fn gemm_b(a: &[f32], lda: usize, b: &[f32], m: usize, n: usize, k: usize, c: &mut [f32], ldc: usize) {{
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

const POINTWISE_PARAMS: &str =
    "/// A 1x1 convolution at stride 1 without padding, as one GEMM per batch item: the
/// weights (`c_out x c_in`, packed in row panels) times the input (`c_in x plane`).
struct PointwiseParams {
    batch: usize,
    c_in: usize,
    c_out: usize,
    plane: usize,
}
";

const POINTWISE: &str = "
/// The convolution, then the fused epilogue `epi(at, run)` on each finished run of an
/// output plane (`at`: its flat offset in `y`).
#[allow(clippy::too_many_arguments)]
fn conv_pointwise(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &PointwiseParams, epi: impl Fn(usize, &mut [f32])) {
    let (xn, yn) = (p.c_in * p.plane, p.c_out * p.plane);
    for n in 0..p.batch {
        // `get`: in bounds by construction, and no panic path (see conv_rows4).
        let (Some(x), Some(y)) = (x.get(n * xn..(n + 1) * xn), y.get_mut(n * yn..(n + 1) * yn)) else { return };
        gemm_a(w, x, p.plane, p.c_out, p.plane, p.c_in, b, y, p.plane, n * yn, &epi, scratch);
    }
}
";

const GEMM_B: &str = "/// Gemm shapes for weights packed in column panels: `A` is `m x k` (not transposed),
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
fn gemm_packed(a: &[f32], b: &[f32], c: Option<&[f32]>, y: &mut [f32], p: &GemmPackedParams, alpha: f32, beta: f32, epi: impl Fn(usize, &mut [f32])) {
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

const MATMUL_B: &str = "/// MatMul of an `m x k` left operand (its leading axes flattened) by constant `k x n`
/// weights packed in column panels.
struct MatMulPackedParams {
    m: usize,
    n: usize,
    k: usize,
}

/// `Y = A B`, then the fused epilogue `epi(at, run)` on all of `Y` (one call: its rows are
/// contiguous).
fn matmul_packed(a: &[f32], b: &[f32], y: &mut [f32], p: &MatMulPackedParams, epi: impl Fn(usize, &mut [f32])) {
    gemm_b(a, p.k, b, p.m, p.n, p.k, y, p.n);
    if let Some(all) = y.get_mut(..p.m * p.n) {
        epi(0, all);
    }
}
";

/// `copy_run(d, s)`: `d = s` for the runs of a row that `pad_split` and `store_wide` copy.
fn copy_run(s: &mut String, l: usize) {
    if l == 1 {
        s.push_str(
            "
/// `d = s`.
#[inline(always)]
fn copy_run(d: &mut [f32], s: &[f32]) {
    d.copy_from_slice(s);
}
",
        );
        return;
    }
    // A run of at most four vectors: two moves of the largest power of two (of elements)
    // that fits, one from each end, overlapping. As loops, both the rest after the whole
    // vectors and the loop over whole vectors themselves became `memcpy` calls (7% of
    // ResNet-8's time, on its 8x8 and 16x16 maps' rows).
    let mut short = String::new();
    let mut w = 2 * l;
    while w >= 1 {
        let _ = writeln!(
            short,
            "    if n >= {w} {{
        if let (Some(d0), Some(s0)) = (d.first_chunk_mut::<{w}>(), s.first_chunk::<{w}>()) {{
            *d0 = *s0;
        }}
        if let (Some(d1), Some(s1)) = (d.get_mut(n - {w}..).and_then(|d| d.first_chunk_mut::<{w}>()), s.get(n - {w}..).and_then(|s| s.first_chunk::<{w}>())) {{
            *d1 = *s1;
        }}
        return;
    }}"
        );
        w /= 2;
    }
    let long = 4 * l;
    let _ = write!(
        s,
        "
/// `d = s`, for runs of a few vectors: by moves of sizes known at compile time.
/// (`copy_from_slice` of a length known only at run time is a `memmove` call, which took
/// longer than the copy on rows of tens of elements: 9% of ResNet-8's time.)
#[inline(always)]
fn copy_run(d: &mut [f32], s: &[f32]) {{
    let n = d.len().min(s.len());
    if n > {long} {{
        let (mut dv, mut sv) = (d.chunks_exact_mut({l}), s.chunks_exact({l}));
        for (d, s) in (&mut dv).zip(&mut sv) {{
            if let (Some(d), Some(s)) = (d.first_chunk_mut::<{l}>(), s.first_chunk::<{l}>()) {{
                *d = *s;
            }}
        }}
        // The last whole vector again, ending at the end.
        if let (Some(d), Some(s)) = (d.get_mut(n - {l}..).and_then(|d| d.first_chunk_mut::<{l}>()), s.get(n - {l}..).and_then(|s| s.first_chunk::<{l}>())) {{
            *d = *s;
        }}
        return;
    }}
{short}}}
"
    );
}

const SPLIT_PARAMS: &str =
    "/// A 2-D convolution on its input padded and split by stride phase in scratch: each
/// input channel's padded plane is stored as `strides[0] * strides[1]` phase planes of
/// `hq x wq`, so every tap reads one phase at a fixed offset (`taps`) with unit stride,
/// and output `(r, col)` is column `r * wq + col` of a wide output. (For
/// `conv_depthwise_lanes`, `hq x wq` is the whole padded map, with a block of channels
/// interleaved, and `taps` are offsets in that block.)
// In a module whose only user is `conv_winograd`, which pads and splits its input with
// `pad_split`, the convolution's own fields are never read.
#[allow(dead_code)]
struct SplitConvParams<const T: usize> {
    batch: usize,
    c_in: usize,
    c_out: usize,
    input: [usize; 2],
    output: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 2],
    hq: usize,
    wq: usize,
    taps: [usize; T],
}
";

const PAD_SPLIT: &str =
    "/// Copies one batch item `x` (`c_in x h x w`) into `s`, padded and split by stride phase
/// (see `SplitConvParams`); zeros the rest of `s`, which the last tile reads past the end.
fn pad_split<const T: usize>(x: &[f32], s: &mut [f32], p: &SplitConvParams<T>) {
    let ([h, w], [sh, sw], [ph, pw]) = (p.input, p.strides, p.pads);
    let plane = p.hq * p.wq;
    let channel = sh * sw * plane;
    // Whether some tap reads a phase (Winograd passes no taps and reads all): worked out
    // once for the first 16 (strides up to 4x4), not per channel and row (per row, the
    // divisions took a third of the stride-2 split's time).
    let reads = |phase: usize| T == 0 || p.taps.iter().any(|&t| t / plane == phase);
    let read: [bool; 16] = core::array::from_fn(reads);
    if sw == 2 && w >= 32 && pad_split_pairs(x, s, p, &read) {
        return;
    }
    for (c, xc) in x.chunks_exact(h * w).enumerate().take(p.c_in) {
        for a in 0..sh {
            for bb in 0..sw {
                let dst = &mut s[c * channel + (a * sw + bb) * plane..][..plane];
                // Columns j * sw + bb of the padded row: those in the input are j0..j1.
                let j0 = pw.saturating_sub(bb).div_ceil(sw).min(p.wq);
                let j1 = (pw + w).saturating_sub(bb).div_ceil(sw).clamp(j0, p.wq);
                // Zeros first, in one call, then each row's run from the input: on small
                // maps, a fill and a copy call per row cost more than the copy itself.
                dst.fill(0.0);
                // A phase no tap reads stays zero (a 1x1 kernel at stride 2 reads one of
                // four); Winograd's split passes no taps and reads every phase.
                let phase = a * sw + bb;
                if j1 == j0 || !read.get(phase).copied().unwrap_or_else(|| reads(phase)) {
                    continue;
                }
                for (i, row) in dst.chunks_exact_mut(p.wq).enumerate() {
                    let r = i * sh + a;
                    if r < ph || r - ph >= h {
                        continue;
                    }
                    let xr = &xc[(r - ph) * w..][..w];
                    let from = j0 * sw + bb - pw;
                    let run = &mut row[j0..j1];
                    if sw == 1 {
                        copy_run(run, &xr[from..from + run.len()]);
                    } else if sw == 2 {
                        // Stride 2 (the common one) 16 at a time from 31 inputs, arrays of
                        // lengths LLVM knows, so it deinterleaves with vector shuffles
                        // (AVX-512: one two-source permute). As pairs it vectorised only
                        // runs of 64 and more; as a loop over a slice of 31, with gathers
                        // or one element at a time.
                        let src = &xr[from..];
                        let mut full = run.chunks_exact_mut(16);
                        let mut k = 0;
                        for o in &mut full {
                            let (Some(v), Ok(o)) = (src[2 * k..].first_chunk::<31>(), <&mut [f32; 16]>::try_from(o)) else {
                                break;
                            };
                            *o = core::array::from_fn(|l| v[2 * l]);
                            k += 16;
                        }
                        // The rest: the run's last 16 again when it has 16 (the same
                        // values twice), else one at a time.
                        let len = run.len();
                        if k < len && len >= 16 {
                            let at = len - 16;
                            if let (Some(v), Some(o)) = (src.get(2 * at..).and_then(|v| v.first_chunk::<31>()), run.get_mut(at..).and_then(|o| o.first_chunk_mut::<16>())) {
                                *o = core::array::from_fn(|l| v[2 * l]);
                            }
                        } else if k < len {
                            for (o, v) in run[k..].iter_mut().zip(src[2 * k..].chunks(2)) {
                                *o = v[0];
                            }
                        }
                    } else {
                        for (o, v) in run.iter_mut().zip(xr[from..].iter().step_by(sw)) {
                            *o = *v;
                        }
                    }
                }
            }
        }
    }
    s[p.c_in * channel..].fill(0.0);
}

/// `pad_split` at column stride 2 for rows of 32 and more, if each row's two column phases
/// fit their planes' width (else false, nothing written): each input row is read once, 32
/// at a time, and dealt into its even and odd columns (two vector permutes on AVX-512),
/// which go to the two column phases of its row phase. (Phase by phase, each row was read
/// twice and each run's tail copied one element at a time: a depthwise convolution at
/// stride 2 spent three quarters of its time here.)
fn pad_split_pairs<const T: usize>(x: &[f32], s: &mut [f32], p: &SplitConvParams<T>, read: &[bool; 16]) -> bool {
    let ([h, w], [sh, _], [ph, pw]) = (p.input, p.strides, p.pads);
    let (plane, wq) = (p.hq * p.wq, p.wq);
    let channel = sh * 2 * plane;
    // Input column `x` is padded column `x + pw` = `2 j + phase`: the even ones go to phase
    // `pw % 2` from `j = pw / 2`, the odd ones to the other phase from `(pw + 1) / 2`.
    let (even_phase, even_at, odd_at) = (pw % 2, pw / 2, pw.div_ceil(2));
    if sh > 4 || even_at + w.div_ceil(2) > wq || odd_at + w / 2 > wq || s.len() < p.c_in * channel {
        return false;
    }
    let last = (w - 32) & !1;
    for (c, xc) in x.chunks_exact(h * w).enumerate().take(p.c_in) {
        let cs = &mut s[c * channel..][..channel];
        cs.fill(0.0);
        for (r, xr) in xc.chunks_exact(w).enumerate() {
            let (a, i) = ((r + ph) % sh, (r + ph) / sh);
            if i >= p.hq {
                break;
            }
            let (pe, po) = (a * 2 + even_phase, a * 2 + 1 - even_phase);
            let (re, ro) = (pe * plane + i * wq + even_at, po * plane + i * wq + odd_at);
            let (we, wo) = (read.get(pe) != Some(&false), read.get(po) != Some(&false));
            // Whole blocks of 32, then the last 32 (from an even column) again.
            let mut m = 0;
            while m < w {
                let at = if m + 32 <= w { m } else { last };
                if let Some(v) = xr.get(at..).and_then(|v| v.first_chunk::<32>()) {
                    let e: [f32; 16] = core::array::from_fn(|l| v[2 * l]);
                    let o: [f32; 16] = core::array::from_fn(|l| v[2 * l + 1]);
                    if let Some(d) = cs.get_mut(re + at / 2..).and_then(|d| d.first_chunk_mut::<16>()).filter(|_| we) {
                        *d = e;
                    }
                    if let Some(d) = cs.get_mut(ro + at / 2..).and_then(|d| d.first_chunk_mut::<16>()).filter(|_| wo) {
                        *d = o;
                    }
                }
                m += 32;
            }
            // An odd width's last column, which the last block (from an even column) misses.
            let odd_last = cs.get_mut(re + w / 2).filter(|_| !w.is_multiple_of(2) && we);
            if let (Some(d), Some(&v)) = (odd_last, xr.last()) {
                *d = v;
            }
        }
    }
    s[p.c_in * channel..].fill(0.0);
    true
}
";

/// `wide_runs` and `store_wide`: a tile's columns of the wide output to the output planes.
fn store_wide(s: &mut String, t: Tiling) {
    // A run is at least one column: a tile of `nr` columns has at most `nr` of them.
    let most = t.lanes * t.nv;
    let _ = write!(
        s,
        "/// The runs of columns `q..q + cols` of the wide output that are output columns (not
/// the padding columns past the output's width): per run its first column in the tile,
/// its offset in a channel's plane and its length; and how many there are. Worked out
/// once per block of columns, not per output row of each channel.
fn wide_runs<const T: usize>(q: usize, cols: usize, p: &SplitConvParams<T>) -> ([(usize, usize, usize); {most}], usize) {{
    let [oh, ow] = p.output;
    let wide = oh * p.wq;
    let mut runs = [(0, 0, 0); {most}];
    let (mut j, mut n) = (0, 0);
    while j < cols && q + j < wide && n < {most} {{
        let (r, col) = ((q + j) / p.wq, (q + j) % p.wq);
        let run = (p.wq - col).min(cols - j).min(wide - q - j);
        if col < ow {{
            runs[n] = (j, r * ow + col, run.min(ow - col));
            n += 1;
        }}
        j += run;
    }}
    (runs, n)
}}

/// Stores a tile's row `src` (one channel's columns of the wide output) by `runs` (see
/// `wide_runs`) into that channel's plane at `y[plane..]`.
fn store_wide(src: &[f32], runs: &[(usize, usize, usize)], y: &mut [f32], plane: usize) {{
    for &(j, at, len) in runs {{
        if let (Some(d), Some(s)) = (y.get_mut(plane + at..plane + at + len), src.get(j..j + len)) {{
            copy_run(d, s);
        }}
    }}
}}
"
    );
}

fn depthwise(s: &mut String, t: Tiling) {
    let nr = t.nr();
    let _ = writeln!(
        s,
        "/// A depthwise convolution (one input channel per output channel, weights `c x taps`)
/// on its input padded and split by stride phase in `scratch` (see `pad_split`): per
/// channel, by `dw_channel`, the bias plus each tap's weight times a contiguous run of the
/// split input, taps in order, into the channel's whole wide output (the last
/// `oh * wq + {nr}` elements of `scratch`); then its rows are copied
/// out, and the fused epilogue `epi(at, run)` runs on the channel's plane. (Scattering
/// each tile straight to the output rows cost more than its arithmetic on small maps, and
/// so did a call of the epilogue per row: MobileNet's 32-channel 24x24 step 16.8 -> 11.4 us.)
fn conv_depthwise<const T: usize>(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
    let [oh, ow] = p.output;
    let (xn, yn) = (p.c_in * p.input[0] * p.input[1], p.c_out * oh * ow);
    let channel = p.strides[0] * p.strides[1] * p.hq * p.wq;
    let wide = oh * p.wq;
    for n in 0..p.batch {{
        pad_split(&x[n * xn..][..xn], scratch, p);
        let (split, sum) = scratch.split_at_mut(scratch.len() - wide - {nr});
        let yb = &mut y[n * yn..][..yn];
        for (c, wc) in w.chunks_exact(T).enumerate().take(p.c_in) {{
            let init = b.map_or(0.0, |b| b[c]);
            let xs = &split[c * channel..];
            dw_channel(wc, xs, &p.taps, init, sum, wide);
            for (r, src) in sum.chunks_exact(p.wq).take(oh).enumerate() {{
                let at = (c * oh + r) * ow;
                copy_run(&mut yb[at..at + ow], &src[..ow]);
            }}
            let at = c * oh * ow;
            epi(n * yn + at, &mut yb[at..at + oh * ow]);
        }}
    }}
}}"
    );
    dw_channel(s, t.lanes);
}

/// `dw_channel`, one channel of `conv_depthwise`'s wide output.
fn dw_channel(s: &mut String, l: usize) {
    let l4 = 4 * l;
    let _ = write!(
        s,
        "
/// One channel of `conv_depthwise`: `out[q] = init + sum over taps t of w[t] * x[q + taps[t]]`
/// for `q < wide`, {l4} columns at a time in four accumulators (four independent chains of
/// multiply-adds) while the reads stay in `x`, then {l} at a time. Not inlined: a tile
/// inlined into the channel loop compiled, next to some epilogues, into half-width
/// vectors and shuffles (MobileNet's 32-channel 24x24 depthwise step 18 -> 13 us).
#[inline(never)]
fn dw_channel<const T: usize>(w: &[f32], x: &[f32], taps: &[usize; T], init: f32, out: &mut [f32], wide: usize) {{
    let reach = taps.iter().max().copied().unwrap_or(0);
    let mut q = 0;
    while q < wide && q + reach + {l4} <= x.len() && q + {l4} <= out.len() {{
        let (mut c0, mut c1, mut c2, mut c3): (Lanes, Lanes, Lanes, Lanes) = ([init; {l}], [init; {l}], [init; {l}], [init; {l}]);
        for (&t, &wv) in taps.iter().zip(w) {{
            let Some(v) = x.get(q + t..).and_then(|v| v.first_chunk::<{l4}>()) else {{ break }};
            c0 = lanes_mul_add(c0, wv, lanes_load(v, 0));
            c1 = lanes_mul_add(c1, wv, lanes_load(v, {l}));
            c2 = lanes_mul_add(c2, wv, lanes_load(v, 2 * {l}));
            c3 = lanes_mul_add(c3, wv, lanes_load(v, 3 * {l}));
        }}
        if let Some(o) = out.get_mut(q..).and_then(|o| o.first_chunk_mut::<{l4}>()) {{
            for (d, v) in o.chunks_exact_mut({l}).zip([c0, c1, c2, c3]) {{
                d.copy_from_slice(&v);
            }}
        }}
        q += {l4};
    }}
    while q < wide {{
        let mut c0: Lanes = [init; {l}];
        for (&t, &wv) in taps.iter().zip(w) {{
            let Some(v) = x.get(q + t..).and_then(|v| v.first_chunk::<{l}>()) else {{ break }};
            c0 = lanes_mul_add(c0, wv, lanes_load(v, 0));
        }}
        if let Some(o) = out.get_mut(q..).and_then(|o| o.first_chunk_mut::<{l}>()) {{
            *o = c0;
        }}
        q += {l};
    }}
}}
"
    );
}

/// Output columns a step of [`depthwise_lanes`] computes, each in an accumulator of its
/// own: a multiply and an add per tap are one dependent chain per column, so four chains
/// keep both FMA pipes of a core busy.
const LANES_COLS: usize = 4;

fn depthwise_lanes(s: &mut String, t: Tiling) {
    let l = t.lanes;
    let p = LANES_COLS;
    let mut accs = String::new();
    let mut steps = String::new();
    let mut stores = String::new();
    for j in 0..p {
        let _ = writeln!(accs, "                    let mut a{j} = init;");
        let _ = writeln!(
            steps,
            "                        a{j} = dw_mul_add(a{j}, wt, dw_at(s, at + {j} * step + o));"
        );
        let _ = writeln!(
            stores,
            "                    row[(col + {j}) * {l}..][..{l}].copy_from_slice(&a{j});"
        );
    }
    let _ = writeln!(
        s,
        "/// `c + a * b`, lane by lane{fused_doc}.
#[inline(always)]
fn dw_mul_add(c: [f32; {l}], a: &[f32; {l}], b: &[f32; {l}]) -> [f32; {l}] {{
    let mut r = c;
    for i in 0..{l} {{
        r[i] = {mul_add};
    }}
    r
}}

/// The {l} elements of `s` from `at` (in bounds by construction; zeros otherwise, which
/// leaves no panic path).
#[inline(always)]
fn dw_at(s: &[f32], at: usize) -> &[f32; {l}] {{
    s.get(at..).and_then(|v| v.first_chunk()).unwrap_or(&[0.0; {l}])
}}

/// A depthwise convolution with its channels in the vector lanes, for maps too small
/// for `conv_depthwise`'s runs of one channel's columns. Per block of {l} channels: their
/// padded input interleaved in scratch (`s[(r * wq + c) * {l} + lane]`, zeros in the
/// padding), then each output the bias plus each tap's weights (packed `[block][tap][{l}]`)
/// times one vector of the block, taps in order, {p} output columns at a time; each output
/// row goes through `row` (`[column][{l}]`) into the block's planes, and the epilogue runs
/// on each plane once it is done.
fn conv_depthwise_lanes<const T: usize>(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
    let ([h, wi], [oh, ow], [sh, sw], [ph, pw]) = (p.input, p.output, p.strides, p.pads);
    let (xn, yn, out_plane) = (p.c_in * h * wi, p.c_out * oh * ow, oh * ow);
    let (s, row) = scratch.split_at_mut(p.hq * p.wq * {l});
    let row = &mut row[..ow * {l}];
    let step = sw * {l};
    let (blocks, _) = w.as_chunks::<{l}>();
    for n in 0..p.batch {{
        // The padding stays zero: each block writes the same interior.
        s.fill(0.0);
        let (xb, yb) = (&x[n * xn..][..xn], &mut y[n * yn..][..yn]);
        for (blk, wb) in blocks.chunks_exact(T).enumerate() {{
            let c0 = blk * {l};
            let nc = (p.c_in - c0).min({l});
            for (lane, xc) in xb[c0 * h * wi..].chunks_exact(h * wi).take(nc).enumerate() {{
                for (r, xr) in xc.chunks_exact(wi).enumerate() {{
                    let d = &mut s[((r + ph) * p.wq + pw) * {l} + lane..];
                    for (o, &v) in d.iter_mut().step_by({l}).zip(xr) {{
                        *o = v;
                    }}
                }}
            }}
            let mut init = [0.0f32; {l}];
            if let Some(b) = b {{
                init[..nc].copy_from_slice(&b[c0..c0 + nc]);
            }}
            for r in 0..oh {{
                let base = r * sh * p.wq * {l};
                let mut col = 0;
                while col + {p} <= ow {{
                    let at = base + col * step;
{accs}                    for (&o, wt) in p.taps.iter().zip(wb) {{
{steps}                    }}
{stores}                    col += {p};
                }}
                while col < ow {{
                    let at = base + col * step;
                    let mut a = init;
                    for (&o, wt) in p.taps.iter().zip(wb) {{
                        a = dw_mul_add(a, wt, dw_at(s, at + o));
                    }}
                    row[col * {l}..][..{l}].copy_from_slice(&a);
                    col += 1;
                }}
                for lane in 0..nc {{
                    let yr = &mut yb[(c0 + lane) * out_plane + r * ow..][..ow];
                    for (o, &v) in yr.iter_mut().zip(row[lane..].iter().step_by({l})) {{
                        *o = v;
                    }}
                }}
            }}
            for lane in 0..nc {{
                let at = (c0 + lane) * out_plane;
                epi(n * yn + at, &mut yb[at..at + out_plane]);
            }}
        }}
    }}
}}",
        fused_doc = if t.fused { ", in one rounding" } else { "" },
        mul_add = if t.fused {
            "a[i].mul_add(b[i], c[i])"
        } else {
            "c[i] + a[i] * b[i]"
        },
    );
}

/// Winograd's F(2x2, 3x3) for 3x3 convolutions at stride 1 (see
/// `kiln_passes::kernels::WinogradConv`). The transforms work on `lanes` consecutive tiles
/// at once, one `Lanes` variable per element of the 4x4 block, so they vectorise: the
/// input's even and odd columns are split into planes by `pad_split` (strides 1x2), where
/// element `(i, j)` of consecutive tiles is one contiguous run.
fn winograd(s: &mut String, t: Tiling) {
    let (l, mr, nr, room) = (t.lanes, t.mr, t.nr(), t.room);
    let call = |width: usize| {
        format!(
            "gemm_tile_a{mr}x{width}(panel, &vx[j..], ld, p.c_in, &[0.0; {mr}], &mut mx[pi * {mr} * ld + j..], ld, rows, nc);"
        )
    };
    // The last block of columns, when it fits one vector, takes the one-vector tile.
    let tile = if t.nv > 1 {
        format!(
            "if nc <= {l} {{
                        {}
                    }} else {{
                        {}
                    }}",
            call(l),
            call(nr)
        )
    } else {
        call(nr)
    };
    let mut loads = String::new();
    for i in 0..4 {
        let _ = writeln!(
            loads,
            "                        let at = (row + {i}) * sp.wq + t0;
                        let (d{i}0, d{i}1) = (lanes_load(even, at), lanes_load(odd, at));
                        let (d{i}2, d{i}3) = (lanes_load(even1, at), lanes_load(odd1, at));"
        );
    }
    // B^T d B: rows, then columns; x -> [x0 - x2, x1 + x2, x2 - x1, x1 - x3].
    let mut input = String::new();
    for i in 0..4 {
        let _ = writeln!(
            input,
            "                        let (u{i}0, u{i}1) = (lanes_sub(d{i}0, d{i}2), lanes_add(d{i}1, d{i}2));
                        let (u{i}2, u{i}3) = (lanes_sub(d{i}2, d{i}1), lanes_sub(d{i}1, d{i}3));"
        );
    }
    let mut stores = String::new();
    for k in 0..4 {
        let v = [
            format!("lanes_sub(u0{k}, u2{k})"),
            format!("lanes_add(u1{k}, u2{k})"),
            format!("lanes_sub(u2{k}, u1{k})"),
            format!("lanes_sub(u1{k}, u3{k})"),
        ];
        for (a, e) in v.iter().enumerate() {
            let xi = a * 4 + k;
            let _ = writeln!(
                stores,
                "                        v[({xi} * p.c_in + c) * ld + col..][..{l}].copy_from_slice(&{e});"
            );
        }
    }
    let mut mloads = String::new();
    for a in 0..4 {
        for k in 0..4 {
            let xi = a * 4 + k;
            let _ = writeln!(
                mloads,
                "                    let m{a}{k} = lanes_load(m, ({xi} * p.c_out + co) * ld + col);"
            );
        }
    }
    // A^T m A: rows, then columns; x -> [x0 + x1 + x2, x1 - x2 - x3].
    let mut output = String::new();
    for a in 0..4 {
        let _ = writeln!(
            output,
            "                    let w{a}0 = lanes_add(lanes_add(m{a}0, m{a}1), m{a}2);
                    let w{a}1 = lanes_sub(lanes_sub(m{a}1, m{a}2), m{a}3);"
        );
    }
    for k in 0..2 {
        let _ = writeln!(
            output,
            "                    let y0{k} = lanes_add(lanes_add(w0{k}, w1{k}), w2{k});
                    let y1{k} = lanes_sub(lanes_sub(w1{k}, w2{k}), w3{k});"
        );
    }
    let _ = writeln!(
        s,
        "/// A 3x3 convolution at stride 1 by Winograd's F(2x2, 3x3) (Lavin and Gray): each 2x2
/// block of outputs is `A^T [U . (B^T d B)] A` for its 4x4 block `d` of the padded input,
/// `U = G g G^T` the weights transformed at compile time.
struct WinogradParams {{
    batch: usize,
    c_in: usize,
    c_out: usize,
    input: [usize; 2],
    output: [usize; 2],
    pads: [usize; 2],
    /// 2x2 tiles of the output, rows and columns.
    tiles: [usize; 2],
    /// Tile rows transformed and multiplied at a time.
    block_rows: usize,
}}

#[inline(always)]
fn lanes_add(a: Lanes, b: Lanes) -> Lanes {{
    let mut r = a;
    for i in 0..{l} {{
        r[i] += b[i];
    }}
    r
}}

#[inline(always)]
fn lanes_sub(a: Lanes, b: Lanes) -> Lanes {{
    let mut r = a;
    for i in 0..{l} {{
        r[i] -= b[i];
    }}
    r
}}

/// The convolution, per batch item and block of tile rows: the input transform into `v`
/// (16 matrices, `c_in x cols`), 16 products with the packed transformed weights `w` into
/// `m` (`c_out x cols` each, by the micro-kernel straight from `v`: the block is in cache
/// and its rows `ld` apart), and the output transform with the bias into the output rows;
/// then the fused epilogue `epi(at, run)` on each channel's finished rows of the block.
#[inline(never)]
fn conv_winograd(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &WinogradParams, epi: impl Fn(usize, &mut [f32])) {{
    let [oh, ow] = p.output;
    let [th, tw] = p.tiles;
    let (xn, yn) = (p.c_in * p.input[0] * p.input[1], p.c_out * oh * ow);
    // The input padded and split into even and odd columns: planes of `2 th + 2` rows by
    // `tw + 1`, as the tiles read them.
    let sp = SplitConvParams::<0> {{
        batch: 1,
        c_in: p.c_in,
        c_out: p.c_out,
        input: p.input,
        output: p.output,
        strides: [1, 2],
        pads: p.pads,
        hq: 2 * th + 2,
        wq: tw + 1,
        taps: [],
    }};
    let plane = sp.hq * sp.wq;
    // Rows of the transformed input and of the products: a block's columns and room for
    // the transforms' whole vectors and the tiles' whole width (of either tiling; columns
    // past the block's are never used). The tiles read the transformed input in place.
    let nb = p.block_rows * tw;
    let ld = (nb + {l}).max(nb.next_multiple_of({room}));
    let (split, rest) = scratch.split_at_mut(p.c_in * 2 * plane + {l} + 1);
    // The split input again, one element on: column `t + 1` of each plane at `t`. Read
    // from the same planes at `t + 1`, LLVM rebuilt the overlapping vectors from each
    // other with shuffles and spilled them; this copy is one memcpy.
    let (shifted, rest) = rest.split_at_mut(p.c_in * 2 * plane + {l});
    let (v, m) = rest.split_at_mut(16 * p.c_in * ld);
    let ka = w.len() / 16;
    for n in 0..p.batch {{
        pad_split(&x[n * xn..][..xn], split, &sp);
        let len = shifted.len();
        shifted.copy_from_slice(&split[1..1 + len]);
        let yb = &mut y[n * yn..][..yn];
        let mut r0 = 0;
        while r0 < th {{
            let rows = (th - r0).min(p.block_rows);
            let cols = rows * tw;
            for c in 0..p.c_in {{
                let even = &split[c * 2 * plane..];
                let odd = &split[(c * 2 + 1) * plane..];
                let even1 = &shifted[c * 2 * plane..];
                let odd1 = &shifted[(c * 2 + 1) * plane..];
                for r in 0..rows {{
                    let row = 2 * (r0 + r);
                    let mut t0 = 0;
                    while t0 < tw {{
                        let col = r * tw + t0;
{loads}{input}{stores}                        t0 += {l};
                    }}
                }}
            }}
            for (xi, u) in w.chunks_exact(ka).enumerate() {{
                let (vx, mx) = (&v[xi * p.c_in * ld..], &mut m[xi * p.c_out * ld..]);
                let mut j = 0;
                while j < cols {{
                    let nc = (cols - j).min({nr});
                    for (pi, panel) in u.chunks_exact(p.c_in * {mr}).enumerate() {{
                        let rows = (p.c_out - pi * {mr}).min({mr});
                        {tile}
                    }}
                    j += {nr};
                }}
            }}
            for co in 0..p.c_out {{
                let bias = b.map_or(0.0, |b| b[co]);
                let py = co * oh * ow;
                for r in 0..rows {{
                    let ty = r0 + r;
                    let mut t0 = 0;
                    while t0 < tw {{
                        let nl = (tw - t0).min({l});
                        let col = r * tw + t0;
{mloads}{output}                        for (dy, (ya, yb2)) in [(y00, y01), (y10, y11)].iter().enumerate() {{
                            let oy = 2 * ty + dy;
                            if oy >= oh {{
                                break;
                            }}
                            let c0 = 2 * t0;
                            let len = (ow - c0).min(2 * nl);
                            let out = &mut yb[py + oy * ow + c0..][..len];
                            for (o, (a, e)) in out.chunks_exact_mut(2).zip(ya.iter().zip(yb2)) {{
                                o[0] = a + bias;
                                o[1] = e + bias;
                            }}
                            if len % 2 == 1 {{
                                out[len - 1] = ya[len / 2] + bias;
                            }}
                        }}
                        t0 += {l};
                    }}
                }}
                // The block's output rows of this channel, one call for all of them.
                let (first, end) = (2 * r0, (2 * (r0 + rows)).min(oh));
                let at = py + first * ow;
                epi(n * yn + at, &mut yb[at..py + end * ow]);
            }}
            r0 += rows;
        }}
    }}
}}"
    );
}
