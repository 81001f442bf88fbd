//! The kernel choices the memory plan must know about: the tiling of the GEMM
//! micro-kernels for a target, and which convolutions the lowering runs on a copy of their
//! input in scratch space (which the plan places in the arena like any buffer, live for
//! that one step).

use kiln_ir::ops::ConvAttrs;
use kiln_ir::{DType, Graph, Node, Op, Target, TensorType};

/// The shape of the register-blocked GEMM micro-kernels for a target: `lanes` f32 per
/// vector register, tiles of `mr` rows by `nv` vectors.
///
/// On AVX-512 the tiles are 8x32 (two vectors). Measured on AMD Zen 4 (packed operands,
/// k = 256, one core, peak 117 GFLOP/s either way), with a separate multiply and add the
/// tiles one vector wide ran at the peak (8x16 114 GFLOP/s) and 8x32 did not (82): a row's
/// value used by two vectors is broadcast into a register first, on the vector pipes the
/// adds need. With fused multiply-adds every shape reaches the peak, and 8x32 reads the
/// right operand half as often, with twice the independent chains to hide the FMA's
/// latency. Since host builds fuse (`-C llvm-args=-fp-contract=fast`, which `kiln bench`
/// and the README use; every AVX-512 core has FMA units), 8x32 is the tiling there:
/// measured on an Intel Xeon in paired runs of whole models, ResNet-8 15% faster than with
/// 8x16 when fused and 7% faster unfused, ppocr_cls 15% faster fused; MobileNet v1, whose
/// 1x1 convolutions have few input channels, 7% slower either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tiling {
    pub lanes: usize,
    pub mr: usize,
    pub nv: usize,
    /// Whether the micro-kernels multiply and add in one rounding (`f32::mul_add`, which
    /// only `std` has on stable Rust; see `KernelChoice::FastFused`).
    pub fused: bool,
}

impl Tiling {
    /// The tiling for `target` with or without fused multiply-adds, or `None` where the
    /// compact reference kernels fit better (no SIMD: the microcontrollers, `generic`).
    /// Accumulators take at most half the vector registers: 32 on AVX-512 and AArch64, 16
    /// on SSE2 and AVX2 (where the operands of a step must fit in the other half).
    pub fn for_target(target: kiln_ir::Target, fused: bool) -> Option<Tiling> {
        let (lanes, mr, nv) = match (target.simd_bytes(), target.arch()) {
            (64, _) => (16, 8, 2),
            // AVX2: 4x3 tiles, 12 accumulators, 3 operands and a broadcast in the 16
            // registers, 7 loads per 12 multiply-adds (4x2: 6 per 8). Written as separate
            // variables, a 4x3 tile kept one or two accumulators on the stack (LLVM held
            // all four broadcasts at once) and ran at 40 or 92 GFLOP/s by the luck of the
            // layout, so this was 4x2; with the tiles' accumulators as an array of rows
            // (see the Rust GEMM tiles' `row_mul_adds`) none spills, and against 4x2 in
            // paired runs on a Zen 3 core ppocr_cls 14%, ddddocr_det 5.5% and ppocrv4_rec
            // 2% were faster, MobileNet v1 1.6% and the autoencoder 3.7% slower.
            (32, _) => (8, 4, 3),
            (16, kiln_ir::target::Arch::Aarch64) => (4, 8, 3),
            // The x86-64 baseline (SSE2, 16 registers, no multiply-add): 4x2, as each
            // product needs a register of its own before its add, so a 4x3 tile (12 accumulators, 3 operands, a broadcast, a product) spilled
            // accumulators in `gemm_tile_c`'s inner loop (read in its assembly).
            (16, _) => (4, 4, 2),
            // Cortex-M4F/M7/M33 with an FPU: 32 single-precision registers, no vectors; a
            // 4x4 tile holds 16 accumulators and the 8 operands of one step.
            (0, kiln_ir::target::Arch::Thumb) if target.has_fpu() && !fused => (1, 4, 4),
            _ => return None,
        };
        Some(Tiling {
            lanes,
            mr,
            nv,
            fused,
        })
    }

    /// Vectors of output channels in a tile of the transposed 1x1 kernel
    /// (`conv_pointwise_t`): two where the registers hold [`POINTWISE_T_ROWS`] rows of two
    /// accumulators and their operands (AVX-512's 32), so each broadcast position feeds two
    /// multiply-adds; else one (AVX2's 16 registers would spill).
    pub fn pointwise_t_vectors(&self) -> usize {
        if self.lanes >= 16 { self.nv.min(2) } else { 1 }
    }

    /// Output channels in a tile of `conv_pointwise_t`: the width of its weights' panels.
    pub fn pointwise_t_width(&self) -> usize {
        self.lanes * self.pointwise_t_vectors()
    }

    /// Vectors of output channels in a tile of the transposed split convolution
    /// (`conv_split_t`): two, so its [`SPLIT_T_ROWS`] positions make eight independent
    /// accumulators (with one vector, four chains of multiply-adds, each waiting on the
    /// last, kept one of two vector pipes busy: Silero's STFT at 24% of the peak), which
    /// with two weight vectors and a broadcast fit even AVX2's 16 registers.
    pub fn split_t_vectors(&self) -> usize {
        self.nv.min(2)
    }

    /// Output channels in a tile of `conv_split_t`: the width of its weights' panels.
    pub fn split_t_width(&self) -> usize {
        self.lanes * self.split_t_vectors()
    }

    /// Vectors of columns in `conv_split`'s tile (`gemm_tile_c`): three on AVX-512, an 8x48
    /// tile whose 24 accumulators, three operand vectors and one broadcast weight take 28 of
    /// its 32 registers, so each broadcast weight feeds three multiply-adds, not two (measured
    /// on an Intel Xeon against 8x32, paired, fused: a 96-channel 3x3 convolution on 26x26
    /// 8% faster, ddddocr_det's stride-2 Conv_44 5%, ResNet-8 7%); else `nv` (three on
    /// AVX2: there a 4x24 tile's median in a ResNet-8 3x3 convolution on a Zen 3 core
    /// sharing its load ports ran at 70 GFLOP/s against 4x16's 47, both ~90 alone, and in
    /// paired runs ResNet-8 was 9% faster, ddddocr_det 6%).
    pub fn split_vectors(&self) -> usize {
        if self.lanes >= 16 { 3 } else { self.nv }
    }

    /// The narrower tiles (in vectors, ascending) that take the last block of columns of a
    /// driver whose tile is `nv` vectors wide, each block the narrowest it fits: every width
    /// below `nv` on AVX-512 (whose wide tiles are three vectors), else the one-vector tile
    /// alone (fewer tiles: code size on small targets).
    pub fn narrower(&self, nv: usize) -> Vec<usize> {
        if self.lanes >= 16 {
            (1..nv).collect()
        } else {
            (1..nv.min(2)).collect()
        }
    }

