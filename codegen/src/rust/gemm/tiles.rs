//! The micro-kernels (tiles) and their accumulators, loads, multiply-adds and stores.

use super::*;

pub(super) fn accs(mr: usize, nv: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..mr).flat_map(move |i| (0..nv).map(move |v| (i, v)))
}

/// The accumulators `c{i}_{v}`, one `Lanes` variable each, row `i` starting at `init(i)`.
pub(super) fn accumulators(
    s: &mut String,
    l: usize,
    mr: usize,
    nv: usize,
    init: impl Fn(usize) -> String,
) {
    for (i, v) in accs(mr, nv) {
        let _ = writeln!(s, "    let mut c{i}_{v}: Lanes = [{}; {l}];", init(i));
    }
}

/// The loads of one step's `nv` vectors `b{v}` from the row `bv`.
pub(super) fn loads(s: &mut String, l: usize, nv: usize, indent: &str) {
    loads_by(s, l, nv, indent, "lanes_load");
}

/// [`loads`] from a row of the packed weights (`Wt`s).
pub(super) fn loads_w(s: &mut String, l: usize, nv: usize, indent: &str) {
    loads_by(s, l, nv, indent, "lanes_load_w");
}

fn loads_by(s: &mut String, l: usize, nv: usize, indent: &str, load: &str) {
    // One test of the step's length, after which every load's offset is known in bounds.
    // One test of the step's length, after which every load's offset is known in bounds.
    let _ = writeln!(
        s,
        "{indent}let Some(bv) = bv.first_chunk::<{}>() else {{ break }};",
        l * nv
    );
    for v in 0..nv {
        let _ = writeln!(s, "{indent}let b{v} = {load}(bv, {});", v * l);
    }
}

/// One step's multiply-adds: every accumulator gets its row's value `a(i)` times its vector.
pub(super) fn mul_adds(
    s: &mut String,
    mr: usize,
    nv: usize,
    indent: &str,
    a: impl Fn(usize) -> String,
) {
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
/// and 8-lane ones (AVX2: in paired runs on a Zen 3 core ddddocr_det 9% faster, ppocrv4_rec
/// 7%) without `--fma`. Through `lanes_store` alone, each row's run of a length only known at
/// run time became a `memmove` call, around which LLVM spilled and reloaded the
/// accumulators: with a short panel (a 1x1 convolution of 8 input channels, 8 steps) that
/// store took twice the multiply-adds' time. With `f32::mul_add` LLVM split the 1x1
/// convolutions' multiply-adds into half-width vectors with spills once the path was there
/// (ppocrv4_rec 2.7x slower); on AArch64's 8x12 tiles it raised the Raspberry Pi's
/// instructions per MAC (ddddocr_det 0.94 -> 1.35). `conv_split`'s tile stores into a
/// tile buffer whose rows are whole vectors already, and with the path its fused
/// multiply-adds went scalar.
pub(super) fn whole_tile_stores(t: Tiling) -> bool {
    t.lanes >= 8 && !t.fused
}

/// The offset of row `i` of a tile in `c` (rows `ldc` apart), as code.
pub(super) fn row_offset(i: usize) -> String {
    match i {
        0 => "0".to_string(),
        1 => "ldc".to_string(),
        _ => format!("{i} * ldc"),
    }
}

/// The store of the accumulators, row by row, `rows` of them and `cols` columns; first,
/// if `whole` (see [`whole_tile_stores`]), the whole tile's in one go.
pub(super) fn store(s: &mut String, l: usize, mr: usize, nv: usize, whole: bool) {
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
pub(super) fn tile_a(s: &mut String, l: usize, mr: usize, nv: usize, whole: bool) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Rows `..rows` and columns `..cols` (of {nr} computed) of `c` (rows `ldc` apart) = `init[i] + sum over q of
/// a[q * {mr} + i] * b[q * ldb + j]`: one row panel of the packed left operand times {nr}
/// columns of the right one.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_a{mr}x{nr}(a: &[Wt], b: &[f32], ldb: usize, k: usize, init: &[f32; {mr}], c: &mut [f32], ldc: usize, rows: usize, cols: usize) {{"
    );
    tile_accumulators(s, l, mr, nv, |i| format!("init[{i}]"));
    let _ = writeln!(
        s,
        "    let Some(ap) = a.get(..k * {mr}) else {{ return }};\n    for (av, bv) in ap.chunks_exact({mr}).zip(b.chunks(ldb.max(1))) {{"
    );
    loads(s, l, nv, "        ");
    step_mul_adds(s, l, mr, nv, "        ", ("av", "wt(w)"), |i| {
        format!("wt(av[{i}])")
    });
    s.push_str("    }\n");
    end_accumulators(s, l, mr, nv);
    store(s, l, mr, nv, whole);
    s.push_str("}\n");
}

