//! kiln's integer kernels (`ir::ops::qint`) and the quantize pass that produces them.
//!
//! 1. Each integer op, with random shapes, scales (as fixed-point factors) and zero points,
//!    u8 and i8: the generated code equals the reference semantics exactly (integer
//!    arithmetic has one right answer).
//! 2. QDQ graphs as onnxruntime's quantizer writes them (DequantizeLinear → float op →
//!    QuantizeLinear): after the quantize pass no float Conv, Gemm or MatMul is left, and
//!    the generated code's integers are within one quantization step of the float QDQ
//!    graph's reference semantics, rarely off at all (only results within float rounding
//!    of a half step may round the other way).

mod common;

use common::builder::{Builder, draw, labelled};
use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::ops::qint::*;
use kiln::ir::ops::*;
use kiln::ir::{DType, Graph, Op, Tensor, TensorData};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

fn q8_type() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::U8), Just(DType::I8)]
}

/// A tensor of 8-bit values of `dtype`.
fn q8_tensor(dtype: DType, shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(any::<u8>(), n).prop_map(move |v| {
        let data = match dtype {
            DType::U8 => TensorData::U8(v),
            _ => TensorData::I8(v.into_iter().map(|b| b as i8).collect()),
        };
        Tensor::new(shape.clone(), data).unwrap()
    })
}

fn i8_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    q8_tensor(DType::I8, shape)
}

/// A zero point of `dtype`'s range.
fn zero(dtype: DType) -> impl Strategy<Value = i32> {
    match dtype {
        DType::U8 => (0i32..=255).boxed(),
        _ => (-128i32..=127).boxed(),
    }
}

/// The output: its type, zero point, and a clamp range (the full range, or narrowed as a
/// fused Relu or Clip narrows it).
fn q_out() -> impl Strategy<Value = QOut> {
    q8_type().prop_flat_map(|d| {
        let (lo, hi) = qrange(d).unwrap();
        (zero(d), lo..=lo + 40, hi - 40..=hi).prop_map(move |(zero, lo, hi)| QOut {
            dtype: d,
            zero,
            lo,
            hi,
        })
    })
}

/// The output with, one draw in three, a table fused after it (as `fuse-int-tables` moves
/// an IntLut into the requantization): 256 values of the output type.
fn q_out_table() -> impl Strategy<Value = (QOut, Option<Vec<i32>>)> {
    (q_out(), 0..3).prop_flat_map(|(out, k)| {
        let (lo, hi) = qrange(out.dtype).unwrap();
        let table = proptest::collection::vec(lo..=hi, 256);
        let table = if k == 0 {
            table.prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        };
        (Just(out), table)
    })
}

/// A factor between about 2^-16 and 4: small enough that sums of a few hundred products
/// land inside the output range, large enough to move it.
fn factor() -> impl Strategy<Value = Requant> {
    (-16i32..2, 1.0f32..2.0).prop_map(|(e, m)| Requant::from_f32(m * 2f32.powi(e)).unwrap())
}

fn bias(m: usize) -> impl Strategy<Value = Tensor> {
    proptest::collection::vec(-5000i32..5000, m)
        .prop_map(move |v| Tensor::new(vec![m], TensorData::I32(v)).unwrap())
}

/// Biases of 2^30 and more, some within a sum's reach of i32's limits: the kernels add
/// them to the sums in i64 (see `narrow_sums` in the kernels).
fn wide_bias(m: usize) -> impl Strategy<Value = Tensor> {
    let one = prop_oneof![
        1i32 << 30..i32::MAX,
        i32::MAX - 300_000..=i32::MAX,
        i32::MIN..-(1 << 30),
        i32::MIN..i32::MIN + 300_000
    ];
    proptest::collection::vec(one, m)
        .prop_map(move |v| Tensor::new(vec![m], TensorData::I32(v)).unwrap())
}

/// A factor near 2^-30, for [`wide_bias`]: so that not every output clamps.
fn tiny_factor() -> impl Strategy<Value = Requant> {
    (-31i32..-26, 1.0f32..2.0).prop_map(|(e, v)| Requant::from_f32(v * 2f32.powi(e)).unwrap())
}

fn int_conv() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        1usize..3,     // groups
        1usize..4,     // channels per group in
        1usize..5,     // channels per group out
        2usize..9,     // height
        2usize..11,    // width
        1usize..4,     // kernel
        1usize..3,     // stride
        0usize..2,     // pad
        1usize..3,     // dilation
        any::<bool>(), // one-dimensional
    )
        .prop_flat_map(|(d, g, cg, mg, h, w, k, s, p, dil, one_d)| {
            let (c, m) = (g * cg, g * mg);
            let h = if one_d { 1 } else { h };
            let (xs, ws) = if one_d {
                (vec![1, c, w], vec![m, cg, k])
            } else {
                (vec![1, c, h, w], vec![m, cg, k, k])
            };
            let rank = xs.len() - 2;
            let attrs = ConvAttrs {
                window: WindowAttrs {
                    auto_pad: AutoPad::NotSet,
                    kernel_shape: vec![k; rank],
                    strides: vec![s; rank],
                    dilations: vec![dil; rank],
                    pads: vec![p; 2 * rank],
                    ceil_mode: false,
                },
                group: g,
            };
            (
                q8_tensor(d, xs),
                i8_tensor(ws),
                proptest::option::of(bias(m)),
                zero(d),
                prop_oneof![
                    factor().prop_map(|f| vec![f]),
                    proptest::collection::vec(factor(), m)
                ],
                q_out_table(),
                Just(attrs),
            )
        })
        .prop_filter_map("the window does not fit", int_conv_graph)
}

/// The drawn parts of an IntConv case.
type ConvParts = (
    Tensor,
    Tensor,
    Option<Tensor>,
    i32,
    Vec<Requant>,
    (QOut, Option<Vec<i32>>),
    ConvAttrs,
);

/// The graph of one IntConv of constant weights (and bias), or `None` where the window does
/// not fit the input.
fn int_conv_graph(parts: ConvParts) -> Option<Drawn> {
    let (x, w, b, zx, rq, (out, table), conv) = parts;
    let mut bd = Builder::new();
    let x = bd.input(x);
    let w = bd.constant(w);
    let b = b.map(|b| bd.constant(b));
    let op = Op::Int(IntOp::Conv(Box::new(IntConvAttrs {
        conv,
        x_zero: zx,
        requant: rq,
        out,
        table,
    })));
    let y = bd.try_node(op, "Conv", vec![Some(x), Some(w), b])?;
    Some(bd.finish(y))
}

