//! Each fold and fusion on small graphs: the rewrite must fire (the node it removes is
//! gone) and the graph must compute the same numbers as before, by the reference semantics,
//! over random weights, inputs and shapes (proptest).

use kiln_ir::builder::{Builder, i64s, window};
use kiln_ir::ops::{
    Activation, BatchNormAttrs, BinaryOp, ClipAttrs, ConvAttrs, FlattenAttrs, GemmAttrs,
    TransposeAttrs, UnaryOp,
};
use kiln_ir::{DType, Graph, Op, Tensor, TensorData, ValueId};
use kiln_passes::{cleanup, fold, fuse};
use proptest::prelude::*;

/// Deterministic values in `lo..hi` from `seed`.
fn values(n: usize, seed: u64, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

fn rand_const(
    b: &mut Builder,
    name: &str,
    shape: &[usize],
    seed: u64,
    lo: f32,
    hi: f32,
) -> ValueId {
    let n = shape.iter().product();
    b.constant(name, shape, TensorData::F32(values(n, seed, lo, hi)))
}

fn feed(g: &Graph, seed: u64) -> Vec<Tensor> {
    g.inputs
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let ty = &g.value(v).ty;
            Tensor::from_f32(
                ty.shape.clone(),
                values(ty.numel(), seed + k as u64 * 7919, -2.0, 2.0),
            )
            .unwrap()
        })
        .collect()
}

type PassFn = fn(&mut Graph) -> Result<Vec<String>, String>;

/// Runs `pass` on `g`; checks it fired, left a valid graph without ops of kind `gone`, and
/// computes what the original computed.
fn check(mut g: Graph, pass: PassFn, gone: &[&str], seed: u64) -> Result<(), TestCaseError> {
    let inputs = feed(&g, seed);
    let before = kiln_ir::eval::run(&g, &inputs).map_err(TestCaseError::fail)?;
    let nodes = g.node_count();
    let changes = pass(&mut g).map_err(TestCaseError::fail)?;
    prop_assert!(
        !changes.is_empty(),
        "the rewrite did not fire:\n{}",
        g.dump()
    );
    prop_assert!(g.node_count() < nodes, "no node was removed");
    if let Err(d) = kiln_ir::verify(&g) {
        return Err(TestCaseError::fail(format!("{d:?}\n{}", g.dump())));
    }
    for n in g.node_ids() {
        let op = g.node(n).op.name();
        prop_assert!(!gone.contains(&op), "{op} is still there:\n{}", g.dump());
    }
    let after = kiln_ir::eval::run(&g, &inputs).map_err(TestCaseError::fail)?;
    for (a, e) in after.iter().zip(&before) {
        prop_assert_eq!(&a.shape, &e.shape);
        for (x, y) in a.data.to_f64_vec().iter().zip(e.data.to_f64_vec()) {
            prop_assert!(
                (x - y).abs() <= 1e-5 + 1e-4 * y.abs(),
                "{x} vs {y} (expected)\n{}",
                g.dump()
            );
        }
    }
    Ok(())
}

fn conv(
    b: &mut Builder,
    x: ValueId,
    c_in: usize,
    c_out: usize,
    k: usize,
    bias: bool,
    seed: u64,
) -> ValueId {
    let w = rand_const(b, "w", &[c_out, c_in, k, k], seed, -1.0, 1.0);
    let op = Op::Conv(ConvAttrs {
        window: window(&[], &[], &[k / 2, k / 2, k / 2, k / 2]),
        group: 1,
    });
    if bias {
        let bb = rand_const(b, "b", &[c_out], seed + 1, -1.0, 1.0);
        b.one(op, &[x, w, bb])
    } else {
        b.one(op, &[x, w])
    }
}

fn batchnorm(b: &mut Builder, x: ValueId, c: usize, seed: u64) -> ValueId {
    let gamma = rand_const(b, "gamma", &[c], seed + 2, 0.5, 2.0);
    let beta = rand_const(b, "beta", &[c], seed + 3, -1.0, 1.0);
    let mean = rand_const(b, "mean", &[c], seed + 4, -1.0, 1.0);
    let var = rand_const(b, "var", &[c], seed + 5, 0.1, 2.0);
    b.one(
        Op::BatchNormalization(BatchNormAttrs {
            epsilon: 1e-5,
            training_momentum: None,
        }),
        &[x, gamma, beta, mean, var],
    )
}

