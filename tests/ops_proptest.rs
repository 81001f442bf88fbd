//! Property tests: for each op, random shapes, attributes and data; the generated code must
//! agree with the reference semantics (`kiln_ir` on ndarray).
//!
//! Compiling generated code is the slow part, so proptest's strategies draw a fixed number of
//! cases per op (deterministic seed), all cases go into one runner crate and one build, and
//! each is compared with the reference. A failure names the op and the case.

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::ops::rnn::{Direction, RnnKind};
use kiln::ir::ops::*;
use kiln::ir::{DType, Graph, Node, Op, Tensor, TensorData, TensorType, ValueKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// Cases per op family.
const CASES: usize = 12;

/// A one-node graph: `run_inputs` become graph inputs, `consts` constants, in ONNX order.
#[derive(Clone, Debug)]
struct OneOp {
    op: Op,
    /// (tensor, is_constant); `None` is an omitted optional input.
    inputs: Vec<Option<(Tensor, bool)>>,
    outputs: usize,
}

impl OneOp {
    fn graph(&self) -> Result<(Graph, Vec<Tensor>), String> {
        let mut g = Graph::new("case");
        let mut ins = Vec::new();
        let mut feed = Vec::new();
        for (i, inp) in self.inputs.iter().enumerate() {
            ins.push(inp.as_ref().map(|(t, is_const)| {
                if *is_const {
                    g.add_value(format!("c{i}"), t.ty(), ValueKind::Const(t.clone()))
                } else {
                    let v = g.add_value(format!("x{i}"), t.ty(), ValueKind::Input);
                    g.inputs.push(v);
                    feed.push(t.clone());
                    v
                }
            }));
        }
        let infer_in: Vec<Option<InferInput>> = ins
            .iter()
            .map(|i| {
                i.map(|v| {
                    let val = g.value(v);
                    InferInput {
                        ty: &val.ty,
                        value: val.const_tensor(),
                    }
                })
            })
            .collect();
        let types = self.op.infer(&infer_in)?;
        let outs: Vec<_> = types
            .into_iter()
            .take(self.outputs)
            .enumerate()
            .map(|(k, t)| g.add_value(format!("y{k}"), t, ValueKind::Activation))
            .collect();
        g.outputs = outs.clone();
        g.add_node(Node {
            name: "n".into(),
            op: self.op.clone(),
            inputs: ins,
            outputs: outs,
            onnx_op: self.op.name().into(),
            opset: 13,
            epilogue: Vec::new(),
            merged: Vec::new(),
        });
        Ok((g, feed))
    }
}

fn f32_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(-4.0f32..4.0, n)
        .prop_map(move |v| Tensor::new(shape.clone(), TensorData::F32(v)).unwrap())
}

fn i32_tensor(shape: Vec<usize>, nonzero: bool) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    proptest::collection::vec(-50i32..50, n).prop_map(move |mut v| {
        if nonzero {
            v.iter_mut().filter(|x| **x == 0).for_each(|x| *x = 7);
        }
        Tensor::new(shape.clone(), TensorData::I32(v)).unwrap()
    })
}

fn auto_pad() -> impl Strategy<Value = AutoPad> {
    prop_oneof![
        Just(AutoPad::NotSet),
        Just(AutoPad::SameUpper),
        Just(AutoPad::SameLower),
        Just(AutoPad::Valid)
    ]
}

fn window(kernel: Option<Vec<usize>>, dims: usize) -> impl Strategy<Value = WindowAttrs> {
    (
        auto_pad(),
        proptest::collection::vec(1usize..3, dims),
        proptest::collection::vec(1usize..3, dims),
        proptest::collection::vec(0usize..3, 2 * dims),
        any::<bool>(),
        proptest::collection::vec(1usize..4, dims),
    )
        .prop_map(
            move |(auto_pad, strides, dilations, pads, ceil_mode, k)| WindowAttrs {
                auto_pad,
                kernel_shape: kernel.clone().unwrap_or(k),
                strides,
                dilations,
                pads: if auto_pad == AutoPad::NotSet {
                    pads
                } else {
                    vec![]
                },
                ceil_mode,
            },
        )
}

fn conv() -> impl Strategy<Value = OneOp> {
    // Kernels up to 3 wide and up to 5 output channels a group, so the generated kernel's
    // blocks of four channels, its remainders and its 3-tap rows are all drawn.
    (
        1usize..3,
        1usize..3,
        1usize..3,
        1usize..6,
        1usize..4,
        proptest::collection::vec(3usize..10, 1..3),
        any::<bool>(),
    )
        .prop_flat_map(|(n, group, ci, mo, k, spatial, bias)| {
            let dims = spatial.len();
            let mut xs = vec![n, group * ci];
            xs.extend(&spatial);
            let mut ws = vec![group * mo, ci];
            ws.extend(vec![k; dims]);
            let m = group * mo;
            (
                f32_tensor(xs),
                f32_tensor(ws),
                f32_tensor(vec![m]),
                window(None, dims).prop_map(|mut w| {
                    w.kernel_shape.clear();
                    w.ceil_mode = false;
                    w
                }),
                Just((group, bias)),
            )
        })
        .prop_map(|(x, w, b, window, (group, bias))| OneOp {
            op: Op::Conv(ConvAttrs { window, group }),
            inputs: vec![Some((x, false)), Some((w, true)), bias.then_some((b, true))],
            outputs: 1,
        })
}

