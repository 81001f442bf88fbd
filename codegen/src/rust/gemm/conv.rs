//! The convolution drivers: on the split input (`conv_split`, `conv_split_t`), 1x1 with
//! channels in the lanes (`conv_pointwise_t`), by rows, depthwise, and by Winograd.

use super::*;

/// The generics, parameters (less the epilogue) and their names of the drivers on the
/// split input.
const SPLIT_GENERICS: &str = "<const T: usize>";
const SPLIT_PARAMS: &str = "x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>";
const SPLIT_ARGS: &str = "x, w, b, y, scratch, p";

pub(super) fn conv_split_t(s: &mut String, t: Tiling) {
    let (mr, nr) = (kiln_passes::kernels::SPLIT_T_ROWS, t.split_t_width());
    let head = shared_head("conv_split_t", SPLIT_GENERICS, SPLIT_PARAMS, SPLIT_ARGS);
    let _ = writeln!(
        s,
        "/// A convolution (one group) on its input padded and split by stride phase in scratch
/// (see `pad_split`), for outputs of at most one vector a channel: per panel of {nr} output
/// channels (weights packed `[panel][c_in * taps][{nr}]`), the output positions {mr} at a time
/// (the last repeated past the plane's end: computed twice, stored twice, the same values),
/// the channels in the lanes; then the epilogue on the panel's planes.
{head}
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
            // The panel's planes are contiguous: one call for all of them (a call per
            // plane, on MobileNet's 6x6 maps, cost more than the epilogue's work).
            let at = j0 * plane;
            epi(n * yn + at, &mut yb[at..at + cols * plane]);
        }}
    }}
}}"
    );
}

pub(super) fn pointwise_t(s: &mut String, t: Tiling, params: bool) {
    let mr = kiln_passes::kernels::POINTWISE_T_ROWS;
    let (nr, half) = (t.pointwise_t_width(), mr / 2);
    let head = shared_head(
        "conv_pointwise_t",
        "",
        "x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], p: &PointwiseParams",
        "x, w, b, y, p",
    );
    if params {
        s.push_str(POINTWISE_PARAMS);
    }
    let _ = writeln!(
        s,
        "/// A 1x1 convolution with the output channels in the vector lanes (for planes that
/// are not whole vectors): per panel of {nr} output channels (weights packed `[panel][c_in][{nr}]`),
/// the plane's positions {mr} at a time, a last block of at most {half} by the half-height
/// tile; a block past the plane's end is moved back to end there (positions computed
/// twice store the same values twice). Then the epilogue on the panel's planes.
{head}
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
            // The panel's planes are contiguous: one call for all of them (a call per
            // plane, on MobileNet's 6x6 maps, cost more than the epilogue's work).
            let at = j0 * plane;
            epi(n * yn + at, &mut yb[at..at + cols * plane]);
        }}
    }}
}}"
    );
}