/// The input and weight shapes and the window of a depthwise convolution of `c` input
/// and `m` output channels (`d = [c, m, h, w, kh, kw, sh, sw, dilation]`), 1-D (the
/// width's parameters and pads 1 and 3) or 2-D.
fn depthwise_shapes(
    one_d: bool,
    d: [usize; 9],
    pads: Vec<usize>,
) -> (Vec<usize>, Vec<usize>, WindowAttrs) {
    let [c, m, h, w, kh, kw, sh, sw, dil] = d;
    if one_d {
        let window = WindowAttrs {
            auto_pad: AutoPad::NotSet,
            kernel_shape: vec![kw],
            strides: vec![sw],
            dilations: vec![dil],
            pads: vec![pads[1], pads[3]],
            ceil_mode: false,
        };
        (vec![1, c, w], vec![m, 1, kw], window)
    } else {
        let window = WindowAttrs {
            auto_pad: AutoPad::NotSet,
            kernel_shape: vec![kh, kw],
            strides: vec![sh, sw],
            dilations: vec![dil, dil],
            pads,
            ceil_mode: false,
        };
        (vec![1, c, h, w], vec![m, 1, kh, kw], window)
    }
}

/// Depthwise IntConvs (one input channel per output), mostly with kernels three wide as the
/// SMLAD depthwise kernel takes them (strides 1 and 2 along the width, any height, uneven
/// padding), and some it leaves to the others (stride 3, dilation, other widths).
fn int_conv_dw() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    int_conv_dw_channels(1..12)
}

/// [`int_conv_dw`] with `channels` drawn from the range given.
fn int_conv_dw_channels(
    channels: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        channels,
        1usize..9,                               // height
        1usize..30,                              // width
        1usize..5,                               // kernel height
        0usize..10,                              // kernel width: 3, else 1 or 5
        1usize..3,                               // stride along the height
        0usize..10,                              // along the width: 1 or 2, else 3
        proptest::collection::vec(0usize..3, 4), // pads
        0usize..10,                              // dilation: 1, else 2
        any::<bool>(),                           // one-dimensional
    )
        .prop_flat_map(|(d, c, h, w, kh, kw, sh, sw, pads, dil, one_d)| {
            // Eight in ten draws of each what the SMLAD kernel takes.
            let kw = if kw < 8 { 3 } else { [1, 5][kw % 2] };
            let sw = if sw < 8 { 1 + sw % 2 } else { 3 };
            let dil = if dil < 8 { 1 } else { 2 };
            let (xs, ws, attrs) = depthwise_shapes(one_d, [c, c, h, w, kh, kw, sh, sw, dil], pads);
            (
                q8_tensor(d, xs),
                i8_tensor(ws),
                proptest::option::of(bias(c)),
                zero(d),
                prop_oneof![
                    factor().prop_map(|f| vec![f]),
                    proptest::collection::vec(factor(), c)
                ],
                q_out_table(),
                Just(ConvAttrs {
                    window: attrs,
                    group: c,
                }),
            )
        })
        .prop_filter_map("the window does not fit", int_conv_graph)
}

/// Depthwise IntConvs shaped for the host's channels-in-lanes kernel (`int_conv_dw_lanes`:
/// at least sixteen output channels, small maps): channel counts just under a multiple of sixteen,
/// channel multipliers of 1 and 2, kernels 1 to 5 wide, strides 1 and 2, uneven padding,
/// dilation, 1-D too, and now and then biases of 2^30 or more (the kernel's i64 path).
fn int_conv_dw_lanes() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    dw_lanes_cases(16, 0..3, 1..14, 1..34, 1..3)
}

/// Depthwise IntConvs for AVX2's eight lanes at stride 2 along the width on maps past
/// AVX-512's limit for it (`INT_DW_LANES_MAP`, 144 outputs): channel counts just under a
/// multiple of eight, several bands of output rows; otherwise as [`int_conv_dw_lanes`].
fn int_conv_dw_lanes8_s2() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    dw_lanes_cases(8, 0..2, 24..48, 34..64, 2..3)
}

/// The lanes families: `lanes * k - less` input channels (k of 1 to 3), heights, widths and
/// strides along the width as given, the rest drawn alike.
fn dw_lanes_cases(
    lanes: usize,
    less: std::ops::Range<usize>,
    heights: std::ops::Range<usize>,
    widths: std::ops::Range<usize>,
    sws: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        (1usize..4, less), // input channels: lanes * k less some
        1usize..3,         // channel multiplier
        heights,
        widths,
        1usize..6,                               // kernel height
        1usize..6,                               // kernel width
        1usize..3,                               // stride along the height
        sws,                                     // along the width
        proptest::collection::vec(0usize..3, 4), // pads
        // Dilation 2 when 0; 1-D when 0; biases of 2^30 and more when 0.
        (0usize..6, 0usize..6, 0usize..5),
    )
        .prop_flat_map(
            move |(d, (k, less), mult, h, w, kh, kw, sh, sw, pads, (dil, one_d, wide))| {
                let c = lanes * k - less;
                let dil = if dil == 0 { 2 } else { 1 };
                let m = c * mult;
                let (xs, ws, attrs) =
                    depthwise_shapes(one_d == 0, [c, m, h, w, kh, kw, sh, sw, dil], pads);
                // Biases of 2^30 and more (some within a sum's reach of i32's limits) take
                // factors near 2^-30, so their outputs are not all clamped.
                let (bias, factor) = if wide == 0 {
                    (wide_bias(m).boxed(), tiny_factor().boxed())
                } else {
                    (bias(m).boxed(), factor().boxed())
                };
                (
                    q8_tensor(d, xs),
                    i8_tensor(ws),
                    proptest::option::of(bias),
                    zero(d),
                    prop_oneof![
                        factor.clone().prop_map(|f| vec![f]),
                        proptest::collection::vec(factor, m)
                    ],
                    q_out_table(),
                    Just(ConvAttrs {
                        window: attrs,
                        group: c,
                    }),
                )
            },
        )
        .prop_filter_map("the window does not fit", int_conv_graph)
}

/// IntConvs of one group shaped for the quad kernels (`--intrinsics`): rows long enough
/// for the wide-row kernel or not, more than one panel of sixteen outputs, channel counts
/// off a multiple of four, strides, padding and row dilation, 1-D too.
fn int_conv_wide() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    int_conv_wide_with(false)
}

/// [`int_conv_wide`], with [`wide_bias`] biases where `wide`.
fn int_conv_wide_with(wide: bool) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        1usize..40,    // channels in
        1usize..40,    // channels out
        1usize..6,     // height
        6usize..48,    // width
        1usize..4,     // kernel
        1usize..3,     // stride
        0usize..2,     // pad
        1usize..3,     // dilation along the height
        any::<bool>(), // one-dimensional
    )
        .prop_flat_map(move |(d, c, m, h, w, k, s, p, dil, one_d)| {
            let h = if one_d { 1 } else { h };
            let (xs, ws, dils) = if one_d {
                (vec![1, c, w], vec![m, c, k], vec![1])
            } else {
                (vec![1, c, h, w], vec![m, c, k, k], vec![dil, 1])
            };
            let rank = xs.len() - 2;
            let attrs = ConvAttrs {
                window: WindowAttrs {
                    auto_pad: AutoPad::NotSet,
                    kernel_shape: vec![k; rank],
                    strides: vec![s; rank],
                    dilations: dils,
                    pads: vec![p; 2 * rank],
                    ceil_mode: false,
                },
                group: 1,
            };
            let (bias, factor) = if wide {
                (wide_bias(m).prop_map(Some).boxed(), tiny_factor().boxed())
            } else {
                (
                    proptest::option::of(bias(m)).boxed(),
                    small_factor().boxed(),
                )
            };
            (
                q8_tensor(d, xs),
                i8_tensor(ws),
                bias,
                zero(d),
                prop_oneof![
                    factor.clone().prop_map(|f| vec![f]),
                    proptest::collection::vec(factor, m)
                ],
                q_out_table(),
                Just(attrs),
            )
        })
        .prop_filter_map("the window does not fit", int_conv_graph)
}

