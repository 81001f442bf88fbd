//! The middle of a compilation, in one place: verify the imported graph, lower f16/bf16,
//! optimise, plan memory, and (in debug builds) check the plan. The facade, `kiln inspect`
//! and the test harness all go through [`compile`], so they cannot drift apart.

use crate::memory::{self, MemoryPlan, PlanOptions};
use crate::pipeline::{self, OptLevel, PassReport};
use kiln_ir::{Diagnostic, Graph, OptionNames, OwnedVerifiedGraph, Target, VerifiedGraph};

/// What the middle of a compilation needs to know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// `-O0` (no passes, no aliasing) or `-O2` (the default: everything).
    pub opt_level: OptLevel,
    /// What the generated code may assume; carried to [`Planned::target`] for codegen.
    pub target: Target,
    /// How messages name the option that works around a kiln bug (`-O0`).
    pub names: OptionNames,
    /// `--intrinsics`: the lowering takes the kernels written with `core::arch`
    /// intrinsics where the target has them, and the plan gives them their scratch.
    pub intrinsics: bool,
    /// The float kernels are the reference ones (the C output's, so far): the plan gives
    /// the tiled float kernels no scratch.
    pub reference_float: bool,
}

/// Why the middle of a compilation failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The graph, as imported or after a lowering, is not valid.
    #[error("the graph is not valid:\n{}", .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"))]
    Verify(Vec<Diagnostic>),
    /// A pass failed, or left an invalid graph (debug builds); the message names the pass.
    #[error("{0}")]
    Pass(String),
    /// The memory plan shares bytes it must not (debug builds): a kiln bug. The message
    /// names the option that works around it.
    #[error("the memory plan is wrong (a kiln bug; {} works around it): {message}", names.no_optimisation())]
    Plan { message: String, names: OptionNames },
}

/// The graph after lowering and optimisation, verified, before memory planning.
#[derive(Clone, Debug)]
pub struct Optimized {
    pub graph: OwnedVerifiedGraph,
    /// What each pass did, in order (empty at `-O0`).
    pub passes: Vec<PassReport>,
    /// Nodes as imported.
    pub nodes_before: usize,
}

/// A compiled graph ready for an emitter: verified, optimised, with its memory plan.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The graph after optimisation, in the order the plan was made for.
    pub graph: OwnedVerifiedGraph,
    pub plan: MemoryPlan,
    /// What each pass did, in order (empty at `-O0`).
    pub passes: Vec<PassReport>,
    /// Nodes as imported, before optimisation.
    pub nodes_before: usize,
    pub opt_level: OptLevel,
    pub target: Target,
}

impl Planned {
    /// The graph as the emitters take it.
    pub fn verified(&self) -> VerifiedGraph<'_> {
        self.graph.verified()
    }

    pub fn graph(&self) -> &Graph {
        self.graph.graph()
    }
}

/// Verifies `graph`, lowers it and optimises it at `opts.opt_level`, then plans its
/// memory: [`optimize`], then [`plan`].
pub fn compile(graph: Graph, opts: &CompileOptions) -> Result<Planned, CompileError> {
    plan(optimize(graph, opts)?, opts)
}

/// The first half of [`compile`]: verify the imported graph, lower f16/bf16 to f32 and run
/// the pipeline, then verify the result once (debug builds also verify after every pass).
pub fn optimize(mut graph: Graph, opts: &CompileOptions) -> Result<Optimized, CompileError> {
    let nodes_before = graph.node_count();
    // Verified before any pass runs, so a pass never sees (and is never blamed for) an
    // invalid model.
    kiln_ir::verify(&graph).map_err(CompileError::Verify)?;
    // Not an optimisation: the emitter has no f16/bf16 arithmetic, at any level.
    crate::lower::widen_half(&mut graph)
        .map_err(|e| CompileError::Pass(format!("widen-half: {e}")))?;
    let passes =
        pipeline::optimize(&mut graph, opts.opt_level, opts.names).map_err(CompileError::Pass)?;
    let graph = OwnedVerifiedGraph::new(graph).map_err(CompileError::Verify)?;
    Ok(Optimized {
        graph,
        passes,
        nodes_before,
    })
}