/// A 2-D Gemm `[m, k] x B -> [m, n]` with random B (transposed or not) and optional C.
fn gemm(
    b: &mut Builder,
    x: ValueId,
    (m, k, n): (usize, usize, usize),
    trans_b: bool,
    c: u8,
    seed: u64,
) -> ValueId {
    let bs = if trans_b { [n, k] } else { [k, n] };
    let bw = rand_const(b, "B", &bs, seed, -1.0, 1.0);
    let op = Op::Gemm(GemmAttrs {
        alpha: 0.75,
        beta: 1.5,
        trans_a: false,
        trans_b,
    });
    match c {
        0 => b.one(op, &[x, bw]),
        1 => {
            let cv = rand_const(b, "C", &[n], seed + 1, -1.0, 1.0);
            b.one(op, &[x, bw, cv])
        }
        _ => {
            let cv = rand_const(b, "C", &[m, n], seed + 1, -1.0, 1.0);
            b.one(op, &[x, bw, cv])
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn batchnorm_folds_into_conv(c_in in 1usize..4, c_out in 1usize..5, k in 1usize..4,
                                 hw in 3usize..7, bias: bool, seed: u64) {
        let mut b = Builder::new("conv_bn");
        let x = b.input("x", DType::F32, &[1, c_in, hw, hw]);
        let c = conv(&mut b, x, c_in, c_out, k, bias, seed);
        let y = batchnorm(&mut b, c, c_out, seed);
        b.output(y);
        check(b.g, fold::fold_batchnorm, &["BatchNormalization"], seed)?;
    }

    #[test]
    fn batchnorm_folds_into_gemm(m in 1usize..4, k in 1usize..6, n in 1usize..6,
                                 trans_b: bool, c in 0u8..3, seed: u64) {
        let mut b = Builder::new("gemm_bn");
        let x = b.input("x", DType::F32, &[m, k]);
        let g = gemm(&mut b, x, (m, k, n), trans_b, c, seed);
        let y = batchnorm(&mut b, g, n, seed);
        b.output(y);
        check(b.g, fold::fold_batchnorm, &["BatchNormalization"], seed)?;
    }

    #[test]
    fn mul_and_add_by_constants_fold_into_conv(c_out in 1usize..5, op in 0usize..4,
                                               rank4 in any::<bool>(), swap: bool, seed: u64) {
        let mut b = Builder::new("conv_affine");
        let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
        let c = conv(&mut b, x, 2, c_out, 3, true, seed);
        let shape: Vec<usize> = if rank4 { vec![1, c_out, 1, 1] } else { vec![c_out, 1, 1] };
        // Away from zero: Div divides by it.
        let kv = rand_const(&mut b, "k", &shape, seed + 9, 0.5, 2.0);
        let bop = [BinaryOp::Mul, BinaryOp::Add, BinaryOp::Div, BinaryOp::Sub][op];
        // Div and Sub fold only with the constant on the right.
        let ins = if swap && matches!(bop, BinaryOp::Mul | BinaryOp::Add) { [kv, c] } else { [c, kv] };
        let y = b.one(Op::Binary(bop), &ins);
        b.output(y);
        check(b.g, fold::fold_affine, &[bop.name()], seed)?;
    }

    #[test]
    fn mul_and_add_by_constants_fold_into_gemm(m in 1usize..4, k in 1usize..5, n in 1usize..5,
                                               trans_b: bool, c in 0u8..3, mul: bool, seed: u64) {
        let mut b = Builder::new("gemm_affine");
        let x = b.input("x", DType::F32, &[m, k]);
        let g = gemm(&mut b, x, (m, k, n), trans_b, c, seed);
        let kv = rand_const(&mut b, "k", &[n], seed + 9, 0.5, 2.0);
        let bop = if mul { BinaryOp::Mul } else { BinaryOp::Add };
        let y = b.one(Op::Binary(bop), &[g, kv]);
        b.output(y);
        check(b.g, fold::fold_affine, &[bop.name()], seed)?;
    }

    #[test]
    fn matmul_then_add_becomes_gemm(m in 1usize..4, k in 1usize..5, n in 1usize..5,
                                    bias_rank in 0usize..3, const_b: bool, seed: u64) {
        let mut b = Builder::new("matmul_add");
        let x = b.input("x", DType::F32, &[m, k]);
        let w = if const_b { rand_const(&mut b, "w", &[k, n], seed, -1.0, 1.0) } else { b.input("w", DType::F32, &[k, n]) };
        let mm = b.one(Op::MatMul, &[x, w]);
        let shape: Vec<usize> = match bias_rank { 0 => vec![], 1 => vec![n], _ => vec![m, n] };
        let bias = rand_const(&mut b, "bias", &shape, seed + 1, -1.0, 1.0);
        let y = b.one(Op::Binary(BinaryOp::Add), &[bias, mm]);
        b.output(y);
        check(b.g, fold::matmul_add_to_gemm, &["MatMul", "Add"], seed)?;
    }

    #[test]
    fn elementwise_ops_fuse_into_their_producer(producer in 0usize..5, chain in proptest::collection::vec(0usize..12, 1..4), seed: u64) {
        let mut b = Builder::new("fuse");
        let (mut y, shape) = match producer {
            0 => {
                let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
                (conv(&mut b, x, 2, 3, 3, true, seed), vec![1, 3, 4, 4])
            }
            1 => {
                let x = b.input("x", DType::F32, &[2, 3]);
                (gemm(&mut b, x, (2, 3, 4), false, 1, seed), vec![2, 4])
            }
            2 => {
                let x = b.input("x", DType::F32, &[2, 3, 4]);
                let w = rand_const(&mut b, "w", &[4, 5], seed, -1.0, 1.0);
                (b.one(Op::MatMul, &[x, w]), vec![2, 3, 5])
            }
            // Elementwise producers: the chain becomes one loop.
            3 => {
                let x = b.input("x", DType::F32, &[2, 3, 4]);
                let r = rand_const(&mut b, "r", &[3, 1], seed, -1.0, 1.0);
                (b.one(Op::Binary(BinaryOp::Mul), &[x, r]), vec![2, 3, 4])
            }
            _ => {
                let x = b.input("x", DType::F32, &[5, 3]);
                (b.one(Op::Unary(UnaryOp::Tanh), &[x]), vec![5, 3])
            }
        };
        for (i, &step) in chain.iter().enumerate() {
            // A residual Add fuses only into Conv, Gemm and MatMul.
            let step = if producer >= 3 && step == 4 { 0 } else { step };
            y = match step {
                0 => b.one(Op::Unary(UnaryOp::Relu), &[y]),
                1 => b.one(Op::Unary(UnaryOp::Sigmoid), &[y]),
                2 => b.one(Op::Unary(UnaryOp::Tanh), &[y]),
                3 => {
                    let lo = b.constant("lo", &[], TensorData::F32(vec![-0.5]));
                    b.node(Op::Clip(ClipAttrs::default()), &[Some(y), Some(lo), None], 1)[0]
                }
                5 => {
                    // SiLU as exported: x * sigmoid(x).
                    let s = b.one(Op::Unary(UnaryOp::Sigmoid), &[y]);
                    b.one(Op::Binary(BinaryOp::Mul), &[y, s])
                }
                6 => b.one(Op::Activation(Activation::LeakyRelu { alpha: 0.1 }), &[y]),
                7 => b.one(Op::Activation(Activation::HardSigmoid { alpha: 0.3, beta: 0.4 }), &[y]),
                8 => b.one(Op::Activation(Activation::HardSwish), &[y]),
                9 => b.one(Op::Activation(Activation::Elu { alpha: 0.5 }), &[y]),
                10 => b.one(Op::Activation(Activation::Softplus), &[y]),
                11 => b.one(Op::Activation(Activation::Mish), &[y]),
                _ => {
                    // A residual from another branch of the same type.
                    let r = b.input(&format!("r{i}"), DType::F32, &shape);
                    let r = b.one(Op::Unary(UnaryOp::Tanh), &[r]);
                    b.one(Op::Binary(BinaryOp::Add), &[r, y])
                }
            };
        }
        b.output(y);
        // Every op of the chain is gone (the Mul producer itself stays).
        let gone: Vec<&str> = ["Relu", "Sigmoid", "Clip", "Mul", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu", "Softplus", "Mish"]
            .into_iter()
            .filter(|&o| !(producer == 3 && o == "Mul"))
            .collect();
        check(b.g, fuse::fuse_epilogues, &gone, seed)?;
    }
}

/// A constant-mode Pad of `pads` with `value`.
fn pad_op(pads: Vec<i64>, value: f64) -> Op {
    Op::Pad(kiln_ir::ops::PadAttrs {
        pads,
        value,
        ..Default::default()
    })
}

/// `reader` (0 Conv, 1 AveragePool counting padding, 2 one not counting it, 3 MaxPool,
/// 4 Conv with auto_pad) of a `[1, 2, 5, 5]` input through Pad `pad`.
fn pad_then(reader: u8, pad: Op) -> Graph {
    use kiln_ir::ops::{AutoPad, AveragePoolAttrs, MaxPoolAttrs};
    let mut b = Builder::new("pad_then");
    let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
    let p = b.one(pad, &[x]);
    let win = window(&[3, 3], &[], &[1, 0, 0, 1]);
    let y = match reader {
        0 => conv(&mut b, p, 2, 2, 3, true, 1),
        1 | 2 => b.one(
            Op::AveragePool(AveragePoolAttrs {
                window: win,
                count_include_pad: reader == 1,
            }),
            &[p],
        ),
        3 => b.one(
            Op::MaxPool(MaxPoolAttrs {
                window: win,
                storage_order: 0,
            }),
            &[p],
        ),
        _ => {
            let w = rand_const(&mut b, "w", &[2, 2, 3, 3], 2, -1.0, 1.0);
            let op = Op::Conv(ConvAttrs {
                window: kiln_ir::ops::WindowAttrs {
                    auto_pad: AutoPad::SameUpper,
                    ..Default::default()
                },
                group: 1,
            });
            b.one(op, &[p, w])
        }
    };
    b.output(y);
    b.g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn zero_pad_folds_into_conv_and_counting_average_pool(
        c_in in 1usize..4, c_out in 1usize..4, h in 3usize..7, w in 3usize..7, n in 1usize..3,
        pads in proptest::array::uniform4(0i64..3), own in proptest::array::uniform4(0usize..2),
        k in 1usize..4, stride in 1usize..3, pool: bool, seed: u64,
    ) {
        let mut b = Builder::new("pad_fold");
        let x = b.input("x", DType::F32, &[n, c_in, h, w]);
        let [top, left, bottom, right] = pads;
        let p = b.one(pad_op(vec![0, 0, top, left, 0, 0, bottom, right], 0.0), &[x]);
        let win = window(&[k, k], &[stride, stride], &own);
        let y = if pool {
            b.one(
                Op::AveragePool(kiln_ir::ops::AveragePoolAttrs {
                    window: win,
                    count_include_pad: true,
                }),
                &[p],
            )
        } else {
            let wt = rand_const(&mut b, "w", &[c_out, c_in, k, k], seed, -1.0, 1.0);
            let bias = rand_const(&mut b, "b", &[c_out], seed + 1, -1.0, 1.0);
            b.one(Op::Conv(ConvAttrs { window: win, group: 1 }), &[p, wt, bias])
        };
        b.output(y);
        check(b.g, fold::fold_pad, &["Pad"], seed)?;
    }
}

#[test]
fn pads_that_change_the_numbers_or_the_layout_are_not_folded() {
    let spatial = vec![0, 0, 1, 2, 0, 0, 2, 1];
    // The channel and batch cases read through an AveragePool, which any channel count fits.
    let cases: Vec<(&str, Graph)> = vec![
        (
            "a non-zero value",
            pad_then(0, pad_op(spatial.clone(), 0.5)),
        ),
        (
            "padding on the channel axis",
            pad_then(1, pad_op(vec![0, 1, 1, 1, 0, 0, 1, 1], 0.0)),
        ),
        (
            "padding on the batch axis",
            pad_then(1, pad_op(vec![1, 0, 0, 0, 0, 0, 0, 0], 0.0)),
        ),
        (
            "cropping",
            pad_then(0, pad_op(vec![0, 0, -1, 1, 0, 0, 1, 1], 0.0)),
        ),
        (
            "edge mode",
            pad_then(
                0,
                Op::Pad(kiln_ir::ops::PadAttrs {
                    mode: kiln_ir::ops::PadMode::Edge,
                    pads: spatial.clone(),
                    ..Default::default()
                }),
            ),
        ),
        (
            "an AveragePool not counting padding",
            pad_then(2, pad_op(spatial.clone(), 0.0)),
        ),
        ("a MaxPool", pad_then(3, pad_op(spatial.clone(), 0.0))),
        ("auto_pad", pad_then(4, pad_op(spatial.clone(), 0.0))),
    ];
    for (why, mut g) in cases {
        let nodes = g.node_count();
        let changes = fold::fold_pad(&mut g).unwrap();
        assert!(changes.is_empty(), "{why}: folded {changes:?}");
        assert_eq!(g.node_count(), nodes, "{why}");
    }
    // A Pad whose output is also read elsewhere (here: a graph output) stays.
    let mut g = pad_then(0, pad_op(spatial, 0.0));
    let pad_out = g
        .node_ids()
        .find(|&n| g.node(n).op.name() == "Pad")
        .map(|n| g.node(n).outputs[0])
        .unwrap();
    g.outputs.push(pad_out);
    assert!(fold::fold_pad(&mut g).unwrap().is_empty());
}

#[test]
fn identities_and_cancelling_transposes_are_removed() {
    let mut b = Builder::new("identities");
    let x = b.input("x", DType::F32, &[2, 3, 4]);
    let r = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let i = b.one(Op::Identity, &[r]);
    let same = i64s(&mut b, "same", &[2, 3, 4]);
    let s = b.one(Op::Reshape(Default::default()), &[i, same]);
    let t1 = b.one(
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![1, 2, 0]),
        }),
        &[s],
    );
    let t2 = b.one(
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![2, 0, 1]),
        }),
        &[t1],
    );
    let y = b.one(Op::Unary(UnaryOp::Sigmoid), &[t2]);
    b.output(y);
    let g = b.g;
    // The pass leaves the first Transpose unread; dead-code removes it.
    let pass: PassFn = |g| {
        let mut c = cleanup::remove_identities(g)?;
        c.extend(cleanup::eliminate_dead_code(g)?);
        Ok(c)
    };
    check(g, pass, &["Identity", "Reshape", "Transpose"], 1).unwrap();
}

