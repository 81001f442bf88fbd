//! The C backend end to end: every corpus model compiled with `--emit c`, built with a
//! small C harness by gcc and clang (`-std=c99 -Wall -Wextra -Werror -pedantic`, under
//! AddressSanitizer and UndefinedBehaviorSanitizer, nothing recovered), run on
//! `test_data_set_0`, and compared with onnxruntime's outputs at the tolerances of
//! `tests/corpus.rs` (numpy allclose, rtol 1e-4). The harness reads each input from a raw
//! little-endian file, hands `<name>_run` buffers of exactly the port's size and an arena of
//! exactly `<NAME>_ARENA_BYTES` from malloc (so ASan sees any access past them), and writes
//! each output to a raw file.

mod common;

use common::c::{FLAGS, build_and_run, c_type, compilers};
use kiln::codegen::{EmitKind, Generated, Port};
use kiln::harness;
use kiln::ir::{Tensor, TensorData};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// `--input-shape` pins: input name and dimensions.
type InputShapes = &'static [(&'static str, &'static [usize])];

/// The corpus models with their pins and atol, as in `tests/corpus.rs` (which justifies
/// ddddocr_det's 5e-6).
const MODELS: &[(&str, InputShapes, f64)] = &[
    ("ddddocr_det", &[], 5e-6),
    ("mlperf_ad_fcae", &[], 1e-6),
    ("mlperf_ic_resnet8", &[], 1e-6),
    ("mlperf_vww_mobilenetv1", &[], 1e-6),
    ("ppocr_cls_mobile_v2", &[("x", &[1, 3, 48, 192])], 1e-6),
    ("ppocrv4_rec", &[("x", &[1, 3, 48, 320])], 1e-6),
    ("silero_vad_16k", &[], 1e-6),
];

/// One model at one level: compiled to C, built and run with each compiler, compared with
/// `expected` (numpy allclose with `rtol`, `atol`; with `top1`, the largest output must be
/// the same element as onnxruntime's too). Mismatches go to `failures`.
#[allow(clippy::too_many_arguments)]
fn check(
    label: &str,
    path: &Path,
    shapes: InputShapes,
    level: kiln::passes::OptLevel,
    target: Option<kiln::ir::Target>,
    inputs: &[Tensor],
    expected: &[Tensor],
    (rtol, atol, top1): (f64, f64, bool),
    ccs: &[&str],
    failures: &mut Vec<String>,
) {
    let opts = kiln::CompileOptions {
        opt_level: level,
        target: target.unwrap_or_default(),
        input_shapes: shapes
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect(),
        ..Default::default()
    };
    let c = match kiln::compile(path, EmitKind::C, &opts) {
        Ok(c) => c,
        Err(e) => {
            failures.push(format!("{label}: {e}"));
            return;
        }
    };
    let work = common::repo().join("target").join("kiln-c-backend");
    for cc in ccs {
        let dir = work.join(label.replace(' ', ""));
        let t = std::time::Instant::now();
        let actual = match build_and_run(&dir, &c.generated, inputs, cc) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{label} {cc}: {e}"));
                continue;
            }
        };
        if actual.len() != expected.len() {
            failures.push(format!(
                "{label} {cc}: {} outputs, expected {}",
                actual.len(),
                expected.len()
            ));
            continue;
        }
        for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
            let cmp = harness::compare(a, e, rtol, atol);
            eprintln!(
                "{label} {cc} output {k}: max abs {:.3e}, max rel {:.3e} ({:.1?})",
                cmp.max_abs,
                cmp.max_rel,
                t.elapsed()
            );
            if !cmp.ok {
                failures.push(format!("{label} {cc} output {k}: {cmp:?}"));
            }
            let argmax = |t: &Tensor| {
                let v = t.data.to_f64_vec();
                (0..v.len()).max_by(|&x, &y| v[x].total_cmp(&v[y]))
            };
            if top1 && argmax(a) != argmax(e) {
                failures.push(format!(
                    "{label} {cc} output {k}: top-1 {:?}, onnxruntime's {:?}",
                    argmax(a),
                    argmax(e)
                ));
            }
        }
    }
}

/// Whether `KILN_C_MODELS=a,b` (for work on one model) leaves `name` out.
fn skipped(name: &str) -> bool {
    std::env::var("KILN_C_MODELS").is_ok_and(|o| !o.split(',').any(|m| m == name))
}

