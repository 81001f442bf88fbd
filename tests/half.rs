//! f16 and bf16 in generated code: stored as bits, converted at Casts, computed in f32 by
//! the `widen-half` lowering. Expectations come from the `half` crate (IEEE 754 binary16
//! and bfloat16, round to nearest even) and from the reference semantics, which evaluate
//! 16-bit floats natively.

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::builder::Builder;
use kiln::ir::ops::{BinaryOp, CastAttrs, SoftmaxAttrs, UnaryOp};
use kiln::ir::{DType, Graph, Op, Tensor, TensorData};

/// Values around every rounding boundary of f16: ties to even, the largest finite value
/// and the first that overflows, subnormals and their ties, signed zero, NaN, infinities.
fn edge_values() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        1.0 + 2f64.powi(-11),       // tie: to even (1.0)
        1.0 + 3.0 * 2f64.powi(-11), // tie: to even (up)
        1.0 + 2f64.powi(-11) + 2f64.powi(-30),
        65504.0,
        65519.99,
        65520.0, // rounds to infinity
        -70000.0,
        2f64.powi(-14),
        2f64.powi(-24),
        2f64.powi(-25), // tie with zero: to even (0)
        2f64.powi(-25) + 2f64.powi(-40),
        3.0 * 2f64.powi(-25),
        2f64.powi(-14) - 2f64.powi(-25), // largest subnormal's tie: up to the smallest normal
        1e-30,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        std::f64::consts::PI,
        -1.0 / 3.0,
    ];
    // Plus a sweep across the whole range.
    let mut x = 1e-9;
    while x < 1e6 {
        v.push(x);
        v.push(-x * 1.37);
        x *= 1.9;
    }
    v
}

fn cast(b: &mut Builder, x: kiln::ir::ValueId, to: DType) -> kiln::ir::ValueId {
    b.one(Op::Cast(CastAttrs { to }), &[x])
}

