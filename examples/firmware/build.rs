//! Compiles the model with kiln on every build, the way a firmware crate would.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let model = Path::new("../models/mlperf_ic_resnet8.onnx");
    let compiled = kiln::Build::new(model)
        .emit(&out)
        .unwrap_or_else(|e| panic!("kiln: {e}"));
    println!(
        "cargo:warning=kiln: mlperf_ic_resnet8 arena {} bytes (lower bound {} bytes)",
        compiled.plan.arena_bytes(),
        compiled.plan.lower_bound_bytes()
    );

    // A real test input (seeded noise, see tests/data/corpus/README.md), as raw f32 bytes.
    let input =
        Path::new("../../tests/data/corpus/inputs/mlperf_ic_resnet8/test_data_set_0/input_0.pb");
    println!("cargo:rerun-if-changed={}", input.display());
    let (_, tensor) = kiln::frontend::read_tensor_pb(input).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        Path::new(&out).join("input_0.bin"),
        tensor.data.to_le_bytes(),
    )
    .expect("write input");
}