const LEVELS: [(kiln::passes::OptLevel, &str); 2] = [
    (kiln::passes::OptLevel::O0, "-O0"),
    (kiln::passes::OptLevel::O2, "-O2"),
];

#[test]
fn corpus_models_in_c_match_onnxruntime() {
    let Some(ccs) = compilers() else { return };
    let mut failures = Vec::new();
    for (name, shapes, atol) in MODELS {
        if skipped(name) {
            continue;
        }
        let path = common::corpus_model(name);
        if !common::require_data(&path, &format!("corpus model {name}")) {
            return;
        }
        let (inputs, expected) = harness::read_test_set(&common::corpus_data(name)).unwrap();
        // The third run is lowered for a Cortex-M4F (the one-lane register tiles, their
        // packed weights and scratch), built for the host.
        let m4 = kiln::ir::Target::Thumbv7em { fpu: true };
        for (level, flag, target) in LEVELS.map(|(l, f)| (l, f, None)).into_iter().chain([(
            kiln::passes::OptLevel::O2,
            "-O2-cortex-m4f",
            Some(m4),
        )]) {
            let label = format!("{name} {flag}");
            let tol = (1e-4, *atol, false);
            check(
                &label,
                &path,
                shapes,
                level,
                target,
                &inputs,
                &expected,
                tol,
                &ccs,
                &mut failures,
            );
        }
    }
    assert!(
        failures.is_empty(),
        "C backend failures:\n{}",
        failures.join("\n")
    );
}

/// The int8 QDQ models with `tests/corpus.rs`'s tolerances against onnxruntime's outputs
/// (`int8_test_data_set_0`; atol only, 1.5x at -O0, and top-1 for the classifiers; the
/// reasons are given there).
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

#[test]
fn corpus_int8_models_in_c_match_onnxruntime() {
    let Some(ccs) = compilers() else { return };
    let mut failures = Vec::new();
    for &(name, shapes, atol, top1) in INT8_MODELS {
        if skipped(name) {
            continue;
        }
        let path = common::corpus_model(&format!("{name}.int8.qdq"));
        if !common::require_data(&path, &format!("int8 corpus model {name}")) {
            return;
        }
        let (inputs, _) = harness::read_test_set(&common::corpus_data(name)).unwrap();
        let int8_set = common::corpus_data(name)
            .parent()
            .expect("test set in a model folder")
            .join("int8_test_data_set_0");
        let (_, expected) = harness::read_test_set(&int8_set).unwrap();
        // The third run is lowered for a Cortex-M4 (the SMLAD kernels and their packed
        // weights), built for the host: the intrinsics' portable stand-ins.
        let m4 = kiln::ir::Target::Thumbv7em { fpu: true };
        for (level, flag, target) in LEVELS.map(|(l, f)| (l, f, None)).into_iter().chain([(
            kiln::passes::OptLevel::O2,
            "-O2-cortex-m4",
            Some(m4),
        )]) {
            let label = format!("{name} int8 {flag}");
            let atol = if flag == "-O0" { atol * 1.5 } else { atol };
            let tol = (0.0, atol, top1);
            check(
                &label,
                &path,
                shapes,
                level,
                target,
                &inputs,
                &expected,
                tol,
                &ccs,
                &mut failures,
            );
        }
    }
    assert!(
        failures.is_empty(),
        "C backend int8 failures:\n{}",
        failures.join("\n")
    );
}

/// How a node test fares in C.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Pass,
    Fail(String),
}

/// One compiled node test at one level, waiting to be built and run.
struct NodeCase {
    test: usize,
    flag: &'static str,
    ident: String,
    generated: Generated,
    inputs: Vec<Tensor>,
    expected: Vec<Tensor>,
}

/// The ONNX backend's tolerance, as `tests/conformance.rs`.
const NODE_RTOL: f64 = 1e-3;
const NODE_ATOL: f64 = 1e-7;
/// Node cases per C build: one compiler call per half (two cores), one link.
const NODE_CHUNK: usize = 200;

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(200)
        .collect()
}