    /// Columns a tile may read past the end of its operand: the widest tile for these
    /// lanes, `conv_split`'s ([`Tiling::split_vectors`]), the same with and without
    /// `fused` (the split scratch sizes use it, so the memory plan is too).
    pub fn room(&self) -> usize {
        self.lanes * self.split_vectors()
    }

    /// Columns of one tile.
    pub fn nr(&self) -> usize {
        self.lanes * self.nv
    }
}

/// Whether the C kernel library has the tiled float kernels for `target`: so far the
/// one-lane tiling's (a microcontroller with an FPU), where C runs the same register tiles
/// as Rust; on vector targets C takes the reference float kernels, which need no scratch.
pub fn c_has_tiled_float(target: kiln_ir::Target) -> bool {
    Tiling::for_target(target, false).is_some_and(|t| t.lanes == 1)
}

/// A convolution on its input padded and split by stride phase into scratch: for stride
/// `s` (per axis) the padded input's `s x s` phases are stored as planes of `hq x wq`, so
/// each kernel tap reads one phase at a fixed offset with unit stride, and output `(oh,
/// ow)` sits at column `oh * wq + ow` of a "wide" output whose `wq - ow` last columns of a
/// row are never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitConv {
    pub c_in: usize,
    /// Input height and width.
    pub input: [usize; 2],
    pub output: [usize; 2],
    pub strides: [usize; 2],
    /// Padding before, per axis.
    pub pads: [usize; 2],
    /// One phase plane: of one band's phase rows (see `band`).
    pub hq: usize,
    pub wq: usize,
    /// Output rows per band (one group, not depthwise): the kernel splits the input rows
    /// one band reads, then computes the band. The output's height where the whole
    /// input's split is at most [`SPLIT_BAND_BYTES`].
    pub band: usize,
    /// Per tap, in the weights' order, where it reads in one channel's planes.
    pub taps: Vec<usize>,
    /// Elements of one channel's planes.
    pub channel: usize,
    /// Depthwise (one input channel per output channel), else one group.
    pub depthwise: bool,
    /// A depthwise one with its channels in the vector lanes ([`lanes_last_pays`]): the
    /// padded input of one block of `lanes` channels interleaved (`[row][col][lane]`, so
    /// `hq x wq` is the whole padded map and `taps` are offsets in elements of that
    /// block), then one output row of the block.
    pub lanes_last: bool,
    /// One group, whole input split at once (`band` is the output's height), and weights
    /// past [`PANELS_OUTER_BYTES`]: `conv_split` takes each panel of output channels over
    /// all the wide output's columns, reading the split input (in L2) once a panel, rather
    /// than all the panels for each block of columns, reading the weights (beyond L2) once
    /// a block.
    pub panels_outer: bool,
    /// Scratch elements: every channel's planes (a depthwise one: one channel's, split
    /// channel by channel), plus room for the last tile's columns past the end (read,
    /// never stored); for a depthwise one, then one channel's wide output
    /// (`output[0] * wq`, and a tile's columns past it), where its taps are summed.
    pub len: usize,
}

/// A 1-D or 2-D window's geometry as two axes: a 1-D convolution is a 2-D one of height 1.
struct Geometry2 {
    input: [usize; 2],
    output: [usize; 2],
    kernel: [usize; 2],
    strides: [usize; 2],
    dilations: [usize; 2],
    pads: [usize; 2],
    pads_end: [usize; 2],
}

impl Geometry2 {
    fn of(geo: &kiln_ir::ops::WindowGeometry) -> Geometry2 {
        let two = |v: &[usize], fill: usize| -> [usize; 2] {
            if v.len() == 1 {
                [fill, v[0]]
            } else {
                [v[0], v[1]]
            }
        };
        Geometry2 {
            input: two(&geo.input, 1),
            output: two(&geo.output, 1),
            kernel: two(&geo.kernel, 1),
            strides: two(&geo.strides, 1),
            dilations: two(&geo.dilations, 1),
            pads: two(&geo.pads_begin, 0),
            pads_end: two(&geo.pads_end, 0),
        }
    }
}

/// Most taps a kernel may have on the split path: their offsets are an array argument
/// of the call (a short-time Fourier transform's 1-D kernel of 256 taps fits).
const MAX_TAPS: usize = 1024;

/// How the lowering runs `node` on `target`'s tiling if it is a convolution on the split
/// path: f32, constant weights, 1-D or 2-D, one group (not 1x1 at stride 1 without padding: that
/// one multiplies the input in place) or depthwise, at most [`MAX_TAPS`] taps.
pub fn split_conv(g: &Graph, node: &Node, tiling: Tiling) -> Option<SplitConv> {
    if tiling.lanes == 1 {
        // A microcontroller: its copy of the whole padded input costs more RAM than the
        // direct convolution's few instructions per MAC are worth.
        return None;
    }
    let (ConvAttrs { window, group }, x, w) = const_conv(g, node)?;
    if x.dtype != DType::F32
        || !matches!(x.rank(), 3 | 4)
        || w.rank() != x.rank()
        || x.numel() == 0
        || w.numel() == 0
    {
        return None;
    }
    let geo = window.geometry(&x.shape[2..], Some(&w.shape[2..])).ok()?;
    let Geometry2 {
        input,
        output,
        kernel,
        strides,
        dilations,
        pads,
        pads_end,
    } = Geometry2::of(&geo);
    let c_in = x.shape[1];
    let depthwise = *group == c_in && w.shape[0] == c_in && w.shape[1] == 1 && c_in > 1;
    let pointwise = kernel.iter().chain(&strides).all(|&v| v == 1)
        && pads.iter().chain(&pads_end).all(|&v| v == 0);
    if !(depthwise || (*group == 1 && !pointwise)) || output.contains(&0) {
        return None;
    }
    let [kh, kw] = kernel;
    if kh * kw > MAX_TAPS {
        return None;
    }
    let [sh, sw] = strides;
    let hp = input[0] + pads[0] + pads_end[0];
    let wp = input[1] + pads[1] + pads_end[1];
    if depthwise && lanes_last_pays(c_in, output, tiling) {
        let l = tiling.lanes;
        let taps = (0..kh)
            .flat_map(|a| (0..kw).map(move |b| (a * dilations[0] * wp + b * dilations[1]) * l))
            .collect();
        return Some(SplitConv {
            c_in,
            input,
            output,
            strides,
            pads,
            hq: hp,
            wq: wp,
            band: output[0],
            taps,
            channel: hp * wp * l,
            depthwise,
            lanes_last: true,
            panels_outer: false,
            len: (hp * wp + output[1]) * l,
        });
    }
    let (mut hq, wq) = (hp.div_ceil(sh), wp.div_ceil(sw));
    // Bands: phase rows a band of `band` output rows reads are `band + reach_rows`.
    let reach_rows = (kh - 1) * dilations[0] / sh;
    let row_bytes = c_in * sh * sw * wq * 4;
    let mut band = output[0];
    if !depthwise && c_in * sh * sw * hq * wq * 4 > SPLIT_BAND_BYTES {
        band = (SPLIT_BAND_BYTES / row_bytes)
            .saturating_sub(reach_rows)
            .max(SPLIT_BAND_MIN_WIDE.div_ceil(wq))
            .min(output[0]);
        if band < output[0] {
            hq = band + reach_rows;
        }
    }
    let mut taps = Vec::with_capacity(kh * kw);
    let mut reach = 0;
    for a in 0..kh {
        for b in 0..kw {
            let (ro, co) = (a * dilations[0], b * dilations[1]);
            let within = (ro / sh) * wq + co / sw;
            reach = reach.max(within);
            taps.push(((ro % sh) * sw + co % sw) * hq * wq + within);
        }
    }
    let channel = sh * sw * hq * wq;
    let (split_channels, sum) = if depthwise {
        (1, output[0] * wq + tiling.room())
    } else {
        (c_in, 0)
    };
    Some(SplitConv {
        c_in,
        input,
        output,
        strides,
        pads,
        hq,
        wq,
        band,
        taps,
        channel,
        depthwise,
        lanes_last: false,
        panels_outer: !depthwise
            && band >= output[0]
            && weights_past_panels_outer(w.shape[0], c_in, kh * kw),
        len: split_channels * channel + reach + tiling.room() + sum,
    })
}

