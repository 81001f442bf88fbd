//! Fused epilogues through generated code: random Conv/Gemm/MatMul graphs followed by
//! chains of Relu, Sigmoid, Tanh, Clip, SiLU, LeakyRelu, HardSigmoid, HardSwish (also in
//! parts: Add, Clip, Mul, Div), Gelu, residual Adds and Mul, Add or Sub by a one-element
//! constant (a scale or a shift) are compiled with full
//! optimisation (the chain must end up fused) and the generated code must compute what the
//! reference semantics compute on the unoptimised graph.

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::builder::{Builder, window};
use kiln::ir::ops::{Activation, BinaryOp, ClipAttrs, ConvAttrs, GemmAttrs, MaxPoolAttrs, UnaryOp};
use kiln::ir::{DType, Graph, Op, Tensor, TensorData, ValueId};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn rand_const(b: &mut Builder, shape: &[usize], seed: u64) -> ValueId {
    let n = shape.iter().product();
    b.constant(&format!("c{seed}"), shape, TensorData::F32(values(n, seed)))
}

/// A producer (0 Conv, 1 Gemm, 2 MatMul) and a chain of elementwise steps after it.
fn graph(producer: usize, chain: &[usize], seed: u64) -> Graph {
    let mut b = Builder::new("fused");
    let (mut y, shape) = match producer {
        0 => {
            let x = b.input("x", DType::F32, &[1, 3, 6, 6]);
            let w = rand_const(&mut b, &[4, 3, 3, 3], seed);
            let bias = rand_const(&mut b, &[4], seed + 1);
            let op = Op::Conv(ConvAttrs {
                window: window(&[], &[], &[1, 1, 1, 1]),
                group: 1,
            });
            (b.one(op, &[x, w, bias]), vec![1, 4, 6, 6])
        }
        1 => {
            let x = b.input("x", DType::F32, &[3, 5]);
            let w = rand_const(&mut b, &[4, 5], seed);
            let c = rand_const(&mut b, &[4], seed + 1);
            let op = Op::Gemm(GemmAttrs {
                trans_b: true,
                ..Default::default()
            });
            (b.one(op, &[x, w, c]), vec![3, 4])
        }
        2 => {
            let x = b.input("x", DType::F32, &[2, 3, 5]);
            let w = rand_const(&mut b, &[5, 4], seed);
            (b.one(Op::MatMul, &[x, w]), vec![2, 3, 4])
        }
        // Elementwise producers: a broadcasting Sub, and Tanh.
        3 => {
            let x = b.input("x", DType::F32, &[2, 3, 4]);
            let r = rand_const(&mut b, &[3, 1], seed);
            (b.one(Op::Binary(BinaryOp::Sub), &[x, r]), vec![2, 3, 4])
        }
        4 => {
            let x = b.input("x", DType::F32, &[3, 7]);
            (b.one(Op::Unary(UnaryOp::Tanh), &[x]), vec![3, 7])
        }
        // Pooling producers.
        5 => {
            let x = b.input("x", DType::F32, &[1, 3, 6, 6]);
            let op = Op::MaxPool(MaxPoolAttrs {
                window: window(&[2, 2], &[2, 2], &[]),
                storage_order: 0,
            });
            (b.one(op, &[x]), vec![1, 3, 3, 3])
        }
        _ => {
            let x = b.input("x", DType::F32, &[1, 3, 4, 4]);
            (b.one(Op::GlobalAveragePool, &[x]), vec![1, 3, 1, 1])
        }
    };
    for (i, &step) in chain.iter().enumerate() {
        // A residual Add fuses only into Conv, Gemm and MatMul; after an elementwise
        // producer the step is a Relu instead.
        let step = if (3..=4).contains(&producer) && step == 5 {
            0
        } else {
            step
        };
        y = match step {
            0 => b.one(Op::Unary(UnaryOp::Relu), &[y]),
            1 => b.one(Op::Unary(UnaryOp::Sigmoid), &[y]),
            2 => b.one(Op::Unary(UnaryOp::Tanh), &[y]),
            3 => {
                let lo = b.constant(&format!("lo{i}"), &[], TensorData::F32(vec![-0.25]));
                let hi = b.constant(&format!("hi{i}"), &[], TensorData::F32(vec![0.5]));
                b.one(Op::Clip(ClipAttrs::default()), &[y, lo, hi])
            }
            4 => {
                let s = b.one(Op::Unary(UnaryOp::Sigmoid), &[y]);
                b.one(Op::Binary(BinaryOp::Mul), &[s, y])
            }
            6 => b.one(Op::Activation(Activation::LeakyRelu { alpha: 0.1 }), &[y]),
            7 => b.one(
                Op::Activation(Activation::HardSigmoid {
                    alpha: 0.3,
                    beta: 0.4,
                }),
                &[y],
            ),
            8 => b.one(Op::Activation(Activation::HardSwish), &[y]),
            10 => b.one(Op::Activation(Activation::Gelu { tanh: false }), &[y]),
            11 => b.one(Op::Activation(Activation::Gelu { tanh: true }), &[y]),
            12 => b.one(Op::Activation(Activation::Elu { alpha: 0.7 }), &[y]),
            13 => b.one(
                Op::Activation(Activation::Selu {
                    alpha: 1.673_263_2,
                    gamma: 1.050_701,
                }),
                &[y],
            ),
            14 => b.one(Op::Activation(Activation::Celu { alpha: 2.0 }), &[y]),
            15 => b.one(
                Op::Activation(Activation::ThresholdedRelu { alpha: 0.25 }),
                &[y],
            ),
            16 => b.one(Op::Activation(Activation::Softplus), &[y]),
            17 => b.one(Op::Activation(Activation::Softsign), &[y]),
            18 => b.one(Op::Activation(Activation::Mish), &[y]),
            // HardSwish in parts, `Div(Mul(y, Clip(Add(y, a), lo, hi)), d)`: with bounds
            // these small outputs cross (19), and as exporters write it, the operands of
            // the Add and the Mul the other way round (20).
            19 | 20 => {
                let (a, lo, hi, d) = if step == 19 {
                    (0.1, 0.0, 0.4, 0.4)
                } else {
                    (3.0, 0.0, 6.0, 6.0)
                };
                let k = |b: &mut Builder, name: &str, v: f32| {
                    b.constant(&format!("{name}{i}"), &[], TensorData::F32(vec![v]))
                };
                let (a, lo, hi, d) = (
                    k(&mut b, "a", a),
                    k(&mut b, "lo", lo),
                    k(&mut b, "hi", hi),
                    k(&mut b, "d", d),
                );
                let add = if step == 19 { [y, a] } else { [a, y] };
                let t = b.one(Op::Binary(BinaryOp::Add), &add);
                let t = b.one(Op::Clip(ClipAttrs::default()), &[t, lo, hi]);
                let mul = if step == 19 { [y, t] } else { [t, y] };
                let m = b.one(Op::Binary(BinaryOp::Mul), &mul);
                b.one(Op::Binary(BinaryOp::Div), &[m, d])
            }
            // A scale or a shift by a one-element constant: Mul with the constant first,
            // Add with it second and of shape [1], Sub of it.
            21..=23 => {
                let (v, shape): (f32, &[usize]) = match step {
                    21 => (-1.375, &[]),
                    22 => (0.625, &[1]),
                    _ => (0.3, &[]),
                };
                let k = b.constant(&format!("k{i}"), shape, TensorData::F32(vec![v]));
                match step {
                    21 => b.one(Op::Binary(BinaryOp::Mul), &[k, y]),
                    22 => b.one(Op::Binary(BinaryOp::Add), &[y, k]),
                    _ => b.one(Op::Binary(BinaryOp::Sub), &[y, k]),
                }
            }
            _ => {
                let r = b.input(&format!("residual{i}"), DType::F32, &shape);
                b.one(Op::Binary(BinaryOp::Add), &[y, r])
            }
        };
    }
    b.output(y);
    b.g
}

