//! The register-blocked GEMM kernels (weights packed at compile time) against the
//! reference semantics, for every tiling the lowering can pick: shapes drawn across the
//! tile edges (rows not a multiple of the panel height, columns left over after the wide
//! tiles, after the one-vector tiles, and fewer than one vector), with and without bias,
//! fused Relu and a fused residual Add. The generated code is portable Rust, so the tilings
//! of other targets run here too.

mod common;

use common::builder::{Builder, draw, labelled};

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::ops::*;
use kiln::ir::{Graph, Op, Target, Tensor, TensorData};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

/// The targets whose tilings differ (see `Tiling::for_target`).
const TARGETS: [&str; 4] = ["x86_64", "x86_64-v3", "x86_64-v4", "aarch64"];

fn f32_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(-2.0f32..2.0, n)
        .prop_map(move |v| Tensor::new(shape.clone(), TensorData::F32(v)).unwrap())
}

/// What follows the GEMM-like node: nothing, Relu, or a residual Add then Relu.
#[derive(Clone, Copy, Debug)]
enum Tail {
    None,
    Relu,
    AddRelu,
}

/// One Conv of input `x` and constant weights and bias, then `tail` (its residual a
/// fixed pattern); `None` if the kernel does not fit the padded input.
fn conv_graph(
    x: Tensor,
    w: Tensor,
    b: Option<Tensor>,
    attrs: ConvAttrs,
    tail: Tail,
) -> Option<(Graph, Vec<Tensor>)> {
    let mut bd = Builder::new();
    let x = bd.input(x);
    let w = bd.constant(w);
    let bias = b.map(|b| bd.constant(b));
    let y = bd.try_node(Op::Conv(attrs), "Conv", vec![Some(x), Some(w), bias])?;
    let shape = bd.graph().value(y).ty.shape.clone();
    let n: usize = shape.iter().product();
    let residual = Tensor::new(
        shape,
        TensorData::F32((0..n).map(|i| (i % 7) as f32 - 3.0).collect()),
    )
    .unwrap();
    Some(finish_with(bd, y, tail, residual))
}

fn tail() -> impl Strategy<Value = Tail> {
    prop_oneof![Just(Tail::None), Just(Tail::Relu), Just(Tail::AddRelu)]
}

fn finish_with(
    mut b: Builder,
    y: kiln::ir::ValueId,
    tail: Tail,
    residual: Tensor,
) -> (Graph, Vec<Tensor>) {
    let y = match tail {
        Tail::None => y,
        Tail::Relu => b.node(Op::Unary(UnaryOp::Relu), "Relu", vec![Some(y)]),
        Tail::AddRelu => {
            let r = b.input(residual);
            let s = b.node(Op::Binary(BinaryOp::Add), "Add", vec![Some(y), Some(r)]);
            b.node(Op::Unary(UnaryOp::Relu), "Relu", vec![Some(s)])
        }
    };
    b.finish(y)
}

/// A 1x1 convolution: up to 19 output channels (panels of 4 and 8 with remainders) over
/// planes of `h x w` positions (1 to 80 by default: tails of every width; wider planes run
/// their epilogue in bands of columns).
fn pointwise() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    pointwise_over(1..10, 1..9)
}

fn pointwise_over(
    h: std::ops::Range<usize>,
    w: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        1usize..3,
        1usize..20,
        1usize..20,
        h,
        w,
        any::<bool>(),
        tail(),
    )
        .prop_flat_map(|(n, ci, co, h, w, bias, tail)| {
            (
                f32_tensor(vec![n, ci, h, w]),
                f32_tensor(vec![co, ci, 1, 1]),
                f32_tensor(vec![co]),
                f32_tensor(vec![n, co, h, w]),
                Just((bias, tail)),
            )
        })
        .prop_map(|(x, w, bias, residual, (with_bias, tail))| {
            let mut b = Builder::new();
            let x = b.input(x);
            let w = b.constant(w);
            let bias = with_bias.then(|| b.constant(bias));
            let window = one_by_one();
            let y = b.node(
                Op::Conv(ConvAttrs { window, group: 1 }),
                "Conv",
                vec![Some(x), Some(w), bias],
            );
            finish_with(b, y, tail, residual)
        })
}