/// Most bytes of split input a convolution of one group keeps at once ([`SplitConv`]'s
/// `band`): past it, the split goes band by band, so the tiles read it from cache.
/// Measured on ddddocr_det (AVX-512, 2 MiB of L2 a core): its first stride-2 convolution
/// (a 4 MB split) took 3.1 ms whole, 2.4 ms in bands of 512 KiB and 2.3 in bands of
/// 256 KiB, and its arena fell from 10.5 to 7.0 MB (that split set its peak).
pub const SPLIT_BAND_BYTES: usize = 256 * 1024;

/// Weight bytes past which a convolution of one group on the split path, its input split
/// whole, runs panel by panel ([`SplitConv`]'s `panels_outer`). Measured on ddddocr_det
/// (AVX-512, 2 MiB of L2 a core): its 3x3 convolutions of 192 input channels on 13x13
/// maps (1.3 and 2.7 MB of weights, 4 blocks of 48 columns) ran 12-15% faster panel by
/// panel; those with 0.3 MB of weights on 26x26 maps, no faster.
pub const PANELS_OUTER_BYTES: usize = 1 << 20;

/// Bytes of input and weights past which `conv_split` on AVX-512 takes the two-vector tile
/// (8x32) rather than its widest (8x48): [`split_streams`].
pub const SPLIT_STREAM_BYTES: usize = 512 << 10;

/// Whether a convolution on the split path reads more than [`SPLIT_STREAM_BYTES`] of f32
/// input and weights, so its operands stream from beyond the core's own caches. On a Zen 5
/// core every one of ddddocr_det's ten such steps (130 KB to 8 MB of input, 10 KB to 2.6 MB
/// of weights) ran 17-24% faster with 8x32 tiles than 8x48 (the model 7%), while
/// ResNet-8's (at most 106 KB of both) ran 2-9% slower and MobileNet's first was unchanged.
pub fn split_streams(split: &SplitConv, c_out: usize) -> bool {
    let [h, w] = split.input;
    (c_out * split.c_in * split.taps.len() + split.c_in * h * w) * 4 > SPLIT_STREAM_BYTES
}

/// Whether a convolution's f32 weights (`c_out x c_in x taps`) pass [`PANELS_OUTER_BYTES`].
fn weights_past_panels_outer(c_out: usize, c_in: usize, taps: usize) -> bool {
    c_out * c_in * taps * 4 > PANELS_OUTER_BYTES
}

/// Most bytes of split input channels a convolution run panel by panel
/// ([`SplitConv`]'s `panels_outer`) reads per pass: past it, its input channels go in
/// blocks of this many bytes of split planes, each block's sums added to the last's, so
/// every panel re-reads its block from L2 rather than the whole split input from beyond it.
/// Measured on a Zen 3 core (512 KiB of L2): ddddocr_det's stride-2 Conv_132 (192 input
/// channels split into 600 KB of planes, 2.65 MB of weights, 13x13 outputs) ran at 28-36
/// GFLOP/s whole; in three blocks its step took 0.70-0.77x the time in alternating
/// profiles, where unchanged steps moved by 0.9-1.1x. The model's time did not move
/// beyond the noise (0.997x, paired): it is one step of 114.
pub const SPLIT_BLOCK_BYTES: usize = 256 * 1024;

/// Fewest columns of the wide output a band has: its tiles fill, and the rows its kernel
/// reaches below it (split again for the next band) stay a small share. (ddddocr_det's
/// 13x13 stride-2 convolution in bands of 4 rows, 56 columns, ran 10% slower than whole.)
const SPLIT_BAND_MIN_WIDE: usize = 512;

/// Whether a depthwise convolution runs faster with its channels in the vector lanes than
/// as runs of one channel's columns: on small maps, where a channel's wide output fills
/// few vectors and the per-channel work (its split copy, a partly used last tile, a call
/// per row) outweighs the arithmetic.
pub fn lanes_last_pays(c_in: usize, output: [usize; 2], tiling: Tiling) -> bool {
    c_in >= tiling.lanes && output[0] * output[1] <= 144
}

/// A convolution of one group on a microcontroller with an FPU (the one-lane tiling), one
/// output row at a time: for each output row, the `kh` padded input rows it reads are copied
/// into scratch, each split by stride phase along the width (`[channel][ki][phase][wq]`),
/// so every tap reads a fixed offset (`taps`) with unit stride and the 4x4 register tile of
/// the split path (`gemm_tile_c`) runs on it. Its scratch is those rows, not the whole
/// padded input ([`split_conv`]'s, which a microcontroller's RAM cannot spare): ResNet-8's
/// largest is 6.6 KiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowConv {
    pub c_in: usize,
    pub input: [usize; 2],
    pub output: [usize; 2],
    pub strides: [usize; 2],
    pub pads: [usize; 2],
    /// Kernel rows, the rows copied per output row.
    pub kh: usize,
    /// Columns of one phase of a padded row.
    pub wq: usize,
    /// Per tap, in the weights' order, where it reads in one channel's rows.
    pub taps: Vec<usize>,
    /// Scratch elements: every channel's rows, plus the columns the last tile reads past
    /// the end.
    pub len: usize,
}

