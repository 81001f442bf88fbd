//! The ONNX test-data tensor reader (`.pb` files): bytes -> tensor, or an error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::tensor_proto(data);
});