pub(super) fn conv_split(s: &mut String, t: Tiling, nv: usize) {
    let (mr, nr, l) = (t.mr, t.lanes * nv, t.lanes);
    // Named as the lowering calls it (`conv::conv_on_split`).
    let name = GemmFn::conv_split_name(t, nv);
    let head = shared_head(name, SPLIT_GENERICS, SPLIT_PARAMS, SPLIT_ARGS);
    // The last block of the wide output takes the narrowest tile it fits: an 8x8 map is
    // 80 wide columns, a block of 48 and one of 32.
    // `x`, `c_in`: the tile's split input and its channels.
    let call = |v: usize, x: &str, c_in: &str| {
        format!(
            "gemm_tile_c{mr}x{}(panel, &{x}[q..], channel, {c_in}, &p.taps, &init, &mut tile, {nr}, rows);",
            v * l
        )
    };
    // The tile width by the columns left in the band.
    let narrower = t.narrower(nv);
    let tail = |x: &str, c_in: &str, indent: &str| {
        let mut tail = String::new();
        for &v in &narrower {
            let _ = write!(
                tail,
                "if bwide - q <= {} {{\n{indent}    {}\n{indent}}} else ",
                v * l,
                call(v, x, c_in)
            );
        }
        tail += &if narrower.is_empty() {
            call(nv, x, c_in)
        } else {
            format!("{{\n{indent}    {}\n{indent}}}", call(nv, x, c_in))
        };
        tail
    };
    let tail_blocks = tail("xs", "cn", "                        ");
    let tail = tail("scratch", "p.c_in", "                    ");
    // The panel's bias, for either loop order (`indent`: that of the line it goes on). By
    // element: a copy of `rows` values was a `memmove` call a tile.
    let init = |indent: &str| {
        format!(
            "let mut init = [0.0f32; {mr}];
{indent}if let Some(b) = b {{
{indent}    for (v, &x) in init.iter_mut().zip(&b[pi * {mr}..]).take(rows) {{
{indent}        *v = x;
{indent}    }}
{indent}}}"
        )
    };
    let init_inner = init("                    ");
    let init = init("                    ");
    let block_floats = kiln_passes::kernels::SPLIT_BLOCK_BYTES / 4;
    let block_kib = kiln_passes::kernels::SPLIT_BLOCK_BYTES / 1024;
    let _ = writeln!(
        s,
        "/// A convolution of one group on its input padded and split by stride phase in
/// `scratch` (see `pad_split`), a band of `p.band` output rows at a time (the input rows
/// the band reads split into scratch, then the band computed, while they are in cache:
/// ddddocr_det's first stride-2 convolution split its whole 4 MB input at once, and its
/// tiles read it back from beyond L2): per batch item and band, the weights (packed in
/// row panels of {mr}) times the split input, {nr} columns of the band's wide output at a
/// time, each tile scattered to the output rows it covers; then the fused epilogue
/// `epi(at, run)` on each channel's finished rows, at least 256 outputs at a time. (Run
/// by run, a tile's few outputs per call, the calls cost MobileNet's first convolution as
/// much as its arithmetic.) With `p.panels_outer` the loops go the other way round: one
/// panel over every block of columns, then the next.
{head}
    let [oh, ow] = p.output;
    let (xn, yn) = (p.c_in * p.input[0] * p.input[1], p.c_out * oh * ow);
    let channel = p.strides[0] * p.strides[1] * p.hq * p.wq;
    let k = p.c_in * T;
    let read = split_reads(p);
    let mut tile = [0.0f32; {mr} * {nr}];
    if p.panels_outer {{
        // The whole input split once; then its channels in blocks whose split planes fit
        // {block_kib} KiB (so every panel's tiles read them from L2), each block panel by
        // panel over every column: the first block stores its sums, the others add theirs,
        // and the last runs each panel's epilogue.
        let bwide = oh * p.wq;
        let kb = ({block_floats} / channel.max(1)).max(1);
        for n in 0..p.batch {{
            let yb = &mut y[n * yn..][..yn];
            pad_split_reading(&x[n * xn..][..xn], scratch, p, &read, 0);
            let mut c0 = 0;
            loop {{
                let cn = kb.min(p.c_in - c0);
                let last = c0 + cn >= p.c_in;
                let xs = &scratch[c0 * channel..];
                for (pi, whole) in w.chunks_exact(k * {mr}).enumerate() {{
                    let rows = (p.c_out - pi * {mr}).min({mr});
                    {init}
                    if c0 > 0 {{
                        init = [0.0; {mr}];
                    }}
                    let panel = &whole[c0 * T * {mr}..(c0 + cn) * T * {mr}];
                    let mut q = 0;
                    while q < bwide {{
                        let (runs, nruns) = wide_runs(q, (bwide - q).min({nr}), p);
                        {tail_blocks}
                        for (i, src) in tile.chunks_exact({nr}).enumerate().take(rows) {{
                            let plane = (pi * {mr} + i) * oh * ow;
                            if c0 == 0 {{
                                store_wide(src, &runs[..nruns], yb, plane);
                            }} else {{
                                add_wide(src, &runs[..nruns], yb, plane);
                            }}
                        }}
                        q += {nr};
                    }}
                    if last {{
                        let at = pi * {mr} * oh * ow;
                        epi(n * yn + at, &mut yb[at..at + rows * oh * ow]);
                    }}
                }}
                c0 += cn;
                if last {{
                    break;
                }}
            }}
        }}
        return;
    }}
    for n in 0..p.batch {{
        let yb = &mut y[n * yn..][..yn];
        let (mut r0, mut done) = (0, 0);
        while r0 < oh {{
            let r1 = (r0 + p.band.max(1)).min(oh);
            pad_split_reading(&x[n * xn..][..xn], scratch, p, &read, r0);
            // The band's wide output: columns `r0 * wq..r1 * wq` of the whole one.
            let bwide = (r1 - r0) * p.wq;
            let mut q = 0;
            while q < bwide {{
                let cols = (bwide - q).min({nr});
                let (runs, nruns) = wide_runs(r0 * p.wq + q, cols, p);
                let runs = &runs[..nruns];
                for (pi, panel) in w.chunks_exact(k * {mr}).enumerate() {{
                    let rows = (p.c_out - pi * {mr}).min({mr});
                    {init_inner}
                    {tail}
                    for (i, src) in tile.chunks_exact({nr}).enumerate().take(rows) {{
                        let plane = (pi * {mr} + i) * oh * ow;
                        store_wide(src, runs, yb, plane);
                    }}
                }}
                q += {nr};
                // Output rows below this are stored in every channel.
                let finished = (r0 + q / p.wq).min(r1);
                if finished > done && ((finished - done) * ow >= 256 || finished == oh) {{
                    for c in 0..p.c_out {{
                        let at = (c * oh + done) * ow;
                        epi(n * yn + at, &mut yb[at..at + (finished - done) * ow]);
                    }}
                    done = finished;
                }}
            }}
            r0 = r1;
        }}
    }}
}}"
    );
}

