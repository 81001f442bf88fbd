//! kiln: an ahead-of-time compiler from ONNX models to dependency-free `#![no_std]` Rust
//! with a static memory plan.
//!
//! From a firmware crate's `build.rs` (the README's snippet, which `tests/build_api.rs`
//! keeps identical to this one):
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     let out = std::env::var("OUT_DIR").unwrap();
//!     kiln::Build::new("model.onnx")
//!         // .input_shape("input_1", &[1, 3, 32, 32]) // only if the model leaves dimensions symbolic
//!         // .max_arena_bytes("128K")                 // fail the build if the model needs more RAM
//!         .emit(&out) // writes $OUT_DIR/model.rs (and model.weights); prints cargo:rerun-if-changed for the files read
//!         .unwrap_or_else(|e| panic!("kiln: {e}"));
//! }
//! ```
//!
//! and in the crate: `#[forbid(unsafe_code)] mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }`.
//!
//! The stages live in their own crates, re-exported here: [`frontend`] (ONNX to IR), [`ir`]
//! (graph, shape inference, reference semantics), [`passes`] (memory planning) and
//! [`codegen`] (Rust emitter).

// The build.rs examples are whole files, `fn main` included, to be copied as they are.
#![allow(clippy::needless_doctest_main)]

pub mod bench;
pub mod cross;
pub mod device;
pub mod elf;
pub use device::Device;
#[doc(hidden)]
pub mod fuzzing;
pub mod harness;
pub mod npy;
pub mod quantization;
pub use quantization::{quantize_graph, read_samples};
pub mod report;
mod sha256;
mod tempdir;

pub use kiln_codegen as codegen;
pub use kiln_frontend as frontend;
pub use kiln_ir as ir;
pub use kiln_passes as passes;

use kiln_codegen::{EmitKind, Generated, Provenance, RustOptions};
use kiln_ir::{Graph, Limit, OptionNames, Target, Tensor};
use kiln_passes::MemoryPlan;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything that can go wrong, by stage. Each message names the node, op and opset where
/// there is one, and says what to do, naming options as the interface that was used spells
/// them ([`CompileOptions::option_names`]). `Debug` prints the message too, so
/// `.expect(..)` in a build script shows it as written.
#[derive(thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Frontend(#[from] kiln_frontend::FrontendError),
    #[error("the graph is not valid:\n{}", .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"))]
    Verify(Vec<kiln_ir::Diagnostic>),
    #[error(transparent)]
    Codegen(#[from] kiln_codegen::CodegenError),
    #[error("{0}")]
    Pass(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file at `path` is not what it should be (not an ONNX model, not a tensor file):
    /// the frontend's error, which does not know the path, naming the file.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        // Boxed: the frontend's error is large, and this variant would make every
        // `Result<_, Error>` as large.
        source: Box<kiln_frontend::FrontendError>,
    },
    #[error("{0}")]
    Usage(String),
    /// Post-training quantization failed: unreadable or mismatched calibration data, or a
    /// sample the reference semantics could not run.
    #[error("post-training quantization: {0}")]
    Quantize(String),
    #[error(
        "the model needs an activation arena of {arena} bytes (lower bound {lower_bound}), more \
         than the limit of {limit} bytes; the largest activation is {largest}. Use a smaller \
         input shape or model, or raise the limit with {}", names.limit(Limit::ArenaBytes)
    )]
    ArenaTooLarge {
        arena: u64,
        lower_bound: u64,
        limit: u64,
        largest: String,
        names: OptionNames,
    },
    /// The model does not fit the device profile's RAM or flash budget.
    #[error("the model does not fit {device}:\n{}\n{advice}", over.iter().map(|o| format!("  - {o}")).collect::<Vec<_>>().join("\n"))]
    DoesNotFit {
        device: String,
        /// One line per budget exceeded, with the excess.
        over: Vec<String>,
        /// What would fit.
        advice: String,
    },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Options of one compilation.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Shapes for graph inputs whose dimensions the model leaves symbolic.
    pub input_shapes: BTreeMap<String, Vec<usize>>,
    /// Graph inputs fixed at compile time (`--bind-input NAME=FILE.pb`), with the file
    /// they came from for the generated header (empty for a tensor given in code): see
    /// `LoadOptions::bound_inputs`.
    pub bound_inputs: BTreeMap<String, (Tensor, String)>,
    /// The model's name (`--name`): `MODEL_NAME` in the generated code and the package
    /// name of `--emit crate`; defaults to the model file's stem.
    pub crate_name: Option<String>,
    /// What kiln accepts before refusing a model as too big or too strange.
    pub limits: Limits,
    /// `-O0` (no passes, no aliasing) or `-O2` (the default: everything).
    pub opt_level: kiln_passes::OptLevel,
    /// What the generated code may assume (`--target`; default: the machine kiln runs on).
    pub target: Target,
    /// Fused multiply-add in the micro-kernels (`--fma`): faster on hosts with FMA units,
    /// but the generated code then needs `std` (stable Rust's `f32::mul_add` is not in
    /// `core`). Refused for targets without FMA and vector units, and at `-O0`.
    pub fma: bool,
    /// `core::arch` intrinsics in the kernels that have them (`--intrinsics`; so far the
    /// int8 convolutions and Gemms on x86 with AVX-512 VNNI), where the generated code is
    /// compiled for those instructions; the portable kernels elsewhere. The code then
    /// contains `unsafe` in one module, so it takes `deny(unsafe_code)`, not `forbid`.
    pub intrinsics: bool,
    /// How errors and the generated header name options: the CLI's flags (the default) or
    /// [`Build`]'s methods.
    pub option_names: OptionNames,
    /// kiln's own post-training quantization to int8 (`--quantize int8`), for a float model.
    pub quantize: Option<Quantize>,
    /// The device profile (`--device`): the compilation fails when the model does not fit
    /// its RAM and flash budgets. Set [`CompileOptions::target`] to its target too.
    pub device: Option<Device>,
    /// The file beside a generated module that holds its packed f32 weights as bytes
    /// (see [`weights_file_for`]); `None` keeps them in the module's source, as `u128`
    /// words a `const fn` unpacks (slower to build). A crate always has `src/weights.bin`.
    pub weights_file: Option<String>,
}

