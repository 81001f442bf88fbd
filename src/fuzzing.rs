//! The bodies of the fuzz targets (`fuzz/`), shared with the regression test that replays
//! the committed crashers (`tests/fuzz_regressions.rs`), so both run the same code.

use crate::codegen::EmitKind;

/// Model bytes -> IR -> verified graph -> memory plan -> generated Rust. Returns whether
/// the model compiled; either answer is fine, a panic is the bug.
pub fn load_model(data: &[u8]) -> bool {
    // Small tensor limits keep each run fast; the limit checks themselves are exercised.
    let opts = kiln_frontend::LoadOptions {
        max_tensor_elements: 1 << 16,
        max_file_bytes: 1 << 20,
        ..Default::default()
    };
    let Ok(graph) = kiln_frontend::load_model_bytes(data, None, &opts) else {
        return false;
    };
    crate::compile_graph(
        graph,
        "fuzz.onnx",
        String::new(),
        EmitKind::Module,
        &crate::CompileOptions::default(),
    )
    .is_ok()
}

/// The ONNX test-data tensor reader (`.pb` files): bytes -> tensor, or an error.
pub fn tensor_proto(data: &[u8]) -> bool {
    kiln_frontend::decode_tensor_pb(data).is_ok()
}