/// A factor between about 2^-14 and 2^-8, for sums over hundreds of products.
fn small_factor() -> impl Strategy<Value = Requant> {
    (-14i32..-8, 1.0f32..2.0).prop_map(|(e, m)| Requant::from_f32(m * 2f32.powi(e)).unwrap())
}

fn int_gemm() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    int_gemm_of(1..5, 1..40, 1..20)
}

/// IntGemms of `rows x k` by `k x n`.
fn int_gemm_of(
    rows: std::ops::Range<usize>,
    k: std::ops::Range<usize>,
    n: std::ops::Range<usize>,
) -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (q8_type(), rows, k, n).prop_flat_map(|(d, rows, k, n)| {
        (
            q8_tensor(d, vec![rows, k]),
            i8_tensor(vec![k, n]),
            proptest::option::of(bias(n)),
            zero(d),
            prop_oneof![
                factor().prop_map(|f| vec![f]),
                proptest::collection::vec(factor(), n)
            ],
            q_out_table(),
        )
            .prop_map(|(a, b, bias, za, rq, (out, table))| {
                let mut bd = Builder::new();
                let a = bd.input(a);
                let b = bd.constant(b);
                let bias = bias.map(|t| bd.constant(t));
                let op = Op::Int(IntOp::Gemm(IntGemmAttrs {
                    a_zero: za,
                    requant: rq,
                    out,
                    table,
                }));
                let y = bd.node(op, "Gemm", vec![Some(a), Some(b), bias]);
                bd.finish(y)
            })
    })
}

fn int_matmul() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        q8_type(),
        1usize..3,
        1usize..6,
        1usize..20,
        1usize..9,
        any::<bool>(),
    )
        .prop_flat_map(|(da, db, batch, m, k, n, batched)| {
            let bs = if batched {
                vec![batch, k, n]
            } else {
                vec![k, n]
            };
            (
                q8_tensor(da, vec![batch, m, k]),
                q8_tensor(db, bs),
                zero(da),
                zero(db),
                factor(),
                q_out(),
            )
                .prop_map(|(a, b, za, zb, rq, out)| {
                    let mut bd = Builder::new();
                    let a = bd.input(a);
                    let b = bd.input(b);
                    let op = Op::Int(IntOp::MatMul(IntMatMulAttrs {
                        a_zero: za,
                        b_zero: zb,
                        requant: rq,
                        out,
                    }));
                    let y = bd.node(op, "MatMul", vec![Some(a), Some(b)]);
                    bd.finish(y)
                })
        })
}

fn int_binary() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        q8_type(),
        any::<bool>(),
        1usize..4,
        1usize..9,
        0usize..3,
    )
        .prop_flat_map(|(da, db, add, c, w, bcast)| {
            let a_shape = vec![1, c, w];
            // B: the same shape, one value per channel, or one value.
            let b_shape = match bcast {
                0 => vec![1, c, w],
                1 => vec![c, 1],
                _ => vec![1],
            };
            let kind = if add {
                IntBinaryKind::Add
            } else {
                IntBinaryKind::Mul
            };
            (
                q8_tensor(da, a_shape),
                q8_tensor(db, b_shape),
                zero(da),
                zero(db),
                // One draw in four with scales whose ratios are powers of two, so many
                // results fall exactly halfway between two integers (round half to even).
                prop_oneof![
                    3 => (0.001f64..0.1, 0.001f64..0.1, 0.001f64..0.5),
                    1 => (0u32..3).prop_map(|k| (0.5, 0.25, 2f64.powi(k as i32 - 2))),
                ],
                q_out(),
            )
                .prop_map(move |(a, b, za, zb, scales, out)| {
                    let attrs =
                        IntBinaryAttrs::new(kind, [za, zb], [scales.0, scales.1, scales.2], out)
                            .unwrap();
                    let mut bd = Builder::new();
                    let a = bd.input(a);
                    let b = bd.input(b);
                    let y = bd.node(Op::Int(IntOp::Binary(attrs)), "Add", vec![Some(a), Some(b)]);
                    bd.finish(y)
                })
        })
}

fn int_lut() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (q8_type(), q8_type(), 1usize..300).prop_flat_map(|(d, out, n)| {
        let (lo, hi) = qrange(out).unwrap();
        (
            q8_tensor(d, vec![n]),
            proptest::collection::vec(lo..=hi, 256),
        )
            .prop_map(move |(x, table)| {
                let mut bd = Builder::new();
                let x = bd.input(x);
                let y = bd.node(
                    Op::Int(IntOp::Lut(IntLutAttrs { table, out })),
                    "Sigmoid",
                    vec![Some(x)],
                );
                bd.finish(y)
            })
    })
}

fn int_pool() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        1usize..4,
        1usize..9,
        1usize..9,
        1usize..4,
        1usize..3,
    )
        .prop_flat_map(|(d, c, h, w, k, s)| {
            let (kh, kw) = (k.min(h), k.min(w));
            (q8_tensor(d, vec![1, c, h, w]), zero(d), factor(), q_out()).prop_map(
                move |(x, zx, rq, out)| {
                    let mut bd = Builder::new();
                    let x = bd.input(x);
                    let op = Op::Int(IntOp::AvgPool(IntPoolAttrs {
                        kernel: [kh, kw],
                        strides: [s, s],
                        x_zero: zx,
                        requant: rq,
                        out,
                    }));
                    let y = bd.node(op, "AveragePool", vec![Some(x)]);
                    bd.finish(y)
                },
            )
        })
}

fn int_softmax() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        1usize..4,
        // Rows longer than 256 take the kernel's table of the row's 256 possible outputs.
        prop_oneof![1usize..40, 250usize..700],
        0.01f32..0.3,
        0.001f32..0.01,
    )
        .prop_flat_map(|(d, rows, row, sx, sy)| {
            let out = QOut::new(DType::U8, 0).unwrap();
            (q8_tensor(d, vec![rows, row]), Just((row, sx, sy, out))).prop_map(
                |(x, (row, sx, sy, out))| {
                    let attrs = IntSoftmaxAttrs::new(row, sx, sy, out).unwrap();
                    let mut bd = Builder::new();
                    let x = bd.input(x);
                    let y = bd.node(Op::Int(IntOp::Softmax(attrs)), "Softmax", vec![Some(x)]);
                    bd.finish(y)
                },
            )
        })
}

