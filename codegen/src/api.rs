//! The crate's interface types: options, the generated files and their signature, errors.
//! Kept apart from `lib.rs` so the lowering and the printers depend on these and not on
//! the entry points that call them.

use kiln_ir::DType;
use std::fmt;
use std::path::PathBuf;

/// Where the generated code came from, for its header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    pub kiln_version: String,
    pub model_file: String,
    /// Hex digest of the model file.
    pub model_sha256: String,
    /// The options the model was compiled with, one free-text line each.
    pub options: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RustOptions {
    /// Also emit `run_profiled`, which calls a hook after each step so a profiler on a
    /// host can read a clock (`kiln bench`'s per-step profile). Off by default; never for
    /// code that ships: with it off the output is exactly what it would be without it.
    pub step_hook: bool,
    /// Package name for [`EmitKind::Crate`] (characters Cargo does not accept become `_`).
    pub module_name: String,
    pub provenance: Provenance,
    /// What the generated code may assume; the lowering chooses kernels for it and the
    /// header names it.
    pub target: kiln_ir::Target,
    pub kernels: KernelChoice,
    /// Let the kernels use `core::arch` intrinsics where the code is compiled for the
    /// instructions (`--intrinsics`; so far x86's AVX-512 VNNI or AVX2 in the int8 quad kernels, and
    /// Arm's `SMLAD` by inline assembly in the int8 SMLAD kernels).
    /// The code then contains `unsafe` in one module, so its crate must
    /// `deny(unsafe_code)` rather than `forbid` it. Off by default.
    pub intrinsics: bool,
    /// The file, next to the generated module, that holds its packed f32 weights as raw
    /// little-endian bytes (`include_bytes!`, [`Generated::weights`]); `None` spells them
    /// in the source as `u128` words unpacked by `const fn`s. rustc reads bytes whole, but
    /// evaluates the unpacking at about 2 µs an element: ddddocr_det's 5.3 M weights took
    /// most of its 28 s build. Used where unaligned f32 loads cost nothing (x86-64,
    /// AArch64), so the kernels read the bytes in place; a crate ([`EmitKind::Crate`])
    /// always takes `src/weights.bin`.
    pub weights_file: Option<String>,
}

/// Which kernels the lowering may choose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KernelChoice {
    /// The fastest the target has: weights packed at compile time for register-blocked
    /// micro-kernels where the shapes suit them, the reference kernels elsewhere.
    #[default]
    Fast,
    /// [`KernelChoice::Fast`], with each multiply-add of the micro-kernels fused into one
    /// instruction (`f32::mul_add`). Stable Rust has `mul_add` in `std` only, so the
    /// generated code then declares `extern crate std;`: for hosts (x86-64-v3 and up,
    /// AArch64), whose FMA units run a fused multiply-add at the cost of a multiply.
    FastFused,
    /// The reference kernels only: unpacked weights, the reference summation order (`-O0`).
    Reference,
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitKind {
    /// One file, `model.rs`, to include into a module of a crate, `no_std` or not:
    /// `#[forbid(unsafe_code)] mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }`
    /// (so it carries no inner attributes or `//!` docs).
    Module,
    /// A standalone crate: `Cargo.toml`, `src/lib.rs`, `README.md`.
    Crate,
    /// C99: `<name>.h`, `<name>.c` and `README.md` (`name` is
    /// [`RustOptions::module_name`] made a C identifier). Lowered with the same kernels as
    /// Rust on a microcontroller with an FPU (the one-lane float tiles); elsewhere with
    /// [`KernelChoice::Reference`]'s float kernels: the C library has no vector
    /// micro-kernels.
    C,
}

/// One generated file, its path relative to the output location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// One input or output of the generated `run`.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    /// The tensor's name in the model.
    pub model_name: String,
    /// The field of `Inputs`/`Outputs` (its shape constant is `<IDENT>_SHAPE`).
    pub ident: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Number of elements: the length of the array behind the field.
    pub len: usize,
    /// For an integer port the model reads or writes as quantized values: its scale and
    /// zero point (the generated `<IDENT>_SCALE` and `<IDENT>_ZERO_POINT`).
    pub quant: Option<QuantParams>,
}

/// The per-tensor quantization of a port, as the nodes that read it (DequantizeLinear,
/// QLinearConv, QLinearMatMul) or write it (QuantizeLinear, QLinear*) state it:
/// `real = (q - zero_point) * scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    pub scale: f32,
    pub zero_point: i64,
}

/// The interface of the generated code, for harnesses that call it.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    /// For [`EmitKind::Module`] exactly one file, `model.rs`; for [`EmitKind::Crate`]
    /// `src/lib.rs` first, then `Cargo.toml` and `README.md`.
    pub files: Vec<GeneratedFile>,
    pub signature: Signature,
    /// With [`RustOptions::step_hook`], the number of steps `run_profiled` reports (it
    /// calls `hook(i)` for each `i` below it, in order); `None` otherwise.
    pub profiled_steps: Option<usize>,
    /// Whether the code contains `unsafe` (`RustOptions::intrinsics`), so whatever
    /// includes it must `deny(unsafe_code)` rather than `forbid` it.
    pub has_unsafe: bool,
    /// The weights' bytes, with [`RustOptions::weights_file`] (or a crate) where the target
    /// reads them in place: to be written at `path`, relative to the module's directory
    /// (the crate's root for a crate), which the module's `include_bytes!` names.
    pub weights: Option<WeightsFile>,
}

/// The packed weights of a generated module, as the bytes its `include_bytes!` reads.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsFile {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// A node the emitter cannot generate code for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeError {
    pub node: String,
    /// The ONNX op type the node came from.
    pub op: String,
    pub opset: i64,
    pub message: String,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node {:?} ({}, opset {}): {}",
            self.node, self.op, self.opset, self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// Every node that could not be emitted, not just the first.
    #[error("cannot generate code for {} node(s):\n{}", .0.len(), list(.0))]
    Nodes(Vec<NodeError>),
    /// A graph input or output the generated interface cannot carry.
    #[error("{what} {name:?}: {message}")]
    Port {
        what: &'static str,
        name: String,
        message: String,
    },
    /// The memory plan does not describe this graph (a bug in the pipeline).
    #[error("the memory plan does not match the graph: {0}")]
    Plan(String),
    /// A template failed to render (a bug in kiln's templates).
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
}

fn list(errors: &[NodeError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