/// The weights file of the module written at `out`: `<stem>.weights` beside it, so two
/// modules in one directory do not share one.
pub fn weights_file_for(out: &Path) -> String {
    let stem = out
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    format!("{stem}.weights")
}

/// Post-training quantization of a float model ([`CompileOptions::quantize`]): calibrated
/// on sample inputs through the reference semantics, then compiled to integer kernels as a
/// QDQ model would be (see [`kiln_passes::ptq`]).
#[derive(Clone, Debug)]
pub struct Quantize {
    /// The calibration samples' directory, read when the model is compiled: see
    /// [`read_samples`].
    pub calibration: PathBuf,
    pub options: kiln_passes::ptq::PtqOptions,
}

/// Default for [`Limits::arena_bytes`]: 4 GiB, more than a 32-bit device can address.
pub const DEFAULT_MAX_ARENA_BYTES: u64 = 1 << 32;

/// Limits that protect kiln (and the build it runs in) from hostile or broken models. Each
/// has a `kiln` flag of the same name (`--max-file-bytes`, ...); raise one only for a model
/// you trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest model file, in bytes (default 2 GiB, protobuf's own limit).
    pub file_bytes: u64,
    /// Largest element count of any one tensor (default 2^31).
    pub tensor_elements: u64,
    /// Most nodes, counting subgraphs (default 100,000).
    pub nodes: usize,
    /// Deepest subgraph nesting (default 16; the decoder refuses more than about 30).
    pub depth: usize,
    /// Largest activation arena the memory plan may need (default 4 GiB).
    pub arena_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: kiln_frontend::DEFAULT_MAX_FILE_BYTES,
            tensor_elements: kiln_frontend::DEFAULT_MAX_TENSOR_ELEMENTS,
            nodes: kiln_frontend::DEFAULT_MAX_NODES,
            depth: kiln_frontend::DEFAULT_MAX_DEPTH,
            arena_bytes: DEFAULT_MAX_ARENA_BYTES,
        }
    }
}

impl CompileOptions {
    /// The options the middle of the compilation takes.
    pub fn passes_options(&self) -> kiln_passes::CompileOptions {
        kiln_passes::CompileOptions {
            opt_level: self.opt_level,
            target: self.target,
            names: self.option_names,
            intrinsics: self.intrinsics,
            reference_float: false,
        }
    }

    /// The options as provenance lines for the generated header, spelled as they were given.
    fn describe(&self) -> Vec<String> {
        let names = self.option_names;
        let mut v: Vec<String> = self
            .input_shapes
            .iter()
            .map(|(k, dims)| names.input_shape(k, Some(dims)))
            .collect();
        for (k, (_, from)) in &self.bound_inputs {
            v.push(match names {
                OptionNames::Cli => format!("--bind-input {k}={from}"),
                // A tensor given in code has no file to name.
                OptionNames::Build if from.is_empty() => format!(".bind_input({k:?}, ..)"),
                OptionNames::Build => format!(".bind_input({k:?}, {from:?})"),
            });
        }
        if self.opt_level == kiln_passes::OptLevel::O0 {
            v.push(names.no_optimisation().into());
        }
        if self.fma {
            v.push(names.fma().into());
        }
        if self.intrinsics {
            v.push(names.intrinsics().into());
        }
        if let Some(d) = &self.device {
            v.push(match names {
                OptionNames::Cli => format!("--device {}", d.name),
                OptionNames::Build => format!(".device({:?})", d.name),
            });
        }
        if let Some(q) = &self.quantize {
            let o = &q.options;
            let threshold = o
                .float_threshold
                .map_or("off".to_string(), |t| t.to_string());
            v.push(match names {
                OptionNames::Cli => format!(
                    "--quantize int8 --calibration {} --calibration-method {} --float-threshold {threshold}",
                    q.calibration.display(),
                    o.method
                ),
                OptionNames::Build => format!(
                    ".quantize_int8({:?}) ({}, float threshold {threshold})",
                    q.calibration.display().to_string(),
                    o.method
                ),
            });
        }
        v
    }

    /// Whether `--intrinsics` means anything for `target` (the resolved one), or why not.
    fn intrinsics_support(&self, target: Target) -> Result<(), Error> {
        let flag = self.option_names.intrinsics();
        if self.opt_level == kiln_passes::OptLevel::O0 {
            return Err(Error::Usage(format!(
                "{flag} and {} do not go together: -O0 keeps the reference kernels, which \
                 use no intrinsics; drop one of them",
                self.option_names.no_optimisation()
            )));
        }
        let kt = kiln_passes::kernels::KernelTarget {
            target,
            intrinsics: true,
            reference_float: false,
        };
        if let Target::Thumbv8mMain { dsp: true, .. } = target.resolve() {
            return Err(Error::Usage(format!(
                "{flag}: kiln has no intrinsics kernels for target {target}: Rust's \
                 thumbv8m.main targets enable the DSP instructions (SMLAD) only with the \
                 unstable `-C target-feature=+dsp`, without which the assembly does not \
                 build; drop {flag} (the C output names SMLAD through ACLE on this core)"
            )));
        }
        if !kiln_passes::kernels::has_intrinsic_kernels(kt) {
            return Err(Error::Usage(format!(
                "{flag}: kiln has no intrinsics kernels for target {target} (so far only for \
                 x86_64-v3 and x86_64-v4: AVX2 or AVX-512 VNNI in the int8 convolutions and Gemms, and for \
                 thumbv7em (Cortex-M4/M7): SMLAD in the int8 ones, in Rust); drop {flag}"
            )));
        }
        Ok(())
    }