/// IntSoftmaxes whose outputs are exact ties: rows of one repeated value with an output
/// step of `2 / row`, so each output is 0.5 of a step before rounding (half up: 1), rows
/// short and longer than 256 (the kernel's two paths).
fn int_softmax_ties() -> impl Strategy<Value = (Graph, Vec<Tensor>)> {
    (
        q8_type(),
        1usize..3,
        prop_oneof![Just(2usize), Just(3), Just(300), Just(512)],
        any::<u8>(),
        0.01f32..0.3,
    )
        .prop_map(|(d, rows, row, v, sx)| {
            let out = QOut::new(DType::U8, 0).unwrap();
            let data = match d {
                DType::U8 => TensorData::U8(vec![v; rows * row]),
                _ => TensorData::I8(vec![v as i8; rows * row]),
            };
            let x = Tensor::new(vec![rows, row], data).unwrap();
            let attrs = IntSoftmaxAttrs::new(row, sx, 2.0 / row as f32, out).unwrap();
            let mut bd = Builder::new();
            let x = bd.input(x);
            let y = bd.node(Op::Int(IntOp::Softmax(attrs)), "Softmax", vec![Some(x)]);
            bd.finish(y)
        })
}

/// Compiles every case at -O2, lowered for `target` (the host's by default), and runs them
/// on the host in one runner crate; returns each case's outputs.
fn run_all(
    cases: &[(String, (Graph, Vec<Tensor>))],
    runner_dir: &str,
    target: Option<kiln::ir::Target>,
) -> Vec<Vec<Tensor>> {
    let opts = kiln::CompileOptions {
        target: target.unwrap_or_default(),
        ..Default::default()
    };
    run_with(cases, runner_dir, &opts, Profile::Fast)
}

/// [`run_all`] with these options, the runner built with `profile`.
fn run_with(
    cases: &[(String, (Graph, Vec<Tensor>))],
    runner_dir: &str,
    opts: &kiln::CompileOptions,
    profile: Profile,
) -> Vec<Vec<Tensor>> {
    let compiled: Vec<_> = cases
        .iter()
        .map(|(label, (g, _))| {
            kiln::compile_graph(
                g.clone(),
                "case.onnx",
                String::new(),
                EmitKind::Module,
                opts,
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"))
        })
        .collect();
    let rcases: Vec<Case> = compiled
        .iter()
        .map(|c| Case {
            generated: &c.generated,
        })
        .collect();
    let work = common::repo().join("target").join(runner_dir);
    let runner = harness::build_runner(&rcases, &work, &common::gen_target(), profile).unwrap();
    cases
        .iter()
        .enumerate()
        .map(|(i, (label, (_, feed)))| {
            runner
                .run(i, feed)
                .unwrap_or_else(|e| panic!("{label}: {e}"))
        })
        .collect()
}

#[test]
fn integer_kernels_equal_the_reference_semantics() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("IntConv", draw(&mut runner, int_conv(), 40)),
        ("IntGemm", draw(&mut runner, int_gemm(), 16)),
        ("IntMatMul", draw(&mut runner, int_matmul(), 16)),
        ("IntAdd/IntMul", draw(&mut runner, int_binary(), 24)),
        ("IntLut", draw(&mut runner, int_lut(), 8)),
        ("IntAvgPool", draw(&mut runner, int_pool(), 12)),
        ("IntSoftmax", draw(&mut runner, int_softmax(), 8)),
        (
            "IntSoftmax (ties)",
            draw(&mut runner, int_softmax_ties(), 6),
        ),
    ]);
    check_exact(&cases, &run_all(&cases, "kiln-int-runner", None));
}

/// Depthwise IntConvs on a host with vector registers (x86-64 with AVX-512, as the
/// benchmarks build): at strides 1 and 2 along the width the plane kernel
/// (`int_conv_dw_plane`, the input channel's padded plane in the arena's scratch), on small
/// maps the lanes kernel (sixteen channels a vector; eight for AVX2, every case run again,
/// as AVX2 takes larger maps at stride 2 in lanes), with one channel `int_conv_dw`; each
/// must give the reference semantics' integers exactly.
#[test]
fn depthwise_integer_kernels_on_a_host_equal_the_reference_semantics() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("IntConv (depthwise)", draw(&mut runner, int_conv_dw(), 48)),
        (
            "IntConv (depthwise, lanes)",
            draw(&mut runner, int_conv_dw_lanes(), 32),
        ),
        // One channel: no plane or lanes (those need two), so `int_conv_dw`.
        (
            "IntConv (depthwise, one channel)",
            draw(&mut runner, int_conv_dw_channels(1..2), 24),
        ),
    ]);
    let opts = kiln::CompileOptions {
        target: kiln::ir::Target::X86_64V4,
        ..Default::default()
    };
    let kernels: Vec<String> = cases
        .iter()
        .map(|(label, (g, _))| {
            let c = kiln::compile_graph(
                g.clone(),
                "case.onnx",
                String::new(),
                EmitKind::Module,
                &opts,
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"));
            c.generated.files[0].contents.clone()
        })
        .collect();
    let took = |name: &str| {
        kernels
            .iter()
            .filter(|t| t.contains(&format!("{name}(")))
            .count()
    };
    let (plane, lanes, runs) = (
        took("int_conv_dw_plane"),
        took("int_conv_dw_lanes"),
        took("int_conv_dw"),
    );
    // Eight in ten of the first family's draws are at strides 1 or 2 along the width (see
    // `int_conv_dw`), most with two channels or more; most of the second's maps are small
    // enough for the lanes.
    assert!(
        plane >= 24,
        "only {plane} of {} cases took the plane kernel",
        cases.len()
    );
    assert!(
        lanes >= 16,
        "only {lanes} of {} cases took the lanes kernel",
        cases.len()
    );
    // Eight in ten of the one-channel family's draws are at strides 1 or 2 along the width.
    assert!(
        runs >= 12,
        "only {runs} of {} cases took int_conv_dw",
        cases.len()
    );
    let outputs = run_with(&cases, "kiln-int-runner-dw", &opts, Profile::Fast);
    check_exact(&cases, &outputs);
    // AVX2's eight lanes (`x86_64-v3`): every case again, and maps at stride 2 past
    // AVX-512's limit, which eight lanes take too.
    let cases: Vec<_> = cases
        .into_iter()
        .chain(labelled([(
            "IntConv (depthwise, eight lanes, stride 2)",
            draw(&mut runner, int_conv_dw_lanes8_s2(), 12),
        )]))
        .collect();
    let v3 = kiln::CompileOptions {
        target: kiln::ir::Target::X86_64V3,
        ..Default::default()
    };
    let eight = |family: &str| {
        cases
            .iter()
            .filter(|(label, (g, _))| {
                let c = kiln::compile_graph(
                    g.clone(),
                    "case.onnx",
                    String::new(),
                    EmitKind::Module,
                    &v3,
                )
                .unwrap();
                label.starts_with(&format!("{family} #"))
                    && c.generated.files[0].contents.contains("int_conv_dw_lanes(")
            })
            .count()
    };
    let (lanes_family, stride_2) = (
        eight("IntConv (depthwise, lanes)"),
        eight("IntConv (depthwise, eight lanes, stride 2)"),
    );
    assert!(
        lanes_family >= 16 && stride_2 >= 6,
        "only {lanes_family} of the lanes family's cases and {stride_2} of the stride-2 \
         family's took the lanes kernel on x86_64-v3"
    );
    let outputs = run_with(&cases, "kiln-int-runner-dw-v3", &v3, Profile::Fast);
    check_exact(&cases, &outputs);
}