/// A Conv of the drawn input, weights and bias with (window, group, with bias, tail), where
/// the kernel fits the padded input.
fn conv_case(
    s: impl Strategy<Value = (Tensor, Tensor, Tensor, (WindowAttrs, usize, bool, Tail))>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    s.prop_filter_map(
        "the kernel must fit the padded input",
        |(x, w, b, (window, group, bias, tail))| {
            conv_graph(x, w, bias.then_some(b), ConvAttrs { window, group }, tail)
        },
    )
}

/// Other 2-D convolutions, one group or depthwise: kernels 1x1 to 4x3, strides 1 to 3,
/// dilations 1 and 2, uneven padding, planes narrower than one vector and wider than a
/// tile.
fn split_conv() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    split_conv_over(2..12, 2..20, 1..4)
}

/// The same at column stride 2 on rows 32 to 71 wide (even and odd), which `pad_split`
/// deals into their two column phases a block of 32 at a time.
fn split_conv_wide_rows() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    split_conv_over(2..6, 32..72, 2..3)
}

fn split_conv_over(
    h: std::ops::Range<usize>,
    w: std::ops::Range<usize>,
    sw: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    conv_case(
        (
            (1usize..3, 1usize..7, 1usize..14, h, w),
            (1usize..5, 1usize..4, 1usize..4, sw, 1usize..3, 1usize..3),
            proptest::collection::vec(0usize..3, 4),
            (any::<bool>(), any::<bool>(), tail(), 0usize..4),
        )
            .prop_flat_map(
                |(
                    (n, ci, co, h, w),
                    (kh, kw, sh, sw, dh, dw),
                    pads,
                    (depthwise, bias, tail, rank),
                )| {
                    let (co, wi) = if depthwise { (ci + 1, 1) } else { (co, ci) };
                    let ci = if depthwise { co } else { ci };
                    // One draw in four is a 1-D convolution (its width and the kernel's).
                    let one_d = rank == 0;
                    let two = |a: usize, b: usize| if one_d { vec![b] } else { vec![a, b] };
                    let pads = if one_d { vec![pads[1], pads[3]] } else { pads };
                    let window = explicit_window(two(kh, kw), two(sh, sw), two(dh, dw), pads);
                    let group = if depthwise { ci } else { 1 };
                    (
                        f32_tensor([vec![n, ci], two(h, w)].concat()),
                        f32_tensor([vec![co, wi], two(kh, kw)].concat()),
                        f32_tensor(vec![co]),
                        Just((window, group, bias, tail)),
                    )
                },
            ),
    )
}

/// Depthwise 3x3 convolutions (the C library's `conv_dw3_f32`): strides 1 to 3, padding 0
/// to 2 on each side, planes from one position (every tap on the padding but the centre's)
/// to wider than the interior's two-output step, with and without bias.
fn depthwise3x3() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    conv_case(
        (
            (1usize..3, 1usize..6, 1usize..9, 1usize..12),
            // Stride 1 most often: its interior takes two outputs a step.
            (stride(), stride()),
            proptest::collection::vec(0usize..3, 4),
            (any::<bool>(), tail()),
        )
            .prop_flat_map(|((n, c, h, w), (sh, sw), pads, (bias, tail))| {
                let window = explicit_window(vec![3, 3], vec![sh, sw], vec![1, 1], pads);
                (
                    f32_tensor(vec![n, c, h, w]),
                    f32_tensor(vec![c, 1, 3, 3]),
                    f32_tensor(vec![c]),
                    Just((window, c, bias, tail)),
                )
            }),
    )
}

fn stride() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(1usize), 1 => Just(2usize), 1 => Just(3usize)]
}