/// How the lowering runs `node` as a [`RowConv`] on the one-lane tiling: f32, constant
/// weights, one group, 1-D or 2-D, no dilation along the height, not 1x1 at stride 1
/// without padding (that one multiplies the input in place), at most [`MAX_TAPS`] taps.
pub fn row_conv(g: &Graph, node: &Node, tiling: Tiling) -> Option<RowConv> {
    if tiling.lanes != 1 {
        return None;
    }
    let (ConvAttrs { window, group }, x, w) = const_conv(g, node)?;
    if x.dtype != DType::F32
        || *group != 1
        || !matches!(x.rank(), 3 | 4)
        || w.rank() != x.rank()
        || x.numel() == 0
        || w.numel() == 0
    {
        return None;
    }
    let geo = window.geometry(&x.shape[2..], Some(&w.shape[2..])).ok()?;
    let Geometry2 {
        input,
        output,
        kernel,
        strides,
        dilations,
        pads,
        pads_end,
    } = Geometry2::of(&geo);
    let pointwise = kernel.iter().chain(&strides).all(|&v| v == 1)
        && pads.iter().chain(&pads_end).all(|&v| v == 0);
    let [kh, kw] = kernel;
    if pointwise || output.contains(&0) || dilations[0] != 1 || kh * kw > MAX_TAPS {
        return None;
    }
    let sw = strides[1];
    let wq = (input[1] + pads[1] + pads_end[1]).div_ceil(sw);
    let taps = (0..kh)
        .flat_map(|a| (0..kw).map(move |b| (a, b * dilations[1])))
        .map(|(a, co)| (a * sw + co % sw) * wq + co / sw)
        .collect();
    let len = x.shape[1] * kh * sw * wq + tiling.room();
    (len <= MAX_ROW_CONV).then_some(RowConv {
        c_in: x.shape[1],
        input,
        output,
        strides,
        pads,
        kh,
        wq,
        taps,
        len,
    })
}

/// The most scratch a [`RowConv`] takes (64 KiB of f32); a wider one runs the direct
/// kernels.
const MAX_ROW_CONV: usize = 16 * 1024;

/// A 3x3 convolution at stride 1 (one group, f32, constant weights, 2-D) by Winograd's
/// F(2x2, 3x3): each 2x2 block of outputs from a 4x4 block of the padded input in 16
/// multiplies per channel pair instead of 36. The input goes padded and split into even
/// and odd columns (as `split_conv` does at stride 1x2), so the transform reads 16
/// consecutive tiles' values as one contiguous run; then, for a block of tile rows at a
/// time, the transformed input (16 matrices `c_in x cols`), the 16 products with the
/// weights transformed and packed at compile time (`c_out x cols` each), and the output
/// transform into the output rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WinogradConv {
    pub c_in: usize,
    pub c_out: usize,
    pub input: [usize; 2],
    pub output: [usize; 2],
    /// Padding before, per axis.
    pub pads: [usize; 2],
    /// 2x2 tiles of the output: rows and columns.
    pub tiles: [usize; 2],
    /// Tile rows transformed and multiplied at a time.
    pub block_rows: usize,
    /// Scratch elements: the split input (two column phases of `2 * tiles[0] + 2` rows by
    /// `tiles[1] + 1`, per input channel, and a vector and one past its end, which the
    /// transform reads) and a copy of it one element on, and the block's transformed input and products (rows of the
    /// block's columns and a tile's width).
    pub len: usize,
}

/// Fewest input and output channels, and narrowest output, for the Winograd path. Its
/// products are 16 GEMMs of depth `c_in`, so with few channels the micro-kernel's calls
/// are short and the transforms weigh more. Measured on an AVX-512 machine: ResNet-8's
/// 16-channel 3x3 layers (32x32) took 0.072 ms by Winograd against 0.058 direct; its
/// 32-channel ones (16x16) 0.058 against 0.061 and its 64-channel one (8x8) 0.051 against
/// 0.061; ddddocr_det's 32- to 96-channel layers (52x52 and larger) all gained (the model
/// 1.60 -> 1.29x onnxruntime). Narrow maps went direct there for memory: the transformed
/// block (rows padded to a tile) raised ResNet-8's arena by 40-70%. On a Zen 3 core (AVX2)
/// the direct kernel loses more on them (an 8-wide map is 10 wide columns a row, 80 for
/// 64 outputs): with narrow maps from 8 wide, ResNet-8's 64-channel 8x8 layer took 0.055
/// ms against 0.071 and the model 0.945x the time, ddddocr_det's four 96-channel 13x13
/// layers made it 0.94-0.97x (paired, medians and fastest runs), so speed wins: ResNet-8's
/// arena 270,968 -> 377,924 B on hosts (microcontrollers do not take this path),
/// ddddocr_det's unchanged. Maps under 8 wide (two tiles of 2x2 a row) stay direct.
pub const WINOGRAD_MIN_CHANNELS: usize = 32;
pub const WINOGRAD_MIN_WIDTH: usize = 8;

/// Tile columns a block of tile rows aims at: enough for two tiles of the widest
/// micro-kernel, few enough that its transformed input and products stay in L2.
const WINOGRAD_BLOCK_COLS: usize = 32;