#[test]
fn an_identity_writing_a_graph_output_hands_it_to_the_producer() {
    let mut b = Builder::new("out");
    let x = b.input("x", DType::F32, &[2, 3]);
    let r = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let f = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[r]);
    b.output(f);
    let out = b.g.outputs[0];
    let mut g = b.g;
    check(g.clone(), cleanup::remove_identities, &["Flatten"], 2).unwrap();
    cleanup::remove_identities(&mut g).unwrap();
    assert_eq!(
        g.outputs,
        vec![out],
        "the graph output keeps its value (and name)"
    );
    // Flatten of a graph input straight to a graph output stays: it is the copy.
    let mut b = Builder::new("copy");
    let x = b.input("x", DType::F32, &[2, 3]);
    let f = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[x]);
    b.output(f);
    let mut g = b.g;
    assert!(cleanup::remove_identities(&mut g).unwrap().is_empty());
}

#[test]
fn constants_fold_through_the_reference_semantics() {
    let mut b = Builder::new("consts");
    let x = b.input("x", DType::F32, &[2, 3]);
    let w = rand_const(&mut b, "w", &[3, 4], 5, -1.0, 1.0);
    // Weight preprocessing exported as nodes: Transpose(Transpose(w)) * 2.
    let t = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[w]);
    let t = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[t]);
    let two = b.constant("two", &[], TensorData::F32(vec![2.0]));
    let w2 = b.one(Op::Binary(BinaryOp::Mul), &[t, two]);
    let y = b.one(Op::MatMul, &[x, w2]);
    b.output(y);
    check(b.g, cleanup::fold_constants, &["Transpose", "Mul"], 3).unwrap();
}