/// Convolutions of one group whose split input passes `SPLIT_BAND_BYTES` (5 to 7 channels
/// of 96 to 139 by 96 to 139), so `conv_split` splits and computes them in bands of output
/// rows: kernels 1x1 to 4x4, strides and dilations 1 to 2, uneven padding, one or two batch
/// items, the bands' last one shorter.
fn split_conv_bands() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    conv_case(
        (
            (1usize..3, 5usize..8, 1usize..10, 96usize..140, 96usize..140),
            (
                1usize..5,
                1usize..5,
                1usize..3,
                1usize..3,
                1usize..3,
                1usize..3,
            ),
            proptest::collection::vec(0usize..3, 4),
            (any::<bool>(), tail()),
        )
            .prop_flat_map(
                |((n, ci, co, h, w), (kh, kw, sh, sw, dh, dw), pads, (bias, tail))| {
                    let window = explicit_window(vec![kh, kw], vec![sh, sw], vec![dh, dw], pads);
                    (
                        f32_tensor(vec![n, ci, h, w]),
                        f32_tensor(vec![co, ci, kh, kw]),
                        f32_tensor(vec![co]),
                        Just((window, 1, bias, tail)),
                    )
                },
            ),
    )
}

/// Convolutions of one group with more than `PANELS_OUTER_BYTES` (1 MiB) of weights on
/// small maps (58 to 74 output channels, the last panel partly filled, of 512 to 559
/// input channels, 3x3, `hw` square, strides 1 and 2, uneven padding, one or two batch
/// items), so `conv_split` runs panel by panel over the whole split input. On maps of 12
/// and more its split planes (at least 144 values a channel) pass `SPLIT_BLOCK_BYTES`
/// (256 KiB), so it takes the input channels in blocks, adding each block's sums.
fn split_conv_panels_outer(
    hw: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    conv_case(
        (
            (1usize..3, 512usize..560, 58usize..75, hw),
            (1usize..3, 1usize..3),
            proptest::collection::vec(0usize..2, 4),
            (any::<bool>(), tail()),
        )
            .prop_flat_map(|((n, ci, co, hw), (sh, sw), pads, (bias, tail))| {
                let window = explicit_window(vec![3, 3], vec![sh, sw], vec![1, 1], pads);
                (
                    f32_tensor(vec![n, ci, hw, hw]),
                    f32_tensor(vec![co, ci, 3, 3]),
                    f32_tensor(vec![co]),
                    Just((window, 1, bias, tail)),
                )
            }),
    )
}

/// Convolutions of one group on outputs of at most one vector a channel, with 40 or 70
/// output channels (whole and partly filled panels): each takes the kernel with output
/// channels in the lanes on 8- and 16-lane builds
/// (`kiln_passes::kernels::split_transposed_pays`), positions four at a time and the last
/// repeated. 1-D (as Silero's STFT: a kernel twice its stride) and 2-D (one output row,
/// kernels 1x2 to 3x4, strides 1 to 3, dilation 1 or 2 along the height), uneven padding;
/// shaped so the wide output is at most 8 columns, one vector on every such build.
fn split_transposed() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    conv_case(
        (
            (1usize..3, 1usize..20, prop_oneof![Just(40usize), Just(70)]),
            (1usize..4, 1usize..4, 1usize..4, 1usize..3, 1usize..3),
            proptest::collection::vec(0usize..2, 4),
            (any::<bool>(), tail(), any::<bool>(), 1usize..4),
        )
            .prop_flat_map(
                |((n, ci, co), (k, s, out, dh, dw), pads, (bias, tail, one_d, kh))| {
                    // Inputs just big enough for `out` outputs in one row.
                    // At least two taps wide: a 1x1 kernel at stride 1 unpadded is the
                    // pointwise path.
                    let (kh, kw) = if one_d { (1, 4 * k) } else { (kh, k + 1) };
                    let (sh, sw) = if one_d { (1, 2 * k) } else { (s, s) };
                    let (dh, dw) = if one_d { (1, dw) } else { (dh, 1) };
                    let oh = 1;
                    let h = (oh - 1) * sh + (kh - 1) * dh + 1;
                    let w = (out - 1) * sw + (kw - 1) * dw + 1;
                    let two = |a: usize, b: usize| if one_d { vec![b] } else { vec![a, b] };
                    // Padding along the width only: rows of padding would add output rows.
                    let pads = if one_d {
                        vec![pads[1], pads[3]]
                    } else {
                        vec![0, pads[1], 0, pads[3]]
                    };
                    let window = explicit_window(two(kh, kw), two(sh, sw), two(dh, dw), pads);
                    (
                        f32_tensor([vec![n, ci], two(h, w)].concat()),
                        f32_tensor([vec![co, ci], two(kh, kw)].concat()),
                        f32_tensor(vec![co]),
                        Just((window, 1, bias, tail)),
                    )
                },
            ),
    )
}