#[test]
fn fused_epilogues_in_generated_code_match_the_reference() {
    let mut runner = TestRunner::deterministic();
    let strategy = (
        0usize..7,
        proptest::collection::vec(0usize..10, 1..4),
        any::<u64>(),
    );
    let mut built = Vec::new();
    // Drawn cases, then fixed ones with Gelu (steps 10 and 11), which the draws predate.
    let drawn = (0..40).map(|_| strategy.new_tree(&mut runner).unwrap().current());
    let gelu = [
        (0, vec![10], 1),
        (1, vec![11, 0], 2),
        (2, vec![10, 9], 3),
        (3, vec![11], 4),
        (5, vec![10], 5),
        (6, vec![2, 11], 6),
    ];
    // The activations added later (steps 12 to 18), after each kind of producer.
    let later = [
        (0, vec![12, 16], 7),
        (1, vec![13], 8),
        (2, vec![14, 17], 9),
        (3, vec![15, 18], 10),
        (4, vec![18], 11),
        (5, vec![16, 12], 12),
        (6, vec![17, 13, 14], 13),
    ];
    // HardSwish in parts (steps 19 and 20), after each kind of producer and with steps
    // before and after it.
    let parts = [
        (0, vec![19], 14),
        (1, vec![20, 0], 15),
        (2, vec![9, 19], 16),
        (3, vec![20], 17),
        (4, vec![19, 20], 18),
        (5, vec![20, 3], 19),
        (6, vec![19], 20),
        (0, vec![20, 9], 21),
    ];
    // Scales and shifts (steps 21 to 23), after each kind of producer; the last as
    // PP-LCNetV3 writes its learnable affine step after a HardSwish. (Right after a Conv
    // or a Gemm, fold-affine moves them into the weights instead: a step comes first.)
    let affine = [
        (0, vec![0, 21], 22),
        (1, vec![3, 22, 0], 23),
        (2, vec![23, 21], 24),
        (3, vec![21, 22], 25),
        (4, vec![22], 26),
        (5, vec![21, 23], 27),
        (6, vec![23], 28),
        (0, vec![8, 21, 22], 29),
    ];
    for (producer, chain, seed) in drawn
        .collect::<Vec<_>>()
        .into_iter()
        .chain(gelu)
        .chain(later)
        .chain(parts)
        .chain(affine)
    {
        let g = graph(producer, &chain, seed);
        let feed: Vec<Tensor> = g
            .inputs
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                let ty = &g.value(v).ty;
                Tensor::from_f32(ty.shape.clone(), values(ty.numel(), seed ^ (k as u64 + 17)))
                    .unwrap()
            })
            .collect();
        let expected = kiln::ir::eval::run(&g, &feed).unwrap();
        let compiled = kiln::compile_graph(
            g,
            "fused.onnx",
            String::new(),
            EmitKind::Module,
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{producer} {chain:?}: {e}"));
        let fused: usize = compiled
            .graph
            .node_ids()
            .map(|n| compiled.graph.node(n).epilogue.len())
            .sum();
        assert_eq!(
            compiled.graph.node_count(),
            1,
            "{producer} {chain:?}: the chain was not fused:\n{}",
            compiled.graph.dump()
        );
        assert!(fused >= 1);
        built.push((format!("{producer} {chain:?}"), compiled, feed, expected));
    }
    let cases: Vec<Case> = built
        .iter()
        .map(|b| Case {
            generated: &b.1.generated,
        })
        .collect();
    let work = common::repo().join("target").join("kiln-fusion-runner");
    let runner =
        harness::build_runner(&cases, &work, &common::gen_target(), Profile::Fast).unwrap();
    let mut failures = Vec::new();
    for (i, (label, _, feed, expected)) in built.iter().enumerate() {
        let actual = runner
            .run(i, feed)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        for (a, e) in actual.iter().zip(expected) {
            let c = harness::compare(a, e, 1e-4, 1e-5);
            if !c.ok {
                failures.push(format!("{label}: {c:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