#[test]
fn dead_nodes_are_removed() {
    let mut b = Builder::new("dead");
    let x = b.input("x", DType::F32, &[4]);
    let y = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let unused = b.one(Op::Unary(UnaryOp::Tanh), &[x]);
    let _unused2 = b.one(Op::Unary(UnaryOp::Sigmoid), &[unused]);
    b.output(y);
    check(b.g, cleanup::eliminate_dead_code, &["Tanh", "Sigmoid"], 4).unwrap();
}

#[test]
fn a_value_read_twice_is_not_folded_or_fused() {
    let mut b = Builder::new("shared");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let c = conv(&mut b, x, 2, 2, 3, true, 7);
    let r = b.one(Op::Unary(UnaryOp::Relu), &[c]);
    let bn = batchnorm(&mut b, c, 2, 7);
    let y = b.one(Op::Binary(BinaryOp::Add), &[r, bn]);
    b.output(y);
    let mut g = b.g;
    assert!(fold::fold_batchnorm(&mut g).unwrap().is_empty());
    assert!(fuse::fuse_epilogues(&mut g).unwrap().is_empty());
}

#[test]
fn independent_branches_are_reordered_to_lower_the_peak() {
    // Two branches, each a big activation reduced to a small one; added in file order
    // big, big, small, small, both big ones would be alive at once.
    let mut b = Builder::new("branches");
    let x = b.input("x", DType::F32, &[1, 4096]);
    let a1 = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let b1 = b.one(Op::Unary(UnaryOp::Tanh), &[x]);
    let wa = rand_const(&mut b, "wa", &[4096, 4], 1, -1.0, 1.0);
    let wb = rand_const(&mut b, "wb", &[4096, 4], 2, -1.0, 1.0);
    let a2 = b.one(Op::MatMul, &[a1, wa]);
    let b2 = b.one(Op::MatMul, &[b1, wb]);
    let y = b.one(Op::Binary(BinaryOp::Add), &[a2, b2]);
    b.output(y);
    let mut g = b.g;
    let inputs = feed(&g, 9);
    let before = kiln_ir::eval::run(&g, &inputs).unwrap();
    let old = g.schedule().unwrap();
    let peak_before = kiln_passes::schedule::peak_bytes(&g, &old);
    // Both 16 KiB activations live at once, plus the first small result.
    assert_eq!(peak_before, 2 * 4096 * 4 + 16);
    let changes = kiln_passes::schedule::reorder_for_memory(&mut g).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let new = g.schedule().unwrap();
    assert_ne!(new, old);
    // One big activation at a time: the second, while the first small result waits and
    // the second is computed.
    assert_eq!(
        kiln_passes::schedule::peak_bytes(&g, &new),
        4096 * 4 + 2 * 16
    );
    kiln_ir::verify(&g).unwrap();
    assert_eq!(kiln_ir::eval::run(&g, &inputs).unwrap(), before);
    // And the memory plan follows: the arena shrinks by one big buffer.
    let plan_new = kiln_passes::plan_memory(&kiln_ir::verify(&g).unwrap());
    let mut plain = g.clone();
    plain.clear_schedule_hint();
    let plan_old = kiln_passes::plan_memory(&kiln_ir::verify(&plain).unwrap());
    assert!(
        plan_new.arena_bytes() < plan_old.arena_bytes(),
        "{} vs {}",
        plan_new.arena_bytes(),
        plan_old.arena_bytes()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20, ..ProptestConfig::default() })]

    #[test]
    fn hardsigmoid_times_input_becomes_hardswish(after_conv: bool, swap: bool, seed: u64) {
        let mut b = Builder::new("hardswish");
        let x = if after_conv {
            let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
            conv(&mut b, x, 2, 3, 3, true, seed)
        } else {
            b.input("x", DType::F32, &[2, 7])
        };
        let h = b.one(
            Op::Activation(Activation::HardSigmoid { alpha: 1.0 / 6.0, beta: 0.5 }),
            &[x],
        );
        let ins = if swap { [h, x] } else { [x, h] };
        let y = b.one(Op::Binary(BinaryOp::Mul), &ins);
        b.output(y);
        let pass: PassFn = |g| {
            let mut c = fold::recognize_hardswish(g)?;
            c.extend(fuse::fuse_epilogues(g)?);
            Ok(c)
        };
        check(b.g, pass, &["HardSigmoid", "Mul"], seed)?;
    }
}