    /// The kernels these options ask for (see [`kernel_choice`]), or why they cannot be
    /// had for `target` (the resolved one).
    pub fn kernels(&self, target: Target) -> Result<kiln_codegen::KernelChoice, Error> {
        let choice = kernel_choice(self.opt_level, self.fma);
        if self.intrinsics {
            self.intrinsics_support(target)?;
        }
        if !self.fma {
            return Ok(choice);
        }
        let fma = self.option_names.fma();
        if self.opt_level == kiln_passes::OptLevel::O0 {
            return Err(Error::Usage(format!(
                "{fma} and {} do not go together: -O0 keeps the reference kernels, which \
                 have no fused multiply-add; drop one of them",
                self.option_names.no_optimisation()
            )));
        }
        if !target.has_fma() || kiln_passes::kernels::Tiling::for_target(target, true).is_none() {
            return Err(Error::Usage(format!(
                "{fma}: target {target} has no fused multiply-add vector kernels (they are \
                 for x86_64-v3, x86_64-v4 and aarch64, whose code has `std`); drop {fma}"
            )));
        }
        Ok(choice)
    }
}

/// A compiled model: the IR, its memory plan and the generated files.
#[derive(Debug)]
pub struct Compiled {
    /// The graph after optimisation.
    pub graph: Graph,
    /// Nodes as imported, before optimisation.
    pub nodes_before: usize,
    /// What each pass did, in order (empty at `-O0`).
    pub passes: Vec<kiln_passes::PassReport>,
    pub plan: MemoryPlan,
    pub generated: Generated,
    pub model_sha256: String,
    /// What the generated code may assume.
    pub target: Target,
    /// What post-training quantization did, when it was asked for.
    pub quantization: Option<kiln_passes::ptq::PtqReport>,
    /// With [`CompileOptions::device`], the memory the model needs of the device's budgets.
    pub device_fit: Option<device::Fit>,
    /// The external data files the model's tensors were read from (empty for a graph that
    /// did not come from a file).
    pub external_data: Vec<PathBuf>,
}

/// Parses a shape written as `1x3x32x32`.
pub fn parse_dims(s: &str) -> Result<Vec<usize>, Error> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(['x', 'X', ','])
        .map(|d| {
            d.trim().parse::<usize>().map_err(|_| {
                Error::Usage(format!(
                    "bad dimension {d:?} in shape {s:?}; write e.g. 1x3x32x32"
                ))
            })
        })
        .collect()
}

/// Parses a byte count as the size flags take it (`--max-arena-bytes 128K`): plain bytes,
/// or a number with a suffix K, M, G (powers of 1024, as most firmware tools read them) or
/// KiB, MiB, GiB (the same), in any case, with an optional `B` (`128KB`, `64kib`).
pub fn parse_bytes(s: &str) -> Result<u64, Error> {
    let bad = || {
        Error::Usage(format!(
            "bad size {s:?}: write bytes (131072) or a number with K, M or G (powers of 1024, \
             also KiB, MiB, GiB), e.g. 128K or 4MiB"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    if num.is_empty() {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| {
        Error::Usage(format!(
            "size {s:?} is too large (more than {} bytes)",
            u64::MAX
        ))
    })
}

/// Parses `--input-shape NAME=1x3x32x32`.
pub fn parse_input_shape(s: &str) -> Result<(String, Vec<usize>), Error> {
    let (name, dims) = s.rsplit_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--input-shape {s:?}: write NAME=DIMS, e.g. input=1x3x32x32"
        ))
    })?;
    Ok((name.to_string(), parse_dims(dims)?))
}

/// Loads a model into IR: the front half of [`compile`], also used by `kiln inspect`.
/// The graph is not verified here; [`compile_graph`] and `kiln inspect` verify it.
pub fn load(model: &Path, opts: &CompileOptions) -> Result<(Graph, String), Error> {
    load_with_files(model, opts).map(|(g, sha, _)| (g, sha))
}

/// [`load`], also returning the external data files the model's tensors were read from.
fn load_with_files(
    model: &Path,
    opts: &CompileOptions,
) -> Result<(Graph, String, Vec<PathBuf>), Error> {
    let names = opts.option_names;
    let bytes = kiln_frontend::read_model_file(model, opts.limits.file_bytes)
        .map_err(|e| e.with_option_names(names))?;
    let sha = hex(&sha256::digest(&bytes));
    let load_opts = kiln_frontend::LoadOptions {
        input_shapes: opts.input_shapes.clone(),
        bound_inputs: opts
            .bound_inputs
            .iter()
            .map(|(k, (t, _))| (k.clone(), t.clone()))
            .collect(),
        max_file_bytes: opts.limits.file_bytes,
        max_tensor_elements: opts.limits.tensor_elements,
        max_nodes: opts.limits.nodes,
        max_depth: opts.limits.depth,
        option_names: names,
    };
    // A bare file name's parent is "", which the external-data checks cannot canonicalize.
    let base = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let (graph, info) = kiln_frontend::load_model_bytes_with_info(&bytes, Some(base), &load_opts)
        .map_err(|e| with_bind_hint(model_file_error(model, e), names))?;
    Ok((graph, sha, info.external_data))
}

/// What to do about a value kiln needs at compile time that a graph input leaves to run
/// time, with the option spelled as `names` says.
pub fn bind_input_hint(names: OptionNames) -> String {
    format!(
        "if it is a graph input, fix its value at compile time with {}",
        names.bind_input(None)
    )
}

