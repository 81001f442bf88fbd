//! Compiles the generated code and runs it against the reference semantics.
//!
//! Every test model becomes one module (`EmitKind::Module`) of a single harness crate, and
//! the first one also a standalone crate (`EmitKind::Crate`, `#![no_std]`,
//! `#![deny(warnings)]`) that the harness depends on; so one `cargo build` covers them all.
//! The harness runs each model on fixed inputs and prints the outputs, which are compared
//! with `kiln_ir::eval::run`. Build products go to `target/kiln-gen-tests`, so reruns are
//! incremental. Overflow checks are on in the harness build: an index computation that
//! wraps in a kernel fails the run instead of reading the wrong element.

mod common;

use kiln_codegen::{EmitKind, Generated, Provenance, RustOptions, Signature, emit_rust};
use kiln_ir::{DType, Graph, Tensor, TensorData};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Case {
    name: &'static str,
    graph: Graph,
    generated: Generated,
    inputs: Vec<Tensor>,
}

fn emit(g: &Graph, kind: EmitKind) -> Generated {
    let verified = kiln_ir::verify(g).unwrap_or_else(|d| panic!("{}: {d:?}", g.name));
    let plan = kiln_passes::plan_memory(&verified);
    let opts = RustOptions {
        step_hook: false,
        module_name: g.name.clone(),
        provenance: Provenance {
            kiln_version: "test".into(),
            model_file: format!("{}.onnx", g.name),
            model_sha256: "0".into(),
            options: vec![],
        },
        target: kiln_ir::Target::Host,
        kernels: kiln_codegen::KernelChoice::Fast,
        intrinsics: false,
        // The packed weights in the source (`Wt = f32`); the suites of the `kiln` crate
        // build them as a weights file.
        weights_file: None,
    };
    emit_rust(&verified, &plan, kind, &opts).unwrap_or_else(|e| panic!("{}: {e}", g.name))
}

/// Deterministic test data for input `k` of a model: small values, exact in every type.
fn input_data(dtype: DType, shape: &[usize], k: usize) -> Tensor {
    let n: usize = shape.iter().product();
    let idx = (0..n).map(|i| (i * 37 + k * 11 + 5) % 29);
    let data = match dtype {
        DType::F32 => TensorData::F32(idx.map(|v| (v as f32 - 14.0) / 8.0).collect()),
        DType::F64 => TensorData::F64(idx.map(|v| (v as f64 - 14.0) / 8.0).collect()),
        DType::I8 => TensorData::I8((0..n).map(|i| ((i * 73 + k) % 256) as u8 as i8).collect()),
        DType::I32 => TensorData::I32(idx.map(|v| v as i32 - 14).collect()),
        DType::I64 => TensorData::I64(idx.map(|v| v as i64 * 1_000_000_007 - 14).collect()),
        DType::U8 => TensorData::U8((0..n).map(|i| ((i * 73 + k) % 256) as u8).collect()),
        DType::Bool => TensorData::Bool((0..n).map(|i| (i + k).is_multiple_of(3)).collect()),
        other => panic!("no test data for {other}"),
    };
    Tensor::new(shape.to_vec(), data).expect("sized to the shape")
}

/// Elements as Rust's `{:?}` prints them (what the harness prints).
fn debug_strings(t: &Tensor) -> Vec<String> {
    kiln_ir::with_data!(&t.data, v => v.iter().map(|x| format!("{x:?}")).collect())
}

fn elem(dtype: DType) -> &'static str {
    dtype.name()
}

/// The harness's `fn case_<i>()`: inputs as literals, run, print every output.
fn case_fn(
    w: &mut String,
    fn_name: &str,
    module: &str,
    case: usize,
    sig: &Signature,
    inputs: &[Tensor],
) {
    let _ = writeln!(w, "fn {fn_name}() {{");
    for (k, (p, t)) in sig.inputs.iter().zip(inputs).enumerate() {
        let _ = writeln!(
            w,
            "    let in_{k}: [{}; {}] = [{}];",
            elem(p.dtype),
            p.len,
            debug_strings(t).join(", ")
        );
    }
    for (k, p) in sig.outputs.iter().enumerate() {
        let _ = writeln!(
            w,
            "    let mut out_{k}: [{}; {}] = [Default::default(); {}];",
            elem(p.dtype),
            p.len,
            p.len
        );
    }
    let ins: Vec<String> = sig
        .inputs
        .iter()
        .enumerate()
        .map(|(k, p)| format!("{}: &in_{k}", p.ident))
        .collect();
    let outs: Vec<String> = sig
        .outputs
        .iter()
        .enumerate()
        .map(|(k, p)| format!("{}: &mut out_{k}", p.ident))
        .collect();
    let ins = if ins.is_empty() {
        format!("{module}::Inputs::default()")
    } else {
        format!("{module}::Inputs {{ {} }}", ins.join(", "))
    };
    let _ = writeln!(w, "    let mut arena = {module}::Arena::new();");
    let _ = writeln!(
        w,
        "    {module}::run(&{ins}, &mut {module}::Outputs {{ {} }}, &mut arena);",
        outs.join(", ")
    );
    for k in 0..sig.outputs.len() {
        let _ = writeln!(w, "    show({case}, {k}, &out_{k});");
    }
    w.push_str("}\n\n");
}

