//! kiln: an ahead-of-time compiler from ONNX models to dependency-free `#![no_std]` Rust
//! with a static memory plan.
//!
//! From a firmware crate's `build.rs`:
//!
//! ```no_run
//! // build.rs
//! let out = std::env::var("OUT_DIR").unwrap();
//! kiln::Build::new("model.onnx")
//!     .input_shape("input_1", &[1, 3, 32, 32])
//!     .emit(&out)
//!     .expect("kiln could not compile the model");
//! ```
//!
//! and in the crate: `#[forbid(unsafe_code)] mod model { include!(concat!(env!("OUT_DIR"), "/model.rs")); }`.
//!
//! The stages live in their own crates, re-exported here: [`frontend`] (ONNX to IR), [`ir`]
//! (graph, shape inference, reference semantics), [`passes`] (memory planning) and
//! [`codegen`] (Rust emitter).

#[doc(hidden)]
pub mod fuzzing;
pub mod harness;
pub mod report;

pub use kiln_codegen as codegen;
pub use kiln_frontend as frontend;
pub use kiln_ir as ir;
pub use kiln_passes as passes;

use kiln_codegen::{EmitKind, Generated, Provenance, RustOptions};
use kiln_ir::{Graph, Tensor};
use kiln_passes::MemoryPlan;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything that can go wrong, by stage. Each message names the node, op and opset where
/// there is one, and says what to do.
#[derive(Debug, thiserror::Error)]
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
    #[error("{0}")]
    Usage(String),
    #[error(
        "the model needs an activation arena of {arena} bytes (lower bound {lower_bound}), more \
         than the limit of {limit} bytes; the largest activation is {largest}. Use a smaller \
         input shape or model, or raise the limit with --max-arena-bytes"
    )]
    ArenaTooLarge {
        arena: u64,
        lower_bound: u64,
        limit: u64,
        largest: String,
    },
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
    /// they came from for the generated header: see `LoadOptions::bound_inputs`.
    pub bound_inputs: BTreeMap<String, (Tensor, String)>,
    /// Name of the generated crate (`--emit crate`); defaults to the model file's stem.
    pub crate_name: Option<String>,
    /// What kiln accepts before refusing a model as too big or too strange.
    pub limits: Limits,
    /// `-O0` (no passes, no aliasing) or `-O2` (the default: everything).
    pub opt_level: kiln_passes::OptLevel,
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
    /// The options as provenance lines for the generated header.
    fn describe(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .input_shapes
            .iter()
            .map(|(k, v)| {
                let dims: Vec<String> = v.iter().map(|d| d.to_string()).collect();
                format!("--input-shape {k}={}", dims.join("x"))
            })
            .collect();
        for (k, (_, from)) in &self.bound_inputs {
            v.push(format!("--bind-input {k}={from}"));
        }
        if self.opt_level == kiln_passes::OptLevel::O0 {
            v.push("-O0".into());
        }
        v
    }
}

/// A compiled model: the IR, its memory plan and the generated files.
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
    let bytes = kiln_frontend::read_model_file(model, opts.limits.file_bytes)?;
    let sha = hex(&Sha256::digest(&bytes));
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
    };
    // A bare file name's parent is "", which the external-data checks cannot canonicalize.
    let base = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let graph = kiln_frontend::load_model_bytes(&bytes, Some(base), &load_opts)?;
    Ok((graph, sha))
}

/// Compiles a model to Rust source in memory.
pub fn compile(model: &Path, kind: EmitKind, opts: &CompileOptions) -> Result<Compiled, Error> {
    let (graph, sha) = load(model, opts)?;
    let file_name = model
        .file_name()
        .map_or_else(|| "model.onnx".into(), |f| f.to_string_lossy().into_owned());
    compile_graph(graph, &file_name, sha, kind, opts)
}

/// Verifies `graph` and runs the optimisation pipeline at `opts.opt_level` on it: the
/// middle of [`compile_graph`], also used by `kiln inspect`.
pub fn optimize(
    graph: &mut Graph,
    opts: &CompileOptions,
) -> Result<Vec<kiln_passes::PassReport>, Error> {
    // The imported graph is verified before any pass runs, so a pass never sees (and is
    // never blamed for) an invalid model.
    kiln_ir::verify(graph).map_err(Error::Verify)?;
    // Not an optimisation: the emitter has no f16/bf16 arithmetic, at any level.
    kiln_passes::lower::widen_half(graph).map_err(|e| Error::Pass(format!("widen-half: {e}")))?;
    kiln_passes::optimize(graph, opts.opt_level).map_err(Error::Pass)
}

/// The memory plan of an optimised, verified graph, with views and in-place execution
/// unless `opts.opt_level` is `O0`.
pub fn plan(graph: &kiln_ir::VerifiedGraph, opts: &CompileOptions) -> MemoryPlan {
    let on = opts.opt_level != kiln_passes::OptLevel::O0;
    let plan_opts = kiln_passes::memory::PlanOptions {
        views: on,
        in_place: on,
        concat_in_place: on,
    };
    kiln_passes::memory::plan_memory_with(graph, &plan_opts)
}

