//! kiln's own post-training quantization (`--quantize int8`, `kiln::passes::ptq`).
//!
//! 1. Random small networks (Conv, Relu, residual Add, depthwise Conv, Clip, MaxPool,
//!    SiLU, GlobalAveragePool, Gemm) with random weights and input ranges, calibrated on
//!    random samples: the layers become integer, the generated code equals the reference
//!    semantics of the quantized graph, and the quantized outputs stay close to the float
//!    model's on held-out samples (cosine ≥ `MIN_COSINE`).
//! 2. Mixed precision: a layer whose input quantization destroys it (one huge outlier sets
//!    the range) stays float and is reported; without the threshold it is quantized and the
//!    model is worse.
//! 3. Calibration data layouts and their errors.
//!
//! The corpus comparison with onnxruntime's quantize_static is in tests/corpus.rs.

mod common;

use common::builder::Builder;
use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::ops::*;
use kiln::ir::{Graph, Op, Tensor};
use kiln::passes::ptq::{PtqOptions, PtqReport};

/// A small deterministic generator (xorshift), so each failure names a reproducible seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Roughly normal (sum of uniforms), times `scale`.
    fn normal(&mut self, scale: f32) -> f32 {
        let s: f32 = (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum();
        (s - 2.0) * 1.7 * scale
    }

    fn tensor(&mut self, shape: Vec<usize>, scale: f32, shift: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_f32(shape, (0..n).map(|_| self.normal(scale) + shift).collect()).unwrap()
    }
}

fn window(k: usize, pad: usize, stride: usize) -> WindowAttrs {
    WindowAttrs {
        auto_pad: AutoPad::NotSet,
        kernel_shape: vec![k, k],
        strides: vec![stride, stride],
        dilations: vec![1, 1],
        pads: vec![pad; 4],
        ceil_mode: false,
    }
}

fn conv(
    bd: &mut Builder,
    rng: &mut Rng,
    x: kiln::ir::ValueId,
    c: usize,
    m: usize,
    k: usize,
    group: usize,
) -> kiln::ir::ValueId {
    let fan_in = (c / group * k * k) as f32;
    let w = bd.constant(rng.tensor(vec![m, c / group, k, k], 1.0 / fan_in.sqrt(), 0.0));
    let b = bd.constant(rng.tensor(vec![m], 0.1, 0.0));
    let attrs = ConvAttrs {
        window: window(k, k / 2, 1),
        group,
    };
    bd.node(Op::Conv(attrs), "Conv", vec![Some(x), Some(w), Some(b)])
}

/// A random network and its input shape.
fn network(seed: u64) -> (Graph, Vec<usize>, f32, f32) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let c = 1 + rng.below(3);
    let h = 4 + 2 * rng.below(3);
    let m = 2 + rng.below(6);
    let classes = 2 + rng.below(8);
    // Inputs anywhere from centred to all-positive, small to large.
    let scale = [0.1f32, 1.0, 20.0][rng.below(3)];
    let shift = [0.0f32, 1.0][rng.below(2)] * scale;
    let shape = vec![1, c, h, h];
    let mut bd = Builder::new();
    let x = bd.input(Tensor::from_f32(shape.clone(), vec![0.0; c * h * h]).unwrap());
    let a = conv(&mut bd, &mut rng, x, c, m, 3, 1);
    let a = bd.node(Op::Unary(UnaryOp::Relu), "Relu", vec![Some(a)]);
    let b = conv(&mut bd, &mut rng, a, m, m, 1, 1);
    let r = bd.node(Op::Binary(BinaryOp::Add), "Add", vec![Some(a), Some(b)]);
    let d = conv(&mut bd, &mut rng, r, m, m, 3, m);
    let clip = ClipAttrs {
        min: Some(0.0),
        max: Some(6.0),
    };
    let d = bd.node(Op::Clip(clip), "Clip", vec![Some(d)]);
    let p = bd.node(
        Op::MaxPool(MaxPoolAttrs {
            window: window(2, 0, 2),
            storage_order: 0,
        }),
        "MaxPool",
        vec![Some(d)],
    );
    let e = conv(&mut bd, &mut rng, p, m, m, 3, 1);
    let s = bd.node(Op::Unary(UnaryOp::Sigmoid), "Sigmoid", vec![Some(e)]);
    let silu = bd.node(Op::Binary(BinaryOp::Mul), "Mul", vec![Some(e), Some(s)]);
    let gap = bd.node(Op::GlobalAveragePool, "GlobalAveragePool", vec![Some(silu)]);
    let f = bd.node(
        Op::Flatten(FlattenAttrs { axis: 1 }),
        "Flatten",
        vec![Some(gap)],
    );
    let w = bd.constant(rng.tensor(vec![classes, m], 1.0 / (m as f32).sqrt(), 0.0));
    let bias = bd.constant(rng.tensor(vec![classes], 0.1, 0.0));
    let gemm = GemmAttrs {
        trans_b: true,
        ..Default::default()
    };
    let y = bd.node(Op::Gemm(gemm), "Gemm", vec![Some(f), Some(w), Some(bias)]);
    let (g, _) = bd.finish(y);
    (g, shape, scale, shift)
}