/// A loading error, naming the model file when the error is about the file as a whole (it
/// is not an ONNX model); errors about a node name the node instead.
pub fn model_file_error(model: &Path, e: kiln_frontend::FrontendError) -> Error {
    use kiln_frontend::FrontendError as F;
    match e {
        F::Decode(_) | F::NotOnnx { .. } => Error::File {
            path: model.to_path_buf(),
            source: Box::new(e),
        },
        e => e.into(),
    }
}

/// Reads a tensor file (`--bind-input`, [`Build::bind_input`]): a serialized `TensorProto`.
/// Every error names the file.
pub fn read_tensor_file(path: &Path) -> Result<Tensor, Error> {
    use kiln_frontend::FrontendError as F;
    kiln_frontend::read_tensor_pb(path)
        .map(|(_, t)| t)
        .map_err(|e| match e {
            // These name the file already.
            e @ (F::Io { .. } | F::FileTooLarge { .. }) => e.into(),
            e => Error::File {
                path: path.to_path_buf(),
                source: Box::new(e),
            },
        })
}

/// Makes an error saying a value is "only known at run time" name the option that binds
/// an input ([`bind_input_hint`]), wherever in the compiler it was raised.
fn with_bind_hint(mut e: Error, names: OptionNames) -> Error {
    let hint = |s: &mut String| {
        if s.contains("only known at run time") && !s.contains(names.bind_input_option()) {
            s.push_str("; ");
            s.push_str(&bind_input_hint(names));
        }
    };
    use kiln_frontend::FrontendError as F;
    match &mut e {
        Error::Frontend(
            F::Node { message: s, .. }
            | F::Attribute { message: s, .. }
            | F::Tensor { message: s, .. }
            | F::Graph(s)
            | F::InputShape(s)
            | F::Limit(s),
        )
        | Error::Pass(s) => hint(s),
        Error::Frontend(F::Unsupported(list)) => {
            for u in list {
                if let Some(r) = &mut u.reason {
                    hint(r);
                }
            }
        }
        Error::Verify(diags) => {
            for d in diags {
                hint(&mut d.message);
            }
        }
        _ => {}
    }
    e
}

/// Compiles a model to Rust source in memory.
pub fn compile(model: &Path, kind: EmitKind, opts: &CompileOptions) -> Result<Compiled, Error> {
    let (graph, sha, external_data) = load_with_files(model, opts)?;
    let file_name = model
        .file_name()
        .map_or_else(|| "model.onnx".into(), |f| f.to_string_lossy().into_owned());
    let mut compiled = compile_graph(graph, &file_name, sha, kind, opts)?;
    compiled.external_data = external_data;
    Ok(compiled)
}

/// Verifies, lowers, optimises and plans an imported graph ([`kiln_passes::compile()`]):
/// the middle of [`compile_graph`], also used by `kiln inspect`.
pub fn plan(graph: Graph, opts: &CompileOptions) -> Result<kiln_passes::Planned, Error> {
    plan_as(graph, opts, EmitKind::Module)
}

/// [`plan`] for output `kind`: C's float kernels are the reference ones, which take no
/// scratch, except on a microcontroller with an FPU (`kiln_passes::kernels::c_has_tiled_float`),
/// so its plan gives them none elsewhere.
pub fn plan_as(
    graph: Graph,
    opts: &CompileOptions,
    kind: EmitKind,
) -> Result<kiln_passes::Planned, Error> {
    let mut popts = opts.passes_options();
    popts.reference_float =
        kind == EmitKind::C && !kiln_passes::kernels::c_has_tiled_float(opts.target);
    kiln_passes::compile(graph, &popts).map_err(|e| with_bind_hint(e.into(), opts.option_names))
}

impl From<kiln_passes::CompileError> for Error {
    fn from(e: kiln_passes::CompileError) -> Self {
        match e {
            kiln_passes::CompileError::Verify(d) => Error::Verify(d),
            other => Error::Pass(other.to_string()),
        }
    }
}

/// Compiles an IR graph that did not come from a file (tests, other frontends).
/// `model_file` and `sha256` only go into the provenance header.
pub fn compile_graph(
    graph: Graph,
    model_file: &str,
    sha256: String,
    kind: EmitKind,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    let mut graph = graph;
    let quantization = quantize_graph(&mut graph, opts)?;
    let mut compiled = emit_planned(plan_as(graph, opts, kind)?, model_file, sha256, kind, opts)?;
    compiled.quantization = quantization;
    Ok(compiled)
}