/// The memory plan of an optimised graph. When the pipeline chose a memory-aware schedule
/// (on an estimate), it is kept only if the real plan, with views and in-place writes, is
/// smaller than with the original order; otherwise the graph's hint is cleared.
pub fn plan_graph(graph: &mut Graph, opts: &CompileOptions) -> Result<MemoryPlan, Error> {
    let chosen = plan(&kiln_ir::verify(graph).map_err(Error::Verify)?, opts);
    if !graph.has_schedule_hint() {
        return Ok(chosen);
    }
    let mut plain = graph.clone();
    plain.clear_schedule_hint();
    let alt = plan(&kiln_ir::verify(&plain).map_err(Error::Verify)?, opts);
    if alt.arena_bytes() < chosen.arena_bytes() {
        *graph = plain;
        return Ok(alt);
    }
    Ok(chosen)
}

/// Compiles an IR graph that did not come from a file (tests, other frontends).
/// `model_file` and `sha256` only go into the provenance header.
pub fn compile_graph(
    mut graph: Graph,
    model_file: &str,
    sha256: String,
    kind: EmitKind,
    opts: &CompileOptions,
) -> Result<Compiled, Error> {
    let nodes_before = graph.node_count();
    let passes = optimize(&mut graph, opts)?;
    let plan = plan_graph(&mut graph, opts)?;
    let verified = kiln_ir::verify(&graph).map_err(Error::Verify)?;
    let arena = plan.arena_bytes() as u64;
    if arena > opts.limits.arena_bytes {
        return Err(Error::ArenaTooLarge {
            arena,
            lower_bound: plan.lower_bound_bytes() as u64,
            limit: opts.limits.arena_bytes,
            largest: largest_buffer(&graph, &plan),
        });
    }
    let stem = Path::new(model_file)
        .file_stem()
        .map_or_else(|| "model".into(), |f| f.to_string_lossy().into_owned());
    let rust_opts = RustOptions {
        module_name: opts.crate_name.clone().unwrap_or(stem),
        provenance: Provenance {
            kiln_version: env!("CARGO_PKG_VERSION").to_string(),
            model_file: model_file.to_string(),
            model_sha256: sha256.clone(),
            options: opts.describe(),
        },
        target: "host".into(),
    };
    let generated = kiln_codegen::emit_rust(&verified, &plan, kind, &rust_opts)?;
    drop(verified);
    Ok(Compiled {
        graph,
        nodes_before,
        passes,
        plan,
        generated,
        model_sha256: sha256,
    })
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
    let value = graph.value(b.value);
    let producer = graph
        .producer(b.value)
        .map(|n| {
            let node = graph.node(n);
            format!(", output of node {:?} ({})", node.name, node.onnx_op)
        })
        .unwrap_or_default();
    format!("{:?} ({bytes} bytes{producer})", value.name)
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
    let tmp = tempfile::Builder::new()
        .prefix(".kiln-tmp-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    for f in &generated.files {
        let p = tmp.path().join(&f.path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        std::fs::write(&p, &f.contents).map_err(|e| Error::io(&p, e))?;
    }
    match kind {
        EmitKind::Module => {
            let file = generated
                .files
                .first()
                .ok_or_else(|| Error::Usage("the emitter produced no file".into()))?;
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
    }
    Ok(())
}

/// The build.rs entry point: compiles a model into `OUT_DIR` on every build.
#[derive(Clone, Debug)]
pub struct Build {
    model: PathBuf,
    opts: CompileOptions,
    file_name: String,
}

impl Build {
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Build {
            model: model.into(),
            opts: CompileOptions::default(),
            file_name: "model.rs".into(),
        }
    }

    /// Pins the shape of an input whose dimensions the model leaves symbolic.
    pub fn input_shape(mut self, name: &str, dims: &[usize]) -> Self {
        self.opts
            .input_shapes
            .insert(name.to_string(), dims.to_vec());
        self
    }

    /// Replaces the default [`Limits`] (e.g. to state the device's RAM as
    /// [`Limits::arena_bytes`], so the build fails when the model does not fit).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.opts.limits = limits;
        self
    }

    /// `OptLevel::O0` turns every optimisation off (default: `O2`, all of them).
    pub fn opt_level(mut self, level: kiln_passes::OptLevel) -> Self {
        self.opts.opt_level = level;
        self
    }

    /// Name of the generated file inside the output directory (default `model.rs`).
    pub fn file_name(mut self, name: &str) -> Self {
        self.file_name = name.to_string();
        self
    }

    /// Compiles the model and writes `<out_dir>/<file_name>` (a module). Prints
    /// `cargo:rerun-if-changed` for the model so cargo rebuilds when it changes.
    pub fn emit(self, out_dir: impl AsRef<Path>) -> Result<Compiled, Error> {
        println!("cargo:rerun-if-changed={}", self.model.display());
        let compiled = compile(&self.model, EmitKind::Module, &self.opts)?;
        write_output(
            &compiled.generated,
            EmitKind::Module,
            &out_dir.as_ref().join(&self.file_name),
        )?;
        Ok(compiled)
    }

    /// Compiles the model into a standalone crate at `dir`.
    pub fn emit_crate(self, dir: impl AsRef<Path>) -> Result<Compiled, Error> {
        println!("cargo:rerun-if-changed={}", self.model.display());
        let compiled = compile(&self.model, EmitKind::Crate, &self.opts)?;
        write_output(&compiled.generated, EmitKind::Crate, dir.as_ref())?;
        Ok(compiled)
    }
}
