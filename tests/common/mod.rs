//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod builder;
pub mod c;
pub mod onnx;
pub mod sharing;

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where generated test crates are built; shared between runs so rebuilds are incremental.
pub fn gen_target() -> PathBuf {
    repo().join("target").join("kiln-gen")
}

/// A data set a suite needs. When it is missing the suite says so loudly; under `CI=true`
/// a missing data set is a failure, never a silent pass.
pub fn require_data(path: &Path, what: &str) -> bool {
    if path.exists() {
        return true;
    }
    let msg = format!(
        "\n\n*** {what} NOT FOUND at {} ***\n*** run scripts/fetch-test-data first; this suite did NOT run ***\n",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    false
}

pub fn node_tests_dir() -> PathBuf {
    std::env::var_os("KILN_NODE_TESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tests/data/fetched/onnx-backend/node"))
}

/// A corpus model: vendored under tests/data/corpus/models, or fetched.
pub fn corpus_model(name: &str) -> PathBuf {
    let vendored = repo()
        .join("tests/data/corpus/models")
        .join(format!("{name}.onnx"));
    if vendored.exists() {
        return vendored;
    }
    repo()
        .join("tests/data/fetched/corpus/models")
        .join(format!("{name}.onnx"))
}

pub fn corpus_data(name: &str) -> PathBuf {
    repo()
        .join("tests/data/corpus/inputs")
        .join(name)
        .join("test_data_set_0")
}

/// The `kiln` binary; the suites that run it require the `cli` feature (Cargo.toml).
pub fn kiln_bin() -> PathBuf {
    // Not `env!`: this module is compiled into every suite, also without the binary.
    match option_env!("CARGO_BIN_EXE_kiln") {
        Some(p) => PathBuf::from(p),
        None => panic!("the kiln binary is built only with the cli feature"),
    }
}