/// 1x1 convolutions with 96 output channels (whole panels on every tiling) or 80 (a
/// half-filled last panel of AVX-512's two-vector tiles) on planes of 20 positions, which
/// every tiling of 8 or 16 lanes computes with the channels in the lanes
/// (`kiln_passes::kernels::pointwise_transposed_pays`): blocks of positions and a
/// half-height last block, or one moved back.
fn pointwise_transposed() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    let planes = prop_oneof![Just((4, 5)), Just((5, 4)), Just((2, 10)), Just((10, 2))];
    let outs = prop_oneof![Just(96usize), Just(80)];
    conv_case(
        (1usize..3, 1usize..40, planes, outs, any::<bool>(), tail()).prop_flat_map(
            |(n, ci, (h, w), co, bias, tail)| {
                (
                    f32_tensor(vec![n, ci, h, w]),
                    f32_tensor(vec![co, ci, 1, 1]),
                    f32_tensor(vec![co]),
                    Just((one_by_one(), 1, bias, tail)),
                )
            },
        ),
    )
}

/// A window with explicit padding, no ceil mode.
fn explicit_window(
    kernel_shape: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads: Vec<usize>,
) -> WindowAttrs {
    WindowAttrs {
        kernel_shape,
        strides,
        dilations,
        pads,
        auto_pad: AutoPad::NotSet,
        ceil_mode: false,
    }
}

/// The window of a 1x1 convolution at stride 1 without padding.
fn one_by_one() -> WindowAttrs {
    explicit_window(vec![1, 1], vec![1, 1], vec![1, 1], vec![0; 4])
}

/// Depthwise 2-D convolutions on maps of at most 12 x 12 outputs with 16 to 39 channels:
/// enough for every tiling's lanes, so each takes the kernel with channels in the vector
/// lanes (`kiln_passes::kernels::lanes_last_pays`), with a last block of channels partly
/// filled, kernels 1x1 to 3x3, strides and dilations 1 and 2, uneven padding.
fn depthwise_lanes() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    conv_case(
        (
            (1usize..3, 16usize..40, 1usize..9, 1usize..9),
            (
                1usize..4,
                1usize..4,
                1usize..3,
                1usize..3,
                1usize..3,
                1usize..3,
            ),
            proptest::collection::vec(0usize..3, 4),
            (any::<bool>(), tail()),
        )
            .prop_flat_map(
                |((n, c, h, w), (kh, kw, sh, sw, dh, dw), pads, (bias, tail))| {
                    let window = explicit_window(vec![kh, kw], vec![sh, sw], vec![dh, dw], pads);
                    (
                        f32_tensor(vec![n, c, h, w]),
                        f32_tensor(vec![c, 1, kh, kw]),
                        f32_tensor(vec![c]),
                        Just((window, c, bias, tail)),
                    )
                },
            ),
    )
}

/// 3x3 convolutions at stride 1 with enough channels for the Winograd path (see
/// `kiln_passes::kernels::winograd_conv`): 32 channels or more, outputs 8 to 47 wide
/// (its rule; under 32 wide, blocks of several tile rows), odd and even sizes, any
/// padding, one or two batch items. Fewer channels and narrower maps go direct, which
/// `split_conv`'s draws cover.
fn winograd_conv() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        (1usize..3, 0usize..16, 0usize..16, 3usize..12, 0usize..34),
        proptest::collection::vec(0usize..3, 4),
        (any::<bool>(), any::<bool>(), tail()),
    )
        .prop_flat_map(|((n, ci, co, h, w), pads, (wide_channels, bias, tail))| {
            // Input width such that the output is 8 or more wide with any padding.
            let (ci, co, w) = match wide_channels {
                true => (48 + ci, 48 + co, 10 + w),
                false => (32 + ci, 32 + co, 10 + w),
            };
            (
                f32_tensor(vec![n, ci, h, w]),
                f32_tensor(vec![co, ci, 3, 3]),
                f32_tensor(vec![co]),
                Just((pads, bias, tail)),
            )
        })
        .prop_filter_map(
            "the kernel must fit the padded input",
            |(x, w, b, (pads, bias, tail))| {
                let window = explicit_window(vec![3, 3], vec![1, 1], vec![1, 1], pads);
                let attrs = ConvAttrs { window, group: 1 };
                conv_graph(x, w, bias.then_some(b), attrs, tail)
            },
        )
}