/// The back half of [`compile_graph`]: checks the arena against the limit, then lowers the
/// planned graph and prints it as Rust.
pub fn emit_planned(
    planned: kiln_passes::Planned,
    model_file: &str,
    sha256: String,
    kind: EmitKind,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    if kind == EmitKind::C && opts.intrinsics {
        return Err(Error::Usage(format!(
            "{}: the C kernels have no intrinsics yet (they are Rust's); drop it for C",
            opts.option_names.intrinsics()
        )));
    }
    let arena = planned.plan.arena_bytes() as u64;
    if arena > opts.limits.arena_bytes {
        return Err(Error::ArenaTooLarge {
            arena,
            lower_bound: planned.plan.lower_bound_bytes() as u64,
            limit: opts.limits.arena_bytes,
            largest: largest_buffer(planned.graph(), &planned.plan),
            names: opts.option_names,
        });
    }
    let stem = Path::new(model_file)
        .file_stem()
        .map_or_else(|| "model".into(), |f| f.to_string_lossy().into_owned());
    let rust_opts = RustOptions {
        step_hook: false,
        module_name: opts.crate_name.clone().unwrap_or(stem),
        provenance: Provenance {
            kiln_version: env!("CARGO_PKG_VERSION").to_string(),
            model_file: model_file.to_string(),
            model_sha256: sha256.clone(),
            options: opts.describe(),
        },
        target: planned.target,
        kernels: opts.kernels(planned.target)?,
        intrinsics: opts.intrinsics,
        weights_file: opts.weights_file.clone(),
    };
    // The device check reads the program that is then printed.
    let verified = planned.verified();
    let kernels = kiln_codegen::kernels_for(kind, &rust_opts);
    let lower = |pairs| {
        kiln_codegen::lower(&verified, &planned.plan, planned.target, kernels, pairs)
            .map_err(|e| with_bind_hint(e.into(), opts.option_names))
    };
    let (program, fit) = match &opts.device {
        Some(device) => {
            // C on a core with the DSP extension stores the SMLAD row convolutions'
            // weights as 16-bit pairs when the device's flash holds them (faster, twice
            // those weights' bytes; see `kiln_codegen::lower`), else as i8.
            let pairs = if kind == EmitKind::C && planned.target.has_dsp() {
                let p = lower(true)?;
                check_device(device, &p).ok().map(|fit| (p, fit))
            } else {
                None
            };
            match pairs {
                Some((p, fit)) => (p, Some(fit)),
                None => {
                    let p = lower(false)?;
                    let fit = check_device(device, &p)?;
                    (p, Some(fit))
                }
            }
        }
        None => (lower(false)?, None),
    };
    let mut generated = kiln_codegen::print_rust(&verified, &program, kind, &rust_opts)
        .map_err(|e| with_bind_hint(e.into(), opts.option_names))?;
    if let (Some(device), Some(fit)) = (&opts.device, &fit) {
        // The generated README gets the device's budgets and how this model uses them.
        for f in &mut generated.files {
            if f.path.file_name().is_some_and(|n| n == "README.md") {
                f.contents.push_str(&device.readme_section(fit));
            }
        }
    }
    Ok(Compiled {
        device_fit: fit,
        graph: planned.graph.into_graph(),
        nodes_before: planned.nodes_before,
        passes: planned.passes,
        plan: planned.plan,
        generated,
        model_sha256: sha256,
        target: planned.target,
        quantization: None,
        external_data: Vec::new(),
    })
}

/// Fails when the lowered `program` does not fit `device` (see [`Device::check_fit`]). The
/// weights are counted as the lowering stores them (packed panels included).
fn check_device(device: &Device, program: &kiln_codegen::Program) -> Result<device::Fit, Error> {
    let float_weights = program
        .statics
        .iter()
        .filter(|s| s.ty.starts_with("f32"))
        .map(|s| s.bytes as u64)
        .sum();
    // The pairs take twice the bytes of the i8 quads they replace.
    let pair_bytes = program
        .statics
        .iter()
        .filter(|s| {
            matches!(
                s.packing,
                Some(kiln_codegen::program::Packing::DspQuads { pairs: true, .. })
            )
        })
        .map(|s| s.bytes as u64 / 2)
        .sum();
    let fit = device::Fit {
        arena: program.arena_bytes as u64,
        weights: program.weight_bytes() as u64,
        float_weights,
        pair_bytes,
        macs: program.macs(),
    };
    device.check_fit(&fit)?;
    Ok(fit)
}

/// The kernels the lowering may pick at `level`: the reference kernels at `-O0`, the
/// fastest the target has above, with fused multiply-add if `fma` (see
/// [`CompileOptions::fma`]; [`CompileOptions::kernels`] also checks the target).
pub fn kernel_choice(level: kiln_passes::OptLevel, fma: bool) -> kiln_codegen::KernelChoice {
    match (level, fma) {
        (kiln_passes::OptLevel::O0, _) => kiln_codegen::KernelChoice::Reference,
        (_, false) => kiln_codegen::KernelChoice::Fast,
        (_, true) => kiln_codegen::KernelChoice::FastFused,
    }
}

/// The biggest activation of a plan, as `"name" (N bytes, output of node "n" (Op))`.
fn largest_buffer(graph: &Graph, plan: &MemoryPlan) -> String {
    let Some(b) = plan
        .buffers
        .iter()
        .max_by_key(|b| b.len * b.dtype.size_bytes())
    else {
        return "none".into();
    };
    let bytes = b.len * b.dtype.size_bytes();
    let producer = b
        .producer(graph)
        .map(|n| {
            let node = graph.node(n);
            let what = if b.scratch_of.is_some() {
                "scratch space"
            } else {
                "output"
            };
            format!(", {what} of node {:?} ({})", node.name, node.onnx_op)
        })
        .unwrap_or_default();
    format!("{:?} ({bytes} bytes{producer})", b.name(graph))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes generated files under `out` so that a reader never sees a half-written result:
/// everything goes to a sibling temporary directory first, which is renamed into place.
/// For [`EmitKind::Module`] `out` is the `.rs` file; for [`EmitKind::Crate`] a directory,
/// which may exist only if kiln generated it.
pub fn write_output(generated: &Generated, kind: EmitKind, out: &Path) -> Result<(), Error> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let tmp = tempdir::TempDir::new_in(&parent, ".kiln-tmp-").map_err(|e| Error::io(&parent, e))?;
    let blobs = generated
        .weights
        .iter()
        .map(|w| (&w.path, w.bytes.as_slice()));
    let texts = generated
        .files
        .iter()
        .map(|f| (&f.path, f.contents.as_bytes()));
    for (path, contents) in texts.chain(blobs) {
        let p = tmp.path().join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        std::fs::write(&p, contents).map_err(|e| Error::io(&p, e))?;
    }
    match kind {
        EmitKind::Module => {
            let file = generated
                .files
                .first()
                .ok_or_else(|| Error::Usage("the emitter produced no file".into()))?;
            // The weights file first: a module whose `include_bytes!` names a file not
            // there yet would be a broken build, not an old one.
            if let Some(w) = &generated.weights {
                let dest = parent.join(&w.path);
                std::fs::rename(tmp.path().join(&w.path), &dest)
                    .map_err(|e| Error::io(&dest, e))?;
            }
            let src = tmp.path().join(&file.path);
            std::fs::rename(&src, out).map_err(|e| Error::io(out, e))?;
        }
        EmitKind::Crate => {
            if out.exists() {
                let manifest = std::fs::read_to_string(out.join("Cargo.toml")).unwrap_or_default();
                if !manifest.contains("generated by kiln") {
                    return Err(Error::Usage(format!(
                        "{} exists and is not a crate kiln generated; choose another output directory or remove it",
                        out.display()
                    )));
                }
                std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
            }
            let kept = tmp.keep();
            std::fs::rename(&kept, out).map_err(|e| Error::io(out, e))?;
        }
        EmitKind::C => {
            if out.exists() {
                let readme = std::fs::read_to_string(out.join("README.md")).unwrap_or_default();
                if !readme.starts_with('#') || !readme.contains("Generated by kiln") {
                    return Err(Error::Usage(format!(
                        "{} exists and is not C output kiln generated; choose another output directory or remove it",
                        out.display()
                    )));
                }
                std::fs::remove_dir_all(out).map_err(|e| Error::io(out, e))?;
            }
            let kept = tmp.keep();
            std::fs::rename(&kept, out).map_err(|e| Error::io(out, e))?;
        }
    }
    Ok(())
}

