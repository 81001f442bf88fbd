//! Shared by the memory-sharing suites (tests/views.rs, tests/concat_in_place.rs): compile a
//! hand-built graph under given plan options, make deterministic inputs, and run many
//! variants through one runner crate against the reference semantics.
#![allow(dead_code)]

use kiln::codegen::{EmitKind, Generated, Provenance, RustOptions};
use kiln::harness::{self, Case, Profile};
use kiln::ir::{DType, Graph, Tensor, TensorData};
use kiln::passes::MemoryPlan;
use kiln::passes::memory::{PlanOptions, check_aliases, check_plan, plan_memory_with};
use std::collections::BTreeMap;

/// Plans `g` with `opts` (checking the plan and its sharing) and emits it as a module.
pub fn compile(g: &Graph, opts: &PlanOptions) -> (MemoryPlan, Generated) {
    let vg = kiln::ir::verify(g).unwrap_or_else(|d| panic!("{}: {d:?}", g.name));
    let plan = plan_memory_with(&vg, opts);
    check_plan(&plan).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    check_aliases(&vg, &plan).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    let ropts = RustOptions {
        step_hook: false,
        module_name: g.name.clone(),
        provenance: Provenance {
            kiln_version: "test".into(),
            model_file: format!("{}.onnx", g.name),
            model_sha256: "0".into(),
            options: vec![],
        },
        target: kiln_ir::Target::Host,
        kernels: kiln::codegen::KernelChoice::Fast,
        intrinsics: false,
        weights_file: Some("model.weights".into()),
    };
    let generated = kiln::codegen::emit_rust(&vg, &plan, EmitKind::Module, &ropts)
        .unwrap_or_else(|e| panic!("{}: {e}", g.name));
    (plan, generated)
}

/// Deterministic inputs: small values, both signs, exact in every type.
pub fn input_data(g: &Graph) -> Vec<Tensor> {
    g.inputs
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let ty = &g.value(v).ty;
            let idx = (0..ty.numel()).map(|i| (i * 37 + k * 11 + 5) % 29);
            let data = match ty.dtype {
                DType::F32 => TensorData::F32(idx.map(|v| (v as f32 - 14.0) / 8.0).collect()),
                DType::F64 => TensorData::F64(idx.map(|v| (v as f64 - 14.0) / 8.0).collect()),
                DType::I32 => TensorData::I32(idx.map(|v| (v as i32 - 14) * 1000).collect()),
                DType::I8 => TensorData::I8(idx.map(|v| (v as i32 * 9 - 128) as i8).collect()),
                other => panic!("no test data for {other}"),
            };
            Tensor::new(ty.shape.clone(), data).expect("sized to the shape")
        })
        .collect()
}

/// One compiled variant of a graph.
pub struct Variant<'g> {
    pub graph: &'g Graph,
    pub label: &'static str,
    pub plan: MemoryPlan,
    pub generated: Generated,
    pub inputs: Vec<Tensor>,
    pub want: Vec<Tensor>,
}

/// Builds every variant into one runner crate (`target/<work>`), runs them (printing each
/// plan's figures), and returns
/// the problems: outputs away from the reference, and variants of one graph that do not
/// agree bit for bit (sharing storage changes where values live, never the arithmetic).
pub fn run_variants(built: &[Variant], work: &str) -> Vec<String> {
    let cases: Vec<Case> = built
        .iter()
        .map(|b| Case {
            generated: &b.generated,
        })
        .collect();
    let dir = super::repo().join("target").join(work);
    let runner = harness::build_runner(&cases, &dir, &super::gen_target(), Profile::Fast)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut first_of: BTreeMap<&str, Vec<Tensor>> = BTreeMap::new();
    for (i, b) in built.iter().enumerate() {
        let (name, label) = (b.graph.name.as_str(), b.label);
        eprintln!(
            "{name:<18} {label:<8}: {} buffers, arena {} B, lower bound {} B, {} views, {} in place, {} concats in place",
            b.plan.buffers.len(),
            b.plan.arena_bytes(),
            b.plan.lower_bound_bytes(),
            b.plan.views.len(),
            b.plan.in_place.len(),
            b.plan.concats.len(),
        );
        let got = runner
            .run(i, &b.inputs)
            .unwrap_or_else(|e| panic!("{name} {label}: {e}"));
        for (k, (a, e)) in got.iter().zip(&b.want).enumerate() {
            let c = harness::compare(a, e, 1e-5, 1e-6);
            if !c.ok {
                failures.push(format!("{name} {label} output {k}: {c:?}"));
            }
        }
        match first_of.get(name) {
            None => {
                first_of.insert(name, got);
            }
            Some(base) => {
                for (k, (a, o)) in got.iter().zip(base).enumerate() {
                    if a.data.to_le_bytes() != o.data.to_le_bytes() {
                        failures.push(format!("{name} {label} output {k} differs from off"));
                    }
                }
            }
        }
    }
    failures
}