fn gemm() -> impl Strategy<Value = OneOp> {
    (
        1usize..6,
        1usize..6,
        1usize..6,
        any::<bool>(),
        any::<bool>(),
        0usize..6,
        -2.0f32..2.0,
        -2.0f32..2.0,
    )
        .prop_flat_map(|(m, k, n, ta, tb, c_kind, alpha, beta)| {
            let a = if ta { vec![k, m] } else { vec![m, k] };
            let b = if tb { vec![n, k] } else { vec![k, n] };
            let c = match c_kind {
                0 => vec![],
                1 => vec![n],
                2 => vec![1, n],
                3 => vec![m, n],
                _ => vec![m, 1],
            };
            (
                f32_tensor(a),
                f32_tensor(b),
                f32_tensor(c),
                Just((ta, tb, c_kind, alpha, beta)),
            )
        })
        .prop_map(|(a, b, c, (trans_a, trans_b, c_kind, alpha, beta))| OneOp {
            op: Op::Gemm(GemmAttrs {
                alpha,
                beta,
                trans_a,
                trans_b,
            }),
            inputs: vec![
                Some((a, false)),
                Some((b, true)),
                (c_kind < 5).then_some((c, true)),
            ],
            outputs: 1,
        })
}

fn matmul() -> impl Strategy<Value = OneOp> {
    (
        proptest::collection::vec(1usize..3, 0..3),
        1usize..5,
        1usize..5,
        1usize..5,
        0usize..4,
    )
        .prop_flat_map(|(batch, m, k, n, form)| {
            let (a, b) = match form {
                0 => (vec![k], [batch.clone(), vec![k, n]].concat()),
                1 => ([batch.clone(), vec![m, k]].concat(), vec![k]),
                2 => ([batch.clone(), vec![m, k]].concat(), vec![k, n]),
                _ => (vec![m, k], [batch.clone(), vec![k, n]].concat()),
            };
            (f32_tensor(a), f32_tensor(b))
        })
        .prop_map(|(a, b)| OneOp {
            op: Op::MatMul,
            inputs: vec![Some((a, false)), Some((b, false))],
            outputs: 1,
        })
}

/// Two shapes that broadcast: a common shape with some axes set to 1 and leading axes dropped.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    proptest::collection::vec((1usize..4, any::<bool>(), any::<bool>()), 0..4).prop_flat_map(
        |dims| {
            let a: Vec<usize> = dims
                .iter()
                .map(|&(d, one, _)| if one { 1 } else { d })
                .collect();
            let b: Vec<usize> = dims
                .iter()
                .map(|&(d, _, one)| if one { 1 } else { d })
                .collect();
            let r = a.len();
            (Just(a), Just(b), 0..=r).prop_map(|(a, b, drop)| (a, b[drop..].to_vec()))
        },
    )
}

fn binary() -> impl Strategy<Value = OneOp> {
    let ops = prop_oneof![
        Just(BinaryOp::Add),
        Just(BinaryOp::Sub),
        Just(BinaryOp::Mul),
        Just(BinaryOp::Div)
    ];
    (ops, broadcast_pair(), any::<bool>(), any::<bool>())
        .prop_flat_map(|(op, (sa, sb), int, swap)| {
            let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
            let nonzero = op == BinaryOp::Div;
            let pair = if int {
                (i32_tensor(sa, false), i32_tensor(sb, nonzero)).boxed()
            } else {
                (
                    f32_tensor(sa),
                    f32_tensor(sb).prop_map(move |t| {
                        if !nonzero {
                            return t;
                        }
                        let TensorData::F32(v) = &t.data else {
                            unreachable!()
                        };
                        // Keep divisors away from zero so f32 rounding stays within tolerance.
                        let v = v
                            .iter()
                            .map(|x| if x.abs() < 0.25 { 0.5 } else { *x })
                            .collect();
                        Tensor::new(t.shape.clone(), TensorData::F32(v)).unwrap()
                    }),
                )
                    .boxed()
            };
            (Just(op), pair)
        })
        .prop_map(|(op, (a, b))| OneOp {
            op: Op::Binary(op),
            inputs: vec![Some((a, false)), Some((b, false))],
            outputs: 1,
        })
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..5, 0..4)
}

fn unary() -> impl Strategy<Value = OneOp> {
    let ops = prop_oneof![
        Just(UnaryOp::Relu),
        Just(UnaryOp::Sigmoid),
        Just(UnaryOp::Tanh)
    ];
    (ops, shape().prop_flat_map(f32_tensor)).prop_map(|(op, x)| OneOp {
        op: Op::Unary(op),
        inputs: vec![Some((x, false))],
        outputs: 1,
    })
}

