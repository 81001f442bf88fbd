//! Real models from the shared corpus. They live outside the repository, so a missing file
//! skips the test with a printed reason, except under `CI=true`, where it fails.

use kiln_frontend::{LoadOptions, load_model, load_model_with_info};
use std::path::{Path, PathBuf};

fn corpus_model(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KILN_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/models")
        });
    let path = dir.join(name);
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "{} does not exist (set KILN_CORPUS to the corpus models folder)",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("corpus model missing under CI: {why}");
    }
    eprintln!("skipping: {why}");
    None
}

#[test]
fn resnet8_loads_verifies_and_has_its_declared_input() {
    let Some(path) = corpus_model("mlperf_ic_resnet8.onnx") else {
        return;
    };
    let (g, info) = load_model_with_info(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(info.default_opset().is_some());
    if let Err(diags) = kiln_ir::verify(&g) {
        let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        panic!("resnet8 does not verify:\n{}", lines.join("\n"));
    }
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(g.value(g.inputs[0]).ty.shape, vec![1, 3, 32, 32]);
    assert_eq!(g.outputs.len(), 1);
    assert!(g.node_count() > 10);
}

#[test]
fn mlperf_tiny_models_load_and_verify() {
    for name in [
        "mlperf_ad_fcae.onnx",
        "mlperf_ic_resnet8.onnx",
        "mlperf_vww_mobilenetv1.onnx",
    ] {
        let Some(path) = corpus_model(name) else {
            continue;
        };
        let g =
            load_model(&path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Err(diags) = kiln_ir::verify(&g) {
            let lines: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            panic!("{name} does not verify:\n{}", lines.join("\n"));
        }
    }
}