/// Gemm with constant B, transposed or not, C of every broadcast form.
fn gemm(
    m: std::ops::Range<usize>,
    n: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (m, 1usize..24, n, any::<bool>(), 0usize..5, tail())
        .prop_flat_map(|(m, k, n, tb, c_kind, tail)| {
            let bs = if tb { vec![n, k] } else { vec![k, n] };
            let cs = match c_kind {
                0 => vec![],
                1 => vec![n],
                2 => vec![m, n],
                3 => vec![m, 1],
                _ => vec![1],
            };
            (
                f32_tensor(vec![m, k]),
                f32_tensor(bs),
                f32_tensor(cs),
                f32_tensor(vec![m, n]),
                Just((tb, c_kind, tail)),
                -2.0f32..2.0,
                -2.0f32..2.0,
            )
        })
        .prop_map(
            |(a, bm, c, residual, (trans_b, c_kind, tail), alpha, beta)| {
                let mut b = Builder::new();
                let a = b.input(a);
                let bm = b.constant(bm);
                let c = (c_kind > 0).then(|| b.constant(c));
                let op = Op::Gemm(GemmAttrs {
                    alpha,
                    beta,
                    trans_a: false,
                    trans_b,
                });
                let y = b.node(op, "Gemm", vec![Some(a), Some(bm), c]);
                finish_with(b, y, tail, residual)
            },
        )
}

/// MatMul of a 1-D to 3-D activation by a constant 2-D matrix.
fn matmul() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        proptest::collection::vec(1usize..4, 0..2),
        1usize..12,
        1usize..24,
        1usize..70,
        any::<bool>(),
        tail(),
    )
        .prop_flat_map(|(lead, m, k, n, vector, tail)| {
            let a = if vector {
                vec![k]
            } else {
                [lead.clone(), vec![m, k]].concat()
            };
            let y = if vector {
                vec![n]
            } else {
                [lead, vec![m, n]].concat()
            };
            (
                f32_tensor(a),
                f32_tensor(vec![k, n]),
                f32_tensor(y),
                Just(tail),
            )
        })
        .prop_map(|(a, bm, residual, tail)| {
            let mut b = Builder::new();
            let a = b.input(a);
            let bm = b.constant(bm);
            let y = b.node(Op::MatMul, "MatMul", vec![Some(a), Some(bm)]);
            finish_with(b, y, tail, residual)
        })
}