/// The build.rs entry point: compiles a model into `OUT_DIR` on every build. It has an
/// option for each of `kiln compile`'s, and its errors name these methods, not flags.
///
/// ```no_run
/// // build.rs
/// fn main() {
///     let out = std::env::var("OUT_DIR").unwrap();
///     kiln::Build::new("model.onnx")
///         .max_arena_bytes("192K") // the device's RAM budget: the build fails if it does not fit
///         .emit(&out)
///         .unwrap_or_else(|e| panic!("kiln: {e}"));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Build {
    model: PathBuf,
    opts: CompileOptions,
    /// Set by [`Build::target`]; otherwise cargo's target when run from a build script.
    target: Option<Target>,
    /// Set by [`Build::device`]: a profile name or file, read when the model is compiled.
    device: Option<String>,
    file_name: String,
    /// Inputs bound to `.pb` files, read when the model is compiled.
    bind_files: Vec<(String, PathBuf)>,
    /// Sizes given as text, parsed when the model is compiled so a typo is an error there.
    sizes: Vec<(Limit, Size)>,
}

/// A value for [`Build::bind_input`]: a tensor, or the path of a `.pb` file holding one.
#[derive(Clone, Debug)]
pub enum BoundValue {
    Tensor(Tensor),
    File(PathBuf),
}

impl From<Tensor> for BoundValue {
    fn from(t: Tensor) -> Self {
        BoundValue::Tensor(t)
    }
}

impl From<&Path> for BoundValue {
    fn from(p: &Path) -> Self {
        BoundValue::File(p.to_path_buf())
    }
}

impl From<PathBuf> for BoundValue {
    fn from(p: PathBuf) -> Self {
        BoundValue::File(p)
    }
}

impl From<&str> for BoundValue {
    fn from(p: &str) -> Self {
        BoundValue::File(p.into())
    }
}

/// A byte count for [`Build::max_arena_bytes`] and [`Build::max_file_bytes`]: a number of
/// bytes, or text as the CLI's size flags take it (`"128K"`, `"4MiB"`: see [`parse_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

impl From<u64> for Size {
    fn from(n: u64) -> Self {
        Size::Bytes(n)
    }
}

impl From<&str> for Size {
    fn from(s: &str) -> Self {
        Size::Text(s.to_string())
    }
}

impl From<String> for Size {
    fn from(s: String) -> Self {
        Size::Text(s)
    }
}

impl Size {
    fn bytes(&self, method: &str) -> Result<u64, Error> {
        match self {
            Size::Bytes(n) => Ok(*n),
            Size::Text(s) => {
                parse_bytes(s).map_err(|e| Error::Usage(format!("Build::{method}: {e}")))
            }
        }
    }
}

