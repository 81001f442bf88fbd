//! End to end on real models: compile, build the generated code, run it on
//! `test_data_set_0`, compare with onnxruntime's outputs (numpy allclose, rtol 1e-4,
//! atol 1e-6).

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use std::time::Instant;

/// The models this suite covers; each must pass.
const MODELS: &[&str] = &[
    "mlperf_ad_fcae",
    "mlperf_ic_resnet8",
    "mlperf_vww_mobilenetv1",
];

#[test]
fn corpus_models_match_onnxruntime() {
    let mut compiled = Vec::new();
    for name in MODELS {
        let path = common::corpus_model(name);
        if !common::require_data(&path, &format!("corpus model {name}")) {
            return;
        }
        let t = Instant::now();
        let c = kiln::compile(&path, EmitKind::Module, &Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!(
            "{name}: compiled in {:.2?}; arena {} B, lower bound {} B",
            t.elapsed(),
            c.plan.arena_bytes(),
            c.plan.lower_bound_bytes()
        );
        compiled.push(c);
    }
    let cases: Vec<Case> = compiled
        .iter()
        .map(|c| Case {
            generated: &c.generated,
        })
        .collect();
    let work = common::repo().join("target").join("kiln-corpus-runner");
    let t = Instant::now();
    let runner =
        harness::build_runner(&cases, &work, &common::gen_target(), Profile::Release).unwrap();
    eprintln!(
        "generated code for {} models built in {:.2?}",
        MODELS.len(),
        t.elapsed()
    );
    let mut failures = Vec::new();
    for (i, name) in MODELS.iter().enumerate() {
        let (inputs, expected) = harness::read_test_set(&common::corpus_data(name)).unwrap();
        assert!(!expected.is_empty(), "{name}: no expected outputs");
        let actual = runner
            .run(i, &inputs)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(actual.len(), expected.len(), "{name}: output count");
        for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let c = harness::compare(a, e, 1e-4, 1e-6);
            eprintln!(
                "{name} output {k}: max abs {:.3e}, max rel {:.3e}",
                c.max_abs, c.max_rel
            );
            if !c.ok {
                failures.push(format!("{name} output {k}: {c:?}"));
            }
        }
        // The reference semantics must agree too.
        let r = kiln::ir::eval::run(&compiled[i].graph, &inputs)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (k, (a, e)) in r.iter().zip(&expected).enumerate() {
            let c = harness::compare(a, e, 1e-4, 1e-6);
            if !c.ok {
                failures.push(format!("{name} output {k} (reference semantics): {c:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}