#[test]
fn casts_to_the_same_type_are_removed_and_real_casts_kept() {
    use kiln_ir::ops::CastAttrs;
    let cast = |to| Op::Cast(CastAttrs { to });
    let mut b = Builder::new("casts");
    let x = b.input("x", DType::F32, &[2, 3]);
    let r = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let same = b.one(cast(DType::F32), &[r]);
    let s = b.one(Op::Unary(UnaryOp::Sigmoid), &[same]);
    let wide = b.one(cast(DType::F64), &[s]);
    let again = b.one(cast(DType::F64), &[wide]);
    let y = b.one(Op::Unary(UnaryOp::Tanh), &[again]);
    b.output(y);
    let mut g = b.g;
    check(g.clone(), cleanup::remove_identities, &[], 5).unwrap();
    let removed = cleanup::remove_identities(&mut g).unwrap();
    assert_eq!(removed.len(), 2, "{removed:?}");
    let casts: Vec<&Op> = g
        .node_ids()
        .map(|n| &g.node(n).op)
        .filter(|op| matches!(op, Op::Cast(_)))
        .collect();
    assert_eq!(
        casts,
        [&cast(DType::F64)],
        "the widening Cast stays:\n{}",
        g.dump()
    );
    // A narrowing Cast changes the numbers and stays too.
    let mut b = Builder::new("narrow");
    let x = b.input("x", DType::F32, &[4]);
    let i = b.one(cast(DType::I8), &[x]);
    let y = b.one(cast(DType::F32), &[i]);
    b.output(y);
    let mut g = b.g;
    assert!(cleanup::remove_identities(&mut g).unwrap().is_empty());
}

/// `ReduceMean` over `axes`, with keepdims; the axes as an attribute or (opset 18) as a
/// constant input.
fn mean(b: &mut Builder, x: ValueId, axes: &[i64], as_input: bool) -> ValueId {
    use kiln_ir::ops::{ReduceAttrs, ReduceKind};
    if as_input {
        let a = i64s(b, "axes", axes);
        b.one(
            Op::Reduce(ReduceKind::Mean, ReduceAttrs::default()),
            &[x, a],
        )
    } else {
        let op = Op::Reduce(
            ReduceKind::Mean,
            ReduceAttrs {
                axes: Some(axes.to_vec()),
                ..ReduceAttrs::default()
            },
        );
        b.one(op, &[x])
    }
}

/// An f32 constant with one element.
fn scalar(b: &mut Builder, v: f32) -> ValueId {
    b.constant("k", &[], TensorData::F32(vec![v]))
}