fn cosine(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.data.to_f64_vec(), b.data.to_f64_vec());
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(&a) * norm(&b) + 1e-30)
}

/// Float Conv, Gemm or MatMul nodes left in a compiled graph.
fn float_layers(g: &Graph) -> Vec<String> {
    g.node_ids()
        .map(|n| g.node(n))
        .filter(|n| matches!(n.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul))
        .map(|n| n.name.clone())
        .collect()
}

fn compile(g: Graph) -> kiln::Compiled {
    kiln::compile_graph(
        g,
        "case.onnx",
        String::new(),
        EmitKind::Module,
        &kiln::CompileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn quantize(g: &Graph, samples: &[Vec<Tensor>], opts: &PtqOptions) -> (Graph, PtqReport) {
    let mut q = g.clone();
    let report = kiln::passes::ptq::quantize(&mut q, samples, opts).unwrap();
    (q, report)
}

/// How close a held-out sample's quantized outputs must stay to float. A held-out sample
/// beyond the calibrated ranges is clipped: the worst over these 24 networks × 3 samples
/// measured 0.973 (typical 0.999); a wrong scale, zero point or channel order gives far
/// less.
const MIN_COSINE: f64 = 0.95;

#[test]
fn quantized_random_networks_are_integer_exact_and_close_to_float() {
    const CASES: u64 = 24;
    let mut compiled = Vec::new();
    let mut failures = Vec::new();
    let mut worst = 1f64;
    for seed in 0..CASES {
        let (g, shape, scale, shift) = network(seed);
        let mut rng = Rng(seed + 1000);
        let mut draw = || vec![rng.tensor(shape.clone(), scale, shift)];
        let calibration: Vec<Vec<Tensor>> = (0..16).map(|_| draw()).collect();
        let held_out: Vec<Vec<Tensor>> = (0..3).map(|_| draw()).collect();
        let (q, report) = quantize(&g, &calibration, &PtqOptions::default());
        let c = compile(q);
        let kept: Vec<&String> = report
            .layers
            .iter()
            .filter(|l| l.float)
            .map(|l| &l.name)
            .collect();
        let left: Vec<String> = float_layers(&c.graph)
            .into_iter()
            .filter(|n| !kept.contains(&n))
            .collect();
        if !left.is_empty() {
            failures.push(format!(
                "seed {seed}: float layers left unreported: {left:?}"
            ));
        }
        if report.absorbed < 2 {
            failures.push(format!(
                "seed {seed}: the Relu and the Clip from 0 were not folded ({report:?})"
            ));
        }
        compiled.push((seed, g, c, held_out));
    }
    let cases: Vec<Case> = compiled
        .iter()
        .map(|(_, _, c, _)| Case {
            generated: &c.generated,
        })
        .collect();
    let work = common::repo().join("target").join("kiln-ptq-runner");
    let runner =
        harness::build_runner(&cases, &work, &common::gen_target(), Profile::Fast).unwrap();
    for (i, (seed, float, c, held_out)) in compiled.iter().enumerate() {
        for (k, sample) in held_out.iter().enumerate() {
            let got = runner.run(i, sample).unwrap();
            let reference = kiln::ir::eval::run(&c.graph, sample).unwrap();
            let want = kiln::ir::eval::run(float, sample).unwrap();
            let cmp = harness::compare(&got[0], &reference[0], 1e-5, 1e-6);
            if !cmp.ok {
                failures.push(format!(
                    "seed {seed} sample {k}: generated code vs the quantized graph's reference \
                     semantics: {cmp:?}"
                ));
            }
            let cos = cosine(&got[0], &want[0]);
            worst = worst.min(cos);
            if cos < MIN_COSINE {
                failures.push(format!(
                    "seed {seed} sample {k}: cosine to float {cos:.5} < {MIN_COSINE}"
                ));
            }
        }
    }
    eprintln!("worst cosine to float on held-out samples: {worst:.5}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A 1x1 Conv whose outputs are differences of nearly equal inputs (100 ± 0.1, weights
/// +a and -a): the input's quantization step (about 0.4) is larger than the differences,
/// so quantized, the layer's output is mostly rounding error. Then a Relu and a 1x1 Conv.
fn cancelling_network() -> (Graph, Vec<Vec<Tensor>>) {
    let mut rng = Rng(77);
    let mut bd = Builder::new();
    let shape = vec![1, 2, 6, 6];
    let x = bd.input(Tensor::from_f32(shape.clone(), vec![0.0; 72]).unwrap());
    let w: Vec<f32> = (0..4)
        .flat_map(|j| {
            let a = 0.5 + j as f32 * 0.3;
            [a, -a]
        })
        .collect();
    let w = bd.constant(Tensor::from_f32(vec![4, 2, 1, 1], w).unwrap());
    let attrs = ConvAttrs {
        window: window(1, 0, 1),
        group: 1,
    };
    let a = bd.node(Op::Conv(attrs), "Conv", vec![Some(x), Some(w), None]);
    let a = bd.node(Op::Unary(UnaryOp::Relu), "Relu", vec![Some(a)]);
    let y = conv(&mut bd, &mut rng, a, 4, 4, 1, 1);
    let (g, _) = bd.finish(y);
    let samples = (0..4)
        .map(|_| vec![rng.tensor(shape.clone(), 0.1, 100.0)])
        .collect();
    (g, samples)
}

#[test]
fn a_layer_over_the_threshold_stays_float_and_is_reported() {
    let (g, samples) = cancelling_network();
    let first = g
        .node_ids()
        .map(|n| g.node(n))
        .find(|n| matches!(n.op, Op::Conv(_)) && g.inputs.contains(&n.inputs[0].unwrap()))
        .unwrap()
        .name
        .clone();
    let (mixed, report) = quantize(&g, &samples, &PtqOptions::default());
    let float: Vec<&str> = report
        .layers
        .iter()
        .filter(|l| l.float)
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(float, [first.as_str()], "{report:?}");
    let first_error = report
        .layers
        .iter()
        .find(|l| l.name == first)
        .unwrap()
        .error;
    assert!(first_error > 0.1, "{report:?}");
    let off = PtqOptions {
        float_threshold: None,
        ..Default::default()
    };
    let (all, report_off) = quantize(&g, &samples, &off);
    assert!(report_off.layers.iter().all(|l| !l.float));
    let (cm, ca) = (compile(mixed), compile(all));
    assert_eq!(float_layers(&cm.graph), [first]);
    assert!(float_layers(&ca.graph).is_empty());
    // The float layer is what keeps the model usable.
    for s in &samples {
        let want = kiln::ir::eval::run(&g, s).unwrap();
        let m = cosine(&kiln::ir::eval::run(&cm.graph, s).unwrap()[0], &want[0]);
        let a = cosine(&kiln::ir::eval::run(&ca.graph, s).unwrap()[0], &want[0]);
        assert!(m > a && m > 0.99, "mixed {m}, all int8 {a}");
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = common::repo()
        .join("target")
        .join("kiln-ptq-samples")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn calibration_samples_are_read_from_each_layout() {
    let (g, samples) = cancelling_network();
    let x = &samples[0][0];
    let pb = |t: &Tensor| kiln::frontend::encode_tensor_pb("x0", t);
    let npy = |t: &Tensor| kiln::npy::npy_bytes(t).unwrap();
    // test_data_set_* folders of input_<i>.pb.
    let d = scratch("sets");
    for (k, s) in samples.iter().enumerate() {
        let set = d.join(format!("test_data_set_{k}"));
        std::fs::create_dir_all(&set).unwrap();
        std::fs::write(set.join("input_0.pb"), pb(&s[0])).unwrap();
        // Expected outputs beside them are not inputs.
        std::fs::write(set.join("output_0.pb"), pb(&s[0])).unwrap();
    }
    assert_eq!(kiln::read_samples(&d, &g).unwrap(), samples);
    // One sample: input_0.npy.
    let d = scratch("one");
    std::fs::write(d.join("input_0.npy"), npy(x)).unwrap();
    assert_eq!(kiln::read_samples(&d, &g).unwrap(), vec![vec![x.clone()]]);
    // A one-input model: one .npy file per sample.
    let d = scratch("npys");
    for (k, s) in samples.iter().enumerate() {
        std::fs::write(d.join(format!("sample{k}.npy")), npy(&s[0])).unwrap();
    }
    assert_eq!(kiln::read_samples(&d, &g).unwrap(), samples);
    // The wrong shape names the file and both types.
    let d = scratch("shape");
    let wrong = Tensor::from_f32(vec![1, 2, 5, 6], vec![0.0; 60]).unwrap();
    std::fs::write(d.join("input_0.npy"), npy(&wrong)).unwrap();
    let e = kiln::read_samples(&d, &g).unwrap_err().to_string();
    assert!(
        e.contains("input_0.npy") && e.contains("f32[1x2x6x6]") && e.contains("f32[1x2x5x6]"),
        "{e}"
    );
    // Nothing to read says what was expected.
    let d = scratch("empty");
    std::fs::write(d.join("notes.txt"), "").unwrap();
    let e = kiln::read_samples(&d, &g).unwrap_err().to_string();
    assert!(
        e.contains("no calibration samples") && e.contains("test_data_set_"),
        "{e}"
    );
    // A directory that does not exist names itself.
    let missing = d.join("nope");
    let e = kiln::read_samples(&missing, &g).unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
}