/// How the lowering runs `node` by Winograd's F(2x2, 3x3) on `tiling`, if it qualifies.
pub fn winograd_conv(g: &Graph, node: &Node, tiling: Tiling) -> Option<WinogradConv> {
    if tiling.lanes == 1 {
        // As for `split_conv`: its scratch is RAM a microcontroller does not have.
        return None;
    }
    let (ConvAttrs { window, group }, x, w) = const_conv(g, node)?;
    if x.dtype != DType::F32 || x.rank() != 4 || w.rank() != 4 || *group != 1 {
        return None;
    }
    let geo = window.geometry(&x.shape[2..], Some(&w.shape[2..])).ok()?;
    let ones = |v: &[usize]| v.iter().all(|&d| d == 1);
    if geo.kernel != [3, 3] || !ones(&geo.strides) || !ones(&geo.dilations) {
        return None;
    }
    let (c_in, c_out) = (x.shape[1], w.shape[0]);
    if c_in < WINOGRAD_MIN_CHANNELS || c_out < WINOGRAD_MIN_CHANNELS || x.shape[0] == 0 {
        return None;
    }
    let (input, output) = ([geo.input[0], geo.input[1]], [geo.output[0], geo.output[1]]);
    if output[0] == 0 || output[1] < WINOGRAD_MIN_WIDTH {
        return None;
    }
    // Under 32 wide, one block of tile rows is most of the map, so the scratch holds about
    // 16 (c_in + c_out) x (the map's tiles): for weights past `PANELS_OUTER_BYTES` (deep
    // layers, 512 channels on 14x14 would take ~1 MB) the direct kernel panel by panel,
    // whose scratch is the split input. (Not measured for speed: none in the corpus.)
    if output[1] < 32 && weights_past_panels_outer(c_out, c_in, 9) {
        return None;
    }
    let tiles = [output[0].div_ceil(2), output[1].div_ceil(2)];
    let block_rows = WINOGRAD_BLOCK_COLS.div_ceil(tiles[1]).min(tiles[0]);
    // Rows of the transformed input and products: the block's columns, room for a vector
    // written whole from the last one, and whole GEMM tiles (`gemm_tile_a`, as wide with
    // and without fused multiply-adds) read.
    let nb = block_rows * tiles[1];
    let ld = (nb + tiling.lanes).max(nb.next_multiple_of(tiling.nr()));
    // The split input, and a copy of it one element on (see `conv_winograd`).
    let planes = c_in * 2 * (2 * tiles[0] + 2) * (tiles[1] + 1);
    let split = planes + tiling.lanes + 1 + planes + tiling.lanes;
    let len = split + 16 * (c_in + c_out) * ld;
    Some(WinogradConv {
        c_in,
        c_out,
        input,
        output,
        pads: [geo.pads_begin[0], geo.pads_begin[1]],
        tiles,
        block_rows,
        len,
    })
}

/// A Conv's attributes and the types of its input and its weights, if the weights are a
/// constant (which the packed kernels need).
fn const_conv<'g>(
    g: &'g Graph,
    node: &'g Node,
) -> Option<(&'g ConvAttrs, &'g TensorType, &'g TensorType)> {
    let Op::Conv(attrs) = &node.op else {
        return None;
    };
    let x = &g.value((*node.inputs.first()?)?).ty;
    let wv = (*node.inputs.get(1)?)?;
    g.value(wv).const_tensor()?;
    Some((attrs, x, &g.value(wv).ty))
}

/// What the kernel choice depends on: the target, whether kernels written with
/// `core::arch` intrinsics may be taken (`--intrinsics`), and whether the float kernels are
/// the reference ones (C's library so far), which take no scratch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelTarget {
    pub target: Target,
    pub intrinsics: bool,
    pub reference_float: bool,
}

impl From<Target> for KernelTarget {
    fn from(target: Target) -> Self {
        KernelTarget {
            target,
            intrinsics: false,
            reference_float: false,
        }
    }
}

/// Scratch elements `node` needs on `kt`'s target, and their type (f32 for the float
/// convolutions, u32 for the integer ones), if the lowering gives it any.
pub fn scratch_len(g: &Graph, node: &Node, kt: KernelTarget) -> Option<(DType, usize)> {
    let target = kt.target;
    let rows = dsp_conv(g, node, target)
        .or_else(|| dsp_depthwise(g, node, target))
        .or_else(|| quad_conv(g, node, kt))
        .or_else(|| quad_gemm(g, node, kt))
        .or_else(|| int_dw_lanes(g, node, kt).map(|p| RowScratch { words: p.words }))
        .or_else(|| int_dw_plane(g, node, kt));
    if let Some(d) = rows {
        return Some((DType::U32, d.words));
    }
    if kt.reference_float {
        return None;
    }
    let t = Tiling::for_target(target, false)?;
    winograd_conv(g, node, t)
        .map(|w| w.len)
        .or_else(|| split_conv(g, node, t).map(|s| s.len))
        .or_else(|| {
            pointwise_conv(g, node, t)
                .filter(|p| !p.transposed)
                .map(|p| p.scratch)
        })
        .or_else(|| row_conv(g, node, t).map(|r| r.len))
        .map(|len| (DType::F32, len))
}

/// The scratch of a row kernel ([`dsp_conv`], [`dsp_depthwise`], [`quad_conv`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowScratch {
    /// Words: `kh * wpad * pairs` with `wpad = (ow - 1) * sw + kw` columns a row (pairs
    /// of channels for SMLAD, and two words read past the end by a segment of odd length,
    /// multiplied by zero weights; quads of channels for the host kernel).
    pub words: usize,
}

/// The most scratch an SMLAD convolution takes (16 KiB); a wider one runs without it.
const MAX_DSP_WORDS: usize = 4096;

/// An int8 convolution (one group, 1-D or 2-D, no dilation along the width) on a core with
/// the Arm DSP extension's SMLAD. Its scratch holds, for one output row, the `kh` input rows
/// that row reads as 16-bit pairs of input channels (`[ki][x][pair]`, padding zero), `wpad`
/// columns each, so every output position's operand for one kernel row is `kw * pairs`
/// consecutive words of it: each input value is converted once per kernel row rather than
/// once per tap.
pub fn dsp_conv(g: &Graph, node: &Node, target: Target) -> Option<RowScratch> {
    if !target.has_dsp() {
        return None;
    }
    let [kh, _, wpad, c, _, _] = int_conv_rows(g, node)?;
    let words = kh * wpad * c.div_ceil(2) + 2;
    (words <= MAX_DSP_WORDS).then_some(RowScratch { words })
}

/// The tallest kernel the SMLAD depthwise kernel takes (it keeps a channel's weights in a
/// fixed array).
pub const DSP_DEPTHWISE_KH: usize = 8;

/// An int8 depthwise convolution (one input channel per output, 1-D or 2-D) with kernels
/// three wide, stride 1 or 2 along the width and no dilation, on a core with the Arm DSP
/// extension. Its scratch is a ring of `kh` input rows of one channel as 16-bit pairs of
/// neighbouring columns (padding zero), each converted once: with four outputs a step, at
/// stride 1 each output reads three words a kernel row (SMLAD and SMLADX pair the taps
/// with those words as they lie), at stride 2 five words for four outputs. A row holds
/// the words the last step of four reads: `2 * steps + 1` at stride 1, `4 * steps + 1` at
/// stride 2.
pub fn dsp_depthwise(g: &Graph, node: &Node, target: Target) -> Option<RowScratch> {
    if !target.has_dsp() {
        return None;
    }
    let (geo, c, m) = int_depthwise(g, node)?;
    if m != c {
        return None;
    }
    let last = geo.kernel.len() - 1;
    let kh = if last == 0 { 1 } else { geo.kernel[0] };
    let (ow, sw) = (geo.output[last], geo.strides[last]);
    if geo.kernel[last] != 3
        || !matches!(sw, 1 | 2)
        || geo.dilations.iter().any(|&d| d != 1)
        || kh > DSP_DEPTHWISE_KH
        || ow == 0
    {
        return None;
    }
    let steps = ow.div_ceil(4);
    let row = if sw == 1 {
        2 * steps + 1
    } else {
        4 * steps + 1
    };
    let words = kh * row;
    (words <= MAX_DSP_WORDS).then_some(RowScratch { words })
}