/// IntConv and IntGemm lowered for a Cortex-M4 take the SMLAD kernels (weights packed in
/// quads, the input in 16-bit pairs), in safe Rust and, with `--intrinsics`, the ones
/// written for `SMLAD`/`SXTB16` by inline assembly (a ring of input rows, two positions by
/// two outputs). Built for the host, both run portable arithmetic in place of the
/// instructions, and must give the reference semantics' integers exactly (the assembly
/// itself runs in `tests/device.rs`); so must the safe kernels for a Cortex-M4 without an
/// FPU, which requantize in integers.
#[test]
fn integer_kernels_for_a_cortex_m4_equal_the_reference_semantics() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("IntConv", draw(&mut runner, int_conv(), 40)),
        (
            "IntConv (one group)",
            draw(&mut runner, int_conv_wide(), 24),
        ),
        ("IntConv (depthwise)", draw(&mut runner, int_conv_dw(), 48)),
        ("IntGemm", draw(&mut runner, int_gemm(), 16)),
    ]);
    let m4 = kiln::ir::Target::Thumbv7em { fpu: true };
    let outputs = run_all(&cases, "kiln-int-runner-m4", Some(m4));
    check_exact(&cases, &outputs);
    // A Cortex-M4 without an FPU: the requantization in integers (`requant`) instead.
    let outputs = run_all(
        &cases,
        "kiln-int-runner-m4-nofpu",
        Some(kiln::ir::Target::Thumbv7em { fpu: false }),
    );
    check_exact(&cases, &outputs);
    let opts = kiln::CompileOptions {
        target: m4,
        intrinsics: true,
        ..Default::default()
    };
    let (mut rows, mut depthwise) = (0, 0);
    let dsp = cases
        .iter()
        .filter(|(_, (g, _))| {
            let c = kiln::compile_graph(
                g.clone(),
                "case.onnx",
                String::new(),
                EmitKind::Module,
                &opts,
            )
            .unwrap();
            let text = &c.generated.files[0].contents;
            rows += usize::from(text.contains("int_conv_dsp_rows("));
            depthwise += usize::from(text.contains("int_conv_dw_dsp("));
            let dsp = text.contains("int_conv_dsp_rows(")
                || text.contains("int_conv_dw_dsp(")
                || text.contains("int_conv_dsp(")
                || text.contains("int_gemm_dsp(");
            assert_eq!(dsp, text.contains("#[deny(unsafe_code)]"));
            assert_eq!(dsp, text.contains("mod kiln_dsp"));
            dsp
        })
        .count();
    // Grouped convolutions and Gemms by a variable B take other kernels.
    assert!(
        dsp >= cases.len() / 2 && rows >= 20 && depthwise >= 16,
        "only {dsp} of {} cases took the SMLAD kernels, {rows} the one on input rows, \
         {depthwise} the depthwise one",
        cases.len()
    );
    let outputs = run_with(&cases, "kiln-int-runner-m4-dsp", &opts, Profile::Fast);
    check_exact(&cases, &outputs);
}

/// The same SMLAD kernels in C (`--emit c` for a Cortex-M4), built for the host with gcc
/// under AddressSanitizer and UndefinedBehaviorSanitizer, where `dsp.c`'s portable
/// stand-ins take the place of ACLE's `__smlad`: the reference semantics' integers exactly.
#[test]
fn integer_kernels_in_c_for_a_cortex_m4_equal_the_reference_semantics() {
    let Some(ccs) = common::c::compilers() else {
        return;
    };
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("IntConv", draw(&mut runner, int_conv(), 12)),
        (
            "IntConv (one group)",
            draw(&mut runner, int_conv_wide(), 12),
        ),
        ("IntConv (depthwise)", draw(&mut runner, int_conv_dw(), 32)),
        ("IntGemm", draw(&mut runner, int_gemm(), 8)),
    ]);
    let opts = kiln::CompileOptions {
        target: kiln::ir::Target::Thumbv7em { fpu: true },
        ..Default::default()
    };
    // Every other case for a device whose flash holds the row convolutions' weights as
    // 16-bit pairs (`int_conv_dsp_rows_w`), the others without one (i8 quads).
    let device = kiln::Device::find("stm32l4r5").unwrap();
    let on_device = kiln::CompileOptions {
        target: device.target,
        device: Some(device),
        ..Default::default()
    };
    let work = common::repo().join("target").join("kiln-int-c-m4");
    let (mut depthwise, mut quads, mut pairs) = (0, 0, 0);
    let outputs: Vec<Vec<Tensor>> = cases
        .iter()
        .enumerate()
        .map(|(i, (label, (g, feed)))| {
            let opts = if i % 2 == 0 { &on_device } else { &opts };
            let c = kiln::compile_graph(g.clone(), "case.onnx", String::new(), EmitKind::C, opts)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let source = c.generated.files.iter().map(|f| f.contents.as_str());
            depthwise += usize::from(source.clone().any(|t| t.contains("int_conv_dw_dsp_")));
            quads += usize::from(source.clone().any(|t| t.contains("int_conv_dsp_rows_u8_")));
            quads += usize::from(source.clone().any(|t| t.contains("int_conv_dsp_rows_i8_")));
            pairs += usize::from(source.clone().any(|t| t.contains("int_conv_dsp_rows_w_")));
            common::c::build_and_run(&work.join(i.to_string()), &c.generated, feed, ccs[0])
                .unwrap_or_else(|e| panic!("{label}: {e}"))
        })
        .collect();
    assert!(
        depthwise >= 12 && quads >= 4 && pairs >= 4,
        "only {depthwise} cases took the depthwise kernel, {quads} the row convolution on \
         i8 quads, {pairs} on 16-bit pairs"
    );
    check_exact(&cases, &outputs);
}

