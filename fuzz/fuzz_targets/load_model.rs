//! Model bytes -> IR -> verified graph -> memory plan -> generated Rust. Any panic, abort,
//! timeout or out-of-memory is a bug: a malformed model must give an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the limit checks themselves are what is exercised.
    let opts = kiln::frontend::LoadOptions {
        max_tensor_elements: 1 << 16,
        ..Default::default()
    };
    let Ok(graph) = kiln::frontend::load_model_bytes(data, None, &opts) else {
        return;
    };
    let _ = kiln::compile_graph(
        graph,
        "fuzz.onnx",
        String::new(),
        kiln::codegen::EmitKind::Module,
        &kiln::CompileOptions::default(),
    );
});
