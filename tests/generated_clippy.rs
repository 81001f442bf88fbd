//! The crates kiln generates for the corpus models are clippy-clean with `-D warnings`, as a
//! user's crate that lints everything it builds would see them: every fp32 and int8 model
//! for this host (built with `-C target-cpu=native`, so the AVX-512 or AVX2 kernels and the
//! `--intrinsics` module are the ones linted), and the MLPerf models for Cortex-M cores with
//! and without an FPU (the compact kernels, the integer requantization, the SMLAD module).
//! `codegen/tests/compile.rs` lints small graphs of every family; these are the kernels and
//! epilogues the real models take.

mod common;

use std::path::Path;
use std::process::Command;

/// `--input-shape` pins of the models with symbolic inputs (those of their test data).
fn shapes(model: &str) -> &'static [&'static str] {
    match model {
        "ppocr_cls_mobile_v2" => &["--input-shape", "x=1x3x48x192"],
        "ppocrv4_rec" => &["--input-shape", "x=1x3x48x320"],
        _ => &[],
    }
}

/// Whether `cargo clippy` runs here; under `CI=true` it must.
fn has_clippy() -> bool {
    let ok = Command::new(cargo())
        .args(["clippy", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "cargo clippy is not installed (CI installs it: rustup component add clippy)"
        );
        eprintln!(
            "\n*** cargo clippy is not installed; the generated crates were NOT linted ***\n"
        );
    }
    ok
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Generates `model` (a path) as a crate with `args` and lints it for `triple` (None: this
/// host, with `-C target-cpu=native`); returns clippy's complaints, if any.
fn lint(model: &Path, args: &[&str], triple: Option<&str>, label: &str) -> Option<String> {
    let dir = common::gen_target().join("clippy-corpus").join(label);
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(common::kiln_bin())
        .arg("compile")
        .arg(model)
        .args(args)
        .args(["--emit", "crate", "-o"])
        .arg(&dir)
        .output()
        .expect("run kiln");
    if !out.status.success() {
        return Some(format!(
            "{label}: kiln compile failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut cmd = Command::new(cargo());
    cmd.current_dir(&dir)
        .args(["clippy", "--release", "--offline"])
        .env(
            "CARGO_TARGET_DIR",
            common::gen_target().join("clippy-corpus-target"),
        );
    match triple {
        Some(t) => {
            cmd.args(["--target", t]).env_remove("RUSTFLAGS");
        }
        None => {
            cmd.env("RUSTFLAGS", "-C target-cpu=native");
        }
    }
    let out = cmd
        .args(["--", "-D", "warnings"])
        .output()
        .expect("run cargo clippy");
    (!out.status.success()).then(|| {
        let text = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("error") || l.trim_start().starts_with("-->"))
            .take(12)
            .collect();
        format!("{label}:\n{}", errors.join("\n"))
    })
}

#[test]
fn generated_corpus_crates_are_clippy_clean() {
    if !has_clippy() {
        return;
    }
    let mut failures = Vec::new();
    let mut linted = 0;
    for name in kiln::bench::CORPUS {
        let fp32 = common::corpus_model(name);
        let int8 = fp32.with_file_name(format!("{name}.int8.qdq.onnx"));
        if !common::require_data(&fp32, &format!("corpus model {name}"))
            || !common::require_data(&int8, &format!("int8 corpus model {name}"))
        {
            return;
        }
        let pins = shapes(name);
        let host: [(&Path, Vec<&str>, String); 3] = [
            (&fp32, pins.to_vec(), format!("{name}-host")),
            (&int8, pins.to_vec(), format!("{name}-int8-host")),
            (
                &int8,
                [pins, &["--intrinsics"]].concat(),
                format!("{name}-int8-host-intrinsics"),
            ),
        ];
        for (model, args, label) in &host {
            failures.extend(lint(model, args, None, label));
            linted += 1;
        }
    }
    // Cortex-M: the installed Rust targets (CI adds them; `.ci/run`).
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let embedded: &[(&str, &str, &[&str])] = &[
        ("thumbv7em", "thumbv7em-none-eabihf", &[]),
        ("thumbv7em+fpu", "thumbv7em-none-eabihf", &["--intrinsics"]),
        ("thumbv6m", "thumbv6m-none-eabi", &[]),
    ];
    for (target, triple, extra) in embedded {
        if !installed.lines().any(|l| l.trim() == *triple) {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "Rust target {triple} is not installed (rustup target add {triple})"
            );
            eprintln!("\n*** Rust target {triple} is not installed; NOT linted for it ***\n");
            continue;
        }
        for name in ["mlperf_ic_resnet8", "mlperf_vww_mobilenetv1"] {
            let fp32 = common::corpus_model(name);
            let int8 = fp32.with_file_name(format!("{name}.int8.qdq.onnx"));
            for (model, kind) in [(&fp32, "fp32"), (&int8, "int8")] {
                let args = [&["--target", *target][..], extra].concat();
                let label = format!("{name}-{kind}-{}", target.replace('+', "-"));
                failures.extend(lint(model, &args, Some(triple), &label));
                linted += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {linted} generated crates are not clippy-clean:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    eprintln!("{linted} generated crates linted, all clippy-clean");
}