/// An int8 convolution (one group, 1-D or 2-D, no dilation along the width) on the quad
/// kernels. Its scratch holds, for one output row, the `kh` input rows that row
/// reads as words of four input channels' bytes (`[ki][x][quad]`; an i8 input offset by
/// 128 to u8, padding its zero point), `wpad` columns each: the operand of x86's VNNI
/// `VPDPBUSD` (four u8 by i8 products summed into each i32 lane; taken with
/// `--intrinsics` only, see [`quads`]). Every output position's operand for one kernel row
/// is then `kw * quads` consecutive words.
pub fn quad_conv(g: &Graph, node: &Node, kt: KernelTarget) -> Option<RowScratch> {
    if !quads(kt) {
        return None;
    }
    let [kh, _, wpad, c, ow, sw] = int_conv_rows(g, node)?;
    // Fewer than four input channels leave most of each word's bytes padding: the portable
    // tiles then ran slower than the default kernels (silero_vad's one-channel STFT
    // convolution, 256 taps: 0.25 ms against 0.06 on a Zen 3 core).
    if c < 4 && !kt.intrinsics {
        return None;
    }
    let words = if quad_rows(ow) {
        // Rows split by stride phase, and a tile's vectors read up to 31 words past a
        // row's end.
        kh * c.div_ceil(4) * sw * wpad.div_ceil(sw) + 32
    } else {
        kh * wpad * c.div_ceil(4)
    };
    // The kernels keep one offset per kernel row in a fixed array of 16.
    (kh <= 16 && words <= MAX_QUAD_WORDS).then_some(RowScratch { words })
}

/// Whether a quad convolution with output rows of `ow` takes the wide-row kernel
/// (`int_conv_quad_rows`: sixteen positions of one output in a vector, each output's
/// values requantized and stored together), else the one with sixteen outputs of one
/// position in a vector.
pub fn quad_rows(ow: usize) -> bool {
    ow >= 16
}

/// The most scratch a host int8 convolution takes (4 MiB); a wider one runs without it.
const MAX_QUAD_WORDS: usize = 1 << 20;

/// Whether the quad kernels run on `kt`: on x86-64 with AVX-512 with `--intrinsics` (whose
/// VNNI extension they use where the code is compiled for it), and on x86-64 with AVX2
/// (`VPMADDWD` with `--intrinsics`, else the portable tiles). Without intrinsics the
/// portable tiles measured no faster than the default kernels on AVX-512 (about 15 GMAC/s
/// on a 3x3 convolution against 65-90 with `VPDPBUSD`), so there they are not taken; on an
/// AVX2 core (Zen 3) the default kernels' 3x3 convolutions ran at 1.5-3 GMAC/s and the
/// portable quad tiles at 6.5-13 (ResNet-8 int8 6.2 -> 1.0 ms; with intrinsics 0.35).
/// C's library has no quad kernels: a plan for C (`reference_float` on x86-64) takes none.
fn quads(kt: KernelTarget) -> bool {
    !kt.reference_float
        && kt.target.arch() == kiln_ir::target::Arch::X86_64
        && match kt.target.simd_bytes() {
            32 => true,
            bytes => kt.intrinsics && bytes > 32,
        }
}

/// Whether kiln has kernels written with intrinsics for `kt`'s target: x86-64 with AVX2 or
/// AVX-512 (the quad kernels; VNNI or AVX2 is checked where the generated code is
/// compiled), and Armv7E-M
/// (Cortex-M4/M7), whose int8 SMLAD kernels then name `SMLAD`/`SXTB16` by inline assembly.
/// Not Armv8-M: Rust's `thumbv8m.main` targets do not enable the DSP instructions unless
/// built with `-C target-feature=+dsp` (unstable), so the assembly would not build.
pub fn has_intrinsic_kernels(kt: KernelTarget) -> bool {
    (kt.target.simd_bytes() >= 32 && kt.target.arch() == kiln_ir::target::Arch::X86_64)
        || matches!(kt.target.resolve(), Target::Thumbv7em { .. })
}

/// An int8 Gemm by a constant B on the quad kernels ([`quads`]): its scratch holds up to
/// eight rows of A as words of four bytes (`min(rows, 8) * k.div_ceil(4)` words).
pub fn quad_gemm(g: &Graph, node: &Node, kt: KernelTarget) -> Option<RowScratch> {
    if !quads(kt) {
        return None;
    }
    let Op::Int(kiln_ir::ops::qint::IntOp::Gemm(_)) = &node.op else {
        return None;
    };
    let b = (*node.inputs.get(1)?)?;
    g.value(b).const_tensor()?;
    let k = *g.value(b).ty.shape.first()?;
    let a = &g.value((*node.inputs.first()?)?).ty;
    let rows = a.numel() / k.max(1);
    let words = rows.min(8) * k.div_ceil(4);
    (words > 0 && words <= MAX_QUAD_WORDS).then_some(RowScratch { words })
}

/// The window geometry, input channels and output channels of a depthwise IntConv (one
/// input channel a group, 1-D or 2-D, not empty).
fn int_depthwise(g: &Graph, node: &Node) -> Option<(kiln_ir::ops::WindowGeometry, usize, usize)> {
    let Op::Int(kiln_ir::ops::qint::IntOp::Conv(a)) = &node.op else {
        return None;
    };
    let x = &g.value((*node.inputs.first()?)?).ty;
    let w = &g.value((*node.inputs.get(1)?)?).ty;
    let c = *x.shape.get(1)?;
    if !matches!(x.rank(), 3 | 4)
        || w.rank() != x.rank()
        || a.conv.group != c
        || w.shape.get(1) != Some(&1)
        || x.numel() == 0
        || w.numel() == 0
    {
        return None;
    }
    let geo = a
        .conv
        .window
        .geometry(&x.shape[2..], Some(&w.shape[2..]))
        .ok()?;
    Some((geo, c, w.shape[0]))
}

/// [`int_depthwise`]'s geometry and output channels, for the host depthwise kernels: with
/// at least two input channels. One input channel is one group too, which the quad kernels
/// take with `--intrinsics`; the lowering tells the kernels apart by the scratch the plan
/// gave, so the two must not both claim a node.
fn host_int_depthwise(g: &Graph, node: &Node) -> Option<(kiln_ir::ops::WindowGeometry, usize)> {
    let (geo, c, m) = int_depthwise(g, node)?;
    (c >= 2).then_some((geo, m))
}