/// `whole`: see [`whole_tile_stores`].
pub(super) fn tile_b(s: &mut String, l: usize, mr: usize, nv: usize, whole: bool) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Rows `..rows` (at most {mr}) and columns `..cols` of `c` (rows `ldc` apart) = `sum over
/// q of a[i * lda + q] * b[q * {nr} + j]`: {mr} rows of the left operand times one column
/// panel of the packed right one.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_b{mr}x{nr}(a: &[f32], lda: usize, b: &[Wt], k: usize, c: &mut [f32], ldc: usize, rows: usize, cols: usize) {{"
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
    tile_accumulators(s, l, mr, nv, |_| "0.0".into());
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
    loads_w(s, l, nv, "        ");
    let xs: Vec<String> = (0..mr).map(|i| format!("x{i}")).collect();
    let values = format!("&[{}]", xs.join(", "));
    step_mul_adds(s, l, mr, nv, "        ", (&values, "w"), |i| {
        format!("x{i}")
    });
    s.push_str("    }\n");
    end_accumulators(s, l, mr, nv);
    store(s, l, mr, nv, whole);
    s.push_str("}\n");
}

/// Partial sums the one-row tile keeps per vector of columns on a vector target: with one
/// row its `nv` accumulators are `nv` dependent chains of multiply-adds, each step waiting
/// on the last (four cycles for a fused one on recent x86-64 and AArch64 cores), so the
/// panel's steps are dealt round-robin to this many sets of accumulators, added at the end,
/// and about eight multiply-adds are in flight. (The autoencoder's one-row Gemms ran 1.4x
/// slower once contraction made each multiply and add one fused, four-cycle step.)
pub(super) fn one_row_sets(nv: usize) -> usize {
    8usize.div_ceil(nv).max(1)
}

/// The body of the one-row tile on a vector target (see [`one_row_sets`]): the row's steps
/// go round-robin to the sets `c{set}_{v}`, the steps past a whole round to set 0, and the
/// sets are added into set 0 in order before the store.
pub(super) fn one_row_split(s: &mut String, l: usize, nv: usize, whole: bool) {
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
        loads_w(s, l, nv, "        ");
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
    loads_w(s, l, nv, "        ");
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

pub(super) fn tile_c(s: &mut String, l: usize, mr: usize, nv: usize) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Rows `..rows` and columns `..{nr}` of `c` (rows `ldc` apart) = `init[i] + sum over
/// channels ch and taps t of a[(ch * taps.len() + t) * {mr} + i] * b[ch * channel + taps[t] + j]`:
/// one row panel of the packed weights times {nr} columns of the wide output.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn gemm_tile_c{mr}x{nr}<const T: usize>(a: &[Wt], b: &[f32], channel: usize, c_in: usize, taps: &[usize; T], init: &[f32; {mr}], c: &mut [f32], ldc: usize, rows: usize) {{"
    );
    tile_accumulators(s, l, mr, nv, |i| format!("init[{i}]"));
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
    step_mul_adds(s, l, mr, nv, "            ", ("av", "wt(w)"), |i| {
        format!("wt(av[{i}])")
    });
    s.push_str("        }\n    }\n");
    end_accumulators(s, l, mr, nv);
    let _ = writeln!(s, "    let cols = {nr};");
    store(s, l, mr, nv, false);
    s.push_str("}\n");
}