/// The decomposed LayerNormalization over the last `k` axes of `x`: `d / Sqrt(mean(d²) +
/// eps)` with `d = x - mean(x)`; the square as Pow(d, `exponent`) or Mul(d, d); the eps Add
/// with its operands swapped if `swap`. Returns `(d, result)`.
fn layernorm_pattern(
    b: &mut Builder,
    x: ValueId,
    k: usize,
    rank: usize,
    (exponent, square_as_mul, swap, axes_input): (f32, bool, bool, bool),
    eps: f32,
) -> (ValueId, ValueId) {
    let axes: Vec<i64> = (rank - k..rank)
        .map(|a| a as i64 - if swap { rank as i64 } else { 0 })
        .collect();
    let m = mean(b, x, &axes, axes_input);
    let d = b.one(Op::Binary(BinaryOp::Sub), &[x, m]);
    let sq = if square_as_mul {
        b.one(Op::Binary(BinaryOp::Mul), &[d, d])
    } else {
        let two = scalar(b, exponent);
        b.one(Op::Pow, &[d, two])
    };
    let v = mean(b, sq, &axes, axes_input);
    let e = scalar(b, eps);
    let ins = if swap { [e, v] } else { [v, e] };
    let ve = b.one(Op::Binary(BinaryOp::Add), &ins);
    let s = b.one(Op::Unary(UnaryOp::Sqrt), &[ve]);
    (d, b.one(Op::Binary(BinaryOp::Div), &[d, s]))
}

/// The ops of `g`'s nodes by name, in node order.
fn ops(g: &Graph) -> Vec<&'static str> {
    g.node_ids().map(|n| g.node(n).op.name()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 30, ..ProptestConfig::default() })]

    #[test]
    fn decomposed_layernorm_becomes_one_op(
        dims in proptest::collection::vec(1usize..5, 2..4), k in 1usize..3, affine in 0u8..4,
        square_as_mul: bool, swap: bool, axes_input: bool, eps in 1e-6f32..1e-1, seed: u64,
    ) {
        let rank = dims.len();
        let k = k.min(rank);
        let mut b = Builder::new("layernorm");
        let x = b.input("x", DType::F32, &dims);
        let (_, mut y) = layernorm_pattern(&mut b, x, k, rank, (2.0, square_as_mul, swap, axes_input), eps);
        // Per-feature gamma and beta: shaped like the normalised axes, or with leading 1s.
        let norm = &dims[rank - k..];
        let feat: Vec<usize> = if swap && k < rank { [vec![1], norm.to_vec()].concat() } else { norm.to_vec() };
        if affine & 1 == 1 {
            let gamma = rand_const(&mut b, "gamma", &feat, seed + 1, 0.5, 2.0);
            let ins = if swap { [gamma, y] } else { [y, gamma] };
            y = b.one(Op::Binary(BinaryOp::Mul), &ins);
        }
        if affine & 2 == 2 {
            let beta = rand_const(&mut b, "beta", &[*norm.last().unwrap()], seed + 2, -1.0, 1.0);
            y = b.one(Op::Binary(BinaryOp::Add), &[beta, y]);
        }
        b.output(y);
        let mut g = b.g.clone();
        check(b.g, fold::recognize_layernorm, &["ReduceMean", "Sub", "Pow", "Sqrt", "Div", "Mul", "Add"], seed)?;
        fold::recognize_layernorm(&mut g).map_err(TestCaseError::fail)?;
        prop_assert_eq!(ops(&g), vec!["LayerNormalization"]);
    }

    #[test]
    fn decomposed_gelu_becomes_one_op(form in 0usize..4, scale in 0usize..3, swap: bool,
                                      after_matmul: bool, seed: u64) {
        let mut b = Builder::new("gelu");
        let x = if after_matmul {
            let x = b.input("x", DType::F32, &[2, 3, 4]);
            let w = rand_const(&mut b, "w", &[4, 5], seed, -1.0, 1.0);
            b.one(Op::MatMul, &[x, w])
        } else {
            b.input("x", DType::F32, &[3, 7])
        };
        let u = match scale {
            0 => {
                let r2 = scalar(&mut b, std::f32::consts::SQRT_2);
                b.one(Op::Binary(BinaryOp::Div), &[x, r2])
            }
            _ => {
                let r = scalar(&mut b, std::f32::consts::FRAC_1_SQRT_2);
                let ins = if scale == 1 { [x, r] } else { [r, x] };
                b.one(Op::Binary(BinaryOp::Mul), &ins)
            }
        };
        let e = b.one(Op::Unary(UnaryOp::Erf), &[u]);
        let one = scalar(&mut b, 1.0);
        let a = b.one(Op::Binary(BinaryOp::Add), &if swap { [one, e] } else { [e, one] });
        let half = scalar(&mut b, 0.5);
        let mul = |b: &mut Builder, p: ValueId, q: ValueId| {
            b.one(Op::Binary(BinaryOp::Mul), &if swap { [q, p] } else { [p, q] })
        };
        let y = match form {
            0 => { let t = mul(&mut b, x, a); mul(&mut b, t, half) }
            1 => { let t = mul(&mut b, a, half); mul(&mut b, t, x) }
            2 => { let t = mul(&mut b, x, half); mul(&mut b, t, a) }
            _ => { let t = mul(&mut b, a, x); mul(&mut b, half, t) }
        };
        b.output(y);
        let mut g = b.g.clone();
        // Recognised, then fused into the MatMul as an epilogue.
        let pass: PassFn = |g| {
            let mut c = fold::recognize_gelu(g)?;
            c.extend(fuse::fuse_epilogues(g)?);
            Ok(c)
        };
        let gone = ["Erf", "Div", "Add", "Mul"];
        check(b.g, pass, &gone, seed)?;
        pass(&mut g).map_err(TestCaseError::fail)?;
        let want = if after_matmul { vec!["MatMul"] } else { vec!["Gelu"] };
        prop_assert_eq!(ops(&g), want);
    }
}