/// The int8 depthwise kernel of a host with vector registers for small maps
/// (`int_conv_dw_lanes`): channels in the vector lanes, [`int_dw_lanes_width`] of them, so
/// a map of a few outputs a row still fills every lane. Its scratch holds, for a band of
/// output rows, a block of channels' padded input as i32 less the zero point
/// (`[row][column][lane]`: the rows the band reads, `(band - 1) * sh + (kh - 1) * dh + 1`,
/// and the columns the outputs read, `(ow - 1) * sw + (kw - 1) * dw + 1`) and the band's
/// requantized outputs (`[position][lane]`). Taken at stride 1 along the width for rows
/// shorter than 64 and off a multiple of sixteen (maps up to [`INT_DW_LANES_MAP_S1`]
/// outputs), at stride 2 for maps up to [`INT_DW_LANES_MAP`] with sixteen lanes and up to
/// [`INT_DW_LANES_MAP_S1`] with eight, with at least as many channels as lanes, an eighth
/// of them at most unused.
pub fn int_dw_lanes(g: &Graph, node: &Node, kt: KernelTarget) -> Option<IntDwLanes> {
    let lanes = int_dw_lanes_width(kt)?;
    let (geo, m) = host_int_depthwise(g, node)?;
    let Geometry2 {
        output: [oh, ow],
        kernel: [kh, kw],
        strides: [sh, sw],
        dilations: [dh, dw],
        ..
    } = Geometry2::of(&geo);
    // At stride 1 the column kernels waste only a run's unused columns: the lanes pay where
    // rows are short and off a multiple of sixteen (ppocr_cls's 96-wide rows ran slower in
    // lanes, copied three times over in bands of one row). At stride 2 the copy of an input
    // four times the map's size outweighs them on all but small maps.
    let fits = if sw == 1 {
        ow % 16 != 0 && ow < 64 && oh * ow <= INT_DW_LANES_MAP_S1
    } else {
        oh * ow
            <= if lanes == 8 {
                INT_DW_LANES_MAP_S1
            } else {
                INT_DW_LANES_MAP
            }
    };
    // A last block mostly empty costs more than the lanes gain (ppocr_cls's 24 channels in
    // two blocks of 16 ran slower than as runs of columns).
    let unused = m.next_multiple_of(lanes) - m;
    if !fits || m < lanes || unused * 8 > m || oh == 0 || ow == 0 {
        return None;
    }
    let wq = (ow - 1) * sw + (kw - 1) * dw + 1;
    let words = |band: usize| (((band - 1) * sh + (kh - 1) * dh + 1) * wq + band * ow) * lanes;
    // The most output rows whose scratch fits the budget (one row at least).
    let band = (1..=oh)
        .take_while(|&b| b == 1 || words(b) <= INT_DW_LANES_WORDS)
        .last()?;
    let words = words(band);
    (words <= MAX_QUAD_WORDS).then_some(IntDwLanes { words, band, lanes })
}

/// The plan of a depthwise convolution on `int_conv_dw_lanes` ([`int_dw_lanes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntDwLanes {
    /// Scratch words.
    pub words: usize,
    /// Output rows a band.
    pub band: usize,
    /// Channels a block.
    pub lanes: usize,
}

/// The scratch `int_conv_dw_lanes` aims at (16 KiB): output rows are taken in bands that
/// fit it. The whole of MobileNet's 24x24 map at once took 80 KiB, and the int8 arena
/// more than doubled (65 to 135 KiB).
const INT_DW_LANES_WORDS: usize = 4096;

/// The most outputs a map [`int_dw_lanes`] takes at strides along the width above 1 with
/// AVX-512's sixteen lanes (at 2, the block's copy of an input four times the map's size
/// outweighed the gain on MobileNet's 24x24 layer: 17.4 against 10.5 us). With AVX2's
/// eight the column kernel there is scalar and the lanes win on larger maps too: on a Zen 3
/// core that layer (16 channels) took 20 us against 59 (fastest of 500 runs each), the
/// model 0.94x the time, paired, and ppocrv4_rec's 12x80 one left the model within noise
/// (0.97x); so eight lanes take maps up to [`INT_DW_LANES_MAP_S1`] at any stride.
pub const INT_DW_LANES_MAP: usize = 144;

/// The most outputs a map [`int_dw_lanes`] takes at stride 1 along the width.
pub const INT_DW_LANES_MAP_S1: usize = 1024;

/// Channels a block of `int_conv_dw_lanes` on `kt`: AVX-512's sixteen i32 lanes or AVX2's
/// eight, where it was measured faster (AVX2 on a Zen 3 core: MobileNet's 32-channel 24x24
/// step 0.093 -> 0.053 ms against the plane kernel); the copies into and out of the lanes
/// were not measured against the column kernels on AArch64's or SSE2's four.
pub fn int_dw_lanes_width(kt: KernelTarget) -> Option<usize> {
    if kt.reference_float {
        return None;
    }
    match kt.target.simd_bytes() {
        64.. => Some(16),
        32 => Some(8),
        _ => None,
    }
}

/// The int8 depthwise kernel of a host with vector registers at stride 1 or 2 along the
/// width (`int_conv_dw_plane`): its scratch holds one input channel's padded plane as i32
/// less the zero point, so every tap of sixteen outputs reads sixteen consecutive words
/// (`[row][t]` for padded column `t` at stride 1; at stride 2 each row's even columns and
/// then its odd ones). Rows: those the outputs read, `(oh - 1) * sh + (kh - 1) * dh + 1`;
/// words a row: [`int_dw_row`].
pub fn int_dw_plane(g: &Graph, node: &Node, kt: KernelTarget) -> Option<RowScratch> {
    if kt.reference_float || kt.target.simd_bytes() < 16 {
        return None;
    }
    let (geo, _) = host_int_depthwise(g, node)?;
    let Geometry2 {
        output: [oh, ow],
        kernel: [kh, kw],
        strides: [sh, sw],
        dilations: [dh, dw],
        ..
    } = Geometry2::of(&geo);
    if !(1..=2).contains(&sw) || (kw - 1) * dw > 32 || oh == 0 || ow == 0 {
        return None;
    }
    let rows = (oh - 1) * sh + (kh - 1) * dh + 1;
    let words = rows * int_dw_row(ow, kw, dw, sw);
    (words <= MAX_QUAD_WORDS).then_some(RowScratch { words })
}

/// Words a row of [`int_dw_plane`]'s plane: at stride 1, `ow` rounded up to sixteen (the
/// kernel's block of outputs) plus the kernel's reach; at stride 2, twice (the even and
/// the odd columns) that rounded `ow` plus half the reach.
pub fn int_dw_row(ow: usize, kw: usize, dw: usize, sw: usize) -> usize {
    if sw == 1 {
        ow.next_multiple_of(16) + (kw - 1) * dw
    } else {
        2 * (ow.next_multiple_of(16) + (kw - 1) * dw / 2)
    }
}

