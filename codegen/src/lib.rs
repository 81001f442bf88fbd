//! Codegen: a verified graph and its memory plan in, dependency-free Rust source out.
//!
//! The emitter never changes the graph. It walks the schedule once and writes, per node, a
//! block that borrows the node's operands (arena slices through `split_at_mut`, caller
//! inputs and outputs, `static` weights) and calls one kernel. Kernels are plain Rust
//! snippets under `templates/rust/kernels/`, embedded in the binary; only those a model
//! uses are emitted, with the arithmetic trait they need trimmed to the methods called.
//! File skeletons (`model.rs`, `lib.rs`, `Cargo.toml`, `README.md`) are tera templates.
//!
//! Layout: [`namer`] makes identifiers, `literal` prints values that read back exactly,
//! `borrow` splits a pool into disjoint slices, `ops` emits one kernel call per op,
//! `kernels` tracks and renders the kernels in use, `rust` assembles the module and
//! `templates` renders the skeletons.

mod api;
mod borrow;
mod c;
pub mod kernels;
mod literal;
mod lower;
#[cfg(test)]
mod math_tests;
pub mod namer;
pub mod program;
mod rust;

mod writer;

pub use api::{
    CodegenError, EmitKind, Generated, GeneratedFile, KernelChoice, NodeError, Port, Provenance,
    RustOptions, Signature, WeightsFile,
};
use kiln_ir::VerifiedGraph;
use kiln_passes::MemoryPlan;
pub use program::Program;
use std::path::PathBuf;

/// Generates Rust for `graph` with the storage `plan` assigns. Deterministic: the same graph,
/// plan and options give byte-identical files.
pub fn emit_rust(
    graph: &VerifiedGraph,
    plan: &MemoryPlan,
    kind: EmitKind,
    opts: &RustOptions,
) -> Result<Generated, CodegenError> {
    let program = lower(graph, plan, opts.target, kernels_for(kind, opts), false)?;
    print_rust(graph, &program, kind, opts)
}

/// The kernels a program printed as `kind` is lowered with: `opts.kernels`, except for C
/// on targets where its kernel library has the reference float kernels only (all but the
/// one-lane tiling of a microcontroller with an FPU, `kiln_passes::kernels::c_has_tiled_float`).
pub fn kernels_for(kind: EmitKind, opts: &RustOptions) -> KernelChoice {
    match kind {
        EmitKind::C if !kiln_passes::kernels::c_has_tiled_float(opts.target) => {
            KernelChoice::Reference
        }
        EmitKind::C | EmitKind::Module | EmitKind::Crate => opts.kernels,
    }
}

/// Generates C99 for `graph` ([`EmitKind::C`]): lowered with the kernels [`kernels_for`]
/// gives C.
pub fn emit_c(
    graph: &VerifiedGraph,
    plan: &MemoryPlan,
    opts: &RustOptions,
) -> Result<Generated, CodegenError> {
    let program = lower(
        graph,
        plan,
        opts.target,
        kernels_for(EmitKind::C, opts),
        false,
    )?;
    print_c(graph, &program, opts)
}

/// Prints `program` as C: `<name>.h`, `<name>.c`, `README.md`.
pub fn print_c(
    graph: &VerifiedGraph,
    program: &Program,
    opts: &RustOptions,
) -> Result<Generated, CodegenError> {
    let g = graph.graph();
    let data = |v: kiln_ir::ValueId| g.value(v).const_tensor().cloned();
    let name = c::c_name(&opts.module_name);
    let files = c::print(program, &data, &name, &opts.provenance)?;
    Ok(Generated {
        files: vec![
            GeneratedFile {
                path: PathBuf::from(format!("{name}.h")),
                contents: files.header,
            },
            GeneratedFile {
                path: PathBuf::from(format!("{name}.c")),
                contents: files.source,
            },
            GeneratedFile {
                path: PathBuf::from("README.md"),
                contents: files.readme,
            },
        ],
        signature: program.signature.clone(),
        profiled_steps: None,
        has_unsafe: false,
        weights: None,
    })
}

/// Lowers `graph` with the storage `plan` assigns into a kernel program for `target`.
///
/// `dsp_pairs` (C only: the Rust kernels read i8 quads): on a target with the Arm DSP
/// extension, the SMLAD row convolutions' weights are stored as sign-extended 16-bit pairs,
/// so their loop loads a pair where it would load a quad and sign-extend it twice: twice
/// those weights' flash for about a sixth fewer instructions per MAC (MobileNet v1 int8 on
/// a Cortex-M4: 2.23 instructions per MAC with i8 quads, 2.07 with pairs). For a device
/// whose flash holds them; `kiln::compile` decides.
pub fn lower(
    graph: &VerifiedGraph,
    plan: &MemoryPlan,
    target: kiln_ir::Target,
    kernels: KernelChoice,
    dsp_pairs: bool,
) -> Result<Program, CodegenError> {
    lower::module::lower(graph, plan, target, kernels, dsp_pairs)
}

/// Prints `program` (lowered from `graph`, whose constants it reads) as Rust.
pub fn print_rust(
    graph: &VerifiedGraph,
    program: &Program,
    kind: EmitKind,
    opts: &RustOptions,
) -> Result<Generated, CodegenError> {
    let g = graph.graph();
    let data = |v: kiln_ir::ValueId| g.value(v).const_tensor().cloned();
    // A crate is a directory of kiln's own: its weights always go beside its source.
    let crate_opts;
    let opts = if kind == EmitKind::Crate {
        crate_opts = RustOptions {
            weights_file: Some("weights.bin".into()),
            ..opts.clone()
        };
        &crate_opts
    } else {
        opts
    };
    let mut module = rust::print(program, &data, opts)?;
    let files = match kind {
        EmitKind::Module => vec![GeneratedFile {
            path: PathBuf::from("model.rs"),
            contents: rust::templates::render_module_file(&module)?,
        }],
        EmitKind::C => return print_c(graph, program, opts),
        EmitKind::Crate => {
            let name = namer::crate_name(&opts.module_name);
            vec![
                GeneratedFile {
                    path: PathBuf::from("src/lib.rs"),
                    contents: rust::templates::render_lib_file(&module)?,
                },
                GeneratedFile {
                    path: PathBuf::from("Cargo.toml"),
                    contents: rust::templates::render_manifest(&name, &module)?,
                },
                GeneratedFile {
                    path: PathBuf::from("README.md"),
                    contents: rust::templates::render_readme(&name, &module)?,
                },
            ]
        }
    };
    // Taken once the files are rendered (their READMEs and headers give its size), not
    // copied: ddddocr_det's is 21 MB.
    let weights = module.weights.take().map(|bytes| {
        let file = PathBuf::from(opts.weights_file.clone().unwrap_or_default());
        WeightsFile {
            // A crate's source is in `src/`, beside which its module reads the file.
            path: match kind {
                EmitKind::Crate => PathBuf::from("src").join(file),
                _ => file,
            },
            bytes,
        }
    });
    Ok(Generated {
        files,
        signature: module.signature.clone(),
        profiled_steps: opts.step_hook.then_some(program.steps.len()),
        has_unsafe: module.has_unsafe,
        weights,
    })
}