/// IntConv and IntGemm with `--intrinsics` for x86-64 with AVX-512 take the quad kernels
/// (u8 by i8 in words of four, weights in panels of sixteen outputs, the zero point taken
/// out by the weights' sums, requantized in f32). Built for the baseline they run the
/// portable tiles; built for this machine (`-C target-cpu=native`), where it has AVX-512
/// VNNI, the `VPDPBUSD` ones; built with `+avx2` (no AVX-512), where the machine has AVX2,
/// the `VPMADDWD` ones. Each must give the reference semantics' integers exactly.
#[test]
fn integer_kernels_with_intrinsics_equal_the_reference_semantics() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("IntConv", draw(&mut runner, int_conv_wide(), 48)),
        ("IntConv (small)", draw(&mut runner, int_conv(), 24)),
        (
            "IntConv (wide biases)",
            draw(&mut runner, int_conv_wide_with(true), 12),
        ),
        (
            "IntGemm",
            draw(&mut runner, int_gemm_of(1..20, 1..80, 1..50), 24),
        ),
    ]);
    let opts = kiln::CompileOptions {
        target: kiln::ir::Target::X86_64V4,
        intrinsics: true,
        ..Default::default()
    };
    // The lowering took the quad kernels (the point of the test).
    let quads = count_quads(&cases, &opts, |_, text, quads| {
        // Its usage comment asks for `deny(unsafe_code)` where it has the module (the
        // quad kernels', which also holds the table pass after a depthwise one).
        let vnni = quads || text.contains("quad_lut(");
        assert_eq!(vnni, text.contains("#[deny(unsafe_code)]"));
        assert_eq!(vnni, text.contains("mod kiln_vnni"));
    });
    assert!(
        quads >= cases.len() * 3 / 4,
        "only {quads} of {} cases took the quad kernels",
        cases.len()
    );
    let portable = run_with(&cases, "kiln-int-runner-quads", &opts, Profile::Fast);
    check_exact(&cases, &portable);
    if host_has_vnni() {
        let native = run_with(
            &cases,
            "kiln-int-runner-quads-native",
            &opts,
            Profile::Native,
        );
        check_exact(&cases, &native);
    } else {
        eprintln!("this machine has no AVX-512 VNNI: the VPDPBUSD tiles are not run here");
    }
    if host_has_avx2() {
        let avx2 = run_with(
            &cases,
            "kiln-int-runner-quads-avx2",
            &opts,
            Profile::X86Avx2,
        );
        check_exact(&cases, &avx2);
    } else {
        eprintln!("this machine has no AVX2: the VPMADDWD tiles are not run here");
    }
}

/// Without `--intrinsics`, x86-64 with AVX2 takes the quad kernels' portable tiles (safe
/// code: the module keeps `forbid(unsafe_code)`, no `kiln_vnni`), faster there than the
/// default kernels; their integers must equal the reference semantics exactly, built for
/// AVX2 where the machine has it (the vectorised form a user gets) and else for the
/// baseline.
#[test]
fn avx2_without_intrinsics_takes_the_portable_quad_tiles_exactly() {
    let mut runner = TestRunner::deterministic();
    let cases = labelled([
        ("IntConv", draw(&mut runner, int_conv_wide(), 24)),
        ("IntConv (small)", draw(&mut runner, int_conv(), 12)),
        (
            "IntGemm",
            draw(&mut runner, int_gemm_of(1..20, 1..80, 1..50), 12),
        ),
    ]);
    let opts = kiln::CompileOptions {
        target: kiln::ir::Target::X86_64V3,
        ..Default::default()
    };
    let quads = count_quads(&cases, &opts, |label, text, _| {
        assert!(
            !text.contains("mod kiln_vnni") && !text.contains("deny(unsafe_code)"),
            "{label}: the portable build has the intrinsics module"
        );
    });
    // Convolutions of fewer than four input channels keep the default kernels.
    assert!(
        quads >= cases.len() / 2,
        "only {quads} of {} cases took the quad kernels",
        cases.len()
    );
    let profile = if host_has_avx2() {
        Profile::X86Avx2
    } else {
        eprintln!("this machine has no AVX2: the portable quad tiles run as baseline code");
        Profile::Fast
    };
    let outputs = run_with(&cases, "kiln-int-runner-quads-portable", &opts, profile);
    check_exact(&cases, &outputs);
}