impl Build {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Build {
            model: model.into(),
            opts: CompileOptions {
                option_names: OptionNames::Build,
                ..Default::default()
            },
            target: None,
            device: None,
            file_name: "model.rs".into(),
            bind_files: Vec::new(),
            sizes: Vec::new(),
        }
    }

    /// Pins the shape of an input whose dimensions the model leaves symbolic (the CLI's
    /// `--input-shape`). Not needed when the model's input shapes are fixed.
    pub fn input_shape(mut self, name: &str, dims: &[usize]) -> Self {
        self.opts
            .input_shapes
            .insert(name.to_string(), dims.to_vec());
        self
    }

    /// Fixes a graph input to a value at compile time (the CLI's `--bind-input NAME=FILE.pb`),
    /// so the values it decides (a shape, axes, pads, starts...) are folded and it is no
    /// longer an input of the generated code. `value` is a [`Tensor`] or the path of a
    /// `.pb` file (TensorProto); a file that cannot be read fails [`Build::emit`].
    pub fn bind_input(mut self, name: &str, value: impl Into<BoundValue>) -> Self {
        match value.into() {
            BoundValue::Tensor(t) => {
                // No file to name in the generated header.
                self.opts
                    .bound_inputs
                    .insert(name.to_string(), (t, String::new()));
            }
            BoundValue::File(p) => {
                self.bind_files.push((name.to_string(), p));
            }
        }
        self
    }

    /// The model's name (the CLI's `--name`): the generated `MODEL_NAME` and, for
    /// [`Build::emit_crate`], the package name. Default: the model file's stem.
    pub fn name(mut self, name: &str) -> Self {
        self.opts.crate_name = Some(name.to_string());
        self
    }

    /// Replaces all the [`Limits`] at once; the `max_*` methods set one each.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.opts.limits = limits;
        self.sizes.clear();
        self
    }

    /// The largest activation arena accepted (the CLI's `--max-arena-bytes`): set it to the
    /// device's RAM budget, and the build fails, naming the largest activation, when the
    /// model does not fit. Bytes (`196_608`) or text (`"192K"`, `"1MiB"`).
    pub fn max_arena_bytes(mut self, size: impl Into<Size>) -> Self {
        self.sizes.push((Limit::ArenaBytes, size.into()));
        self
    }

    /// The largest model file accepted, also the budget for all external tensor data (the
    /// CLI's `--max-file-bytes`). Bytes or text, as for [`Build::max_arena_bytes`].
    pub fn max_file_bytes(mut self, size: impl Into<Size>) -> Self {
        self.sizes.push((Limit::FileBytes, size.into()));
        self
    }

    /// The largest element count of any one tensor (the CLI's `--max-tensor-elements`).
    pub fn max_tensor_elements(mut self, n: u64) -> Self {
        self.opts.limits.tensor_elements = n;
        self
    }

    /// The most nodes accepted, counting subgraphs (the CLI's `--max-nodes`).
    pub fn max_nodes(mut self, n: usize) -> Self {
        self.opts.limits.nodes = n;
        self
    }

    /// The deepest subgraph nesting accepted (the CLI's `--max-depth`).
    pub fn max_depth(mut self, n: usize) -> Self {
        self.opts.limits.depth = n;
        self
    }

    /// `OptLevel::O0` turns every optimisation off (the CLI's `-O0`; default: `O2`, all of
    /// them).
    pub fn opt_level(mut self, level: kiln_passes::OptLevel) -> Self {
        self.opts.opt_level = level;
        self
    }

    /// Fused multiply-add in the micro-kernels (the CLI's `--fma`; default off): faster on
    /// x86-64-v3/v4 and AArch64, but the generated code then needs `std` (stable Rust's
    /// `f32::mul_add` is not in `core`), so not for `no_std` firmware.
    pub fn fma(mut self, on: bool) -> Self {
        self.opts.fma = on;
        self
    }

    /// `core::arch` intrinsics in the kernels that have them (the CLI's `--intrinsics`;
    /// default off): x86's AVX-512 VNNI (or, without it, AVX2) in the int8 convolutions and
    /// Gemms, used where the crate is compiled for it (e.g. `-C target-cpu=native` on such a machine), and for
    /// thumbv7em (Cortex-M4/M7) the DSP extension's `SMLAD` in the int8 ones, by inline
    /// assembly. The generated code then contains `unsafe` in one module (`kiln_vnni` or
    /// `kiln_dsp`): include it in a module with `#[deny(unsafe_code)]`, not `forbid`.
    pub fn intrinsics(mut self, on: bool) -> Self {
        self.opts.intrinsics = on;
        self
    }

    /// What the generated code may assume (the CLI's `--target`). Default: inside a build
    /// script, the target cargo builds for (`TARGET` and `CARGO_CFG_TARGET_FEATURE`);
    /// elsewhere the machine kiln runs on.
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// The device to compile for (the CLI's `--device`): a built-in profile's name
    /// (`"stm32f446re"`; see [`device::builtins`]) or a profile file (`"board.toml"`). It
    /// sets the target (unless [`Build::target`] does) and the build fails when the model
    /// does not fit the device's RAM or flash, saying by how much.
    pub fn device(mut self, name_or_file: &str) -> Self {
        self.device = Some(name_or_file.to_string());
        self
    }

    /// Name of the generated file inside the output directory (default `model.rs`).
    pub fn file_name(mut self, name: &str) -> Self {
        self.file_name = name.to_string();
        self
    }

    /// The options with the sizes parsed, the bound files read and the target decided:
    /// the one set, else cargo's. Returns them with the files read, for cargo to watch.
    fn options(&self) -> Result<(CompileOptions, Vec<PathBuf>), Error> {
        let mut opts = self.opts.clone();
        for (limit, size) in &self.sizes {
            match limit {
                Limit::ArenaBytes => opts.limits.arena_bytes = size.bytes("max_arena_bytes")?,
                Limit::FileBytes => opts.limits.file_bytes = size.bytes("max_file_bytes")?,
                // Only the byte limits are sizes.
                Limit::TensorElements | Limit::Nodes | Limit::Depth => {}
            }
        }
        let mut read = Vec::new();
        for (name, path) in &self.bind_files {
            read.push(path.clone());
            let t = kiln_frontend::read_tensor_pb(path)
                .map(|(_, t)| t)
                .map_err(|e| {
                    use kiln_frontend::FrontendError as F;
                    match e.with_option_names(OptionNames::Build) {
                        // These name the file already.
                        e @ (F::Io { .. } | F::FileTooLarge { .. }) => Error::from(e),
                        e => Error::File {
                            path: path.clone(),
                            source: Box::new(e),
                        },
                    }
                })?;
            opts.bound_inputs
                .insert(name.clone(), (t, path.display().to_string()));
        }
        if let Some(name) = &self.device {
            opts.device = Some(Device::find(name)?);
        }
        let env = |k| std::env::var(k).ok();
        let (target, warning) = default_target(
            // A device's target comes before cargo's.
            self.target
                .or_else(|| opts.device.as_ref().map(|d| d.target)),
            env("TARGET").as_deref(),
            env("CARGO_CFG_TARGET_FEATURE").as_deref(),
        );
        if let Some(w) = warning {
            println!("cargo:warning={w}");
        }
        opts.target = target;
        Ok((opts, read))
    }

    /// Quantizes a float model to int8 with kiln's own post-training quantization (the
    /// CLI's `--quantize int8 --calibration DIR`): calibrated on the samples in `dir` (see
    /// [`read_samples`]), with the default calibration method and float threshold unless
    /// [`Build::calibration_method`] and [`Build::float_threshold`] say otherwise.
    pub fn quantize_int8(mut self, calibration: impl Into<PathBuf>) -> Self {
        let options = self
            .opts
            .quantize
            .take()
            .map(|q| q.options)
            .unwrap_or_default();
        self.opts.quantize = Some(Quantize {
            calibration: calibration.into(),
            options,
        });
        self
    }

    /// How calibration takes each activation's range (default
    /// [`kiln_passes::ptq::DEFAULT_METHOD`]); with
    /// [`Build::quantize_int8`].
    pub fn calibration_method(mut self, method: kiln_passes::ptq::Method) -> Self {
        self.ptq_options().method = method;
        self
    }

    /// A layer whose own error (relative RMS) passes `threshold` stays float; `None`
    /// quantizes every layer kiln can. With [`Build::quantize_int8`].
    pub fn float_threshold(mut self, threshold: Option<f64>) -> Self {
        self.ptq_options().float_threshold = threshold;
        self
    }

    fn ptq_options(&mut self) -> &mut kiln_passes::ptq::PtqOptions {
        &mut self
            .opts
            .quantize
            .get_or_insert_with(|| Quantize {
                calibration: PathBuf::new(),
                options: Default::default(),
            })
            .options
    }

    /// Compiles the model and writes `<out_dir>/<file_name>` (a module). Prints
    /// `cargo:rerun-if-changed` for every file the compilation reads (the model, its
    /// external data, bound `.pb` files), so cargo rebuilds when one changes.
    pub fn emit(mut self, out_dir: impl AsRef<Path>) -> Result<Compiled, Error> {
        let out = out_dir.as_ref().join(&self.file_name);
        self.opts.weights_file = Some(weights_file_for(&out));
        self.emit_kind(EmitKind::Module, &out)
    }

    /// Compiles the model into a standalone crate at `dir` (the CLI's `--emit crate`);
    /// prints `cargo:rerun-if-changed` as [`Build::emit`] does.
    pub fn emit_crate(self, dir: impl AsRef<Path>) -> Result<Compiled, Error> {
        self.emit_kind(EmitKind::Crate, dir.as_ref())
    }

    fn emit_kind(self, kind: EmitKind, out: &Path) -> Result<Compiled, Error> {
        if let Some(q) = &self.opts.quantize
            && q.calibration.as_os_str().is_empty()
        {
            return Err(Error::Usage(
                "Build::calibration_method and Build::float_threshold go with \
                 Build::quantize_int8(CALIBRATION_DIR), which is missing"
                    .into(),
            ));
        }
        // The model first: cargo must rerun a failed build when the model is fixed.
        println!("cargo:rerun-if-changed={}", self.model.display());
        let (opts, bind_files) = self.options()?;
        if let Some(q) = &opts.quantize {
            println!("cargo:rerun-if-changed={}", q.calibration.display());
        }
        for f in &bind_files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        let compiled = compile(&self.model, kind, &opts)?;
        for f in &compiled.external_data {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        write_output(&compiled.generated, kind, out)?;
        Ok(compiled)
    }
}