fn clip() -> impl Strategy<Value = OneOp> {
    (
        shape().prop_flat_map(f32_tensor),
        proptest::option::of(-3.0f32..3.0),
        proptest::option::of(-3.0f32..3.0),
        any::<bool>(),
    )
        .prop_map(|(x, lo, hi, as_inputs)| {
            let scalar = |v: f32| Tensor::new(vec![], TensorData::F32(vec![v])).unwrap();
            if as_inputs {
                OneOp {
                    op: Op::Clip(ClipAttrs::default()),
                    inputs: vec![
                        Some((x, false)),
                        lo.map(|v| (scalar(v), false)),
                        hi.map(|v| (scalar(v), false)),
                    ],
                    outputs: 1,
                }
            } else {
                OneOp {
                    op: Op::Clip(ClipAttrs { min: lo, max: hi }),
                    inputs: vec![Some((x, false))],
                    outputs: 1,
                }
            }
        })
}

fn softmax() -> impl Strategy<Value = OneOp> {
    proptest::collection::vec(1usize..5, 1..4)
        .prop_flat_map(|s| {
            let r = s.len() as i64;
            (f32_tensor(s), -r..r, any::<bool>())
        })
        .prop_map(|(x, axis, coerce_2d)| OneOp {
            op: Op::Softmax(SoftmaxAttrs { axis, coerce_2d }),
            inputs: vec![Some((x, false))],
            outputs: 1,
        })
}

fn pools() -> impl Strategy<Value = OneOp> {
    (
        1usize..3,
        1usize..3,
        proptest::collection::vec(3usize..8, 1..3),
        0usize..3,
        any::<bool>(),
    )
        .prop_flat_map(|(n, c, spatial, kind, flag)| {
            let dims = spatial.len();
            let xs = [vec![n, c], spatial].concat();
            (f32_tensor(xs), window(None, dims), Just((kind, flag)))
        })
        .prop_map(|(x, window, (kind, flag))| match kind {
            0 => OneOp {
                op: Op::MaxPool(MaxPoolAttrs {
                    window,
                    storage_order: 0,
                }),
                inputs: vec![Some((x, false))],
                outputs: if flag { 2 } else { 1 },
            },
            1 => OneOp {
                op: Op::AveragePool(AveragePoolAttrs {
                    window,
                    count_include_pad: flag,
                }),
                inputs: vec![Some((x, false))],
                outputs: 1,
            },
            _ => OneOp {
                op: Op::GlobalAveragePool,
                inputs: vec![Some((x, false))],
                outputs: 1,
            },
        })
}

/// MaxPool in the shape `max_pool`'s separable path takes (no indices, no dilation): one-
/// and two-dimensional windows up to 7 wide with strides 1-3 and padding, on rows up to
/// 149 wide (several of its 64-column passes), over values with NaN, -inf and -0.0 among
/// them, whose NaNs and ties it must treat as the direct loop does.
fn max_pools_separable() -> impl Strategy<Value = OneOp> {
    (
        1usize..3,
        prop_oneof![Just(None), (1usize..6).prop_map(Some)],
        3usize..150,
    )
        .prop_flat_map(|(c, h, w)| {
            let spatial: Vec<usize> = h.into_iter().chain([w]).collect();
            let dims = spatial.len();
            let kernel: Vec<BoxedStrategy<usize>> = spatial
                .iter()
                .map(|&d| (1usize..=d.min(7)).boxed())
                .collect();
            (
                edgy_f32_tensor([vec![1, c], spatial].concat()),
                kernel,
                proptest::collection::vec(1usize..4, dims),
                proptest::collection::vec(0usize..3, 2 * dims),
                auto_pad(),
                any::<bool>(),
            )
        })
        .prop_map(|(x, kernel, strides, pads, auto_pad, ceil_mode)| {
            let dims = kernel.len();
            // Pads smaller than the window, as the operator requires.
            let pads = pads
                .iter()
                .enumerate()
                .map(|(i, &p)| p.min(kernel[i % dims] - 1))
                .collect();
            OneOp {
                op: Op::MaxPool(MaxPoolAttrs {
                    window: WindowAttrs {
                        auto_pad,
                        kernel_shape: kernel,
                        strides,
                        dilations: vec![1; dims],
                        pads: if auto_pad == AutoPad::NotSet {
                            pads
                        } else {
                            vec![]
                        },
                        ceil_mode,
                    },
                    storage_order: 0,
                }),
                inputs: vec![Some((x, false))],
                outputs: 1,
            }
        })
}

fn batchnorm() -> impl Strategy<Value = OneOp> {
    (
        1usize..3,
        1usize..4,
        proptest::collection::vec(1usize..5, 0..3),
    )
        .prop_flat_map(|(n, c, rest)| {
            let var = proptest::collection::vec(0.1f32..3.0, c)
                .prop_map(move |v| Tensor::new(vec![c], TensorData::F32(v)).unwrap());
            (
                f32_tensor([vec![n, c], rest].concat()),
                f32_tensor(vec![c]),
                f32_tensor(vec![c]),
                f32_tensor(vec![c]),
                var,
                1e-6f32..1e-2,
                proptest::option::of(0.0f32..1.0),
            )
        })
        .prop_map(|(x, s, b, m, v, epsilon, training_momentum)| OneOp {
            op: Op::BatchNormalization(BatchNormAttrs {
                epsilon,
                training_momentum,
            }),
            inputs: vec![
                Some((x, false)),
                Some((s, true)),
                Some((b, true)),
                Some((m, true)),
                Some((v, true)),
            ],
            // Training mode also outputs the running mean and variance.
            outputs: if training_momentum.is_some() { 3 } else { 1 },
        })
}