/// Whether the tiles for `l` lanes keep their accumulators as an array of rows
/// ([`row_mul_adds`]): AVX2's 4x3 tiles, where it was measured. Elsewhere they are
/// separate variables, as measured on AVX-512, AArch64 and the microcontrollers (see
/// ARCHITECTURE.md: written as arrays, other shapes had their `k` loops vectorised with
/// gathers).
fn row_tiles(l: usize) -> bool {
    l == 8
}

/// The accumulators as one array `acc` of `mr` rows of `nv` vectors, row `i` starting at
/// `init(i)` (see [`row_mul_adds`]).
fn row_accumulators(
    s: &mut String,
    l: usize,
    mr: usize,
    nv: usize,
    init: impl Fn(usize) -> String,
) {
    let rows: Vec<String> = (0..mr)
        .map(|i| format!("[[{}; {l}]; {nv}]", init(i)))
        .collect();
    let _ = writeln!(
        s,
        "    let mut acc: [[Lanes; {nv}]; {mr}] = [{}];",
        rows.join(", ")
    );
}

/// One step's multiply-adds on [`row_accumulators`]: a loop over the rows zipped with the
/// rows' values `values` (each converted by `value`), each value broadcast once and used
/// by its row's `nv` multiply-adds. Written as `mr * nv` separate variables (as
/// [`mul_adds`] does), LLVM's SLP vectoriser rebuilt the step column by column with all
/// `mr` broadcasts live at once: with AVX2's 4x3 tiles, 12 accumulators, 4 broadcasts and
/// an operand, 17 of the 16 registers, and ddddocr_det's 3x3 convolution tile kept two
/// accumulators on the stack (27-30 GFLOP/s, from 40-90); as rows, none spilled.
fn row_mul_adds(s: &mut String, nv: usize, indent: &str, values: &str, value: &str) {
    let _ = writeln!(
        s,
        "{indent}for (row, &w) in acc.iter_mut().zip({values}) {{"
    );
    if value != "w" {
        let _ = writeln!(s, "{indent}    let w = {value};");
    }
    for v in 0..nv {
        let _ = writeln!(
            s,
            "{indent}    row[{v}] = lanes_mul_add(row[{v}], w, b{v});"
        );
    }
    let _ = writeln!(s, "{indent}}}");
}

/// The accumulators of [`row_accumulators`] as the variables `c{i}_{v}` [`store`] takes.
fn unpack_rows(s: &mut String, mr: usize, nv: usize) {
    let rows: Vec<String> = (0..mr)
        .map(|i| {
            let r: Vec<String> = (0..nv).map(|v| format!("c{i}_{v}")).collect();
            format!("[{}]", r.join(", "))
        })
        .collect();
    let _ = writeln!(s, "    let [{}] = acc;", rows.join(", "));
}

/// A tile's accumulators: as rows where [`row_tiles`], else as separate variables.
fn tile_accumulators(
    s: &mut String,
    l: usize,
    mr: usize,
    nv: usize,
    init: impl Fn(usize) -> String,
) {
    if row_tiles(l) {
        row_accumulators(s, l, mr, nv, init);
    } else {
        accumulators(s, l, mr, nv, init);
    }
}

/// One step's multiply-adds on [`tile_accumulators`]: as rows, [`row_mul_adds`] over
/// `rows.0` (each converted by `rows.1`); else [`mul_adds`], row `i`'s value `a(i)`.
fn step_mul_adds(
    s: &mut String,
    l: usize,
    mr: usize,
    nv: usize,
    indent: &str,
    rows: (&str, &str),
    a: impl Fn(usize) -> String,
) {
    if row_tiles(l) {
        row_mul_adds(s, nv, indent, rows.0, rows.1);
    } else {
        mul_adds(s, mr, nv, indent, a);
    }
}