fn run(graphs: &[(&str, Graph)], inputs: &[Vec<Tensor>]) -> Vec<Vec<Tensor>> {
    let compiled: Vec<_> = graphs
        .iter()
        .map(|(name, g)| {
            kiln::compile_graph(
                g.clone(),
                name,
                String::new(),
                EmitKind::Module,
                &kiln::CompileOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect();
    let cases: Vec<Case> = compiled
        .iter()
        .map(|c| Case {
            generated: &c.generated,
        })
        .collect();
    let work = common::repo().join("target").join("kiln-half");
    let runner = harness::build_runner(&cases, &work, &common::gen_target(), Profile::Fast)
        .unwrap_or_else(|e| panic!("{e}"));
    (0..graphs.len())
        .map(|i| runner.run(i, &inputs[i]).unwrap())
        .collect()
}

fn bits(t: &Tensor) -> &[u16] {
    match &t.data {
        TensorData::F16(v) | TensorData::BF16(v) => v,
        other => panic!("not a 16-bit float: {:?}", other.dtype()),
    }
}

#[test]
fn casts_round_like_the_half_crate_and_arithmetic_matches_the_reference() {
    let vals = edge_values();
    let n = vals.len();
    let f32s: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
    // The f64 input: the f32 values, except one that f32 cannot hold (see `want_h64`).
    let odd = 1.0 + 2f64.powi(-11) + 2f64.powi(-30);
    let vals64: Vec<f64> = vals
        .iter()
        .zip(&f32s)
        .map(|(&v, &f)| if v == odd { v } else { f64::from(f) })
        .collect();

    // f32 -> f16, f64 -> f16 (rounded once, from f64), f32 -> bf16, and back to f32.
    let mut b = Builder::new("casts");
    let x32 = b.input("x32", DType::F32, &[n]);
    let x64 = b.input("x64", DType::F64, &[n]);
    let h = cast(&mut b, x32, DType::F16);
    let h64 = cast(&mut b, x64, DType::F16);
    let bf = cast(&mut b, x32, DType::BF16);
    let back = cast(&mut b, h, DType::F32);
    let bf_back = cast(&mut b, bf, DType::F32);
    for v in [h, h64, bf, back, bf_back] {
        b.output(v);
    }
    let casts = b.g;

    // Arithmetic on f16 and bf16 values: Add with a constant, Relu, Softmax, Mul.
    let mut b = Builder::new("arith");
    let x = b.input("x", DType::F16, &[3, 8]);
    let w = b.constant(
        "w",
        &[8],
        TensorData::F16(
            (0..8)
                .map(|i| half::f16::from_f32(i as f32 * 0.37 - 1.1).to_bits())
                .collect(),
        ),
    );
    let s = b.one(Op::Binary(BinaryOp::Add), &[x, w]);
    let r = b.one(Op::Unary(UnaryOp::Relu), &[s]);
    let sm = b.one(
        Op::Softmax(SoftmaxAttrs {
            axis: -1,
            coerce_2d: false,
        }),
        &[r],
    );
    let xb = b.input("xb", DType::BF16, &[3, 8]);
    let m = b.one(Op::Binary(BinaryOp::Mul), &[xb, xb]);
    b.output(r);
    b.output(sm);
    b.output(m);
    let arith = b.g;

    let xs: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.21).collect();
    let arith_in = vec![
        Tensor::new(
            vec![3, 8],
            TensorData::F16(
                xs.iter()
                    .map(|&v| half::f16::from_f32(v).to_bits())
                    .collect(),
            ),
        )
        .unwrap(),
        Tensor::new(
            vec![3, 8],
            TensorData::BF16(
                xs.iter()
                    .map(|&v| half::bf16::from_f32(v).to_bits())
                    .collect(),
            ),
        )
        .unwrap(),
    ];
    let cast_in = vec![
        Tensor::new(vec![n], TensorData::F32(f32s.clone())).unwrap(),
        Tensor::new(vec![n], TensorData::F64(vals64.clone())).unwrap(),
    ];
    let out = run(
        &[("casts", casts), ("arith", arith.clone())],
        &[cast_in, arith_in.clone()],
    );

    let want_h: Vec<u16> = f32s
        .iter()
        .map(|&v| half::f16::from_f32(v).to_bits())
        .collect();
    // `half::f16::from_f64` goes through f32 (rounding twice), so it only serves for values
    // f32 holds exactly. The one value here that f32 does not hold, 1 + 2^-11 + 2^-30, lies
    // above the midpoint of 1.0 and 1 + 2^-10, so rounding it once gives 1 + 2^-10 (0x3c01),
    // as numpy's `astype(float16)` does.
    let want_h64: Vec<u16> = vals64
        .iter()
        .map(|&v| {
            if v == odd {
                0x3c01
            } else {
                half::f16::from_f64(v).to_bits()
            }
        })
        .collect();
    let want_bf: Vec<u16> = f32s
        .iter()
        .map(|&v| half::bf16::from_f32(v).to_bits())
        .collect();
    for (k, (got, want)) in [(0, &want_h), (1, &want_h64), (2, &want_bf)]
        .into_iter()
        .map(|(k, w)| (k, (bits(&out[0][k]), w)))
    {
        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
            // NaN payloads may differ; NaN-ness may not.
            let nan =
                |b: u16, exp_mask: u16| b & exp_mask == exp_mask && b & !(exp_mask | 0x8000) != 0;
            let mask = if k == 2 { 0x7f80 } else { 0x7c00 };
            assert!(
                g == w || (nan(*g, mask) && nan(*w, mask)),
                "output {k}, value {:?}: got {g:#06x}, want {w:#06x}",
                vals[i]
            );
        }
    }
    // Widening back is exact.
    for (k, src) in [(3, &want_h), (4, &want_bf)] {
        let TensorData::F32(got) = &out[0][k].data else {
            panic!("f32 output")
        };
        for (g, &w) in got.iter().zip(src.iter()) {
            let w = if k == 3 {
                half::f16::from_bits(w).to_f32()
            } else {
                half::bf16::from_bits(w).to_f32()
            };
            assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()));
        }
    }

    // The arithmetic graph matches the reference semantics of the graph as written, with
    // 16-bit values, to within one unit in the last place of the 16-bit result.
    let want = kiln::ir::eval::run(&arith, &arith_in).unwrap();
    for (k, (g, w)) in out[1].iter().zip(&want).enumerate() {
        assert_eq!(g.dtype(), w.dtype(), "output {k}");
        for (a, b) in bits(g).iter().zip(bits(w)) {
            assert!(a.abs_diff(*b) <= 1, "output {k}: {a:#06x} vs {b:#06x}");
        }
    }
}