/// The target of a [`Build`]: the one set, else cargo's `TARGET` with
/// `CARGO_CFG_TARGET_FEATURE` (inside a build script), else the host. A cargo target kiln
/// does not know gives `generic` (assume nothing) and a warning, not a failed build.
fn default_target(
    set: Option<Target>,
    cargo_target: Option<&str>,
    cargo_features: Option<&str>,
) -> (Target, Option<String>) {
    if let Some(t) = set {
        return (t, None);
    }
    let Some(triple) = cargo_target else {
        return (Target::Host, None);
    };
    match Target::from_cargo_env(triple, cargo_features.unwrap_or_default()) {
        Ok(t) => (t, None),
        Err(e) => (
            Target::Generic,
            Some(format!(
                "kiln: {e}; the generated code assumes nothing about it (set Build::target)"
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_bytes_and_binary_suffixes() {
        for (s, n) in [
            ("0", 0),
            ("131072", 131072),
            ("128K", 128 << 10),
            ("128k", 128 << 10),
            ("128KiB", 128 << 10),
            ("128kib", 128 << 10),
            ("128KB", 128 << 10),
            ("4M", 4 << 20),
            ("4MiB", 4 << 20),
            ("1G", 1 << 30),
            ("2gib", 2 << 30),
            (" 64 B", 64),
            ("512 K", 512 << 10),
        ] {
            assert_eq!(parse_bytes(s).unwrap(), n, "{s}");
        }
        for s in ["", "K", "12Q", "1.5M", "-1", "12 KiBs", "0x10", "M12"] {
            let e = parse_bytes(s).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{s:?}")) && e.contains("KiB"),
                "{s}: {e}"
            );
        }
        assert!(
            parse_bytes("99999999999G")
                .unwrap_err()
                .to_string()
                .contains("too large")
        );
    }

    #[test]
    fn build_targets_cargos_target_unless_one_is_set() {
        assert_eq!(default_target(None, None, None), (Target::Host, None));
        assert_eq!(
            default_target(
                None,
                Some("thumbv7em-none-eabihf"),
                Some("dsp,thumb2,vfp4d16sp")
            ),
            (Target::Thumbv7em { fpu: true }, None)
        );
        assert_eq!(
            default_target(
                None,
                Some("x86_64-unknown-linux-gnu"),
                Some("avx2,fma,sse2")
            )
            .0,
            Target::X86_64V3
        );
        assert_eq!(
            default_target(
                Some(Target::Thumbv6m),
                Some("x86_64-unknown-linux-gnu"),
                None
            ),
            (Target::Thumbv6m, None)
        );
        let (t, warning) = default_target(None, Some("wasm32-unknown-unknown"), Some(""));
        assert_eq!(t, Target::Generic);
        assert!(warning.is_some_and(|w| w.contains("wasm32-unknown-unknown")));
    }
}
