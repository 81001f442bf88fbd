//! The `kiln` command line end to end: good models compile into crates that build offline,
//! `inspect` and `verify` work (bad models: tests/bad_models.rs).

mod common;

use common::onnx::{f32_value, model, node};
use kiln::codegen::EmitKind;
use kiln::frontend::onnx::{tensor_shape_proto::dimension, type_proto};
use kiln::ir::Tensor;
use std::path::Path;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(common::kiln_bin())
        .args(args)
        .output()
        .expect("run kiln")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A clean failure: exit code 1, the expected words in the message, no panic.
fn assert_clean_error(o: &Output, expect: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit status; stderr:\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "kiln panicked:\n{err}"
    );
    for e in expect {
        assert!(err.contains(e), "message lacks {e:?}:\n{err}");
    }
}

/// `cargo build --release --offline` of the crate at `dir`, in the generated crates'
/// shared target directory.
fn cargo_build(dir: &Path) -> Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", common::gen_target())
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn unresolved_input_dimension_names_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = f32_value("pixels", &[1, 4]);
    if let Some(type_proto::Value::TensorType(t)) = x.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape.as_mut().unwrap().dim[0].value = Some(dimension::Value::DimParam("batch".into()));
    }
    let m = model(
        vec![node("Relu", "relu", &["pixels"], &["y"])],
        vec![x],
        vec![f32_value("y", &[1, 4])],
    );
    let path = write(dir.path(), "dynamic.onnx", &m);
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    assert_clean_error(
        &kiln(&["compile", &path, "-o", &out]),
        &["pixels", "batch", "--input-shape"],
    );
    let ok = kiln(&["compile", &path, "-o", &out, "--input-shape", "pixels=2x4"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let src = std::fs::read_to_string(&out).unwrap();
    assert!(
        src.contains("[f32; 8]"),
        "the pinned shape 2x4 must give 8-element arrays"
    );
}

#[test]
fn resnet8_crate_builds_offline_without_dependencies_or_unsafe() {
    let dir = common::repo().join("target").join("kiln-cli-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = common::corpus_model("mlperf_ic_resnet8");
    let model = model.to_string_lossy().into_owned();
    let a = dir.join("a");
    let b = dir.join("b");
    for out in [&a, &b] {
        let o = kiln(&[
            "compile",
            &model,
            "-o",
            &out.to_string_lossy(),
            "--emit",
            "crate",
            "--name",
            "resnet8",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // On x86-64 and AArch64 hosts the packed weights are a file of bytes beside the source.
    let bytes_here = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
    assert_eq!(a.join("src/weights.bin").exists(), bytes_here);
    // ... and the crate's README says so.
    let readme = std::fs::read_to_string(a.join("README.md")).unwrap();
    assert_eq!(readme.contains("are `src/weights.bin`"), bytes_here);
    // Deterministic: byte-identical output for the same input.
    for f in ["Cargo.toml", "src/lib.rs", "README.md"]
        .into_iter()
        .chain(bytes_here.then_some("src/weights.bin"))
    {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    let manifest = std::fs::read_to_string(a.join("Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
    let deps = deps.split("\n[").next().unwrap_or("");
    assert!(
        deps.lines()
            .all(|l| l.trim().is_empty() || l.trim().starts_with('#')),
        "dependencies: {deps}"
    );
    let lib = std::fs::read_to_string(a.join("src/lib.rs")).unwrap();
    assert_eq!(
        lib.matches("unsafe").count(),
        lib.matches("forbid(unsafe_code)").count(),
        "unsafe in generated code"
    );
    assert!(lib.contains("#![no_std]"));
    let build = cargo_build(&a);
    assert!(build.status.success(), "{}", stderr(&build));
    // The crate does not deny warnings itself (a newer rustc's lint would break a
    // committed crate), so the test does.
    assert!(!stderr(&build).contains("warning"), "{}", stderr(&build));
}

/// A module written with `-o DIR/NAME.rs` has its packed weights in `DIR/NAME.weights`
/// (on x86-64 and AArch64 hosts), which its `include_bytes!` names relative to itself: a
/// crate that `include!`s the module from another directory builds, and a second module
/// in the same directory gets a weights file of its own.
#[test]
fn a_module_brings_its_weights_file_and_includes_from_anywhere() {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        eprintln!("skipped: this host keeps packed weights in the source");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = common::corpus_model("mlperf_ic_resnet8");
    let gen_dir = dir.path().join("gen");
    for name in ["net.rs", "other.rs"] {
        let out = gen_dir.join(name);
        let o = kiln(&[
            "compile",
            &model.to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let weights = out.with_extension("weights");
        assert!(
            stderr(&o).contains(&format!("and its weights {}", weights.display())),
            "{}",
            stderr(&o)
        );
        let text = std::fs::read_to_string(&out).unwrap();
        let file = weights.file_name().unwrap().to_string_lossy().into_owned();
        assert!(text.contains(&format!("include_bytes!(\"{file}\")")));
        assert!(std::fs::metadata(&weights).unwrap().len() > 0);
    }
    let krate = dir.path().join("user");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"user\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        krate.join("src/lib.rs"),
        "#![no_std]\n#[forbid(unsafe_code)]\npub mod net {\n    include!(\"../../gen/net.rs\");\n}\n",
    )
    .unwrap();
    let build = cargo_build(&krate);
    assert!(build.status.success(), "{}", stderr(&build));
}

/// The crate README tells how to build for speed where the float vector kernels write
/// `c + a * b` for a target with FMA units (x86-64-v3/v4, AArch64), which a build with
/// `-fp-contract=fast` fuses; not for a target without FMA units (baseline x86-64, a
/// Cortex-M, which has no vector kernels) nor for `--fma`, whose kernels are fused already.
#[test]
fn crate_readme_says_how_to_fuse_where_the_target_can() {
    let dir = common::repo().join("target").join("kiln-cli-fuse-test");
    let _ = std::fs::remove_dir_all(&dir);
    let model = common::repo().join("examples/models/mlperf_ic_resnet8.onnx");
    let model = model.to_string_lossy().into_owned();
    for (target, fma, expected) in [
        ("x86_64-v4", false, true),
        ("x86_64-v3", false, true),
        ("aarch64", false, true),
        ("x86_64-v4", true, false),
        ("x86_64", false, false),
        ("thumbv7em-none-eabihf", false, false),
    ] {
        let out = dir.join(format!("{target}-{fma}"));
        let out = out.to_string_lossy().into_owned();
        let mut args = vec![
            "compile", &model, "-o", &out, "--emit", "crate", "--target", target,
        ];
        if fma {
            args.push("--fma");
        }
        let o = kiln(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let readme = std::fs::read_to_string(Path::new(&out).join("README.md")).unwrap();
        assert_eq!(
            readme.contains("## Building for speed")
                && readme.contains("\"-C\", \"llvm-args=-fp-contract=fast\""),
            expected,
            "{target} fma={fma}:\n{readme}"
        );
    }
}

#[test]
fn inspect_reports_the_plan_and_verify_matches_onnxruntime() {
    let model = common::corpus_model("mlperf_ic_resnet8")
        .to_string_lossy()
        .into_owned();
    let o = kiln(&["inspect", &model, "--plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for w in ["Conv", "MACs", "arena:", "lower bound:", "offset"] {
        assert!(text.contains(w), "inspect output lacks {w:?}:\n{text}");
    }
    let ir = kiln(&["inspect", &model, "--ir"]);
    assert!(String::from_utf8_lossy(&ir.stdout).contains("Conv(ConvAttrs"));

    let data = common::corpus_data("mlperf_ic_resnet8")
        .to_string_lossy()
        .into_owned();
    let saved = tempfile::tempdir().unwrap();
    let saved_dir = saved.path().join("outputs");
    let v = kiln(&[
        "verify",
        &model,
        "--data",
        &data,
        "--save-outputs",
        &saved_dir.to_string_lossy(),
    ]);
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success(), "verify failed:\n{out}\n{}", stderr(&v));
    assert!(out.contains("ok"), "{out}");
    // --save-outputs keeps what the generated code computed, as TensorProto files named
    // like the model's outputs; they match onnxruntime's outputs as verify said.
    let (_, expected) = kiln::harness::read_test_set(Path::new(&data)).unwrap();
    let files: Vec<_> = std::fs::read_dir(&saved_dir).unwrap().collect();
    assert_eq!(files.len(), expected.len(), "one file per output");
    for (k, e) in expected.iter().enumerate() {
        let bytes = std::fs::read(saved_dir.join(format!("output_{k}.pb"))).unwrap();
        let (name, a) = kiln::frontend::decode_tensor_pb(&bytes).unwrap();
        assert!(
            !name.is_empty(),
            "the saved output has the model's output name"
        );
        assert_eq!(a.shape, e.shape, "output {k} shape");
        let c = kiln::harness::compare(&a, e, 1e-4, 1e-6);
        assert!(c.ok, "saved output {k}: {c:?}");
    }
}

/// Model names that are Rust or C keywords, collide after sanitizing, or hold `*/`,
/// quotes, newlines or non-ASCII must neither break nor inject into the generated code:
/// the crate builds warning-free and computes what the reference semantics compute.
#[test]
fn hostile_names_compile_to_valid_code() {
    let long = "n".repeat(3000);
    let evil_in = "*/ evil /* \"x\" \n fn main() {}";
    let m = model(
        vec![
            node("Add", "fn", &["type", evil_in], &["x.1"]),
            node("Relu", "*/", &["x.1"], &["x_1"]),
            node("Sigmoid", "a\nb", &["x_1"], &["new\nline"]),
            node("Tanh", &long, &["x_1"], &["ARENA_BYTES"]),
            node("Mul", "mod", &["x_1", "x.1"], &["ünïcödé\u{202e}"]),
            node("Relu", "int", &["x_1"], &["self"]),
        ],
        vec![f32_value("type", &[1, 4]), f32_value(evil_in, &[1, 4])],
        vec![
            f32_value("new\nline", &[1, 4]),
            f32_value("ARENA_BYTES", &[1, 4]),
            f32_value("ünïcödé\u{202e}", &[1, 4]),
            f32_value("self", &[1, 4]),
        ],
    );
    let dir = common::repo().join("target").join("kiln-names-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = write(&dir, "evil* \"model\"\n int.onnx", &m);
    let out = dir.join("crate").to_string_lossy().into_owned();
    let o = kiln(&["compile", &path, "-o", &out, "--emit", "crate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lib = std::fs::read_to_string(dir.join("crate/src/lib.rs")).unwrap();
    // No model string reaches the code unescaped: no raw newline inside a comment line
    // that came from a name, and no comment terminator.
    for line in lib.lines().filter(|l| l.contains("fn main()")) {
        assert!(
            line.trim_start().starts_with("//"),
            "a name's text became code: {line}"
        );
    }
    assert!(!lib.contains("*/") && !lib.contains("/*"));
    assert!(!lib.contains('\u{202e}'), "bidi control reached the source");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--offline"])
        .current_dir(dir.join("crate"))
        .env("CARGO_TARGET_DIR", common::gen_target())
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", stderr(&build));
    assert!(!stderr(&build).contains("warning"), "{}", stderr(&build));

    // And the numbers: through the harness against the reference semantics.
    let (graph, _) = kiln::load(Path::new(&path), &Default::default()).unwrap();
    let x = kiln::ir::Tensor::from_f32(vec![1, 4], vec![-1.0, 0.5, 2.0, -0.25]).unwrap();
    let z = kiln::ir::Tensor::from_f32(vec![1, 4], vec![0.75, -2.0, 1.0, 3.0]).unwrap();
    let feed = vec![x, z];
    let expected = kiln::ir::eval::run(&graph, &feed).unwrap();
    let compiled = kiln::compile(Path::new(&path), EmitKind::Module, &Default::default()).unwrap();
    let idents: Vec<&str> = compiled
        .generated
        .signature
        .outputs
        .iter()
        .map(|p| p.ident.as_str())
        .collect();
    assert_eq!(idents, ["new_line", "arena_bytes", "n_c_d", "self_"]);
    let runner = kiln::harness::build_runner(
        &[kiln::harness::Case {
            generated: &compiled.generated,
        }],
        &dir.join("runner"),
        &common::gen_target(),
        kiln::harness::Profile::Fast,
    )
    .unwrap();
    let actual = runner.run(0, &feed).unwrap();
    for (a, e) in actual.iter().zip(&expected) {
        let c = kiln::harness::compare(a, e, 1e-5, 1e-6);
        assert!(c.ok, "{c:?}");
    }
}

/// The same model compiled from two working directories, with different file times and
/// paths, gives byte-identical files.
#[test]
fn output_is_reproducible_across_directories_and_timestamps() {
    let root = tempfile::tempdir().unwrap();
    let model = std::fs::read(common::corpus_model("mlperf_ic_resnet8")).unwrap();
    let mut outs = Vec::new();
    for (k, (sub, age)) in [("one", 0u64), ("two/deeper", 86_400 * 400)]
        .into_iter()
        .enumerate()
    {
        let dir = root.path().join(sub);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resnet8.onnx");
        std::fs::write(&path, &model).unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(age))
            .unwrap();
        drop(f);
        // Run from the model's folder the first time, from the root the second.
        let (cwd, arg) = if k == 0 {
            (dir.clone(), "resnet8.onnx".to_string())
        } else {
            (root.path().to_path_buf(), format!("{sub}/resnet8.onnx"))
        };
        let out = root.path().join(format!("out{k}"));
        let o = Command::new(common::kiln_bin())
            .args(["compile", &arg, "--emit", "crate", "-o"])
            .arg(&out)
            .current_dir(&cwd)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        outs.push(out);
    }
    let files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = ["Cargo.toml", "README.md", "src/lib.rs"]
            .iter()
            .chain(
                d.join("src/weights.bin")
                    .exists()
                    .then_some(&"src/weights.bin"),
            )
            .map(|f| (f.to_string(), std::fs::read(d.join(f)).unwrap()))
            .collect();
        v.sort();
        v
    };
    let listing = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(listing(&outs[0]), listing(&outs[1]));
    for ((name, a), (_, b)) in files(&outs[0]).iter().zip(files(&outs[1]).iter()) {
        assert!(a == b, "{name} differs between the two compilations");
    }
}

#[test]
fn target_names_and_triples_are_accepted_and_bad_ones_listed() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(
        vec![node("Relu", "relu", &["x"], &["y"])],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    let path = write(dir.path(), "relu.onnx", &m);
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    // The header names the target by its canonical name; a triple maps to it.
    for (t, canonical) in [
        ("thumbv7em-none-eabihf", "thumbv7em+fpu"),
        ("thumbv7em+fpu", "thumbv7em+fpu"),
        ("x86_64-v3", "x86_64-v3"),
        ("host", "host"),
    ] {
        let ok = kiln(&["compile", &path, "-o", &out, "--target", t]);
        assert!(ok.status.success(), "--target {t}: {}", stderr(&ok));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains(&format!("\n// Target: {canonical}\n")),
            "--target {t}: header lacks the target"
        );
    }
    let ok = kiln(&["inspect", &path, "--target", "riscv32imac-unknown-none-elf"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let ok = kiln(&[
        "inspect",
        &path,
        "--kernels",
        "--target",
        "thumbv6m-none-eabi",
    ]);
    assert!(
        String::from_utf8_lossy(&ok.stdout).starts_with("target: thumbv6m\n"),
        "inspect --kernels names the target the program was lowered for"
    );
    for cmd in ["compile", "inspect", "verify"] {
        let mut args = vec![cmd, &path, "--target", "cortex-m4"];
        if cmd == "compile" {
            args.extend(["-o", &out]);
        }
        let bad = kiln(&args);
        let err = stderr(&bad);
        assert!(!bad.status.success(), "{cmd} accepted a bad target");
        for name in ["cortex-m4", "thumbv7em+fpu", "x86_64-v3", "riscv32imac"] {
            assert!(err.contains(name), "{cmd}: message lacks {name:?}:\n{err}");
        }
    }
}

/// `--fma` makes the micro-kernels need `std`: refused where it cannot help (no FMA vector
/// kernels on the target, or -O0's reference kernels), with nothing written; where taken,
/// the code says it needs `std` only if it has a micro-kernel.
#[test]
fn fma_is_refused_where_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let relu = model(
        vec![node("Relu", "relu", &["x"], &["y"])],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    let relu = write(dir.path(), "relu.onnx", &relu);
    let out = dir.path().join("m.rs");
    let o = out.to_string_lossy().into_owned();
    for (extra, expect) in [
        (
            &["--target", "thumbv7em-none-eabihf"][..],
            &["--fma", "thumbv7em+fpu", "drop --fma"][..],
        ),
        (&["-O0"][..], &["--fma", "-O0"][..]),
    ] {
        let mut args = vec!["compile", &relu, "-o", &o, "--fma"];
        args.extend(extra);
        assert_clean_error(&kiln(&args), expect);
        assert!(!out.exists(), "{args:?} left a file behind");
    }
    let resnet = common::repo().join("examples/models/mlperf_ic_resnet8.onnx");
    let resnet = resnet.to_string_lossy();
    for (model, kernels) in [(&relu[..], false), (&resnet[..], true)] {
        let ok = kiln(&["compile", model, "-o", &o, "--fma", "--target", "x86_64-v3"]);
        assert!(ok.status.success(), "{}", stderr(&ok));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.contains("\n// - --fma\n"), "the header lists --fma");
        assert_eq!(text.contains("extern crate std;"), kernels, "{model}");
        assert_eq!(text.contains("// Needs std:"), kernels, "{model}");
        assert_eq!(text.contains(".mul_add("), kernels, "{model}");
    }
}

/// `--intrinsics` (the only `unsafe` kiln emits) is refused where kiln has no intrinsics
/// kernels (a target other than x86-64 with AVX2 or AVX-512 or thumbv7em, -O0's reference kernels,
/// C), with
/// nothing written; where it is taken but no kernel uses an intrinsic, the code is as
/// without it (no `unsafe`).
#[test]
fn intrinsics_are_refused_where_kiln_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let relu = model(
        vec![node("Relu", "relu", &["x"], &["y"])],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    let relu = write(dir.path(), "relu.onnx", &relu);
    let out = dir.path().join("m.rs");
    let o = out.to_string_lossy().into_owned();
    for (extra, expect) in [
        (
            &["--target", "thumbv6m-none-eabi"][..],
            &[
                "--intrinsics",
                "thumbv6m",
                "x86_64-v4",
                "thumbv7em",
                "drop --intrinsics",
            ][..],
        ),
        (
            &["--target", "x86_64"][..],
            &["--intrinsics", "target x86_64 (", "drop --intrinsics"][..],
        ),
        (
            &["--device", "stm32u585"][..],
            &[
                "--intrinsics",
                "thumbv8m.main",
                "target-feature=+dsp",
                "drop --intrinsics",
            ][..],
        ),
        (
            &["-O0", "--target", "x86_64-v4"][..],
            &["--intrinsics", "-O0"][..],
        ),
        (
            &["--emit", "c", "--target", "x86_64-v4"][..],
            &["--intrinsics", "C"][..],
        ),
    ] {
        let mut args = vec!["compile", &relu, "-o", &o, "--intrinsics"];
        args.extend(extra);
        assert_clean_error(&kiln(&args), expect);
        assert!(!out.exists(), "{args:?} left a file behind");
    }
    for target in ["x86_64-v4", "x86_64-v3", "thumbv7em-none-eabihf"] {
        let ok = kiln(&[
            "compile",
            &relu,
            "-o",
            &o,
            "--intrinsics",
            "--target",
            target,
        ]);
        assert!(ok.status.success(), "{}", stderr(&ok));
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("\n// - --intrinsics\n"),
            "the header lists --intrinsics"
        );
        assert!(
            !text.contains("unsafe {") && text.contains("#[forbid(unsafe_code)]"),
            "no intrinsics kernel, no unsafe"
        );
    }
}

/// Two Relus over 1x4096 floats: the intermediate activation is 16 KiB.
fn relu_chain(dir: &Path) -> String {
    let m = model(
        vec![
            node("Relu", "r1", &["x"], &["h"]),
            node("Neg", "n2", &["h"], &["y"]),
        ],
        vec![f32_value("x", &[1, 4096])],
        vec![f32_value("y", &[1, 4096])],
    );
    write(dir, "chain.onnx", &m)
}

#[test]
fn size_flags_take_binary_suffixes() {
    let dir = tempfile::tempdir().unwrap();
    let path = relu_chain(dir.path());
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    for ok in ["128K", "128kib", "1M", "1g", "131072"] {
        let o = kiln(&["compile", &path, "-o", &out, "--max-arena-bytes", ok]);
        assert!(o.status.success(), "{ok}: {}", stderr(&o));
    }
    let o = kiln(&["compile", &path, "-o", &out, "--max-file-bytes", "64KiB"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // 1K is 1024 bytes, less than the arena needs.
    assert_clean_error(
        &kiln(&["compile", &path, "-o", &out, "--max-arena-bytes", "1K"]),
        &["more than the limit of 1024 bytes"],
    );
    let o = kiln(&["compile", &path, "-o", &out, "--max-arena-bytes", "12Q"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("\"12Q\"") && err.contains("KiB"), "{err}");
    let help = String::from_utf8_lossy(&kiln(&["compile", "--help"]).stdout).into_owned();
    assert!(help.contains("powers of 1024"), "{help}");
}

#[test]
fn timings_give_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let path = relu_chain(dir.path());
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    let o = kiln(&["compile", &path, "-o", &out, "--timings"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    for stage in [
        "load",
        "optimise+plan",
        "lower+print (emit)",
        "write",
        "total",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("kiln: {stage} ")) && l.contains('s')),
            "no {stage:?} line:\n{err}"
        );
    }
    assert!(
        err.contains("fold-constants"),
        "the passes are listed:\n{err}"
    );
    // stderr is a pipe here: no status line, nothing redrawn in place.
    assert!(!err.contains('\r') && !err.contains('\x1b'), "{err:?}");
}

/// The command line `script` runs `cmd` under (a pseudo-terminal), or `None` without
/// util-linux's `script`.
fn under_a_terminal(cmd: &[&str]) -> Option<(Output, std::time::Duration)> {
    let quoted: Vec<String> = cmd
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let t = std::time::Instant::now();
    let o = Command::new("script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    Some((o, t.elapsed()))
}

/// On a terminal, a compile that takes more than about a second shows its stage on one
/// line redrawn in place, and erases it before the result; a short one shows nothing.
#[test]
fn long_compiles_show_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let bin = common::kiln_bin().to_string_lossy().into_owned();
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    let short = relu_chain(dir.path());
    let Some((o, took)) = under_a_terminal(&[&bin, "compile", &short, "-o", &out]) else {
        eprintln!("*** no `script` command: the terminal half of this test did NOT run ***");
        return;
    };
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}");
    assert!(text.contains("kiln: wrote"), "{text:?}");
    if took < std::time::Duration::from_millis(800) {
        assert!(!text.contains("chain.onnx: "), "a short compile: {text:?}");
    }
    // ddddocr_det writes a 70-MB module: seconds in a test build.
    let model = common::corpus_model("ddddocr_det");
    if !common::require_data(&model, "ddddocr_det") {
        return;
    }
    let model = model.to_string_lossy().into_owned();
    let (o, took) = under_a_terminal(&[&bin, "compile", &model, "-o", &out]).unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{text}");
    // The line appears after one second; a quarter more leaves the thread time to draw it.
    // Which stage it names depends on the machine's speed (lowering and printing, or
    // writing the 48-MB file on a fast one), so any stage with its clock will do.
    if took > std::time::Duration::from_millis(1250) {
        let stage = ["optimise+plan", "lower+print (emit)", "write"]
            .iter()
            .any(|s| text.contains(&format!("\rkiln: ddddocr_det.onnx: {s}… ")));
        assert!(stage, "no status line in {took:?}: {text:?}");
        // Erased before the summary, which starts a clean line.
        assert!(text.contains("\r\x1b[Kkiln: wrote "), "{text:?}");
    } else {
        eprintln!("ddddocr_det compiled in {took:?}: too fast to check the status line");
    }
}

#[test]
fn a_file_that_is_not_onnx_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "notes.onnx", b"hello, this is text\n");
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    let data = dir.path().join("d");
    std::fs::create_dir(&data).unwrap();
    let t = Tensor::from_f32(vec![1], vec![1.0]).unwrap();
    std::fs::write(
        data.join("input_0.pb"),
        kiln::frontend::encode_tensor_pb("x", &t),
    )
    .unwrap();
    std::fs::write(
        data.join("output_0.pb"),
        kiln::frontend::encode_tensor_pb("y", &t),
    )
    .unwrap();
    let data = data.to_string_lossy().into_owned();
    for args in [
        vec!["compile", &path, "-o", &out],
        vec!["inspect", &path],
        vec!["verify", &path, "--data", &data],
    ] {
        assert_clean_error(&kiln(&args), &[&path, "not a valid ONNX model"]);
    }
    // A tensor file that is not one, given to --bind-input, is named too.
    let model = relu_chain(dir.path());
    let bad_pb = write(dir.path(), "shape.pb", b"not a tensor");
    assert_clean_error(
        &kiln(&[
            "compile",
            &model,
            "-o",
            &out,
            "--bind-input",
            &format!("x={bad_pb}"),
        ]),
        &[&format!("{bad_pb}: not a valid ONNX tensor (.pb) file")],
    );
}

/// `Build` (build.rs) names the file in its errors too, in the message and in the `Debug`
/// form that `.expect(...)` prints.
#[test]
fn build_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let not_onnx = write(dir.path(), "model.onnx", b"hello, this is text\n");
    let failed = |r: Result<kiln::Compiled, kiln::Error>| match r {
        Ok(_) => panic!("the build succeeded"),
        Err(e) => e,
    };
    let e = failed(kiln::Build::new(&not_onnx).emit(&out));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{not_onnx}: not a valid ONNX model")),
        "{text}"
    );
    assert!(format!("{e:?}").contains(&not_onnx), "{e:?}");
    let model = relu_chain(dir.path());
    let bad_pb = write(dir.path(), "x.pb", b"");
    let e = failed(
        kiln::Build::new(&model)
            .bind_input("x", Path::new(&bad_pb))
            .emit(&out),
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{bad_pb}: not a valid ONNX tensor")),
        "{text}"
    );
    assert!(format!("{e:?}").contains(&bad_pb), "{e:?}");
    // An absent file is named once.
    let absent = dir.path().join("absent.onnx");
    let e = failed(kiln::Build::new(&absent).emit(&out)).to_string();
    assert_eq!(e.matches(&*absent.to_string_lossy()).count(), 1, "{e}");
    // Nothing was written.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

/// A reader that stops early (`kiln inspect --json | head`) ends kiln quietly with status 0,
/// as Unix tools do, instead of a panic about a broken pipe.
#[test]
fn a_closed_stdout_ends_kiln_quietly() {
    use std::io::Read;
    let model = common::corpus_model("mlperf_ic_resnet8");
    // ~97 KB of JSON: more than a pipe buffer, so kiln is still writing when the pipe closes.
    let mut child = std::process::Command::new(common::kiln_bin())
        .args(["inspect", &model.to_string_lossy(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kiln");
    let mut first = [0u8; 16];
    child
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut first)
        .expect("some output");
    // The read end is dropped here.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status {:?}: {err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
}

/// `kiln quantize` reports the accuracy of kiln's own int8 quantization against float;
/// `kiln compile --quantize int8` builds it, and the generated code is the integer model
/// (verify against onnxruntime's fp32 outputs within the int8 error); misuse of the flags is
/// a clean error.
#[test]
fn quantize_reports_accuracy_and_compile_quantize_builds_it() {
    let model = common::corpus_model("mlperf_ic_resnet8")
        .to_string_lossy()
        .into_owned();
    let data = common::corpus_data("mlperf_ic_resnet8")
        .to_string_lossy()
        .into_owned();
    let o = kiln(&["quantize", &model, "--calibration", &data]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    for w in [
        "cosine",
        "top-1",
        "1/1",
        "Conv",
        "int8",
        "error",
        "Relu/Clip folded",
    ] {
        assert!(
            text.contains(w),
            "kiln quantize output lacks {w:?}:\n{text}"
        );
    }
    // The output line's cosine, as printed, is that of a working int8 model.
    let cos: f64 = text
        .lines()
        .find(|l| l.trim_start().starts_with("Identity"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no output line:\n{text}"));
    assert!(cos > 0.98, "{text}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.rs");
    let c = kiln(&[
        "compile",
        &model,
        "--quantize",
        "int8",
        "--calibration",
        &data,
        "-o",
        &out.to_string_lossy(),
    ]);
    assert!(c.status.success(), "{}", stderr(&c));
    assert!(
        stderr(&c).contains("quantized 15 of 15 layers to int8"),
        "{}",
        stderr(&c)
    );
    let src = std::fs::read_to_string(&out).unwrap();
    assert!(src.contains("--quantize int8 --calibration"), "provenance");
    assert!(src.contains("i8"), "int8 weights");
    // verify takes the same flags. The int8 model's probabilities move by up to 0.051
    // from float on this sample (as `kiln quantize` prints; onnxruntime's own
    // quantize_static moves them by 0.070: tests/data/ptq_ort.json): 0.06 holds it.
    let v = kiln(&[
        "verify",
        &model,
        "--quantize",
        "int8",
        "--calibration",
        &data,
        "--data",
        &data,
        "--atol",
        "0.06",
    ]);
    assert!(
        v.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&v.stdout),
        stderr(&v)
    );

    assert_clean_error(
        &kiln(&["compile", &model, "--calibration", &data, "-o", "x.rs"]),
        &["--calibration DIR goes with --quantize int8"],
    );
    // clap's usage errors exit with 2.
    let o = kiln(&["compile", &model, "--quantize", "int8", "-o", "x.rs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--calibration <DIR>"), "{}", stderr(&o));
    let o = kiln(&[
        "quantize",
        &model,
        "--calibration",
        &data,
        "--calibration-method",
        "percentile=20",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("percentile from 50 to 100"),
        "{}",
        stderr(&o)
    );
    let empty = tempfile::tempdir().unwrap();
    assert_clean_error(
        &kiln(&[
            "quantize",
            &model,
            "--calibration",
            &empty.path().to_string_lossy(),
        ]),
        &["post-training quantization", "no calibration samples"],
    );
}

#[test]
fn devices_lists_every_profile_and_device_compiles_report_their_fit() {
    let o = kiln(&["devices"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for d in kiln::device::builtins() {
        assert!(
            text.contains(&format!("{}: ", d.name)),
            "{} missing:\n{text}",
            d.name
        );
    }
    let model = common::corpus_model("mlperf_ic_resnet8");
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r8.rs");
    let o = kiln(&[
        "compile",
        model,
        "-o",
        out.to_str().unwrap(),
        "--device",
        "stm32l4r5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // fp32 ResNet-8: a 203152-byte arena (its lower bound: 192 KiB of activations and the
    // input rows of its widest convolution, see tests/device.rs) + 4 KiB stack reserve of
    // 640 KiB.
    assert!(
        stderr(&o).contains("fits stm32l4r5: RAM: arena 203152 B") && stderr(&o).contains("(32%)"),
        "{}",
        stderr(&o)
    );
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("--device stm32l4r5")
    );
    // Too big: a clean error, the excess, and no output left behind.
    let small = dir.path().join("small.rs");
    let o = kiln(&[
        "compile",
        model,
        "-o",
        small.to_str().unwrap(),
        "--device",
        "stm32f446re",
    ]);
    assert_clean_error(&o, &["does not fit stm32f446re", "by 76176 B", "int8"]);
    assert!(!small.exists());
    // --device sets the target: giving both is a usage error; an unknown name lists the
    // profiles; a profile file with a bad size names the field.
    let o = kiln(&[
        "compile", model, "-o", "x.rs", "--device", "rpi4", "--target", "aarch64",
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("--target"),
        "{}",
        stderr(&o)
    );
    let o = kiln(&["compile", model, "-o", "x.rs", "--device", "stm32"]);
    assert_clean_error(&o, &["unknown device", "stm32f446re", "kiln devices"]);
    let toml = dir.path().join("board.toml");
    std::fs::write(
        &toml,
        "name = \"b\"\ntarget = \"thumbv7em+fpu\"\nram = \"96Q\"\n",
    )
    .unwrap();
    let o = kiln(&[
        "compile",
        model,
        "-o",
        "x.rs",
        "--device",
        toml.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["board.toml", "ram"]);
}