#[test]
fn packed_gemm_kernels_agree_with_reference_semantics_on_every_tiling() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("conv 1x1", draw(&mut runner, pointwise(), 16)),
        // Planes of 280 to 598 columns: epilogues on bands of 256 and more.
        (
            "conv 1x1 wide",
            draw(&mut runner, pointwise_over(14..24, 20..27), 4),
        ),
        ("conv", draw(&mut runner, split_conv(), 32)),
        (
            "conv rows of 32 and more at stride 2",
            draw(&mut runner, split_conv_wide_rows(), 12),
        ),
        ("conv 3x3 winograd", draw(&mut runner, winograd_conv(), 12)),
        (
            "conv small outputs transposed",
            draw(&mut runner, split_transposed(), 12),
        ),
        (
            "conv depthwise lanes",
            draw(&mut runner, depthwise_lanes(), 12),
        ),
        (
            "conv 1x1 transposed",
            draw(&mut runner, pointwise_transposed(), 10),
        ),
        ("gemm", draw(&mut runner, gemm(1..20, 1..70), 16)),
        // One or two rows across several column panels (the one-row tile `gemm_tile_b1x*`).
        ("gemm lone rows", draw(&mut runner, gemm(1..3, 64..140), 8)),
        ("matmul", draw(&mut runner, matmul(), 12)),
        // Outputs 128 wide and more: `dw_channel`'s blocks of eight vectors.
        (
            "conv outputs of 128 and more wide",
            draw(&mut runner, split_conv_over(1..3, 128..200, 1..2), 8),
        ),
        ("conv in bands", draw(&mut runner, split_conv_bands(), 8)),
        (
            "conv panels outer",
            draw(&mut runner, split_conv_panels_outer(3..8), 2),
        ),
        (
            "conv panels outer in channel blocks",
            draw(&mut runner, split_conv_panels_outer(12..16), 1),
        ),
    ]);
    let mut built = Vec::new();
    let (mut winograd, mut lanes, mut transposed, mut split_t, mut banded, mut outer) =
        (0, 0, 0, 0, 0, 0);
    // Each tiling with a multiply and an add per term, and, where the target has fused
    // multiply-add (`--fma`), with `f32::mul_add`.
    let builds = TARGETS.iter().flat_map(|t| {
        let target = t.parse::<Target>().unwrap();
        let fused = target.has_fma().then_some((target, true));
        [(target, false)].into_iter().chain(fused)
    });
    for (target, fma) in builds {
        let opts = kiln::CompileOptions {
            target,
            fma,
            // As `kiln compile` writes a module: the packed weights as bytes in a file,
            // read in place by the kernels.
            weights_file: Some("model.weights".into()),
            ..Default::default()
        };
        let target = match fma {
            true => format!("{target} --fma"),
            false => target.to_string(),
        };
        for (label, (graph, feed)) in &cases {
            let expected = kiln::ir::eval::run(graph, feed)
                .unwrap_or_else(|e| panic!("{label}: reference failed: {e}"));
            let compiled = kiln::compile_graph(
                graph.clone(),
                "case.onnx",
                String::new(),
                EmitKind::Module,
                &opts,
            )
            .unwrap_or_else(|e| panic!("{label} for {target}: {e}"));
            let text = &compiled.generated.files[0].contents;
            // The case must really run on the packed kernels, or this test tests nothing.
            assert!(
                text.contains("fn gemm_tile_") || text.contains("fn conv_depthwise"),
                "{label} for {target}: no packed GEMM kernel in the generated code"
            );
            assert_eq!(
                text.contains(".mul_add("),
                fma,
                "{label} for {target}: fused multiply-add in the code iff --fma"
            );
            // Packed weights are the file's bytes wherever the kernels read them in place.
            // (Depthwise weights are not packed: they stay a static array.)
            assert!(
                !text.contains("fn gemm_tile_")
                    || compiled.generated.weights.is_some() && text.contains("type Wt = [u8; 4];"),
                "{label} for {target}: the packed weights are not in the weights file"
            );
            if text.contains("conv_winograd(x") {
                winograd += 1;
            }
            if text.contains("conv_depthwise_lanes(x") {
                lanes += 1;
            }
            if text.contains("conv_pointwise_t(x") {
                transposed += 1;
            }
            if label.contains("small outputs") && text.contains("conv_split_t(x") {
                split_t += 1;
            }
            if label.contains("bands") && in_bands(text) {
                banded += 1;
            }
            if label.contains("panels outer") && text.contains("panels_outer: true") {
                outer += 1;
            }
            // Same summation order as the reference (a multiply and an add per term, in
            // order of k), so only the tolerance of float formatting is needed, except the
            // one-row tile on vector targets (interleaved partial sums, added at the end:
            // k < 24 terms here, whose reordering stays inside 1e-5 absolute and relative). Fused, each term skips the
            // product's rounding: the sums (up to ~600 terms of magnitude up to 4 here) may
            // then differ by the float error bound of a sum that long, about 1e-4.
            // Winograd's F(2x2, 3x3) sums transformed terms (each input and weight scaled by
            // 1/2 or summed in threes and fours first) in another order: the same bound.
            // The draws panel by panel sum 4,600 to 5,000 terms in f32 (the reference sums
            // in f64): the float error of sums that long, partial sums near 100, is about
            // sqrt(5000) * 6e-8 * 100 = 4e-4, at most a few times that.
            let tol = if label.contains("panels outer") {
                2e-3
            } else if fma || label.contains("winograd") {
                1e-4
            } else {
                1e-5
            };
            built.push((
                format!("{label} for {target}"),
                compiled,
                feed.clone(),
                expected,
                tol,
            ));
        }
    }
    // Every Winograd draw meets its rule (12 draws, on every target and with --fma).
    assert!(
        winograd >= 12 * TARGETS.len(),
        "only {winograd} of {} cases ran by Winograd",
        built.len()
    );
    // And every depthwise draw on small maps with its channels in the lanes.
    assert!(
        lanes >= 12 * TARGETS.len(),
        "only {lanes} of {} cases ran with channels in the lanes",
        built.len()
    );
    // And every 1x1 draw of 80 or 96 channels on 20 positions transposed, on each build of
    // 8 or 16 lanes (x86-64-v3 and -v4, with and without --fma).
    // And every convolution on small outputs with the channels in the lanes, on each build
    // of 8 or 16 lanes.
    assert!(
        split_t >= 12 * 4,
        "only {split_t} of {} cases ran the transposed split convolution",
        built.len()
    );
    // And every draw of a large split in bands (8 draws, each build).
    assert!(
        banded >= 8 * TARGETS.len(),
        "only {banded} of {} cases ran the split convolution in bands",
        built.len()
    );
    // And every draw of weights past 1 MiB panel by panel (3 draws, each build).
    assert!(
        outer >= 3 * TARGETS.len(),
        "only {outer} of {} cases ran the split convolution panel by panel",
        built.len()
    );
    assert!(
        transposed >= 10 * 4,
        "only {transposed} of {} cases ran the transposed 1x1 kernel",
        built.len()
    );
    run_and_compare(&built, "kiln-packed-runner");
}