fn write_if_changed(path: &Path, contents: impl AsRef<[u8]>) {
    let contents = contents.as_ref();
    // Unchanged files keep their timestamps, so cargo rebuilds only what changed.
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dir");
    std::fs::write(path, contents).expect("write");
}

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo")
}

fn check_text(name: &str, text: &str) {
    let without = text.replace("unsafe_code", "");
    assert!(!without.contains("unsafe"), "{name} contains unsafe");
    for banned in ["std::", "alloc::"] {
        assert!(!text.contains(banned), "{name} uses {banned}");
    }
}

fn allclose(got: &str, want: &str, dtype: DType) -> bool {
    if !dtype.is_float() {
        return got == want;
    }
    let (g, w): (f64, f64) = match (got.parse(), want.parse()) {
        (Ok(g), Ok(w)) => (g, w),
        _ => return false,
    };
    if g.is_nan() || w.is_nan() {
        return g.is_nan() && w.is_nan();
    }
    if g.is_infinite() || w.is_infinite() {
        return g == w;
    }
    let (atol, rtol) = if dtype == DType::F32 {
        (1e-5, 1e-4)
    } else {
        (1e-12, 1e-9)
    };
    (g - w).abs() <= atol + rtol * w.abs()
}

/// `kiln_ir::eval::run`, on a copy of the graph whose outputs are each listed once (the
/// evaluator hands out each computed value once), with the results re-expanded.
fn reference(g: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
    let mut unique = g.clone();
    unique.outputs.clear();
    for &v in &g.outputs {
        if !unique.outputs.contains(&v) {
            unique.outputs.push(v);
        }
    }
    let outs = kiln_ir::eval::run(&unique, inputs)?;
    Ok(g.outputs
        .iter()
        .map(|v| outs[unique.outputs.iter().position(|u| u == v).expect("kept")].clone())
        .collect())
}