fn data_movement() -> impl Strategy<Value = OneOp> {
    (
        proptest::collection::vec(1usize..5, 1..5),
        0usize..4,
        any::<u64>(),
    )
        .prop_flat_map(|(s, kind, seed)| (f32_tensor(s.clone()), Just((s, kind, seed))))
        .prop_flat_map(|(x, (s, kind, seed))| {
            let r = s.len();
            let others = proptest::collection::vec(1usize..4, 0..3).prop_flat_map({
                let s = s.clone();
                move |sizes| {
                    let axis = (seed as usize) % r;
                    sizes
                        .into_iter()
                        .map(|d| {
                            let mut t = s.clone();
                            t[axis] = d;
                            f32_tensor(t)
                        })
                        .collect::<Vec<_>>()
                }
            });
            (Just(x), Just((s, kind, seed)), others)
        })
        .prop_map(|(x, (s, kind, seed), others)| {
            let r = s.len();
            match kind {
                0 => {
                    // Reshape to the reversed shape with one -1.
                    let mut target: Vec<i64> = s.iter().rev().map(|&d| d as i64).collect();
                    target[(seed as usize) % r] = -1;
                    let shape = Tensor::new(vec![r], TensorData::I64(target)).unwrap();
                    OneOp {
                        op: Op::Reshape(ReshapeAttrs::default()),
                        inputs: vec![Some((x, false)), Some((shape, true))],
                        outputs: 1,
                    }
                }
                1 => OneOp {
                    op: Op::Flatten(FlattenAttrs {
                        axis: (seed % (r as u64 + 1)) as i64,
                    }),
                    inputs: vec![Some((x, false))],
                    outputs: 1,
                },
                2 => {
                    // A permutation from the seed (Fisher–Yates with an LCG).
                    let mut perm: Vec<i64> = (0..r as i64).collect();
                    let mut st = seed;
                    for i in (1..r).rev() {
                        st = st
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        perm.swap(i, (st >> 33) as usize % (i + 1));
                    }
                    OneOp {
                        op: Op::Transpose(TransposeAttrs { perm: Some(perm) }),
                        inputs: vec![Some((x, false))],
                        outputs: 1,
                    }
                }
                _ => {
                    let axis =
                        (seed as usize % r) as i64 - if seed % 2 == 0 { r as i64 } else { 0 };
                    let mut inputs = vec![Some((x, false))];
                    inputs.extend(others.into_iter().map(|t| Some((t, false))));
                    OneOp {
                        op: Op::Concat(ConcatAttrs { axis }),
                        inputs,
                        outputs: 1,
                    }
                }
            }
        })
}