/// The harness `main.c` of a chunk: `run <case> <dir>` runs one case on `dir/input_<i>.bin`,
/// writing `dir/output_<i>.bin`.
fn node_main(cases: &[&NodeCase]) -> String {
    let mut s = String::from(
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <stdint.h>\n",
    );
    for c in cases {
        s.push_str(&format!("#include \"{}.h\"\n", c.ident));
    }
    s.push_str(
        "\nstatic void *load(const char *dir, int i, size_t bytes)\n{\n    char path[4096];\n    \
         void *p = malloc(bytes ? bytes : 1);\n    FILE *f;\n    \
         sprintf(path, \"%s/input_%d.bin\", dir, i);\n    f = fopen(path, \"rb\");\n    \
         if (!p || !f || fread(p, 1, bytes, f) != bytes) { fprintf(stderr, \"cannot read %s\\n\", path); exit(2); }\n    \
         fclose(f);\n    return p;\n}\n\n\
         static void save(const char *dir, int i, const void *p, size_t bytes)\n{\n    char path[4096];\n    FILE *f;\n    \
         sprintf(path, \"%s/output_%d.bin\", dir, i);\n    f = fopen(path, \"wb\");\n    \
         if (!f || fwrite(p, 1, bytes, f) != bytes) { fprintf(stderr, \"cannot write %s\\n\", path); exit(2); }\n    \
         fclose(f);\n}\n\nint main(int argc, char **argv)\n{\n    int k;\n    const char *dir;\n    \
         (void)load;\n    (void)save;\n    if (argc != 3) { return 2; }\n    k = atoi(argv[1]);\n    dir = argv[2];\n    switch (k) {\n",
    );
    for (k, c) in cases.iter().enumerate() {
        let sig = &c.generated.signature;
        let upper = c.ident.to_ascii_uppercase();
        s.push_str(&format!(
            "    case {k}: {{\n        void *arena = malloc({upper}_ARENA_BYTES ? {upper}_ARENA_BYTES : 1);\n"
        ));
        let ports: Vec<&Port> = sig.inputs.iter().chain(&sig.outputs).collect();
        for (i, p) in ports.iter().enumerate() {
            let t = c_type(p);
            let bytes = format!("{} * sizeof({t})", p.len);
            if i < sig.inputs.len() {
                s.push_str(&format!(
                    "        {t} *p{i} = ({t} *)load(dir, {i}, {bytes});\n"
                ));
            } else {
                s.push_str(&format!(
                    "        {t} *p{i} = ({t} *)malloc({bytes} ? {bytes} : 1);\n"
                ));
            }
        }
        let mut args: Vec<String> = (0..ports.len()).map(|i| format!("p{i}")).collect();
        args.push("arena".into());
        s.push_str(&format!("        {}_run({});\n", c.ident, args.join(", ")));
        for (i, p) in ports.iter().enumerate().skip(sig.inputs.len()) {
            s.push_str(&format!(
                "        save(dir, {}, p{i}, {} * sizeof({}));\n",
                i - sig.inputs.len(),
                p.len,
                c_type(p)
            ));
        }
        for i in 0..ports.len() {
            s.push_str(&format!("        free(p{i});\n"));
        }
        s.push_str("        free(arena);\n        return 0;\n    }\n");
    }
    s.push_str("    default:\n        return 2;\n    }\n}\n");
    s
}