#[test]
fn layernorm_and_gelu_with_other_readers_or_other_constants_stay() {
    let unchanged = |g: &Graph, pass: PassFn, why: &str| {
        let mut g2 = g.clone();
        let changes = pass(&mut g2).unwrap();
        assert!(changes.is_empty(), "{why}: {changes:?}");
        assert_eq!(g2.node_count(), g.node_count(), "{why}");
    };
    let layernorm = |exponent: f32, extra_reader: bool| {
        let mut b = Builder::new("ln");
        let x = b.input("x", DType::F32, &[2, 5]);
        let (d, y) = layernorm_pattern(&mut b, x, 1, 2, (exponent, false, false, false), 1e-5);
        b.output(y);
        if extra_reader {
            let r = b.one(Op::Unary(UnaryOp::Relu), &[d]);
            b.output(r);
        }
        b.g
    };
    unchanged(
        &layernorm(3.0, false),
        fold::recognize_layernorm,
        "Pow(d, 3)",
    );
    unchanged(
        &layernorm(2.0, true),
        fold::recognize_layernorm,
        "d read a third time",
    );
    // The same subgraph as a control: it fires.
    let mut g = layernorm(2.0, false);
    assert_eq!(fold::recognize_layernorm(&mut g).unwrap().len(), 1);

    // Over a leading axis the mean is not LayerNormalization's.
    let mut b = Builder::new("ln_axis0");
    let x = b.input("x", DType::F32, &[2, 5]);
    let m = mean(&mut b, x, &[0], false);
    let d = b.one(Op::Binary(BinaryOp::Sub), &[x, m]);
    let sq = b.one(Op::Binary(BinaryOp::Mul), &[d, d]);
    let v = mean(&mut b, sq, &[0], false);
    let s = b.one(Op::Unary(UnaryOp::Sqrt), &[v]);
    let y = b.one(Op::Binary(BinaryOp::Div), &[d, s]);
    b.output(y);
    // (No eps Add either; both keep it from matching.)
    unchanged(&b.g, fold::recognize_layernorm, "axis 0 without eps");

    // A gamma that varies along the leading axis is not per-feature: the LayerNorm fires,
    // the Mul stays.
    let mut b = Builder::new("ln_gamma");
    let x = b.input("x", DType::F32, &[2, 5]);
    let (_, y) = layernorm_pattern(&mut b, x, 1, 2, (2.0, false, false, false), 1e-5);
    let gamma = rand_const(&mut b, "gamma", &[2, 1], 3, 0.5, 2.0);
    let y = b.one(Op::Binary(BinaryOp::Mul), &[y, gamma]);
    b.output(y);
    let mut g = b.g;
    check(
        g.clone(),
        fold::recognize_layernorm,
        &["ReduceMean", "Div"],
        3,
    )
    .unwrap();
    fold::recognize_layernorm(&mut g).unwrap();
    assert_eq!(ops(&g), vec!["LayerNormalization", "Mul"]);

    let gelu = |half_value: f32, erf_read_twice: bool| {
        let mut b = Builder::new("gelu");
        let x = b.input("x", DType::F32, &[4]);
        let r2 = scalar(&mut b, std::f32::consts::SQRT_2);
        let u = b.one(Op::Binary(BinaryOp::Div), &[x, r2]);
        let e = b.one(Op::Unary(UnaryOp::Erf), &[u]);
        let one = scalar(&mut b, 1.0);
        let a = b.one(Op::Binary(BinaryOp::Add), &[e, one]);
        let t = b.one(Op::Binary(BinaryOp::Mul), &[x, a]);
        let half = scalar(&mut b, half_value);
        let y = b.one(Op::Binary(BinaryOp::Mul), &[t, half]);
        b.output(y);
        if erf_read_twice {
            b.output(e);
        }
        b.g
    };
    unchanged(&gelu(0.4, false), fold::recognize_gelu, "0.4 for 0.5");
    unchanged(
        &gelu(0.5, true),
        fold::recognize_gelu,
        "Erf output read twice",
    );
    let mut g = gelu(0.5, false);
    assert_eq!(fold::recognize_gelu(&mut g).unwrap().len(), 1);
    // Within 1e-6 relative still counts: 0.5 * (1 + 5e-7).
    let mut g = gelu(0.500_000_24, false);
    assert_eq!(fold::recognize_gelu(&mut g).unwrap().len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 30, ..ProptestConfig::default() })]

    #[test]
    fn batchnorm_and_scales_fold_into_a_2d_matmul(m in 1usize..4, k in 1usize..5, n in 1usize..5,
                                                  bn: bool, seed: u64) {
        let mut b = Builder::new("matmul_bn");
        let x = b.input("x", DType::F32, &[m, k]);
        let w = rand_const(&mut b, "w", &[k, n], seed, -1.0, 1.0);
        let mm = b.one(Op::MatMul, &[x, w]);
        let (y, gone) = if bn {
            (batchnorm(&mut b, mm, n, seed), "BatchNormalization")
        } else {
            let s = rand_const(&mut b, "s", &[n], seed + 3, 0.5, 2.0);
            (b.one(Op::Binary(BinaryOp::Mul), &[mm, s]), "Mul")
        };
        b.output(y);
        let pass: PassFn = if bn { fold::fold_batchnorm } else { fold::fold_affine };
        check(b.g, pass, &[gone, "MatMul"], seed)?;
    }
}

