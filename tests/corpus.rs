//! End to end on real models: compile, build the generated code, run it on
//! `test_data_set_0`, compare with onnxruntime's outputs (numpy allclose, rtol 1e-4,
//! atol 1e-6, except where a model's entry in `MODELS` states and justifies another atol).

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::Op;
use std::time::Instant;

/// `--input-shape` pins: input name and dimensions.
type InputShapes = &'static [(&'static str, &'static [usize])];

/// The suite's absolute tolerance (numpy allclose `atol`); rtol is always 1e-4.
const ATOL: f64 = 1e-6;

/// ddddocr_det's absolute tolerance. Its outputs (|y| up to 2.13) include box offsets
/// near zero that are the difference of large sums after 83 convolutions (up to 2,304
/// products each), so float32 rounding leaves absolute errors of a few 1e-6 there, and
/// how large depends on the order of summation. Measured on this test set with
/// `scripts/compare-f64` (against an f64 evaluation by onnx.reference): the expected
/// output, from onnxruntime 1.32 at its default level (ORT_ENABLE_ALL), needs atol 8.4e-7;
/// onnxruntime at its other three levels needs 1.5e-6 against f64 and 1.7e-6 against its
/// own expected output (max abs 7.0e-6), so it fails atol 1e-6 too; tract 0.23.9 differs
/// from the expected output by up to 7.6e-6 (corpus manifest). kiln needs 2.4e-6 against
/// f64 and 2.6e-6 against the expected output; 5e-6 leaves about twice that. rtol stays
/// 1e-4.
const DDDDOCR_DET_ATOL: f64 = 5e-6;

/// ppocrv4_rec's absolute tolerance for its builds with multiplies and adds fused by the
/// build (`-fp-contract=fast`: "-O2 native", and "-O2 --fma" in the same runner). Its output is 40x6625 softmax
/// probabilities after 262 steps; onnxruntime's own levels differ from the expected output
/// (ORT_ENABLE_ALL) by up to 1.5e-5 (ORT_ENABLE_BASIC; ORT_DISABLE_ALL 1.1e-5). Measured on
/// this test set (2026-12-05), the fused build is within rtol 1e-4 and atol 6.5e-8 of
/// ORT_DISABLE_ALL and 1.3e-9 of ORT_ENABLE_BASIC, but needs atol 3.1e-6 against the
/// expected output at rtol 1e-4 (unfused, 3.2e-7): 5e-6 leaves a little room. (Its f64
/// yardstick, `scripts/compare-f64`, is off by 0.73 on this model, so it cannot decide.)
const PPOCRV4_REC_CONTRACTED_ATOL: f64 = 5e-6;

/// The models this suite covers, each with the `--input-shape` pins its symbolic inputs
/// need (those of its test data) and its atol; each must pass.
const MODELS: &[(&str, InputShapes, f64)] = &[
    ("ddddocr_det", &[], DDDDOCR_DET_ATOL),
    ("mlperf_ad_fcae", &[], ATOL),
    ("mlperf_ic_resnet8", &[], ATOL),
    ("mlperf_vww_mobilenetv1", &[], ATOL),
    ("ppocr_cls_mobile_v2", &[("x", &[1, 3, 48, 192])], ATOL),
    ("ppocrv4_rec", &[("x", &[1, 3, 48, 320])], ATOL),
    ("silero_vad_16k", &[], ATOL),
];