/// `[kh, kw, wpad, channels, ow, sw]` of an IntConv the row kernels can run (one group, 1-D
/// or 2-D, no dilation along the width), `wpad = (ow - 1) * sw + kw` columns of padded
/// input per output row.
fn int_conv_rows(g: &Graph, node: &Node) -> Option<[usize; 6]> {
    let Op::Int(kiln_ir::ops::qint::IntOp::Conv(a)) = &node.op else {
        return None;
    };
    let x = &g.value((*node.inputs.first()?)?).ty;
    let w = &g.value((*node.inputs.get(1)?)?).ty;
    if a.conv.group != 1 || !matches!(x.rank(), 3 | 4) || w.rank() != x.rank() || x.numel() == 0 {
        return None;
    }
    let geo = a
        .conv
        .window
        .geometry(&x.shape[2..], Some(&w.shape[2..]))
        .ok()?;
    let last = geo.kernel.len() - 1;
    let (kh, kw) = (if last == 0 { 1 } else { geo.kernel[0] }, geo.kernel[last]);
    let (ow, sw) = (geo.output[last], geo.strides[last]);
    if geo.dilations[last] != 1 || ow == 0 {
        return None;
    }
    Some([kh, kw, (ow - 1) * sw + kw, x.shape[1], ow, sw])
}

/// A 1x1 convolution at stride 1 without padding (one group, f32, constant weights): a
/// GEMM of the weights by the input as it is. Its scratch holds one block of the input's
/// columns (`c_in x nr`), copied contiguous so the micro-kernel reads it from L1 for
/// every row panel of the weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PointwiseConv {
    pub c_in: usize,
    pub c_out: usize,
    /// Positions of one output plane.
    pub plane: usize,
    /// Output positions as the tile's rows and output channels in its vector lanes
    /// (`conv_pointwise_t`, no scratch): see [`pointwise_transposed_pays`].
    pub transposed: bool,
    pub scratch: usize,
}

pub fn pointwise_conv(g: &Graph, node: &Node, tiling: Tiling) -> Option<PointwiseConv> {
    let (ConvAttrs { window, group }, x, w) = const_conv(g, node)?;
    if x.dtype != DType::F32 || *group != 1 || x.rank() < 3 || x.numel() == 0 || w.numel() == 0 {
        return None;
    }
    let geo = window.geometry(&x.shape[2..], Some(&w.shape[2..])).ok()?;
    let pointwise = geo.kernel.iter().chain(&geo.strides).all(|&v| v == 1)
        && geo.pads_begin.iter().chain(&geo.pads_end).all(|&v| v == 0);
    let (c_in, c_out) = (x.shape[1], w.shape[0]);
    let plane = x.shape[2..].iter().product();
    let transposed = pointwise_transposed_pays(c_out, plane, tiling);
    pointwise.then(|| PointwiseConv {
        c_in,
        c_out,
        plane,
        transposed,
        // The packed panel of one block of columns (`gemm_a`'s, `k x nr`: its 8x48 tile,
        // as `conv_split`'s, ran ppocrv4_rec 13% slower, paired).
        scratch: if transposed { 0 } else { c_in * tiling.nr() },
    })
}

/// Output positions per tile of the transposed split convolution (`conv_split_t`).
pub const SPLIT_T_ROWS: usize = 4;

/// Whether a convolution on the split path ([`SplitConv`], not depthwise) computes more of
/// its outputs usefully with output channels in the lanes and [`SPLIT_T_ROWS`] positions as
/// the tile's rows than with the wide output's columns in the lanes: where the whole wide
/// output is at most one vector (Silero's STFT and encoder convolutions have 4, 2 and 1
/// outputs a channel: a 16-column tile computed 5 of which 4 were kept), and the output
/// channels fill the lanes better. Targets of 8 and 16 lanes, as the transposed 1x1 kernel.
pub fn split_transposed_pays(split: &SplitConv, c_out: usize, tiling: Tiling) -> bool {
    let (l, rows) = (tiling.lanes, SPLIT_T_ROWS);
    let wide = split.output[0] * split.wq;
    let plane = split.output[0] * split.output[1];
    if l < 8
        || split.depthwise
        || split.lanes_last
        || split.band < split.output[0]
        || wide > l
        || plane == 0
        || c_out == 0
    {
        return false;
    }
    let width = tiling.split_t_width();
    let old = plane as f64 / l as f64;
    let new = plane as f64 / plane.next_multiple_of(rows) as f64 * c_out as f64
        / c_out.next_multiple_of(width) as f64;
    new > old
}

/// Positions per tile of the transposed 1x1 kernel (`gemm_tile_t8x*`, one vector of output
/// channels): eight accumulators, enough independent chains of adds to keep two vector
/// pipes busy. The same with and without fused multiply-add, so the memory plan (made
/// before that choice) and the lowering agree.
pub const POINTWISE_T_ROWS: usize = 8;

/// Whether a 1x1 convolution computes more of its outputs usefully with one vector of
/// output channels in the lanes and [`POINTWISE_T_ROWS`] positions as the tile's rows (a last
/// block of at most half that by a half-height tile) than with positions in the lanes: on
/// planes that are not whole vectors (MobileNet's 6x6 and 3x3 maps are 36 and 9 columns,
/// computed as 48 and 16), when the output channels fill the lanes better. Planes of 8 to
/// 256 positions (the input then stays in cache for every panel of channels); targets of 8
/// and 16 lanes (AVX2, AVX-512: the tile's eight accumulators fit their registers).
pub fn pointwise_transposed_pays(c_out: usize, plane: usize, tiling: Tiling) -> bool {
    let (l, mr) = (tiling.lanes, POINTWISE_T_ROWS);
    let width = tiling.pointwise_t_width();
    if l < 8 || plane > 256 || plane < mr || c_out == 0 {
        return false;
    }
    // Columns computed by `gemm_a`, taken as the plane rounded up to whole vectors (its
    // tiles are wider; the rule does not depend on their width).
    let columns = plane.next_multiple_of(l);
    // Rows computed by the transposed tiles: blocks of mr, a last one of at most mr / 2
    // by the half-height tile.
    let rest = plane % mr;
    let rows = plane - rest
        + match rest {
            0 => 0,
            r if r <= mr / 2 => mr / 2,
            _ => mr,
        };
    let old = plane as f64 / columns as f64;
    let new = plane as f64 / rows as f64 * c_out as f64 / c_out.next_multiple_of(width) as f64;
    new > old
}
