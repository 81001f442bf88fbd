//! The optimisation pipeline, written out once, in order. Each pass is a plain function
//! that rewrites the graph and returns what it changed.
//!
//! Why this order:
//! 0. `quantize-qdq` first: it needs the DequantizeLinear nodes of constant int8 weights,
//!    which `fold-constants` would turn into float weights (the frontend keeps them).
//! 1. `fold-constants` next: weight preprocessing and shape arithmetic exported as nodes
//!    become constants, so the folds below see constant weights.
//! 2. `remove-identities` next: Identity, no-op Reshape/Flatten/Transpose and cancelling
//!    Transpose pairs sit between the ops the patterns below want adjacent. `merge-slices`
//!    then makes a Slice of a Slice one (their constants are attributes by now).
//!    `recognize-hardswish` then turns `x * HardSigmoid(x)` into one op, which fusion can
//!    move into a Conv. `recognize-layernorm` and `recognize-gelu` likewise turn the
//!    decomposed LayerNormalization (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, then
//!    Mul and Add by per-feature constants) and GELU (`0.5 * x * (1 + Erf(x / √2))`) into
//!    one op each: after the two passes above, because their constants (√2, epsilon, the
//!    exponent 2) are often computed by nodes and Identity or no-op Reshapes can sit inside
//!    them; before everything below, because fusion would otherwise absorb their
//!    elementwise tails into loops and hide them, and a recognised Gelu is an activation
//!    that fusion can then move into the Conv, Gemm or MatMul before it.
//! 3. `matmul-add-to-gemm` before the weight folds, so a MatMul+Add+BatchNormalization
//!    chain ends as one Gemm.
//!    `fold-pad` then moves a zero Pad into the `pads` of the Conv (or AveragePool) reading
//!    it: after remove-identities, which clears what may sit between the two, and before
//!    the weight folds, which it leaves applicable (it changes the Conv's input and pads,
//!    never its weights).
//! 4. `fold-batchnorm`, then 5. `fold-affine`: scale and shift into Conv/Gemm weights;
//!    BatchNormalization first because exporters also spell it as Mul+Add.
//!    `flush-subnormal-weights` then zeroes the subnormal elements of the multiplied weights
//!    (each one a microcode assist per vector multiply-add on x86): after the folds, which
//!    make the final weights and can make subnormals of them.
//! 6. `fuse-int-tables`, then `fuse-epilogues`, after every fold: they need the final
//!    producer of each value, and a fused Relu would hide a following Mul from
//!    fold-affine. The first composes the integer elementwise ops of one 8-bit tensor into
//!    one table and moves it into the IntConv or IntGemm before it.
//! 7. `dead-code`: it sweeps up what the others left unread.
//! 8. `schedule-for-memory` last: it orders the final nodes, so that independent branches
//!    run in the order that keeps the fewest activation bytes alive.
//!
//! Debug builds re-verify the graph after every pass, so a pass that breaks an invariant
//! is caught at the pass, not in the emitter.

use crate::{cleanup, fold, fuse};
use kiln_ir::Graph;
use std::time::{Duration, Instant};

/// How much to optimise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OptLevel {
    /// No passes, no aliasing: the graph as imported, one kernel per node.
    O0,
    /// Every pass, views and in-place execution.
    #[default]
    O2,
}

/// One pass of the pipeline.
pub struct Pass {
    pub name: &'static str,
    pub run: fn(&mut Graph) -> Result<Vec<String>, String>,
}

/// The passes, in the order they run (see the module docs for why).
pub const PIPELINE: &[Pass] = &[
    Pass {
        name: "quantize-qdq",
        run: crate::quantize::quantize_qdq,
    },
    Pass {
        name: "fold-constants",
        run: cleanup::fold_constants,
    },
    Pass {
        name: "remove-identities",
        run: cleanup::remove_identities,
    },
    Pass {
        name: "merge-slices",
        run: cleanup::merge_slices,
    },
    Pass {
        name: "recognize-hardswish",
        run: fold::recognize_hardswish,
    },
    Pass {
        name: "recognize-layernorm",
        run: fold::recognize_layernorm,
    },
    Pass {
        name: "recognize-gelu",
        run: fold::recognize_gelu,
    },
    Pass {
        name: "matmul-add-to-gemm",
        run: fold::matmul_add_to_gemm,
    },
    Pass {
        name: "fold-pad",
        run: fold::fold_pad,
    },
    Pass {
        name: "fold-batchnorm",
        run: fold::fold_batchnorm,
    },
    Pass {
        name: "fold-affine",
        run: fold::fold_affine,
    },
    Pass {
        name: "flush-subnormal-weights",
        run: cleanup::flush_subnormal_weights,
    },
    Pass {
        name: "fuse-int-tables",
        run: crate::fuse_int::fuse_int_tables,
    },
    Pass {
        name: "fuse-epilogues",
        run: fuse::fuse_epilogues,
    },
    Pass {
        name: "dead-code",
        run: cleanup::eliminate_dead_code,
    },
    Pass {
        name: "schedule-for-memory",
        run: crate::schedule::reorder_for_memory,
    },
];

/// What one pass did.
#[derive(Clone, Debug)]
pub struct PassReport {
    pub name: &'static str,
    /// One line per rewrite (e.g. `BatchNormalization "bn1" into "conv1"`).
    pub changes: Vec<String>,
    pub nodes_after: usize,
    pub elapsed: Duration,
}

/// Runs the pipeline at `level` on `graph`. An error names the pass; in debug builds a pass
/// that leaves an invalid graph is an error too.
pub fn optimize(
    graph: &mut Graph,
    level: OptLevel,
    names: kiln_ir::OptionNames,
) -> Result<Vec<PassReport>, String> {
    let mut reports = Vec::new();
    if level == OptLevel::O0 {
        return Ok(reports);
    }
    for pass in PIPELINE {
        let t = Instant::now();
        let changes = (pass.run)(graph).map_err(|e| format!("pass {}: {e}", pass.name))?;
        let elapsed = t.elapsed();
        if cfg!(debug_assertions)
            && let Err(diags) = kiln_ir::verify(graph)
        {
            let list: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
            return Err(format!(
                "pass {} left an invalid graph (a kiln bug; {} works around it):\n  {}",
                pass.name,
                names.no_optimisation(),
                list.join("\n  ")
            ));
        }
        reports.push(PassReport {
            name: pass.name,
            changes,
            nodes_after: graph.node_count(),
            elapsed,
        });
    }
    Ok(reports)
}