/// The second half of [`compile`]: the memory plan, with views and in-place writes unless
/// at `-O0`. When the pipeline chose a memory-aware schedule (on an estimate), the graph's
/// plain order is a candidate too and is kept only if its real plan is smaller. Debug
/// builds then [`check`] the plan.
pub fn plan(optimized: Optimized, opts: &CompileOptions) -> Result<Planned, CompileError> {
    let Optimized {
        graph,
        passes,
        nodes_before,
    } = optimized;
    let on = opts.opt_level != OptLevel::O0;
    let plan_opts = PlanOptions {
        views: on,
        in_place: on,
        concat_in_place: on,
        scratch: on.then_some(crate::kernels::KernelTarget {
            target: opts.target,
            intrinsics: opts.intrinsics,
            reference_float: opts.reference_float,
        }),
    };
    let (graph, plan) = if graph.graph().has_schedule_hint() {
        let plain = graph.without_schedule_hint();
        let (k, plan) = memory::plan_smallest(&[&graph.verified(), &plain.verified()], &plan_opts);
        (if k == 0 { graph } else { plain }, plan)
    } else {
        let plan = memory::plan_memory_with(&graph.verified(), &plan_opts);
        (graph, plan)
    };
    if cfg!(any(debug_assertions, test)) {
        check(&graph.verified(), &plan).map_err(|e| match e {
            CompileError::Plan { message, .. } => CompileError::Plan {
                message,
                names: opts.names,
            },
            e => e,
        })?;
    }
    Ok(Planned {
        graph,
        plan,
        passes,
        nodes_before,
        opt_level: opts.opt_level,
        target: opts.target,
    })
}

/// The plan checker [`compile`] runs in debug builds: no two simultaneously live buffers
/// share bytes ([`memory::check_plan`]) and every alias is one the graph allows
/// ([`memory::check_aliases`]).
pub fn check(graph: &VerifiedGraph, plan: &MemoryPlan) -> Result<(), CompileError> {
    let bug = |message| CompileError::Plan {
        message,
        names: OptionNames::default(),
    };
    memory::check_plan(plan).map_err(bug)?;
    memory::check_aliases(graph, plan).map_err(bug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_ir::builder::Builder;
    use kiln_ir::ops::UnaryOp;
    use kiln_ir::{DType, Op};

    /// x -> relu -> relu -> relu -> output: at -O0, two arena buffers live at once.
    fn chain() -> Graph {
        let mut b = Builder::new("chain");
        let x = b.input("x", DType::F32, &[1, 8]);
        let a = b.one(Op::Unary(UnaryOp::Relu), &[x]);
        let c = b.one(Op::Unary(UnaryOp::Relu), &[a]);
        let d = b.one(Op::Unary(UnaryOp::Relu), &[c]);
        b.output(d);
        b.g
    }

    #[test]
    fn compile_plans_a_verified_graph_and_carries_the_target() {
        let opts = CompileOptions {
            opt_level: OptLevel::O0,
            target: Target::Thumbv7em { fpu: true },
            ..Default::default()
        };
        let planned = compile(chain(), &opts).unwrap();
        assert_eq!(planned.target, opts.target);
        assert_eq!(planned.nodes_before, 3);
        assert!(planned.passes.is_empty());
        check(&planned.verified(), &planned.plan).unwrap();
    }

    #[test]
    fn the_check_compile_runs_rejects_overlapping_live_buffers() {
        let opts = CompileOptions {
            opt_level: OptLevel::O0,
            ..Default::default()
        };
        let planned = compile(chain(), &opts).unwrap();
        let mut bad = planned.plan.clone();
        // Two buffers live at the same step (the first relu's output is read by the
        // second, which writes the other), moved onto the same elements.
        let (a, b) = (bad.buffers[0].clone(), bad.buffers[1].clone());
        assert!(a.overlaps_in_time(&b));
        let at = bad.placements[&a.value].offset;
        bad.placements.get_mut(&b.value).unwrap().offset = at;
        let err = check(&planned.verified(), &bad).unwrap_err();
        assert!(matches!(err, CompileError::Plan { .. }));
        assert!(
            err.to_string().contains("overlap in time and space"),
            "{err}"
        );
    }
}