/// How many of `cases` the lowering under `opts` gave a quad kernel, after `check(label,
/// module text, whether it took one)` on each.
fn count_quads(
    cases: &[(String, Drawn)],
    opts: &kiln::CompileOptions,
    check: impl Fn(&str, &str, bool),
) -> usize {
    cases
        .iter()
        .filter(|(label, (g, _))| {
            let c = kiln::compile_graph(
                g.clone(),
                "case.onnx",
                String::new(),
                EmitKind::Module,
                opts,
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"));
            let text = &c.generated.files[0].contents;
            let quads = text.contains("int_conv_quad_rows(")
                || text.contains("int_conv_quads(")
                || text.contains("int_gemm_quads(");
            check(label, text, quads);
            quads
        })
        .count()
}

fn host_has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn host_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A drawn case: its graph and inputs.
type Drawn = (Graph, Vec<Tensor>);

/// Every case's outputs equal the reference semantics exactly, and most vary.
fn check_exact(cases: &[(String, (Graph, Vec<Tensor>))], outputs: &[Vec<Tensor>]) {
    let mut failures = Vec::new();
    let mut varied = 0;
    for ((label, (graph, feed)), actual) in cases.iter().zip(outputs) {
        let expected = kiln::ir::eval::run(graph, feed)
            .unwrap_or_else(|e| panic!("{label}: reference failed: {e}"));
        for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let c = harness::compare(a, e, 0.0, 0.0);
            if !c.ok {
                failures.push(format!("{label} output {k}: {c:?}"));
            }
            // A case whose outputs are all clamped to one value would test little.
            let v = e.data.to_f64_vec();
            if v.iter().any(|&x| x != v[0]) {
                varied += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        varied * 10 >= cases.len() * 7,
        "only {varied} of {} cases have outputs that are not all one value",
        cases.len()
    );
}

// --- the quantize pass on QDQ graphs ------------------------------------------------

/// Quantization parameters as constants: a scale and a zero point of `dtype`.
fn qparams(bd: &mut Builder, scale: f32, zero: i32, dtype: DType) -> [kiln::ir::ValueId; 2] {
    let s = bd.constant(Tensor::new(vec![], TensorData::F32(vec![scale])).unwrap());
    let z = bd.constant(
        Tensor::new(
            vec![],
            match dtype {
                DType::U8 => TensorData::U8(vec![zero as u8]),
                _ => TensorData::I8(vec![zero as i8]),
            },
        )
        .unwrap(),
    );
    [s, z]
}

fn dq_attrs(axis: i64) -> QuantAttrs {
    QuantAttrs {
        axis,
        block_size: 0,
        output_dtype: None,
    }
}

/// `DequantizeLinear(x)` of a per-tensor quantized value.
fn dq(bd: &mut Builder, x: kiln::ir::ValueId, p: [kiln::ir::ValueId; 2]) -> kiln::ir::ValueId {
    bd.node(
        Op::DequantizeLinear(dq_attrs(1)),
        "DequantizeLinear",
        vec![Some(x), Some(p[0]), Some(p[1])],
    )
}

fn q(bd: &mut Builder, x: kiln::ir::ValueId, p: [kiln::ir::ValueId; 2]) -> kiln::ir::ValueId {
    bd.node(
        Op::QuantizeLinear(dq_attrs(1)),
        "QuantizeLinear",
        vec![Some(x), Some(p[0]), Some(p[1])],
    )
}

/// Per-channel int8 weights of shape `shape` (channels on axis `axis`) with i32 bias at
/// the accumulator's scale, each behind its DequantizeLinear.
fn qdq_weights(
    bd: &mut Builder,
    w: Tensor,
    w_scales: Vec<f32>,
    axis: i64,
    bias: Option<(Tensor, f32)>,
) -> (kiln::ir::ValueId, Option<kiln::ir::ValueId>) {
    let m = w_scales.len();
    let wv = bd.constant(w);
    let ws = bd.constant(Tensor::new(vec![m], TensorData::F32(w_scales.clone())).unwrap());
    let wz = bd.constant(Tensor::new(vec![m], TensorData::I8(vec![0; m])).unwrap());
    let wd = bd.node(
        Op::DequantizeLinear(dq_attrs(axis)),
        "DequantizeLinear",
        vec![Some(wv), Some(ws), Some(wz)],
    );
    let bd_ = bias.map(|(b, sx)| {
        let bv = bd.constant(b);
        let scales: Vec<f32> = w_scales.iter().map(|s| s * sx).collect();
        let bs = bd.constant(Tensor::new(vec![m], TensorData::F32(scales)).unwrap());
        let bz = bd.constant(Tensor::new(vec![m], TensorData::I32(vec![0; m])).unwrap());
        bd.node(
            Op::DequantizeLinear(dq_attrs(0)),
            "DequantizeLinear",
            vec![Some(bv), Some(bs), Some(bz)],
        )
    });
    (wd, bd_)
}

/// A square 2-D window of `k` taps at stride 1, padded by `pad` on every side.
fn window(k: usize, pad: usize) -> WindowAttrs {
    WindowAttrs {
        auto_pad: AutoPad::NotSet,
        kernel_shape: vec![k, k],
        strides: vec![1, 1],
        dilations: vec![1, 1],
        pads: vec![pad; 4],
        ceil_mode: false,
    }
}

/// Which float op sits between the DequantizeLinear and QuantizeLinear nodes.
#[derive(Clone, Copy, Debug)]
enum Pattern {
    Conv,
    Gemm,
    MatMul,
    Add,
    Mul,
    Sigmoid,
    HardSwish,
    GlobalAveragePool,
    MaxPool,
    ConcatRequant,
    Softmax,
    QLinearConv,
    QLinearMatMul,
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        Just(Pattern::Conv),
        Just(Pattern::Gemm),
        Just(Pattern::MatMul),
        Just(Pattern::Add),
        Just(Pattern::Mul),
        Just(Pattern::Sigmoid),
        Just(Pattern::HardSwish),
        Just(Pattern::GlobalAveragePool),
        Just(Pattern::MaxPool),
        Just(Pattern::ConcatRequant),
        Just(Pattern::Softmax),
        Just(Pattern::QLinearConv),
        Just(Pattern::QLinearMatMul),
    ]
}

/// A QDQ graph: a float input quantized (u8, as onnxruntime's quantizer makes
/// activations), the pattern, and the quantized result as the output.
fn qdq_graph() -> impl Strategy<Value = (Pattern, Graph, Vec<Tensor>)> {
    (
        pattern(),
        1usize..9,   // channels
        2usize..9,   // height
        2usize..9,   // width
        1usize..9,   // output channels
        0.5f32..2.0, // scale multipliers
        0.5f32..2.0,
        0i32..=255, // zero points
        0i32..=255,
    )
        .prop_flat_map(|(p, c, h, w, m, ka, kb, za, zy)| {
            let n = c * h * w;
            (
                Just((p, c, h, w, m, ka, kb, za, zy)),
                proptest::collection::vec(-1.0f32..1.0, n),
                proptest::collection::vec(-1.0f32..1.0, n),
                proptest::collection::vec(-127i32..=127, m * c * 9),
                proptest::collection::vec(-2000i32..2000, m),
                proptest::collection::vec(0.5f32..2.0, m),
            )
        })
        .prop_map(|((p, c, h, w, m, ka, kb, za, zy), xa, xb, wq, bq, wk)| {
            let mut bd = Builder::new();
            let shape = vec![1, c, h, w];
            let sx = 2.0 / 255.0 * ka;
            let sy = 2.0 / 255.0 * kb;
            let pa = qparams(&mut bd, sx, za, DType::U8);
            let py = qparams(&mut bd, sy, zy, DType::U8);
            let mut xa_in = bd.input(Tensor::new(shape.clone(), TensorData::F32(xa)).unwrap());
            if matches!(p, Pattern::Gemm | Pattern::MatMul) {
                // Flattened to [1, c * h * w] before it is quantized.
                xa_in = bd.node(
                    Op::Flatten(FlattenAttrs { axis: 1 }),
                    "Flatten",
                    vec![Some(xa_in)],
                );
            }
            let a = q(&mut bd, xa_in, pa);
            let a = dq(&mut bd, a, pa);
            let i8s = |v: &[i32], shape: Vec<usize>| {
                Tensor::new(shape, TensorData::I8(v.iter().map(|&x| x as i8).collect())).unwrap()
            };
            let y = match p {
                Pattern::Conv => {
                    let fan = (c * 9) as f32;
                    let ws: Vec<f32> = wk.iter().map(|k| k / (127.0 * fan.sqrt())).collect();
                    let bias = Tensor::new(vec![m], TensorData::I32(bq)).unwrap();
                    let (wd, bdq) =
                        qdq_weights(&mut bd, i8s(&wq, vec![m, c, 3, 3]), ws, 0, Some((bias, sx)));
                    let attrs = ConvAttrs {
                        window: window(3, 1),
                        group: 1,
                    };
                    bd.node(Op::Conv(attrs), "Conv", vec![Some(a), Some(wd), bdq])
                }
                Pattern::Gemm | Pattern::MatMul => {
                    // Weights [k, m] (MatMul) or [m, k] (Gemm, transB).
                    let fl = a;
                    let k = c * h * w;
                    let wv: Vec<i32> = (0..k * m).map(|i| wq[i % wq.len()]).collect();
                    let ws: Vec<f32> = wk.iter().map(|s| s / (127.0 * (k as f32).sqrt())).collect();
                    if matches!(p, Pattern::Gemm) {
                        let bias = Tensor::new(vec![m], TensorData::I32(bq)).unwrap();
                        let (wd, bdq) =
                            qdq_weights(&mut bd, i8s(&wv, vec![m, k]), ws, 0, Some((bias, sx)));
                        let attrs = GemmAttrs {
                            trans_b: true,
                            ..Default::default()
                        };
                        bd.node(Op::Gemm(attrs), "Gemm", vec![Some(fl), Some(wd), bdq])
                    } else {
                        let (wd, _) = qdq_weights(&mut bd, i8s(&wv, vec![k, m]), ws, 1, None);
                        bd.node(Op::MatMul, "MatMul", vec![Some(fl), Some(wd)])
                    }
                }
                Pattern::Add | Pattern::Mul | Pattern::ConcatRequant => {
                    let pb = qparams(&mut bd, sy * 0.7, 255 - za, DType::U8);
                    let xb_in = bd.input(Tensor::new(shape.clone(), TensorData::F32(xb)).unwrap());
                    let b = q(&mut bd, xb_in, pb);
                    let b = dq(&mut bd, b, pb);
                    match p {
                        Pattern::Add => {
                            bd.node(Op::Binary(BinaryOp::Add), "Add", vec![Some(a), Some(b)])
                        }
                        Pattern::Mul => {
                            bd.node(Op::Binary(BinaryOp::Mul), "Mul", vec![Some(a), Some(b)])
                        }
                        _ => bd.node(
                            Op::Concat(ConcatAttrs { axis: 1 }),
                            "Concat",
                            vec![Some(a), Some(b)],
                        ),
                    }
                }
                Pattern::Sigmoid => bd.node(
                    Op::Activation(Activation::Swish { alpha: 1.0 }),
                    "Swish",
                    vec![Some(a)],
                ),
                Pattern::HardSwish => bd.node(
                    Op::Activation(Activation::HardSwish),
                    "HardSwish",
                    vec![Some(a)],
                ),
                Pattern::QLinearConv | Pattern::QLinearMatMul => {
                    // The quantized input itself (not its DequantizeLinear), with constant
                    // scales and zero points.
                    let xq = bd
                        .graph()
                        .node_ids()
                        .last()
                        .map(|n| bd.graph().node(n).inputs[0])
                        .unwrap();
                    let fan = (c * 9) as f32;
                    let ws: Vec<f32> = wk.iter().map(|k| k / (127.0 * fan.sqrt())).collect();
                    let f32c = |bd: &mut Builder, v: Vec<f32>, shape: Vec<usize>| {
                        bd.constant(Tensor::new(shape, TensorData::F32(v)).unwrap())
                    };
                    let wsv = f32c(&mut bd, ws, vec![m]);
                    let wz = bd.constant(Tensor::new(vec![m], TensorData::I8(vec![0; m])).unwrap());
                    if matches!(p, Pattern::QLinearConv) {
                        let w = bd.constant(i8s(&wq, vec![m, c, 3, 3]));
                        let b = bd.constant(Tensor::new(vec![m], TensorData::I32(bq)).unwrap());
                        let attrs = ConvAttrs {
                            window: window(3, 1),
                            group: 1,
                        };
                        bd.node(
                            Op::QLinearConv(attrs),
                            "QLinearConv",
                            vec![
                                xq,
                                Some(pa[0]),
                                Some(pa[1]),
                                Some(w),
                                Some(wsv),
                                Some(wz),
                                Some(py[0]),
                                Some(py[1]),
                                Some(b),
                            ],
                        )
                    } else {
                        // [1, c, h, w] by [w, m]: a stack of matrices by one.
                        let wv: Vec<i32> = (0..w * m).map(|i| wq[i % wq.len()]).collect();
                        let wm = bd.constant(i8s(&wv, vec![w, m]));
                        let one = f32c(&mut bd, vec![0.01], vec![]);
                        let wz1 =
                            bd.constant(Tensor::new(vec![], TensorData::I8(vec![0])).unwrap());
                        bd.node(
                            Op::QLinearMatMul,
                            "QLinearMatMul",
                            vec![
                                xq,
                                Some(pa[0]),
                                Some(pa[1]),
                                Some(wm),
                                Some(one),
                                Some(wz1),
                                Some(py[0]),
                                Some(py[1]),
                            ],
                        )
                    }
                }
                Pattern::Softmax => bd.node(
                    Op::Softmax(SoftmaxAttrs {
                        axis: -1,
                        coerce_2d: false,
                    }),
                    "Softmax",
                    vec![Some(a)],
                ),
                Pattern::GlobalAveragePool => {
                    bd.node(Op::GlobalAveragePool, "GlobalAveragePool", vec![Some(a)])
                }
                Pattern::MaxPool => {
                    let attrs = MaxPoolAttrs {
                        window: window(2, 0),
                        storage_order: 0,
                    };
                    bd.node(Op::MaxPool(attrs), "MaxPool", vec![Some(a)])
                }
            };
            // The QOperator ops give their quantized output themselves.
            let y = match p {
                Pattern::QLinearConv | Pattern::QLinearMatMul => y,
                _ => q(&mut bd, y, py),
            };
            let (g, feed) = bd.finish(y);
            (p, g, feed)
        })
}

#[test]
fn quantize_pass_makes_qdq_graphs_integer_within_one_step() {
    let mut runner = TestRunner::deterministic();
    let drawn: Vec<(Pattern, Graph, Vec<Tensor>)> = (0..60)
        .map(|_| {
            qdq_graph()
                .new_tree(&mut runner)
                .expect("strategy")
                .current()
        })
        .collect();
    let mut cases = Vec::new();
    for (i, (p, g, feed)) in drawn.iter().enumerate() {
        // The pass must have made the pattern's op integer.
        let mut planned = g.clone();
        kiln::passes::quantize::quantize_qdq(&mut planned)
            .unwrap_or_else(|e| panic!("{p:?} #{i}: {e}"));
        let float_left: Vec<&str> = planned
            .node_ids()
            .map(|n| &planned.node(n).op)
            .filter(|op| {
                !matches!(
                    op,
                    Op::Int(_)
                        | Op::QuantizeLinear(_)
                        | Op::Flatten(_)
                        | Op::MaxPool(_)
                        | Op::Concat(_)
                )
            })
            .map(|op| op.name())
            .collect();
        assert!(
            float_left.is_empty(),
            "{p:?} #{i}: float ops left after the quantize pass: {float_left:?}"
        );
        cases.push((format!("{p:?} #{i}"), (g.clone(), feed.clone())));
    }
    let outputs = run_all(&cases, "kiln-qdq-runner", None);
    let (mut off, mut total, mut varied) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for ((label, (graph, feed)), actual) in cases.iter().zip(outputs) {
        // The float QDQ graph, evaluated as imported.
        let expected = kiln::ir::eval::run(graph, feed)
            .unwrap_or_else(|e| panic!("{label}: reference failed: {e}"));
        let (a, e) = (actual[0].data.to_f64_vec(), expected[0].data.to_f64_vec());
        total += a.len();
        if e.iter().any(|&v| v != e[0]) {
            varied += 1;
        }
        for (x, y) in a.iter().zip(&e) {
            if (x - y).abs() > 1.0 {
                failures.push(format!("{label}: {x} against {y}"));
            } else if x != y {
                off += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "off by more than one step:\n{}",
        failures.join("\n")
    );
    // Ties are rare: a result must land within float rounding of a half step.
    assert!(
        off * 100 <= total,
        "{off} of {total} elements differ by one step: more than ties explain"
    );
    // Outputs clamped to one value would test little.
    assert!(
        varied * 10 >= cases.len() * 7,
        "only {varied} of {} cases have outputs that are not all one value",
        cases.len()
    );
    eprintln!("quantize pass: {off} of {total} elements one step off the float QDQ graph");
}
