//! Replays the inputs under tests/data/fuzz-regressions/<target>/ (crashers, once there
//! are any, and a sample of the fuzzers' corpus; see its README) through the fuzz targets'
//! own code. None may panic.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz-regressions")
        .join(target);
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{} holds no inputs", dir.display());
    v
}

#[test]
fn load_model_crashers_stay_fixed() {
    for (name, bytes) in inputs("load_model") {
        eprintln!("replaying {name}");
        kiln::fuzzing::load_model(&bytes);
    }
}

#[test]
fn tensor_proto_crashers_stay_fixed() {
    for (name, bytes) in inputs("tensor_proto") {
        eprintln!("replaying {name}");
        kiln::fuzzing::tensor_proto(&bytes);
    }
}