#[test]
fn subnormal_weights_of_multiply_adds_are_flushed_and_shared_ones_copied() {
    let tiny = f32::MIN_POSITIVE / 8.0;
    let mut b = Builder::new("subnormal");
    let x = b.input("x", DType::F32, &[1, 2, 3, 3]);
    // Conv weights with subnormals of both signs among normal ones.
    let mut wv = values(2 * 2 * 3 * 3, 5, -1.0, 1.0);
    wv[0] = tiny;
    wv[7] = -tiny;
    wv[20] = f32::MIN_POSITIVE; // the smallest normal: kept
    let w = b.constant("w", &[2, 2, 3, 3], TensorData::F32(wv.clone()));
    let conv_op = Op::Conv(ConvAttrs {
        window: window(&[], &[], &[1, 1, 1, 1]),
        group: 1,
    });
    let y = b.one(conv_op, &[x, w]);
    // A MatMul weight also read by a Div, whose result a flush would change (x / 0).
    let k = b.constant("k", &[3, 3], TensorData::F32(vec![tiny; 9]));
    let m = b.one(Op::MatMul, &[y, k]);
    let d = b.one(Op::Binary(BinaryOp::Div), &[m, k]);
    b.output(d);
    b.output(y);
    let mut g = b.g;
    let inputs = feed(&g, 11);
    let before = kiln_ir::eval::run(&g, &inputs).unwrap();
    let changes = cleanup::flush_subnormal_weights(&mut g).unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let weight = |g: &Graph, op: &str, slot: usize| -> Vec<f32> {
        let n = g.node_ids().find(|&n| g.node(n).op.name() == op).unwrap();
        let v = g.node(n).inputs[slot].unwrap();
        g.value(v)
            .const_tensor()
            .unwrap()
            .data
            .to_f64_vec()
            .iter()
            .map(|&v| v as f32)
            .collect()
    };
    let flushed = weight(&g, "Conv", 1);
    for (i, (&a, &e)) in flushed.iter().zip(&wv).enumerate() {
        if e.is_subnormal() {
            assert_eq!(
                (a, a.is_sign_negative()),
                (0.0, e.is_sign_negative()),
                "weight {i}"
            );
        } else {
            assert_eq!(a.to_bits(), e.to_bits(), "weight {i}");
        }
    }
    assert_eq!(weight(&g, "MatMul", 1), vec![0.0; 9]);
    assert_eq!(
        weight(&g, "Div", 1),
        vec![tiny; 9],
        "the Div's operand must stay as it was"
    );
    kiln_ir::verify(&g).unwrap();
    // The Conv's outputs move by at most taps * MIN_POSITIVE * max |x| (the inputs are
    // under 2 in magnitude): 36 * 2 * MIN_POSITIVE.
    let after = kiln_ir::eval::run(&g, &inputs).unwrap();
    let (a, e) = (after[1].data.to_f64_vec(), before[1].data.to_f64_vec());
    for (a, e) in a.iter().zip(&e) {
        assert!(
            (a - e).abs() <= 72.0 * f64::from(f32::MIN_POSITIVE),
            "{a} vs {e}"
        );
    }
}

/// A Slice of `x` along `axis` from (start, end, step).
fn slice(b: &mut Builder, x: ValueId, axis: i64, (start, end, step): (i64, i64, i64)) -> ValueId {
    let attrs = kiln_ir::ops::SliceAttrs {
        starts: vec![start],
        ends: vec![end],
        axes: Some(vec![axis]),
        steps: Some(vec![step]),
    };
    b.one(Op::Slice(attrs), &[x])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 80, ..ProptestConfig::default() })]

    /// Two Slices (same or different axes, negative axes, starts and ends past either end,
    /// positive steps) become one taking the same elements.
    #[test]
    fn a_slice_of_a_slice_becomes_one(
        dims in proptest::collection::vec(1usize..8, 1..4),
        first in (-4i64..4, (-9i64..9, -9i64..10, 1i64..4)),
        second in (-4i64..4, (-9i64..9, -9i64..10, 1i64..4)),
        seed in 0u64..1000,
    ) {
        let rank = dims.len() as i64;
        let mut b = Builder::new("slices");
        let x = b.input("x", DType::F32, &dims);
        let m = slice(&mut b, x, first.0 % rank, first.1);
        let y = slice(&mut b, m, second.0 % rank, second.1);
        b.output(y);
        let g = b.g;
        // Empty results are another matter (nothing to copy).
        prop_assume!(g.value(y).ty.numel() > 0);
        check(g.clone(), cleanup::merge_slices, &[], seed)?;
        let mut merged = g;
        cleanup::merge_slices(&mut merged).unwrap();
        prop_assert_eq!(ops(&merged), vec!["Slice"]);
    }
}

#[test]
fn slices_read_twice_or_stepping_back_are_not_merged() {
    // A reversing second Slice.
    let mut b = Builder::new("reversed");
    let x = b.input("x", DType::F32, &[2, 9]);
    let m = slice(&mut b, x, 1, (1, 8, 2));
    let y = slice(&mut b, m, 1, (-1, -10, -1));
    b.output(y);
    let mut g = b.g;
    assert!(cleanup::merge_slices(&mut g).unwrap().is_empty());
    // A first Slice whose output another op reads too.
    let mut b = Builder::new("shared");
    let x = b.input("x", DType::F32, &[2, 9]);
    let m = slice(&mut b, x, 1, (0, 9, 2));
    let y = slice(&mut b, m, 0, (1, 2, 1));
    let r = b.one(Op::Unary(UnaryOp::Relu), &[m]);
    b.output(y);
    b.output(r);
    let mut g = b.g;
    assert!(cleanup::merge_slices(&mut g).unwrap().is_empty());
}