/// Builds a chunk of cases with `cc` and runs each: its outcome, in order. A case whose C
/// does not compile fails alone (each file is compiled on its own, in one call per half).
fn run_node_chunk(dir: &Path, cases: &[NodeCase], cc: &str) -> Vec<Outcome> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let mut outcomes = vec![Outcome::Pass; cases.len()];
    for c in cases {
        for f in &c.generated.files {
            if f.path.extension().is_some_and(|e| e == "c" || e == "h") {
                std::fs::write(dir.join(&f.path), &f.contents).unwrap();
            }
        }
    }
    // Each half of the files in a compiler call of its own, both at once.
    let files: Vec<String> = cases.iter().map(|c| format!("{}.c", c.ident)).collect();
    let half = files.len().div_ceil(2).max(1);
    let children: Vec<_> = files
        .chunks(half)
        .map(|part| {
            Command::new(cc)
                .current_dir(dir)
                .args(FLAGS.iter().filter(|f| **f != "-O1"))
                .arg("-O0")
                .arg("-c")
                .args(part)
                .stderr(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut errors = String::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        errors.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let mut built = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        if dir.join(format!("{}.o", c.ident)).exists() {
            built.push(k);
        } else {
            let prefix = format!("{}.c:", c.ident);
            let line = errors
                .lines()
                .find(|l| l.starts_with(&prefix) && l.contains("error"))
                .unwrap_or("no object file");
            outcomes[k] = Outcome::Fail(format!("{cc}: {}", first_line(line)));
        }
    }
    let chosen: Vec<&NodeCase> = built.iter().map(|&k| &cases[k]).collect();
    std::fs::write(dir.join("main.c"), node_main(&chosen)).unwrap();
    let objects: Vec<String> = chosen.iter().map(|c| format!("{}.o", c.ident)).collect();
    let link = Command::new(cc)
        .current_dir(dir)
        .args(FLAGS.iter().filter(|f| **f != "-O1"))
        .arg("-O0")
        .arg("-o")
        .arg("run")
        .arg("main.c")
        .args(&objects)
        .output()
        .unwrap();
    if !link.status.success() {
        let e = String::from_utf8_lossy(&link.stderr).into_owned();
        for &k in &built {
            outcomes[k] =
                Outcome::Fail(format!("{cc}: the chunk did not link: {}", first_line(&e)));
        }
        return outcomes;
    }
    for (slot, &k) in built.iter().enumerate() {
        let c = &cases[k];
        let case_dir = dir.join(format!("case{k}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        for (i, t) in c.inputs.iter().enumerate() {
            std::fs::write(
                case_dir.join(format!("input_{i}.bin")),
                t.data.to_le_bytes(),
            )
            .unwrap();
        }
        let run = Command::new(dir.join("run"))
            .arg(slot.to_string())
            .arg(&case_dir)
            .env("ASAN_OPTIONS", "detect_leaks=1")
            .output()
            .unwrap();
        if !run.status.success() {
            let e = String::from_utf8_lossy(&run.stderr);
            let why = e
                .lines()
                .find(|l| l.contains("ERROR") || l.contains("runtime error"))
                .unwrap_or("");
            outcomes[k] = Outcome::Fail(format!(
                "{cc} build exited with {}: {}",
                run.status,
                first_line(why)
            ));
            continue;
        }
        let sig = &c.generated.signature;
        let mut actual = Vec::new();
        for (i, p) in sig.outputs.iter().enumerate() {
            let bytes = std::fs::read(case_dir.join(format!("output_{i}.bin"))).unwrap_or_default();
            match TensorData::from_le_bytes(p.dtype, &bytes)
                .map(|d| Tensor::new(p.shape.clone(), d))
            {
                Some(Ok(t)) => actual.push(t),
                _ => {
                    outcomes[k] = Outcome::Fail(format!("output {i}: wrong size"));
                    break;
                }
            }
        }
        if outcomes[k] != Outcome::Pass {
            continue;
        }
        if actual.len() != c.expected.len() {
            outcomes[k] = Outcome::Fail(format!(
                "{} outputs, expected {}",
                actual.len(),
                c.expected.len()
            ));
            continue;
        }
        for (i, (a, e)) in actual.iter().zip(&c.expected).enumerate() {
            let cmp = harness::compare(a, e, NODE_RTOL, NODE_ATOL);
            if !cmp.ok {
                outcomes[k] = Outcome::Fail(format!(
                    "{cc} output {i}: {}",
                    cmp.note
                        .unwrap_or_else(|| format!("max abs error {:.3e}", cmp.max_abs))
                ));
                break;
            }
        }
    }
    outcomes
}

/// The node tests the generated Rust passes (`tests/conformance/node.txt`'s bare lines), run
/// as C: each compiled at -O0 and -O2 with `--emit c`, built in chunks by each compiler
/// under ASan/UBSan, run and compared as `tests/conformance.rs` compares (numpy allclose,
/// rtol 1e-3, atol 1e-7). `tests/conformance/c-node.txt` records the result: a bare name
/// passes in C, `name ! reason` does not yet. The test fails when the run disagrees with
/// the file; `KILN_UPDATE_CONFORMANCE=1` rewrites the file instead (then
/// `scripts/update-conformance` puts the counts into docs/conformance.md).
/// `KILN_CONFORMANCE_OPS` is not read: the run takes a few minutes, so
/// `KILN_C_NODE_TESTS=test_abs,test_add` runs named tests only (checking just those).
#[test]
fn onnx_node_tests_in_c() {
    let Some(ccs) = compilers() else { return };
    let root = common::node_tests_dir();
    if !common::require_data(&root, "ONNX node tests") {
        return;
    }
    let allow = std::fs::read_to_string(common::repo().join("tests/conformance/node.txt")).unwrap();
    let only: Option<Vec<String>> = std::env::var("KILN_C_NODE_TESTS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let names: Vec<String> = allow
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains('!'))
        .map(str::to_string)
        .filter(|n| only.as_ref().is_none_or(|o| o.contains(n)))
        .collect();
    let mut outcomes: Vec<Outcome> = vec![Outcome::Pass; names.len()];
    let mut cases = Vec::new();
    for (t, name) in names.iter().enumerate() {
        let dir = root.join(name);
        let model = dir.join("model.onnx");
        let sig =
            kiln::frontend::model_signature(&std::fs::read(&model).unwrap()).unwrap_or_default();
        let (inputs, expected) = match harness::read_test_set(&dir.join("test_data_set_0")) {
            Ok(d) => d,
            Err(e) => {
                outcomes[t] = Outcome::Fail(first_line(&e));
                continue;
            }
        };
        for (level, flag) in LEVELS {
            let mut opts = kiln::CompileOptions {
                opt_level: level,
                crate_name: Some(format!("k{t}{}", &flag[1..])),
                ..Default::default()
            };
            let mut c = kiln::compile(&model, EmitKind::C, &opts);
            // Shape-deciding inputs bound to the test data, as tests/conformance.rs does.
            for stage in harness::BindStage::ALL {
                if let Err(e) = &c
                    && harness::needs_binding(&e.to_string())
                {
                    let bound =
                        harness::bind_shape_inputs(&sig, &inputs, stage, |_| "test data".into());
                    if bound.len() > opts.bound_inputs.len() {
                        opts.bound_inputs = bound;
                        c = kiln::compile(&model, EmitKind::C, &opts);
                    }
                }
            }
            match c {
                Ok(c) => {
                    let inputs = harness::runtime_args(&c.graph, &sig, &inputs);
                    cases.push(NodeCase {
                        test: t,
                        flag,
                        ident: format!("k{t}{}", &flag[1..]),
                        generated: c.generated,
                        inputs,
                        expected: expected.clone(),
                    });
                }
                Err(e) => {
                    if outcomes[t] == Outcome::Pass {
                        let text = e.to_string().replace('\n', " ");
                        outcomes[t] = Outcome::Fail(format!("{flag}: {}", first_line(&text)));
                    }
                }
            }
        }
    }
    let work = common::repo().join("target").join("kiln-c-node-tests");
    for cc in &ccs {
        for (ci, chunk) in cases.chunks(NODE_CHUNK).enumerate() {
            let t = std::time::Instant::now();
            let results = run_node_chunk(&work.join(format!("{cc}-{ci}")), chunk, cc);
            eprintln!(
                "{cc} chunk {ci}: {} cases in {:.1?}",
                chunk.len(),
                t.elapsed()
            );
            for (c, o) in chunk.iter().zip(results) {
                if let Outcome::Fail(m) = o
                    && outcomes[c.test] == Outcome::Pass
                {
                    outcomes[c.test] = Outcome::Fail(format!("{}: {m}", c.flag));
                }
            }
        }
    }
    let passed = outcomes.iter().filter(|o| **o == Outcome::Pass).count();
    eprintln!(
        "node tests in C: {passed} of {} (those the generated Rust passes) pass with {}",
        names.len(),
        ccs.join(" and ")
    );
    let lines: Vec<String> = names
        .iter()
        .zip(&outcomes)
        .map(|(n, o)| match o {
            Outcome::Pass => n.clone(),
            Outcome::Fail(m) => format!("{n} ! {}", m.replace('\n', " ")),
        })
        .collect();
    if only.is_some() {
        // Working on a few tests: say why each failing one fails.
        for l in lines.iter().filter(|l| l.contains(" ! ")) {
            eprintln!("{l}");
        }
    }
    let path = common::repo().join("tests/conformance/c-node.txt");
    if only.is_none() && std::env::var("KILN_UPDATE_CONFORMANCE").is_ok_and(|v| v == "1") {
        let head = "# The node tests the generated Rust passes (node.txt), run as C by tests/c_backend.rs\n\
                    # (onnx_node_tests_in_c): a bare name passes in C with every compiler tested, `name ! reason`\n\
                    # does not yet. Rewritten by KILN_UPDATE_CONFORMANCE=1.\n";
        std::fs::write(&path, format!("{head}{}\n", lines.join("\n"))).unwrap();
        return;
    }
    // Against the record: a listed pass must pass; a listed failure that passes is stale.
    let record = std::fs::read_to_string(&path).unwrap_or_default();
    let recorded: BTreeMap<&str, bool> = record
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| match l.split_once(" ! ") {
            Some((n, _)) => (n.trim(), false),
            None => (l.trim(), true),
        })
        .collect();
    let mut problems = Vec::new();
    for (n, o) in names.iter().zip(&outcomes) {
        match (recorded.get(n.as_str()), o) {
            (Some(true), Outcome::Pass) | (Some(false), Outcome::Fail(_)) => {}
            (Some(true), Outcome::Fail(m)) => {
                problems.push(format!("{n}: recorded as passing in C, fails: {m}"))
            }
            (Some(false), Outcome::Pass) => {
                problems.push(format!("{n}: passes in C now; update the record"))
            }
            (None, o) => problems.push(format!("{n}: not in the record ({o:?})")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} disagreements with {} (KILN_UPDATE_CONFORMANCE=1 rewrites it):\n{}",
        problems.len(),
        path.display(),
        problems.join("\n")
    );
}

/// `--emit c` through the library: three files named after the model, the interface the
/// header promises, output written only where kiln wrote before; and a node the C library
/// cannot spell yet is an error naming it, with nothing written.
#[test]
fn emit_c_writes_header_source_readme_and_names_what_it_cannot_spell() {
    let path = common::corpus_model("mlperf_ic_resnet8");
    if !common::require_data(&path, "corpus model mlperf_ic_resnet8") {
        return;
    }
    let c = kiln::compile(&path, EmitKind::C, &Default::default()).unwrap();
    let names: Vec<String> = c
        .generated
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert_eq!(
        names,
        ["mlperf_ic_resnet8.h", "mlperf_ic_resnet8.c", "README.md"]
    );
    let header = &c.generated.files[0].contents;
    for want in [
        "#define MLPERF_IC_RESNET8_ARENA_BYTES ",
        "#define MLPERF_IC_RESNET8_ARENA_ALIGN 8u",
        "#define MLPERF_IC_RESNET8_INPUT_1_ELEMENTS 3072u",
        "#define MLPERF_IC_RESNET8_INPUT_1_SHAPE { 1, 3, 32, 32 }",
        "#define MLPERF_IC_RESNET8_IDENTITY_ELEMENTS 10u",
        "#define MLPERF_IC_RESNET8_MACS ",
        "#define MLPERF_IC_RESNET8_WEIGHT_BYTES ",
        "void mlperf_ic_resnet8_run(const float *input_1, float *identity, void *arena);",
    ] {
        assert!(header.contains(want), "header lacks {want:?}:\n{header}");
    }
    let source = &c.generated.files[1].contents;
    for banned in [
        "malloc(",
        "#include <math.h>",
        "#include <string.h>",
        "#include <stdlib.h>",
    ] {
        assert!(!source.contains(banned), "the C source uses {banned}");
    }
    assert!(c.generated.files[2].contents.contains("static union"));
    let out = common::repo().join("target/kiln-c-backend/emit");
    let _ = std::fs::remove_dir_all(&out);
    kiln::write_output(&c.generated, EmitKind::C, &out).unwrap();
    assert!(out.join("mlperf_ic_resnet8.c").exists());
    // Again over kiln's own output: replaced. Over a folder kiln did not write: refused.
    kiln::write_output(&c.generated, EmitKind::C, &out).unwrap();
    let foreign = common::repo().join("target/kiln-c-backend/foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("README.md"), "# mine\n").unwrap();
    assert!(kiln::write_output(&c.generated, EmitKind::C, &foreign).is_err());

    // Erf has no C spelling yet.
    let mut b = common::builder::Builder::new();
    let x = b.input(Tensor::from_f32(vec![4], vec![0.0, 0.5, 1.0, -1.0]).unwrap());
    let y = b.node(
        kiln::ir::Op::Unary(kiln::ir::ops::UnaryOp::Erf),
        "Erf",
        vec![Some(x)],
    );
    let (g, _) = b.finish(y);
    let err = kiln::compile_graph(
        g,
        "erf.onnx",
        String::new(),
        EmitKind::C,
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("(Erf, opset")
            && err.contains("not yet supported by the C backend; use --emit module/crate"),
        "{err}"
    );
}
