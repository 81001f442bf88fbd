//! Model bytes -> IR -> verified graph -> memory plan -> generated Rust. Any panic, abort,
//! timeout or out-of-memory is a bug: a malformed model must give an error.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::load_model(data);
});