#[test]
fn generated_code_builds_and_matches_the_reference() {
    let mut graphs = vec![("cnn", common::cnn()), ("integers", common::integers())];
    graphs.extend(common::families());
    let cases: Vec<Case> = graphs
        .into_iter()
        .map(|(name, graph)| {
            let generated = emit(&graph, EmitKind::Module);
            let inputs = generated
                .signature
                .inputs
                .iter()
                .enumerate()
                .map(|(k, p)| input_data(p.dtype, &p.shape, k))
                .collect();
            Case {
                name,
                graph,
                generated,
                inputs,
            }
        })
        .collect();
    let krate = emit(&cases[0].graph, EmitKind::Crate);

    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = ws.join("target").join("kiln-gen-tests");
    let dir = target.join("codegen-compile-src");
    // Beside the harness, not inside it: a path dependency below the harness's directory
    // would be a second workspace root in the harness's workspace.
    let gen_dir = target.join("codegen-compile-gen0");
    for f in &krate.files {
        if f.path.extension().is_some_and(|e| e == "rs") {
            check_text(&f.path.to_string_lossy(), &f.contents);
        }
        write_if_changed(&gen_dir.join(&f.path), &f.contents);
    }
    // The crate's packed weights, where the host reads them as bytes.
    if let Some(w) = &krate.weights {
        write_if_changed(&gen_dir.join(&w.path), &w.bytes);
    }
    write_if_changed(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"kiln_codegen_compile\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\ncnn = { path = \"../codegen-compile-gen0\" }\n\n[workspace]\n\n\
         [profile.release]\nopt-level = 1\ndebug-assertions = true\noverflow-checks = true\n",
    );
    let mut main = String::from("#![deny(warnings)]\n\n");
    // Included the way the generated header says to use a module.
    for i in 0..cases.len() {
        let _ = writeln!(
            main,
            "#[forbid(unsafe_code)]\nmod m{i} {{\n    include!(\"m{i}.rs\");\n}}"
        );
    }
    main.push_str(
        "\nfn show<T: core::fmt::Debug>(case: usize, k: usize, v: &[T]) {\n    \
         let items: Vec<String> = v.iter().map(|x| format!(\"{x:?}\")).collect();\n    \
         println!(\"{case} {k} {}\", items.join(\" \"));\n}\n\n",
    );
    for (i, c) in cases.iter().enumerate() {
        let file = &c.generated.files[0];
        check_text(c.name, &file.contents);
        write_if_changed(&dir.join("src").join(format!("m{i}.rs")), &file.contents);
        case_fn(
            &mut main,
            &format!("case_{i}"),
            &format!("m{i}"),
            i,
            &c.generated.signature,
            &c.inputs,
        );
    }
    let crate_case = cases.len();
    case_fn(
        &mut main,
        "case_crate",
        "cnn",
        crate_case,
        &krate.signature,
        &cases[0].inputs,
    );
    main.push_str("fn main() {\n");
    for i in 0..cases.len() {
        let _ = writeln!(main, "    case_{i}();");
    }
    main.push_str("    case_crate();\n}\n");
    write_if_changed(&dir.join("src").join("main.rs"), &main);

    let build = cargo(&dir, &target, &["build", "--release", "--offline"]);
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(
        build.status.success(),
        "the generated code did not build:\n{stderr}"
    );
    assert!(!stderr.contains("warning"), "the build warned:\n{stderr}");

    let bin = target.join("release").join("kiln_codegen_compile");
    let run = Command::new(&bin).output().expect("run the harness");
    assert!(
        run.status.success(),
        "the harness failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut printed: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&run.stdout).lines() {
        let mut it = line.split(' ');
        let case: usize = it.next().and_then(|s| s.parse().ok()).expect("case");
        let k: usize = it.next().and_then(|s| s.parse().ok()).expect("output");
        printed.insert(
            (case, k),
            it.filter(|s| !s.is_empty()).map(String::from).collect(),
        );
    }

    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, c) in cases.iter().enumerate() {
        let want = reference(&c.graph, &c.inputs)
            .unwrap_or_else(|e| panic!("{}: the reference failed: {e}", c.name));
        let runs: &[usize] = if i == 0 { &[0, crate_case] } else { &[i] };
        for &case in runs {
            for (k, (w, p)) in want.iter().zip(&c.generated.signature.outputs).enumerate() {
                let got = printed.get(&(case, k)).cloned().unwrap_or_default();
                let w = debug_strings(w);
                checked += w.len();
                let bad: Vec<String> = got
                    .iter()
                    .zip(&w)
                    .enumerate()
                    .filter(|(_, (g, w))| !allclose(g, w, p.dtype))
                    .take(5)
                    .map(|(j, (g, w))| format!("[{j}] got {g}, want {w}"))
                    .collect();
                if got.len() != w.len() || !bad.is_empty() {
                    failures.push(format!(
                        "{} output {k} ({}): {} of {} elements; {}",
                        c.name,
                        p.model_name,
                        got.len(),
                        w.len(),
                        bad.join("; ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    assert!(checked > 800, "only {checked} elements compared");
}

/// The generated modules are clippy-clean with `-D warnings`, as modules of a `#![no_std]`
/// edition-2024 library (the build test uses edition 2021). Skipped without clippy.
#[test]
fn generated_code_is_clippy_clean() {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = ws.join("target").join("kiln-gen-tests");
    let dir = target.join("clippy-src");
    let has_clippy = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["clippy", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_clippy {
        eprintln!("cargo clippy is not installed; skipping");
        return;
    }
    let mut graphs = vec![("cnn", common::cnn()), ("integers", common::integers())];
    graphs.extend(common::families());
    let mut lib = String::from("#![no_std]\n#![deny(warnings)]\n\n");
    for (i, (_, g)) in graphs.iter().enumerate() {
        let m = emit(g, EmitKind::Module);
        write_if_changed(
            &dir.join("src").join(format!("m{i}.rs")),
            &m.files[0].contents,
        );
        let _ = writeln!(
            lib,
            "#[forbid(unsafe_code)]\npub mod m{i} {{\n    include!(\"m{i}.rs\");\n}}"
        );
    }
    write_if_changed(&dir.join("src").join("lib.rs"), &lib);
    write_if_changed(
        &dir.join("Cargo.toml"),
        "[package]\nname = \"kiln_codegen_clippy\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\n\n[workspace]\n",
    );
    let out = cargo(
        &dir,
        &target,
        &["clippy", "--offline", "--", "-D", "warnings"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "clippy failed:\n{stderr}");
    assert!(!stderr.contains("warning:"), "clippy warned:\n{stderr}");
}