/// Pad in every mode on f32 or i32, with crops (negative amounts) on axes long enough to
/// keep an element, amounts longer than the axis, and sometimes an `axes` list.
fn pad() -> impl Strategy<Value = OneOp> {
    (
        proptest::collection::vec(1usize..5, 1..5),
        0usize..4,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_flat_map(|(s, mode, int, seed)| {
            let x = if int {
                i32_tensor(s.clone(), false).boxed()
            } else {
                f32_tensor(s.clone()).boxed()
            };
            let amounts = proptest::collection::vec((-2i64..6, -2i64..6), s.len());
            (x, amounts, Just((mode, seed)))
        })
        .prop_map(|(x, amounts, (mode, seed))| {
            let r = x.shape.len();
            // Crop at most what leaves one element.
            let amounts: Vec<(i64, i64)> = amounts
                .into_iter()
                .zip(&x.shape)
                .map(|((b, e), &n)| {
                    let room = n as i64 - 1;
                    let b = b.max(-room);
                    (b, e.max(-(room + b.min(0))))
                })
                .collect();
            // With an `axes` list: the axes from the seed, as negative indices when odd.
            let (pads, axes) = if seed % 3 == 0 {
                let axes: Vec<usize> = (0..r).filter(|d| (seed >> (d + 2)) & 1 == 1).collect();
                let mut pads: Vec<i64> = axes.iter().map(|&d| amounts[d].0).collect();
                pads.extend(axes.iter().map(|&d| amounts[d].1));
                let named = axes
                    .iter()
                    .map(|&d| d as i64 - if seed % 2 == 1 { r as i64 } else { 0 })
                    .collect();
                (pads, Some(named))
            } else {
                let mut pads: Vec<i64> = amounts.iter().map(|a| a.0).collect();
                pads.extend(amounts.iter().map(|a| a.1));
                (pads, None)
            };
            let mode = [
                PadMode::Constant,
                PadMode::Reflect,
                PadMode::Edge,
                PadMode::Wrap,
            ][mode];
            OneOp {
                op: Op::Pad(PadAttrs {
                    mode,
                    pads,
                    axes,
                    value: (seed % 7) as f64 - 2.5,
                }),
                inputs: vec![Some((x, false))],
                outputs: 1,
            }
        })
}

/// Sqrt (NaN below zero on both sides), Erf and both forms of Gelu on f32.
fn sqrt_erf_gelu() -> impl Strategy<Value = OneOp> {
    (0usize..4, shape().prop_flat_map(f32_tensor)).prop_map(|(k, x)| OneOp {
        op: match k {
            0 => Op::Unary(UnaryOp::Sqrt),
            1 => Op::Unary(UnaryOp::Erf),
            _ => Op::Activation(Activation::Gelu { tanh: k == 3 }),
        },
        inputs: vec![Some((x, false))],
        outputs: 1,
    })
}

/// f32 values where rounding, signs and the tails matter: halves (ties), -0.0, integers
/// beyond 2^23 (already whole), and ordinary values.
fn edgy_f32_tensor(shape: Vec<usize>) -> impl Strategy<Value = Tensor> {
    let n: usize = shape.iter().product();
    let v = prop_oneof![
        4 => -40.0f32..40.0,
        1 => (-20i32..20).prop_map(|k| k as f32 + 0.5),
        1 => Just(-0.0f32),
        1 => Just(3.0e7f32),
        1 => Just(-16_777_215.0f32),
        1 => Just(f32::NAN),
        1 => Just(f32::NEG_INFINITY),
    ];
    proptest::collection::vec(v, n)
        .prop_map(move |v| Tensor::new(shape.clone(), TensorData::F32(v)).unwrap())
}

/// The unary functions and activations added with the edge op set, on f32: the rounding
/// ops and signs on edge values, the transcendental ones on ordinary values.
fn more_unary() -> impl Strategy<Value = OneOp> {
    let ops = [
        Op::Unary(UnaryOp::Floor),
        Op::Unary(UnaryOp::Ceil),
        Op::Unary(UnaryOp::Round),
        Op::Unary(UnaryOp::Abs),
        Op::Unary(UnaryOp::Neg),
        Op::Unary(UnaryOp::Sign),
        Op::Unary(UnaryOp::Reciprocal),
        Op::Unary(UnaryOp::Exp),
        Op::Unary(UnaryOp::Log),
        Op::Unary(UnaryOp::Sin),
        Op::Unary(UnaryOp::Cos),
        Op::Activation(Activation::Elu { alpha: 0.7 }),
        Op::Activation(Activation::Selu {
            alpha: 1.673_263_2,
            gamma: 1.050_701,
        }),
        Op::Activation(Activation::Celu { alpha: 1.5 }),
        Op::Activation(Activation::ThresholdedRelu { alpha: 0.5 }),
        Op::Activation(Activation::Softplus),
        Op::Activation(Activation::Softsign),
        Op::Activation(Activation::Mish),
    ];
    (0..ops.len(), shape(), any::<bool>()).prop_flat_map(move |(k, s, edgy)| {
        let op = ops[k].clone();
        // Sin and Cos are accurate where their argument reduction is exact (|x| < 1.6e6).
        let edgy = edgy && k < 7;
        let x = if edgy {
            edgy_f32_tensor(s).boxed()
        } else {
            f32_tensor(s).boxed()
        };
        x.prop_map(move |x| OneOp {
            op: op.clone(),
            inputs: vec![Some((x, false))],
            outputs: 1,
        })
    })
}

/// IsNaN and IsInf on f32 edge values (NaN, -inf, ...), Shrink and Swish on f32, and the
/// bitwise ops on i32 (And, Or, Xor broadcast).
fn predicates_shrink_swish_bitwise() -> impl Strategy<Value = OneOp> {
    let one = |op: Op, x: Tensor| OneOp {
        op,
        inputs: vec![Some((x, false))],
        outputs: 1,
    };
    prop_oneof![
        shape()
            .prop_flat_map(edgy_f32_tensor)
            .prop_map(move |x| one(Op::Predicate(PredicateOp::IsNaN), x)),
        (
            shape().prop_flat_map(edgy_f32_tensor),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(move |(x, negative, positive)| {
                one(Op::Predicate(PredicateOp::IsInf { negative, positive }), x)
            }),
        (shape().prop_flat_map(f32_tensor), 0.0f32..2.0, -1.0f32..1.0).prop_map(
            move |(x, lambd, bias)| one(Op::Activation(Activation::Shrink { lambd, bias }), x)
        ),
        (shape().prop_flat_map(f32_tensor), -2.0f32..2.0)
            .prop_map(move |(x, alpha)| one(Op::Activation(Activation::Swish { alpha }), x)),
        shape()
            .prop_flat_map(|s| i32_tensor(s, false))
            .prop_map(move |x| one(Op::Unary(UnaryOp::BitwiseNot), x)),
        (
            prop_oneof![
                Just(BinaryOp::BitwiseAnd),
                Just(BinaryOp::BitwiseOr),
                Just(BinaryOp::BitwiseXor)
            ],
            broadcast_pair()
                .prop_flat_map(|(sa, sb)| (i32_tensor(sa, false), i32_tensor(sb, false)))
        )
            .prop_map(|(op, (a, b))| OneOp {
                op: Op::Binary(op),
                inputs: vec![Some((a, false)), Some((b, false))],
                outputs: 1,
            }),
    ]
}

/// Tan, Atan, Asin, Acos, Sinh, Cosh, Asinh, Acosh, Atanh on f32 and f64, over their domains and magnitudes
/// from tiny (Sinh's series, the log1p forms) to large (past e^700 for Sinh and Cosh in f64).
fn tan_and_hyperbolic() -> impl Strategy<Value = OneOp> {
    let ops = [
        UnaryOp::Tan,
        UnaryOp::Atan,
        UnaryOp::Asin,
        UnaryOp::Acos,
        UnaryOp::Sinh,
        UnaryOp::Cosh,
        UnaryOp::Asinh,
        UnaryOp::Acosh,
        UnaryOp::Atanh,
    ];
    (0..ops.len(), shape(), any::<bool>()).prop_flat_map(move |(k, s, f64s)| {
        let op = ops[k];
        let n: usize = s.iter().product();
        // A sign, a decimal exponent and a mantissa, mapped into the op's domain.
        let (lo, hi) = match (op, f64s) {
            (UnaryOp::Tan, _) => (-12.0, 1.0),
            (UnaryOp::Sinh | UnaryOp::Cosh, false) => (-30.0, 1.9),
            (UnaryOp::Sinh | UnaryOp::Cosh, true) => (-300.0, 2.85),
            (UnaryOp::Atanh | UnaryOp::Asin | UnaryOp::Acos, _) => (-30.0, 0.0),
            (_, false) => (-30.0, 30.0),
            (_, true) => (-300.0, 300.0),
        };
        let v = (any::<bool>(), lo..hi, 1.0f64..10.0);
        proptest::collection::vec(v, n).prop_map(move |v| {
            let x: Vec<f64> = v
                .into_iter()
                .map(|(neg, e, m)| {
                    let a = m * 10f64.powf(e);
                    match op {
                        UnaryOp::Acosh => 1.0 + a,
                        UnaryOp::Atanh => (if neg { -a } else { a }).clamp(-0.999, 0.999),
                        UnaryOp::Asin | UnaryOp::Acos => {
                            (if neg { -a } else { a }).clamp(-1.0, 1.0)
                        }
                        _ if neg => -a,
                        _ => a,
                    }
                })
                .collect();
            let data = if f64s {
                TensorData::F64(x)
            } else {
                TensorData::F32(x.into_iter().map(|v| v as f32).collect())
            };
            OneOp {
                op: Op::Unary(op),
                inputs: vec![Some((Tensor::new(s.clone(), data).unwrap(), false))],
                outputs: 1,
            }
        })
    })
}

/// Pow: f32 bases to run-time f32 exponents (broadcast), to constant exponents (the special
/// cases and general ones, in f32 or i64), and i32 bases to run-time i32 exponents.
fn pow() -> impl Strategy<Value = OneOp> {
    let special = prop_oneof![
        Just(2.0f32),
        Just(0.5),
        Just(3.0),
        Just(-1.0),
        Just(-0.5),
        Just(0.0),
        Just(1.0),
        Just(1.5),
        -3.0f32..3.0
    ];
    (broadcast_pair(), 0usize..4, special, any::<bool>())
        .prop_flat_map(|((sa, sb), kind, k, swap)| {
            let (sa, sb) = if swap { (sb, sa) } else { (sa, sb) };
            let ints = i32_tensor(sb.clone(), false).prop_map(|t| {
                // Exponents -3..12, so most powers stay in range.
                let TensorData::I32(v) = &t.data else {
                    unreachable!()
                };
                let v = v.iter().map(|e| e.rem_euclid(16) - 3).collect();
                Tensor::new(t.shape.clone(), TensorData::I32(v)).unwrap()
            });
            (
                f32_tensor(sa.clone()),
                f32_tensor(sb),
                i32_tensor(sa, false),
                ints,
                Just((kind, k)),
            )
        })
        .prop_map(|(x, y, xi, yi, (kind, k))| {
            let (base, exp, is_const) = match kind {
                0 => (x, y, false),
                1 => (
                    x,
                    Tensor::new(vec![], TensorData::F32(vec![k])).unwrap(),
                    true,
                ),
                2 => {
                    let n = Tensor::new(vec![1], TensorData::I64(vec![k.round() as i64])).unwrap();
                    (x, n, true)
                }
                _ => (xi, yi, false),
            };
            OneOp {
                op: Op::Pow,
                inputs: vec![Some((base, false)), Some((exp, is_const))],
                outputs: 1,
            }
        })
}

/// ReduceMean over a random set of axes (none: all, or none at all with
/// noop_with_empty_axes), as an attribute or a constant input, with or without keepdims.
fn reduce_mean() -> impl Strategy<Value = OneOp> {
    proptest::collection::vec(1usize..5, 1..5)
        .prop_flat_map(|s| {
            let r = s.len();
            (
                f32_tensor(s),
                proptest::collection::vec(any::<bool>(), r),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
            )
        })
        .prop_map(|(x, pick, keepdims, as_input, noop)| {
            let r = x.shape.len() as i64;
            // Negative indices for odd positions.
            let axes: Vec<i64> = (0..r)
                .filter(|&d| pick[d as usize])
                .map(|d| if d % 2 == 1 { d - r } else { d })
                .collect();
            let attrs = ReduceAttrs {
                axes: (!as_input).then(|| axes.clone()),
                keepdims,
                noop_with_empty_axes: noop && as_input,
            };
            let operand = as_input.then(|| {
                let t = Tensor::new(vec![axes.len()], TensorData::I64(axes)).unwrap();
                (t, true)
            });
            OneOp {
                op: Op::Reduce(ReduceKind::Mean, attrs),
                inputs: vec![Some((x, false)), operand],
                outputs: 1,
            }
        })
}

/// LayerNormalization at any axis, Scale and B shaped like a trailing part of the
/// normalised shape (constants or run-time inputs), B sometimes absent.
fn layer_norm() -> impl Strategy<Value = OneOp> {
    proptest::collection::vec(1usize..5, 1..5)
        .prop_flat_map(|s| {
            let r = s.len();
            (
                Just(s),
                0..r,
                0..r + 1,
                0usize..3,
                any::<bool>(),
                1e-5f32..1e-2,
            )
        })
        .prop_flat_map(|(s, axis, drop, bias, consts, epsilon)| {
            // Scale/B: the normalised shape with `drop` leading axes dropped (at most all).
            let norm = s[axis..].to_vec();
            let p = norm[drop.min(norm.len())..].to_vec();
            (
                f32_tensor(s),
                f32_tensor(p.clone()),
                f32_tensor(p),
                Just((axis, bias, consts, epsilon)),
            )
        })
        .prop_map(|(x, scale, b, (axis, bias, consts, epsilon))| {
            let r = x.shape.len() as i64;
            OneOp {
                op: Op::LayerNormalization(LayerNormAttrs {
                    axis: if axis % 2 == 1 {
                        axis as i64 - r
                    } else {
                        axis as i64
                    },
                    epsilon,
                }),
                inputs: vec![
                    Some((x, false)),
                    Some((scale, consts)),
                    (bias > 0).then_some((b, consts)),
                ],
                outputs: 1,
            }
        })
}

/// LSTMs and GRUs whose gate rows (4 or 3 times the hidden size, 13 to 39) and inputs (14
/// to 39 wide) take `rnn_gemv`'s blocks of four rows, its 16-lane steps and the columns
/// past them; forward or both directions, weights constant or not, one to three steps.
/// Weights in -0.5..0.5, so the gates are not saturated and an error in a sum shows.
fn recurrent() -> impl Strategy<Value = OneOp> {
    (
        any::<bool>(),
        any::<bool>(),
        (1usize..4, 1usize..3, 14usize..40, 13usize..40),
        any::<bool>(),
    )
        .prop_flat_map(|(lstm, both, (seq, batch, input, hidden), consts)| {
            let (g, dirs) = (if lstm { 4 } else { 3 }, if both { 2 } else { 1 });
            let small = |shape: Vec<usize>| {
                let n: usize = shape.iter().product();
                proptest::collection::vec(-0.5f32..0.5, n)
                    .prop_map(move |v| Tensor::new(shape.clone(), TensorData::F32(v)).unwrap())
            };
            (
                f32_tensor(vec![seq, batch, input]),
                small(vec![dirs, g * hidden, input]),
                small(vec![dirs, g * hidden, hidden]),
                small(vec![dirs, 2 * g * hidden]),
                Just((lstm, both, hidden, consts)),
            )
        })
        .prop_map(|(x, w, r, b, (lstm, both, hidden, consts))| {
            let kind = if lstm { RnnKind::Lstm } else { RnnKind::Gru };
            let direction = if both {
                Direction::Bidirectional
            } else {
                Direction::Forward
            };
            OneOp {
                op: Op::Rnn(RnnAttrs {
                    kind,
                    direction,
                    hidden_size: hidden,
                    activations: RnnAttrs::default_activations(kind, direction),
                    clip: None,
                    input_forget: false,
                    linear_before_reset: false,
                    batch_first: false,
                }),
                inputs: vec![
                    Some((x, false)),
                    Some((w, consts)),
                    Some((r, consts)),
                    Some((b, consts)),
                ],
                outputs: if lstm { 3 } else { 2 },
            }
        })
}

/// Nearest Resize of 4-D tensors: scales 1 to 3 on the height and 0.5 to 3 on the width (2,
/// drawn twice as often, is `resize_nearest`'s doubled rows with the modes that read column
/// d / 2: 8 inputs at a time and then the rest, on rows 2 to 20 wide), four coordinate and
/// every rounding mode.
fn resize_nearest() -> impl Strategy<Value = OneOp> {
    use kiln::ir::ops::resize::{CoordMode, NearestMode, ResizeMode};
    (
        (1usize..3, 1usize..4, 1usize..6, 2usize..21),
        (0usize..3, 0usize..5),
        prop_oneof![
            Just(CoordMode::HalfPixel),
            Just(CoordMode::Asymmetric),
            Just(CoordMode::AlignCorners),
            Just(CoordMode::PytorchHalfPixel),
        ],
        prop_oneof![
            Just(NearestMode::RoundPreferFloor),
            Just(NearestMode::RoundPreferCeil),
            Just(NearestMode::Floor),
            Just(NearestMode::Ceil),
        ],
    )
        .prop_flat_map(|((n, c, h, w), (sh, sw), coord, nearest)| {
            let attrs = ResizeAttrs {
                mode: ResizeMode::Nearest,
                coord,
                nearest,
                scales: Some(vec![
                    1.0,
                    1.0,
                    [1.0, 2.0, 3.0][sh],
                    [2.0, 2.0, 0.5, 1.0, 3.0][sw],
                ]),
                ..Default::default()
            };
            f32_tensor(vec![n, c, h, w]).prop_map(move |x| OneOp {
                op: Op::Resize(attrs.clone()),
                inputs: vec![Some((x, false))],
                outputs: 1,
            })
        })
}

fn draw<S: Strategy<Value = OneOp>>(runner: &mut TestRunner, s: S, n: usize) -> Vec<OneOp> {
    (0..n)
        .map(|_| s.new_tree(runner).expect("strategy").current())
        .collect()
}

#[test]
fn generated_code_agrees_with_reference_semantics() {
    let mut runner = TestRunner::deterministic();
    let mut cases: Vec<(String, OneOp)> = Vec::new();
    let families: Vec<(&str, Vec<OneOp>)> = vec![
        ("conv", draw(&mut runner, conv(), 3 * CASES)),
        ("gemm", draw(&mut runner, gemm(), CASES)),
        ("matmul", draw(&mut runner, matmul(), CASES)),
        ("binary", draw(&mut runner, binary(), 2 * CASES)),
        ("unary", draw(&mut runner, unary(), CASES)),
        ("clip", draw(&mut runner, clip(), CASES)),
        ("softmax", draw(&mut runner, softmax(), CASES)),
        ("pool", draw(&mut runner, pools(), 2 * CASES)),
        (
            "max pool separable",
            draw(&mut runner, max_pools_separable(), 3 * CASES),
        ),
        ("batchnorm", draw(&mut runner, batchnorm(), CASES)),
        (
            "data movement",
            draw(&mut runner, data_movement(), 2 * CASES),
        ),
        ("pad", draw(&mut runner, pad(), 2 * CASES)),
        (
            "resize nearest",
            draw(&mut runner, resize_nearest(), 3 * CASES),
        ),
        ("sqrt erf gelu", draw(&mut runner, sqrt_erf_gelu(), CASES)),
        ("pow", draw(&mut runner, pow(), 3 * CASES)),
        ("more unary", draw(&mut runner, more_unary(), 3 * CASES)),
        ("reduce mean", draw(&mut runner, reduce_mean(), 2 * CASES)),
        ("layer norm", draw(&mut runner, layer_norm(), 2 * CASES)),
        (
            "predicates shrink swish bitwise",
            draw(&mut runner, predicates_shrink_swish_bitwise(), 3 * CASES),
        ),
        (
            "tan and hyperbolic",
            draw(&mut runner, tan_and_hyperbolic(), 4 * CASES),
        ),
        ("recurrent", draw(&mut runner, recurrent(), CASES)),
    ];
    for (family, ops) in families {
        for (i, op) in ops.into_iter().enumerate() {
            cases.push((format!("{family} #{i}"), op));
        }
    }
    let mut built = Vec::new();
    let mut skipped = 0;
    for (label, case) in &cases {
        // Random geometry can be invalid (a window larger than the input); such draws are
        // rejected by shape inference, which is what a model would get too.
        let Ok((graph, feed)) = case.graph() else {
            skipped += 1;
            continue;
        };
        let expected = kiln::ir::eval::run(&graph, &feed)
            .unwrap_or_else(|e| panic!("{label}: reference failed: {e}\n{case:?}"));
        let compiled = kiln::compile_graph(
            graph,
            "case.onnx",
            String::new(),
            EmitKind::Module,
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{label}: {e}\n{case:?}"));
        built.push((label, case, compiled, feed, expected));
    }
    assert!(
        skipped * 4 < cases.len(),
        "too many invalid draws ({skipped} of {}); the strategies need fixing",
        cases.len()
    );
    let work = common::repo().join("target").join("kiln-proptest-runner");
    let rcases: Vec<Case> = built
        .iter()
        .map(|b| Case {
            generated: &b.2.generated,
        })
        .collect();
    let runner =
        harness::build_runner(&rcases, &work, &common::gen_target(), Profile::Fast).unwrap();
    let mut failures = Vec::new();
    for (i, (label, case, _, feed, expected)) in built.iter().enumerate() {
        let actual = runner
            .run(i, feed)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
            let c = harness::compare(a, e, 1e-4, 1e-5);
            if !c.ok {
                failures.push(format!("{label} output {k}: {c:?}\n  {case:?}"));
            }
        }
    }
    eprintln!(
        "{} cases compared ({skipped} invalid draws skipped)",
        built.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        built.len(),
        failures.join("\n")
    );
}

#[test]
fn int_dtypes_are_covered() {
    // The binary strategy must produce integer cases, or integer kernels go untested.
    let mut runner = TestRunner::deterministic();
    let ops = draw(&mut runner, binary(), 2 * CASES);
    assert!(ops.iter().any(|o| {
        o.inputs[0]
            .as_ref()
            .is_some_and(|(t, _)| t.dtype() == DType::I32)
    }));
    let _ = TensorType::new(DType::F32, vec![1]);
}