#[test]
fn corpus_models_match_onnxruntime() {
    // Each model twice: with -O0 (the graph as imported) and with full optimisation; again
    // at -O2 built as on a host (below); and with fused multiply-add kernels (`--fma`)
    // where this machine has them.
    let fma_here = kiln::CompileOptions {
        fma: true,
        ..Default::default()
    }
    .kernels(kiln::ir::Target::Host.resolve());
    let mut levels = vec![
        (kiln::passes::OptLevel::O0, "-O0", false),
        (kiln::passes::OptLevel::O2, "-O2", false),
    ];
    // The -O2 code again, built as `kiln bench` and the README build it on a host (`-C
    // target-cpu=native`, and where the machine has FMA units `-fp-contract=fast`, which
    // fuses its multiplies and adds).
    if harness::native_contracts() {
        levels.push((kiln::passes::OptLevel::O2, "-O2 native", false));
    }
    match fma_here {
        Ok(_) => levels.push((kiln::passes::OptLevel::O2, "-O2 --fma", true)),
        Err(e) => eprintln!("the -O2 --fma builds are not tested on this machine: {e}"),
    }
    let mut compiled = Vec::new();
    for (name, shapes, atol) in MODELS {
        let path = common::corpus_model(name);
        if !common::require_data(&path, &format!("corpus model {name}")) {
            return;
        }
        for &(level, flag, fma) in &levels {
            let opts = kiln::CompileOptions {
                opt_level: level,
                fma,
                // The packed weights as bytes in a file, as `kiln compile` writes them.
                weights_file: Some("model.weights".into()),
                input_shapes: shapes
                    .iter()
                    .map(|(n, d)| (n.to_string(), d.to_vec()))
                    .collect(),
                ..Default::default()
            };
            let t = Instant::now();
            let c = kiln::compile(&path, EmitKind::Module, &opts)
                .unwrap_or_else(|e| panic!("{name} {flag}: {e}"));
            eprintln!(
                "{name} {flag}: compiled in {:.2?}; {} nodes -> {}; arena {} B, lower bound {} B, greedy by size {} B",
                t.elapsed(),
                c.nodes_before,
                c.graph.node_count(),
                c.plan.arena_bytes(),
                c.plan.lower_bound_bytes(),
                c.plan.greedy_by_size_bytes()
            );
            compiled.push((*name, *atol, flag, c));
        }
    }
    // The fused and native builds in a runner of their own, built for this machine
    // (`harness::native_rustflags`), where `mul_add` is one instruction and not a library
    // call. `slot[i]` is (runner, case) of `compiled[i]`.
    let native = |flag: &str| flag.ends_with("--fma") || flag.ends_with("native");
    let mut runners = Vec::new();
    let mut slot = vec![(0, 0); compiled.len()];
    for (in_native, profile, dir) in [
        (false, Profile::Release, "kiln-corpus-runner"),
        (true, Profile::Native, "kiln-corpus-runner-fma"),
    ] {
        let members: Vec<usize> = (0..compiled.len())
            .filter(|&i| native(compiled[i].2) == in_native)
            .collect();
        if members.is_empty() {
            continue;
        }
        let cases: Vec<Case> = members
            .iter()
            .map(|&i| Case {
                generated: &compiled[i].3.generated,
            })
            .collect();
        let work = common::repo().join("target").join(dir);
        let t = Instant::now();
        let runner = harness::build_runner(&cases, &work, &common::gen_target(), profile).unwrap();
        eprintln!(
            "{} builds ({dir}) built in {:.2?}",
            cases.len(),
            t.elapsed()
        );
        for (case, &i) in members.iter().enumerate() {
            slot[i] = (runners.len(), case);
        }
        runners.push(runner);
    }
    let mut failures = Vec::new();
    for (i, (name, atol, flag, c)) in compiled.iter().enumerate() {
        let (inputs, expected) = harness::read_test_set(&common::corpus_data(name)).unwrap();
        assert!(!expected.is_empty(), "{name}: no expected outputs");
        let (r, case) = slot[i];
        let actual = runners[r]
            .run(case, &inputs)
            .unwrap_or_else(|e| panic!("{name} {flag}: {e}"));
        assert_eq!(actual.len(), expected.len(), "{name}: output count");
        let atol = match (*name, native(flag)) {
            ("ppocrv4_rec", true) => PPOCRV4_REC_CONTRACTED_ATOL,
            _ => *atol,
        };
        for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let cmp = harness::compare(a, e, 1e-4, atol);
            eprintln!(
                "{name} {flag} output {k}: max abs {:.3e}, max rel {:.3e}",
                cmp.max_abs, cmp.max_rel
            );
            if !cmp.ok {
                failures.push(format!("{name} {flag} output {k}: {cmp:?}"));
            }
        }
        // The reference semantics on the (optimised) graph must agree too (the native and
        // fused builds have the -O2 graph, checked already).
        let r = match native(flag) {
            true => Vec::new(),
            false => kiln::ir::eval::run(&c.graph, &inputs)
                .unwrap_or_else(|e| panic!("{name} {flag}: {e}")),
        };
        for (k, (a, e)) in r.iter().zip(&expected).enumerate() {
            let cmp = harness::compare(a, e, 1e-4, atol);
            if !cmp.ok {
                failures.push(format!(
                    "{name} {flag} output {k} (reference semantics): {cmp:?}"
                ));
            }
        }
        // The arena never exceeds greedy by size, and sits within 2% of the lower bound.
        let (arena, lb, greedy) = (
            c.plan.arena_bytes(),
            c.plan.lower_bound_bytes(),
            c.plan.greedy_by_size_bytes(),
        );
        if arena > greedy || arena as f64 > lb as f64 * 1.02 {
            failures.push(format!(
                "{name} {flag}: arena {arena} B, lower bound {lb} B, greedy by size {greedy} B"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// The int8 QDQ models (onnxruntime `quantize_static`: uint8 activations, int8 per-channel
/// weights) with the absolute tolerance against onnxruntime's own outputs
/// (`int8_test_data_set_0`, from its default level, ORT_ENABLE_ALL): the largest difference
/// between onnxruntime's own optimisation levels on the same model and inputs, measured
/// with `scripts/int8-spread` (its fused kernels at EXTENDED/ALL against the unfused
/// float islands at DISABLE_ALL/BASIC): one output step (1/255) on the three
/// classifiers, 0.208 on ppocrv4_rec, 0.2 on ddddocr_det, none on mlperf_ad_fcae and
/// silero_vad_16k (1e-6 there: float formatting alone). Also whether top-1 must agree (the
/// classifiers).
const INT8_MODELS: &[(&str, InputShapes, f64, bool)] = &[
    ("mlperf_ad_fcae", &[], 1e-6, false),
    ("mlperf_ic_resnet8", &[], 0.0040, true),
    ("mlperf_vww_mobilenetv1", &[], 0.0040, true),
    (
        "ppocr_cls_mobile_v2",
        &[("x", &[1, 3, 48, 192])],
        0.0040,
        true,
    ),
    ("silero_vad_16k", &[], 1e-6, false),
    ("ppocrv4_rec", &[("x", &[1, 3, 48, 320])], 0.21, false),
    ("ddddocr_det", &[], 0.2, false),
];

/// Where an int8 model misses a size goal (weights at most 0.3x the fp32 model's, arena at
/// most 0.35x), and why.
const INT8_SIZE_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "silero_vad_16k",
        "weights",
        "onnxruntime's quantizer left its LSTM float: the LSTM's f32 weights (about 0.5 MB) \
         are in the QDQ model as f32 initializers",
    ),
    (
        "silero_vad_16k",
        "arena",
        "its LSTM is float, so its f32 gates, state and inputs stay in an f32 pool that the \
         u8 activations cannot share (the generated Rust has one pool per element type: no \
         unsafe casts)",
    ),
    (
        "mlperf_ad_fcae",
        "arena",
        "the fp32 arena is two 128-float rows (1 KiB); the int8 build adds the quantized copy \
         of the 640-float input (640 B), which the fp32 build reads in place from the caller",
    ),
];

/// -O0 runs a QDQ model as imported: float ops between DequantizeLinear and
/// QuantizeLinear, as onnxruntime's unfused levels do, but summing in its own order, so
/// its ties fall apart from both of onnxruntime's paths: measured 1.09x the spread on
/// ppocrv4_rec (0.227 against 0.208), 0.93x on ddddocr_det; held to 1.5x.
const INT8_O0_FACTOR: f64 = 1.5;

/// The bytes of the constants the graph's nodes read: the generated code's weights.
fn weight_bytes(g: &kiln::ir::Graph) -> usize {
    let read: std::collections::BTreeSet<kiln::ir::ValueId> = g
        .node_ids()
        .flat_map(|n| g.node(n).inputs.iter().flatten().copied())
        .collect();
    read.iter()
        .filter_map(|&v| g.value(v).const_tensor())
        .map(|t| t.ty().size_bytes())
        .sum()
}

#[test]
fn corpus_int8_models_match_onnxruntime() {
    let mut compiled = Vec::new();
    let mut failures = Vec::new();
    // `--intrinsics` (the quad kernels) where kiln has them for this machine: run twice,
    // built as a user on this machine would (`-C target-cpu=native`: VNNI where the CPU
    // has it) and for the baseline (their portable tiles).
    let intrinsics_here = kiln::CompileOptions {
        intrinsics: true,
        ..Default::default()
    }
    .kernels(kiln::ir::Target::Host.resolve());
    let mut levels = vec![
        (kiln::passes::OptLevel::O0, "-O0", false),
        (kiln::passes::OptLevel::O2, "-O2", false),
    ];
    match &intrinsics_here {
        Ok(_) => levels.push((kiln::passes::OptLevel::O2, "-O2 --intrinsics", true)),
        Err(e) => eprintln!("the -O2 --intrinsics builds are not tested on this machine: {e}"),
    }
    for &(name, shapes, atol, top1) in INT8_MODELS {
        let path = common::corpus_model(&format!("{name}.int8.qdq"));
        if !common::require_data(&path, &format!("int8 corpus model {name}")) {
            continue;
        }
        let opts = |level, intrinsics| kiln::CompileOptions {
            opt_level: level,
            intrinsics,
            weights_file: Some("model.weights".into()),
            input_shapes: shapes
                .iter()
                .map(|(n, d)| (n.to_string(), d.to_vec()))
                .collect(),
            ..Default::default()
        };
        let fp32 = kiln::compile(
            &common::corpus_model(name),
            EmitKind::Module,
            &opts(kiln::passes::OptLevel::O2, false),
        )
        .unwrap_or_else(|e| panic!("{name} fp32: {e}"));
        for &(level, flag, intrinsics) in &levels {
            let c = kiln::compile(&path, EmitKind::Module, &opts(level, intrinsics))
                .unwrap_or_else(|e| panic!("{name} int8 {flag}: {e}"));
            if level == kiln::passes::OptLevel::O2 && !intrinsics {
                // No float Conv, Gemm or MatMul left: the quantize pass made them integer.
                let float: Vec<String> = c
                    .graph
                    .node_ids()
                    .map(|n| c.graph.node(n))
                    .filter(|n| matches!(n.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul))
                    .map(|n| format!("{} {:?}", n.op.name(), n.name))
                    .collect();
                if !float.is_empty() {
                    failures.push(format!("{name} int8: float ops left: {float:?}"));
                }
                let (w, w32) = (weight_bytes(&c.graph), weight_bytes(&fp32.graph));
                let (a, a32) = (c.plan.arena_bytes(), fp32.plan.arena_bytes());
                eprintln!(
                    "{name} int8 -O2: weights {w} B ({:.3}x fp32's {w32} B), arena {a} B \
                     ({:.3}x fp32's {a32} B)",
                    w as f64 / w32 as f64,
                    a as f64 / a32 as f64
                );
                let excepted = |what: &str| {
                    INT8_SIZE_EXCEPTIONS
                        .iter()
                        .any(|&(n, w, _)| n == name && w == what)
                };
                if w as f64 > 0.3 * w32 as f64 && !excepted("weights") {
                    failures.push(format!("{name} int8: weights {w} B > 0.3 x {w32} B"));
                }
                if a as f64 > 0.35 * a32 as f64 && !excepted("arena") {
                    failures.push(format!("{name} int8: arena {a} B > 0.35 x {a32} B"));
                }
            }
            compiled.push((name, atol, top1, flag, c));
        }
    }
    if compiled.is_empty() {
        return;
    }
    let cases: Vec<Case> = compiled
        .iter()
        .map(|c| Case {
            generated: &c.4.generated,
        })
        .collect();
    let work = common::repo().join("target");
    let runner = harness::build_runner(
        &cases,
        &work.join("kiln-corpus-int8-runner"),
        &common::gen_target(),
        Profile::Release,
    )
    .unwrap();
    // The `--intrinsics` cases again, built for this machine (`-C target-cpu=native`): the
    // VNNI tiles where the CPU has them.
    let again: Vec<usize> = (0..compiled.len())
        .filter(|&i| compiled[i].3.ends_with("--intrinsics"))
        .collect();
    let native = (!again.is_empty()).then(|| {
        let cases: Vec<Case> = again
            .iter()
            .map(|&i| Case {
                generated: &compiled[i].4.generated,
            })
            .collect();
        harness::build_runner(
            &cases,
            &work.join("kiln-corpus-int8-runner-native"),
            &common::gen_target(),
            Profile::Native,
        )
        .unwrap()
    });
    let portable = compiled
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c, &runner, ""));
    let natives = again.iter().enumerate().filter_map(|(case, &i)| {
        native
            .as_ref()
            .map(|r| (case, &compiled[i], r, " (native)"))
    });
    for (i, (name, atol, top1, flag, _), runner, build) in portable.chain(natives) {
        let flag = &format!("{flag}{build}");
        let (inputs, _) = harness::read_test_set(&common::corpus_data(name)).unwrap();
        let int8_set = common::corpus_data(name)
            .parent()
            .expect("test set in a model folder")
            .join("int8_test_data_set_0");
        let (_, expected) = harness::read_test_set(&int8_set).unwrap();
        assert!(!expected.is_empty(), "{name}: no int8 expected outputs");
        let actual = runner
            .run(i, &inputs)
            .unwrap_or_else(|e| panic!("{name} int8 {flag}: {e}"));
        let atol = match flag.as_str() {
            "-O0" => atol * INT8_O0_FACTOR,
            _ => *atol,
        };
        for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let cmp = harness::compare(a, e, 0.0, atol);
            eprintln!(
                "{name} int8 {flag} output {k}: max abs {:.3e} (tolerance {atol:.0e})",
                cmp.max_abs
            );
            if !cmp.ok {
                failures.push(format!("{name} int8 {flag} output {k}: {cmp:?}"));
            }
            let argmax = |t: &kiln::ir::Tensor| {
                let v = t.data.to_f64_vec();
                (0..v.len()).max_by(|&x, &y| v[x].total_cmp(&v[y]))
            };
            if *top1 && argmax(a) != argmax(e) {
                failures.push(format!(
                    "{name} int8 {flag} output {k}: top-1 {:?}, onnxruntime's {:?}",
                    argmax(a),
                    argmax(e)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "int8 corpus:\n{}", failures.join("\n"));
}

/// onnxruntime's own post-training quantization of the seven fp32 models, calibrated on the
/// same sample as kiln's below (test_data_set_0): `quantize_static`, QDQ, per channel,
/// uint8 activations, MinMax. Written by `scripts/ptq-ort`.
fn ort_ptq_cosines() -> serde_json::Value {
    let path = common::repo().join("tests/data/ptq_ort.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn cosine(a: &kiln::ir::Tensor, b: &kiln::ir::Tensor) -> f64 {
    let (a, b) = (a.data.to_f64_vec(), b.data.to_f64_vec());
    let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(&a) * norm(&b) + 1e-30)
}

/// kiln's own post-training quantization (`--quantize int8`, default options) of each fp32
/// corpus model, calibrated on its test_data_set_0: the generated code's outputs must be at
/// least as close to the fp32 outputs (cosine) as onnxruntime's quantize_static with the
/// same calibration data, and no float Conv, Gemm or MatMul may be left but the layers the
/// report says it kept float.
#[test]
fn corpus_ptq_models_match_or_beat_onnxruntime_quantize_static() {
    let ort = ort_ptq_cosines();
    let mut compiled = Vec::new();
    let mut failures = Vec::new();
    for &(name, shapes, _) in MODELS {
        let path = common::corpus_model(name);
        if !common::require_data(&path, &format!("corpus model {name}")) {
            continue;
        }
        let opts = kiln::CompileOptions {
            input_shapes: shapes
                .iter()
                .map(|(n, d)| (n.to_string(), d.to_vec()))
                .collect(),
            quantize: Some(kiln::Quantize {
                calibration: common::corpus_data(name),
                options: Default::default(),
            }),
            ..Default::default()
        };
        let c = kiln::compile(&path, EmitKind::Module, &opts)
            .unwrap_or_else(|e| panic!("{name} --quantize int8: {e}"));
        let report = c.quantization.as_ref().expect("quantized");
        let kept: Vec<&str> = report
            .layers
            .iter()
            .filter(|l| l.float)
            .map(|l| l.name.as_str())
            .collect();
        let float: Vec<String> = c
            .graph
            .node_ids()
            .map(|n| c.graph.node(n))
            .filter(|n| matches!(n.op, Op::Conv(_) | Op::Gemm(_) | Op::MatMul))
            .filter(|n| !kept.contains(&n.name.as_str()))
            .map(|n| format!("{} {:?}", n.op.name(), n.name))
            .collect();
        if !float.is_empty() {
            failures.push(format!("{name}: float ops left unreported: {float:?}"));
        }
        eprintln!("{name}: {}", kiln::quantization::summary(report));
        compiled.push((name, c));
    }
    if compiled.is_empty() {
        return;
    }
    let cases: Vec<Case> = compiled
        .iter()
        .map(|c| Case {
            generated: &c.1.generated,
        })
        .collect();
    let work = common::repo().join("target").join("kiln-corpus-ptq-runner");
    let runner =
        harness::build_runner(&cases, &work, &common::gen_target(), Profile::Release).unwrap();
    for (i, (name, _)) in compiled.iter().enumerate() {
        let (inputs, expected) = harness::read_test_set(&common::corpus_data(name)).unwrap();
        let actual = runner
            .run(i, &inputs)
            .unwrap_or_else(|e| panic!("{name} --quantize int8: {e}"));
        let theirs = &ort["models"][name]["outputs"];
        for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let ours = cosine(a, e);
            let Some(ort_cos) = theirs[k]["cosine"].as_f64() else {
                failures.push(format!(
                    "{name} output {k}: no onnxruntime figure in ptq_ort.json"
                ));
                continue;
            };
            eprintln!(
                "{name} output {k}: cosine to fp32 {ours:.10}, onnxruntime quantize_static {ort_cos:.10}"
            );
            if ours < ort_cos {
                failures.push(format!(
                    "{name} output {k}: cosine {ours:.8} below onnxruntime's {ort_cos:.8}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "kiln PTQ on the corpus:\n{}",
        failures.join("\n")
    );
}