/// After the steps' loops: accumulators kept as rows become the variables [`store`] takes.
fn end_accumulators(s: &mut String, l: usize, mr: usize, nv: usize) {
    if row_tiles(l) {
        unpack_rows(s, mr, nv);
    }
}

pub(super) fn tile_t(s: &mut String, l: usize, mr: usize, nv: usize) {
    let nr = l * nv;
    let _ = writeln!(
        s,
        "/// Positions `at..at + {mr}` of the output planes of the first `cols` of {nr} output
/// channels (planes `plane` apart in `y`) = `init[j] + sum over q of x[q * plane + at + i] *
/// w[q * {nr} + j]`: {mr} positions of the input (`k x plane`) times one panel of {nr}
/// output channels of the packed weights, the channels in the lanes.
#[inline(never)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn gemm_tile_t{mr}x{nr}(x: &[f32], plane: usize, at: usize, w: &[Wt], k: usize, init: &[f32; {nr}], y: &mut [f32], cols: usize) {{"
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
    loads_w(s, l, nv, "        ");
    for i in 0..mr {
        let _ = writeln!(s, "        let x{i} = xs[{i}];");
    }
    mul_adds(s, mr, nv, "        ", |i| format!("x{i}"));
    s.push_str("    }\n");
    // Each lane is one channel's output, its {mr} positions one run.
    store_lanes(s, l, mr, nv, |channel| {
        format!(
            "        let run: [f32; {mr}] = core::array::from_fn(|i| t[i][j]);
        if let Some(o) = y.get_mut({channel} * plane + at..).and_then(|o| o.first_chunk_mut::<{mr}>()) {{
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
pub(super) fn store_lanes(
    s: &mut String,
    l: usize,
    mr: usize,
    nv: usize,
    store: impl Fn(&str) -> String,
) {
    for v in 0..nv {
        let row: Vec<String> = (0..mr).map(|i| format!("c{i}_{v}")).collect();
        let lo = v * l;
        // Written without `- 0` and `0 + j` (clippy's identity_op in a user's crate).
        let (left, channel) = match lo {
            0 => ("cols".to_string(), "j".to_string()),
            _ => (format!("cols.saturating_sub({lo})"), format!("({lo} + j)")),
        };
        let _ = writeln!(
            s,
            "    let t: [Lanes; {mr}] = [{}];
    for j in 0..{left}.min({l}) {{
{}
    }}",
            row.join(", "),
            store(&channel)
        );
    }
}

pub(super) fn tile_s(s: &mut String, l: usize, nv: usize) {
    let (mr, nr) = (kiln_passes::kernels::SPLIT_T_ROWS, l * nv);
    let _ = writeln!(
        s,
        "/// Output `out[i]` of the planes (`plane` apart in `y`) of the first `cols` of {nr} output
/// channels = `init[j] + sum over channels ch and taps t of b[ch * channel + taps[t] + at[i]] *
/// a[(ch * taps.len() + t) * {nr} + j]`, for {mr} positions `at` of the wide output: one
/// panel of the packed weights, the output channels in the lanes, times {mr} positions of
/// the split input.
#[inline(never)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn gemm_tile_s{mr}x{nr}<const T: usize>(a: &[Wt], b: &[f32], channel: usize, c_in: usize, taps: &[usize; T], at: [usize; {mr}], init: &[f32; {nr}], y: &mut [f32], plane: usize, out: [usize; {mr}], cols: usize) {{"
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
    loads_w(s, l, nv, "            ");
    for i in 0..mr {
        let _ = writeln!(
            s,
            "            let x{i} = bc.get(t + at[{i}]).copied().unwrap_or(0.0);"
        );
    }
    mul_adds(s, mr, nv, "            ", |i| format!("x{i}"));
    s.push_str("        }\n    }\n");
    // Each lane is one channel's output, its positions scattered over its plane.
    store_lanes(s, l, mr, nv, |channel| {
        format!(
            "        for (r, &o) in t.iter().zip(&out) {{
            if let Some(d) = y.get_mut({channel} * plane + o) {{
                *d = r[j];
            }}
        }}"
        )
    });
    s.push_str("}\n");
}