/// Whether generated code calls `conv_split` with bands of fewer rows than its output
/// (`band: B` below `output: [H, W]` in its parameters).
fn in_bands(text: &str) -> bool {
    let field = |name: &str| -> Option<usize> {
        let at = text.find(name)? + name.len();
        let digits: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    matches!((field("band: "), field("output: [")), (Some(b), Some(h)) if b < h)
}

/// A compiled case: its label, the code, its inputs, the reference outputs and the
/// tolerance (absolute and relative) they are compared at.
type Built = (String, kiln::Compiled, Vec<Tensor>, Vec<Tensor>, f64);

/// Builds every case into one runner crate (`target/<dir>`), runs each on its inputs and
/// compares with the reference outputs; fails listing every case that differs.
fn run_and_compare(built: &[Built], dir: &str) {
    let rcases: Vec<Case> = built
        .iter()
        .map(|b| Case {
            generated: &b.1.generated,
        })
        .collect();
    let work = common::repo().join("target").join(dir);
    let runner =
        harness::build_runner(&rcases, &work, &common::gen_target(), Profile::Fast).unwrap();
    let mut failures = Vec::new();
    for (i, (label, _, feed, expected, tol)) in built.iter().enumerate() {
        let actual = runner
            .run(i, feed)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
            let c = harness::compare(a, e, *tol, *tol);
            if !c.ok {
                failures.push(format!("{label} output {k}: {c:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        built.len(),
        failures.join("\n")
    );
}

/// Convolutions of one group lowered for a Cortex-M4F (the one-lane tiling) take
/// `conv_rows`: per output row, the input rows it reads split by stride phase in scratch,
/// and the 4x4 register tile over them (`kiln_passes::kernels::row_conv`). Built for the
/// host, they must agree with the reference semantics as the other tilings do.
#[test]
fn row_convolutions_for_a_microcontroller_agree_with_reference_semantics() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("conv", draw(&mut runner, split_conv(), 40)),
        ("conv 3x3", draw(&mut runner, winograd_conv(), 6)),
    ]);
    let opts = kiln::CompileOptions {
        target: "thumbv7em+fpu".parse::<Target>().unwrap(),
        ..Default::default()
    };
    let mut rows = 0;
    let built: Vec<_> = cases
        .iter()
        .map(|(label, (graph, feed))| {
            let expected = kiln::ir::eval::run(graph, feed)
                .unwrap_or_else(|e| panic!("{label}: reference failed: {e}"));
            let compiled = kiln::compile_graph(
                graph.clone(),
                "case.onnx",
                String::new(),
                EmitKind::Module,
                &opts,
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"));
            rows += usize::from(compiled.generated.files[0].contents.contains("conv_rows(x"));
            // A multiply and an add per term, but the bias first and the terms channel by
            // channel: on the 3x3 draws (288 to 400 terms of magnitude up to 4) that order
            // differs from the reference's by up to 8e-5, within the float error bound of
            // such a sum, as for Winograd in the test above.
            let tol = if label.contains("3x3") { 1e-4 } else { 1e-5 };
            (label.clone(), compiled, feed.clone(), expected, tol)
        })
        .collect();
    // Depthwise draws, dilation along the height, and 1x1 at stride 1 without padding take
    // other kernels.
    assert!(
        rows >= cases.len() / 3,
        "only {rows} of {} cases ran on conv_rows",
        cases.len()
    );
    run_and_compare(&built, "kiln-row-conv-runner");
}

/// The same one-lane float kernels in C (`--emit c` for a Cortex-M4F: `conv_rows`, the 1x1
/// convolution, Gemm and MatMul by constant weights on 4x4 register tiles), built for the
/// host under AddressSanitizer and UndefinedBehaviorSanitizer (the arena malloc'd at exactly
/// its size, so a tile reading past its scratch or panel is caught) with gcc and clang in
/// turn, against the reference semantics.
#[test]
fn float_kernels_in_c_for_a_microcontroller_agree_with_reference_semantics() {
    let Some(ccs) = common::c::compilers() else {
        return;
    };
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("conv 1x1", draw(&mut runner, pointwise(), 10)),
        ("conv", draw(&mut runner, split_conv(), 24)),
        ("conv 3x3", draw(&mut runner, winograd_conv(), 4)),
        ("depthwise 3x3", draw(&mut runner, depthwise3x3(), 16)),
        ("gemm", draw(&mut runner, gemm(1..20, 1..70), 10)),
        ("gemm lone rows", draw(&mut runner, gemm(1..3, 1..140), 4)),
        ("matmul", draw(&mut runner, matmul(), 8)),
    ]);
    let opts = kiln::CompileOptions {
        target: "thumbv7em+fpu".parse::<Target>().unwrap(),
        ..Default::default()
    };
    let work = common::repo().join("target").join("kiln-float-c-m4");
    let (mut tiled, mut failures) = (0, Vec::new());
    for (i, (label, (graph, feed))) in cases.iter().enumerate() {
        let expected = kiln::ir::eval::run(graph, feed)
            .unwrap_or_else(|e| panic!("{label}: reference failed: {e}"));
        let compiled = kiln::compile_graph(
            graph.clone(),
            "case.onnx",
            String::new(),
            EmitKind::C,
            &opts,
        )
        .unwrap_or_else(|e| panic!("{label}: {e}"));
        let source = compiled.generated.files.iter().map(|f| f.contents.as_str());
        tiled += usize::from(source.clone().any(|t| t.contains("gemm_tile_")));
        let cc = ccs[i % ccs.len()];
        let actual =
            common::c::build_and_run(&work.join(i.to_string()), &compiled.generated, feed, cc)
                .unwrap_or_else(|e| panic!("{label} ({cc}): {e}"));
        // As for the Rust kernels on this tiling (see the test above): the bias first, then
        // the terms channel by channel, a multiply and an add each.
        let tol = if label.contains("3x3") { 1e-4 } else { 1e-5 };
        for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let c = harness::compare(a, e, tol, tol);
            if !c.ok {
                failures.push(format!("{label} ({cc}) output {k}: {c:?}"));
            }
        }
    }
    // Depthwise draws and dilation along the height take the reference kernel (depthwise
    // 3x3 its conv_dw3_f32).
    assert!(
        tiled >= cases.len() / 2,
        "only {tiled} of {} cases ran on the tiled kernels",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