pub(super) fn conv_rows(s: &mut String, t: Tiling) {
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

fn conv_rows<const T: usize>(x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &RowConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
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

pub(super) fn depthwise(s: &mut String, t: Tiling) {
    let nr = t.nr();
    let _ = writeln!(
        s,
        "/// A depthwise convolution (one input channel per output channel, weights `c x taps`)
/// channel by channel: the channel padded and split by stride phase at the start of
/// `scratch` (see `pad_split`), then, by `dw_channel`, the bias plus each tap's weight
/// times a contiguous run of it, taps in order, into the channel's whole wide output (the
/// last `oh * wq + {nr}` elements of `scratch`); then its rows are copied out, and the
/// fused epilogue `epi(at, run)` runs on the channel's plane. (Splitting every channel
/// first, a pass over the whole input into scratch and a second out of it, took more
/// time than the arithmetic on ppocrv4_rec's 24x160 maps; one channel stays in L1.) (Scattering
/// each tile straight to the output rows cost more than its arithmetic on small maps, and
/// so did a call of the epilogue per row: MobileNet's 32-channel 24x24 step 16.8 -> 11.4 us.)
fn conv_depthwise<const T: usize>(x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
    let [oh, ow] = p.output;
    let hw = p.input[0] * p.input[1];
    let (xn, yn) = (p.c_in * hw, p.c_out * oh * ow);
    let wide = oh * p.wq;
    let one = SplitConvParams {{ c_in: 1, ..*p }};
    let read = split_reads(p);
    let (split, sum) = scratch.split_at_mut(scratch.len() - wide - {nr});
    for n in 0..p.batch {{
        let yb = &mut y[n * yn..][..yn];
        for (c, wc) in w.chunks_exact(T).enumerate().take(p.c_in) {{
            let init = b.map_or(0.0, |b| b[c]);
            pad_split_reading(&x[n * xn + c * hw..][..hw], split, &one, &read, 0);
            dw_channel(wc, split, &p.taps, init, sum, wide);
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
pub(super) fn dw_channel(s: &mut String, l: usize) {
    // A block of `n` vectors of columns: `n` accumulators, independent chains.
    let block = |n: usize| {
        let w = n * l;
        let accs: Vec<String> = (0..n).map(|v| format!("c{v}")).collect();
        let mut body = String::new();
        for v in 0..n {
            let _ = writeln!(
                body,
                "            c{v} = lanes_mul_add(c{v}, wv, lanes_load(v, {}));",
                v * l
            );
        }
        format!(
            "    while q < wide && q + reach + {w} <= x.len() && q + {w} <= out.len() {{
        let ({muts}): ({types}) = ({inits});
        for (&t, &wv) in taps.iter().zip(w) {{
            let Some(v) = x.get(q + t..).and_then(|v| v.first_chunk::<{w}>()) else {{ break }};
{body}        }}
        if let Some(o) = out.get_mut(q..).and_then(|o| o.first_chunk_mut::<{w}>()) {{
            for (d, v) in o.chunks_exact_mut({l}).zip([{list}]) {{
                d.copy_from_slice(&v);
            }}
        }}
        q += {w};
    }}
",
            muts = accs
                .iter()
                .map(|a| format!("mut {a}"))
                .collect::<Vec<_>>()
                .join(", "),
            types = vec!["Lanes"; n].join(", "),
            inits = vec![format!("[init; {l}]"); n].join(", "),
            list = accs.join(", "),
        )
    };
    let (eight, four) = (block(8), block(4));
    let _ = write!(
        s,
        "
/// One channel of `conv_depthwise`: `out[q] = init + sum over taps t of w[t] * x[q + taps[t]]`
/// for `q < wide`, {l8} columns at a time in eight accumulators (eight independent chains of
/// multiply-adds: with four, each multiply-add waited on the last, and a 5x5 kernel ran at
/// half the rate), then {l4} in four, while the reads stay in `x`, then {l} at a time. Not
/// inlined: a tile inlined into the channel loop compiled, next to some epilogues, into
/// half-width vectors and shuffles (MobileNet's 32-channel 24x24 depthwise step 18 -> 13 us).
#[inline(never)]
fn dw_channel<const T: usize>(w: &[f32], x: &[f32], taps: &[usize; T], init: f32, out: &mut [f32], wide: usize) {{
    let reach = taps.iter().max().copied().unwrap_or(0);
    let mut q = 0;
{eight}{four}    while q < wide {{
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
",
        l8 = 8 * l,
        l4 = 4 * l,
    );
}

/// Output columns a step of [`depthwise_lanes`] computes, each in an accumulator of its
/// own: a multiply and an add per tap are one dependent chain per column, so four chains
/// keep both FMA pipes of a core busy.
pub(super) const LANES_COLS: usize = 4;

pub(super) fn depthwise_lanes(s: &mut String, t: Tiling) {
    let l = t.lanes;
    let p = LANES_COLS;
    let mut accs = String::new();
    let mut steps = String::new();
    let mut stores = String::new();
    for j in 0..p {
        // Written without `0 *`, `1 *` and `+ 0` (clippy's identity and erasing lints in a
        // user's crate).
        let (step, col) = match j {
            0 => (String::new(), "col".to_string()),
            1 => (" + step".to_string(), "(col + 1)".to_string()),
            _ => (format!(" + {j} * step"), format!("(col + {j})")),
        };
        let _ = writeln!(accs, "                    let mut a{j} = init;");
        let _ = writeln!(
            steps,
            "                        a{j} = dw_mul_add(a{j}, &wk, dw_at(s, at{step} + o));"
        );
        let _ = writeln!(
            stores,
            "                    row[{col} * {l}..][..{l}].copy_from_slice(&a{j});"
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
/// on the block's planes once they are done.
fn conv_depthwise_lanes<const T: usize>(x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &SplitConvParams<T>, epi: impl Fn(usize, &mut [f32])) {{
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
{accs}                    for (&o, wv) in p.taps.iter().zip(wb) {{
                        let wk = wv.map(wt);
{steps}                    }}
{stores}                    col += {p};
                }}
                while col < ow {{
                    let at = base + col * step;
                    let mut a = init;
                    for (&o, wv) in p.taps.iter().zip(wb) {{
                        a = dw_mul_add(a, &wv.map(wt), dw_at(s, at + o));
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
            // The block's planes are contiguous: one call for all of them.
            let at = c0 * out_plane;
            epi(n * yn + at, &mut yb[at..at + nc * out_plane]);
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
pub(super) fn winograd(s: &mut String, t: Tiling) {
    let head = shared_head(
        "conv_winograd",
        "",
        "x: &[f32], w: &[Wt], b: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32], p: &WinogradParams",
        "x, w, b, y, scratch, p",
    );
    let (l, mr, nr) = (t.lanes, t.mr, t.nr());
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
    // Written without `+ 0`, `0 *` and `1 *` (clippy's identity and erasing lints, in a
    // user's crate that runs clippy on what it includes).
    let plus = |i: usize| match i {
        0 => "row".to_string(),
        _ => format!("(row + {i})"),
    };
    let times = |xi: usize, n: &str, c: &str| match xi {
        0 => c.to_string(),
        1 => format!("({n} + {c})"),
        _ => format!("({xi} * {n} + {c})"),
    };
    let mut loads = String::new();
    for i in 0..4 {
        let row = plus(i);
        let _ = writeln!(
            loads,
            "                        let at = {row} * sp.wq + t0;
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
            let at = times(a * 4 + k, "p.c_in", "c");
            let _ = writeln!(
                stores,
                "                        v[{at} * ld + col..][..{l}].copy_from_slice(&{e});"
            );
        }
    }
    let mut mloads = String::new();
    for a in 0..4 {
        for k in 0..4 {
            let at = times(a * 4 + k, "p.c_out", "co");
            let _ = writeln!(
                mloads,
                "                    let m{a}{k} = lanes_load(m, {at} * ld + col);"
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
{head}
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
        band: oh,
        taps: [],
        panels_outer: false,
    }};
    let plane = sp.hq * sp.wq;
    // Rows of the transformed input and of the products: a block's columns and room for
    // the transforms' whole vectors and the GEMM tiles' whole width (the same with and
    // without fused multiply-adds; columns past the block's are never used). The tiles
    // read the transformed input in place.
    let nb = p.block_rows * tw;
    let ld = (nb + {l}).max(nb.next_multiple_of({nr}));
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
