//! The ONNX test-data tensor reader (`.pb` files): bytes -> tensor, or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kiln::frontend::decode_tensor_pb(data);
});
