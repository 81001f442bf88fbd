//! ONNX backend node tests (the ONNX project's conformance suite), run through the generated
//! code and, separately, through the reference semantics.
//!
//! `tests/conformance/node.txt` is the allowlist: a bare test name must pass both ways; a line
//! `name ! reason` records a test of a supported op that kiln does not pass, with why. The
//! suite fails if a listed test fails, if an unlisted supported test fails, if a test passes
//! that is excluded (the exclusion is stale), or if a passing test is missing from the list.
//! Tests whose ops kiln does not support are counted as unsupported.
//!
//! Every test runs twice, compiled with `-O0` and with full optimisation; it passes only if
//! both pass.
//!
//! `KILN_UPDATE_CONFORMANCE=1 cargo test --test conformance` rewrites `docs/conformance.md`.

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The ONNX backend's own tolerance (numpy `assert_allclose(rtol=1e-3, atol=1e-7)`).
const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-7;
/// Cases per runner crate: big enough to amortise cargo, small enough that one bad module
/// does not force many single-case rebuilds.
const CHUNK: usize = 120;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Pass,
    Fail(String),
    Unsupported(String),
}

struct TestResult {
    name: String,
    op: String,
    generated: Outcome,
    reference: Outcome,
    /// Integer inputs bound to the test data at compile time (`--bind-input`), because a
    /// shape-deciding operand is a graph input: see `bind_shape_inputs`.
    bound: bool,
    /// The element type that puts the test outside this scope (float8, 4-bit, 2-bit,
    /// string), if any.
    exotic: Option<&'static str>,
}

/// The element-type families the edge-set target leaves out, by ONNX type code.
fn exotic_type(types: &BTreeSet<i32>) -> Option<&'static str> {
    types.iter().find_map(|t| match t {
        17..=20 | 24 => Some("float8"),
        21..=23 => Some("4-bit"),
        25 | 26 => Some("2-bit"),
        27 | 28 => Some("float6"),
        8 => Some("string"),
        _ => None,
    })
}

// Tests whose shape-deciding operands are graph inputs are compiled with those inputs
// bound to their test data, as `kiln verify` does (see `harness::BindStage`); such tests
// are counted separately in docs/conformance.md.
use harness::{BindStage, needs_binding};

/// `KILN_CONFORMANCE_OPS=Abs,Neg` runs only the tests of those ops (and checks only their
/// allowlist lines), for quick work on a few ops; docs/conformance.md is not rewritten.
fn op_filter() -> Option<BTreeSet<String>> {
    std::env::var("KILN_CONFORMANCE_OPS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

fn edge_ops() -> BTreeSet<String> {
    std::fs::read_to_string(common::repo().join("tests/conformance/edge-ops.txt"))
        .expect("tests/conformance/edge-ops.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Both optimisation levels, with the flag that names each in messages.
const LEVELS: [(kiln::passes::OptLevel, &str); 2] = [
    (kiln::passes::OptLevel::O0, "-O0"),
    (kiln::passes::OptLevel::O2, "-O2"),
];

/// Both levels' outcomes as one: a pass only if both pass, else the first failure, named.
fn merge(into: &mut Outcome, level: &str, o: Outcome) {
    if *into == Outcome::Pass {
        *into = match o {
            Outcome::Pass => Outcome::Pass,
            Outcome::Fail(m) => Outcome::Fail(format!("{level}: {m}")),
            u @ Outcome::Unsupported(_) => u,
        };
    }
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").trim();
    l.chars().take(160).collect()
}

fn compare_all(actual: &[kiln::ir::Tensor], expected: &[kiln::ir::Tensor]) -> Outcome {
    if actual.len() != expected.len() {
        return Outcome::Fail(format!(
            "{} outputs, expected {}",
            actual.len(),
            expected.len()
        ));
    }
    for (k, (a, e)) in actual.iter().zip(expected).enumerate() {
        let c = harness::compare(a, e, RTOL, ATOL);
        if !c.ok {
            return Outcome::Fail(format!(
                "output {k}: {}",
                c.note
                    .unwrap_or_else(|| format!("max abs error {:.3e}", c.max_abs))
            ));
        }
    }
    Outcome::Pass
}

/// The op a test is about: the single op of its model, or for expanded-function tests (many
/// ops) the op of the test they expand.
fn test_op(name: &str, ops: &[String], by_name: &BTreeMap<String, String>) -> String {
    let distinct: BTreeSet<&String> = ops.iter().collect();
    if distinct.len() == 1 {
        return (*distinct.iter().next().unwrap()).clone();
    }
    if let Some(pos) = name.find("_expanded")
        && let Some(op) = by_name.get(&name[..pos])
    {
        return op.clone();
    }
    ops.first().cloned().unwrap_or_else(|| "(none)".into())
}

fn parse_allowlist(text: &str) -> BTreeMap<String, Option<String>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('!') {
            Some((n, r)) => (n.trim().to_string(), Some(r.trim().to_string())),
            None => (l.to_string(), None),
        })
        .collect()
}

#[test]
fn onnx_node_tests() {
    let root = common::node_tests_dir();
    if !common::require_data(&root, "ONNX node tests") {
        return;
    }
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("model.onnx").exists())
        .collect();
    dirs.sort();

    // Pass 1: the op of every test (single-op tests first, so expanded tests can refer to them).
    let mut ops_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(d.join("model.onnx")).unwrap();
        ops_of.insert(
            name,
            kiln::frontend::model_op_types(&bytes).unwrap_or_default(),
        );
    }
    let single: BTreeMap<String, String> = ops_of
        .iter()
        .filter(|(_, ops)| ops.iter().collect::<BTreeSet<_>>().len() == 1)
        .map(|(n, ops)| (n.clone(), ops[0].clone()))
        .collect();

    // Pass 2: load, compile, run the reference semantics.
    let filter = op_filter();
    let mut results = Vec::new();
    let mut compiled = Vec::new(); // (result index, compiled, inputs, expected)
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let op = test_op(&name, &ops_of[&name], &single);
        if filter.as_ref().is_some_and(|f| !f.contains(&op)) {
            continue;
        }
        let model = d.join("model.onnx");
        let sig =
            kiln::frontend::model_signature(&std::fs::read(&model).unwrap()).unwrap_or_default();
        let mut r = TestResult {
            name: name.clone(),
            op,
            generated: Outcome::Fail("not run".into()),
            reference: Outcome::Fail("not run".into()),
            bound: false,
            exotic: exotic_type(&sig.element_types),
        };
        let data = harness::read_test_set(&d.join("test_data_set_0"));
        // The -O0 compile: a frontend or verification error means neither way can run.
        let mut o0 = kiln::CompileOptions {
            opt_level: kiln::passes::OptLevel::O0,
            ..Default::default()
        };
        let mut first = kiln::compile(&model, EmitKind::Module, &o0);
        for stage in BindStage::ALL {
            if let (Err(e), Ok((inputs, _))) = (&first, &data)
                && needs_binding(&e.to_string())
            {
                let bound = harness::bind_shape_inputs(&sig, inputs, stage, |_| "test data".into());
                if bound.len() > o0.bound_inputs.len() {
                    o0.bound_inputs = bound;
                    r.bound = true;
                    first = kiln::compile(&model, EmitKind::Module, &o0);
                }
            }
        }
        let c = match first {
            Ok(c) => c,
            Err(kiln::Error::Frontend(e @ kiln::frontend::FrontendError::Unsupported(_))) => {
                // The second line names the node and why.
                let text = e.to_string();
                let msg: String = text
                    .lines()
                    .take(2)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(240)
                    .collect();
                r.generated = Outcome::Unsupported(msg.clone());
                r.reference = Outcome::Unsupported(msg);
                results.push(r);
                continue;
            }
            Err(e @ (kiln::Error::Frontend(_) | kiln::Error::Verify(_))) => {
                let msg = first_line(&e.to_string());
                r.generated = Outcome::Fail(msg.clone());
                r.reference = Outcome::Fail(msg);
                results.push(r);
                continue;
            }
            Err(e) => {
                r.generated = Outcome::Fail(first_line(&e.to_string()));
                r.reference = Outcome::Fail("not compiled".into());
                results.push(r);
                continue;
            }
        };
        let data = match data {
            Ok((inputs, expected)) => {
                // Bound inputs (and CastLike's empty `like`) are constants now, no longer
                // arguments of the generated code.
                let inputs = harness::runtime_args(&c.graph, &sig, &inputs);
                (inputs, expected)
            }
            Err(e) => {
                r.generated = Outcome::Fail(first_line(&e));
                r.reference = Outcome::Fail(first_line(&e));
                results.push(r);
                continue;
            }
        };
        let mut first = Some(c);
        r.generated = Outcome::Pass;
        r.reference = Outcome::Pass;
        for (level, flag) in LEVELS {
            let opts = kiln::CompileOptions {
                opt_level: level,
                // The packed weights in a file, as `kiln compile` writes a module.
                weights_file: Some("model.weights".into()),
                ..o0.clone()
            };
            let compiled_once = first.take().filter(|_| level == kiln::passes::OptLevel::O0);
            let c = match compiled_once
                .map_or_else(|| kiln::compile(&model, EmitKind::Module, &opts), Ok)
            {
                Ok(c) => c,
                Err(e) => {
                    let msg = Outcome::Fail(first_line(&e.to_string()));
                    merge(&mut r.generated, flag, msg.clone());
                    merge(&mut r.reference, flag, msg);
                    continue;
                }
            };
            let reference = match kiln::ir::eval::run(&c.graph, &data.0) {
                Ok(out) => compare_all(&out, &data.1),
                Err(e) => Outcome::Fail(first_line(&e)),
            };
            merge(&mut r.reference, flag, reference);
            compiled.push((results.len(), flag, c, data.clone()));
        }
        results.push(r);
    }

    // Pass 3: build the generated code in chunks and run it.
    let work_root = common::repo().join("target").join("kiln-conformance");
    for (ci, chunk) in compiled.chunks(CHUNK).enumerate() {
        let cases: Vec<Case> = chunk
            .iter()
            .map(|(_, _, c, _)| Case {
                generated: &c.generated,
            })
            .collect();
        let work = work_root.join(format!("chunk{ci}"));
        match harness::build_runner(&cases, &work, &common::gen_target(), Profile::Fast) {
            Ok(runner) => {
                for (k, (ri, flag, _, (inputs, expected))) in chunk.iter().enumerate() {
                    let o = match runner.run(k, inputs) {
                        Ok(out) => compare_all(&out, expected),
                        Err(e) => Outcome::Fail(first_line(&e)),
                    };
                    merge(&mut results[*ri].generated, flag, o);
                }
            }
            Err(chunk_err) => {
                // Find the culprits one by one so the rest still count.
                eprintln!(
                    "chunk {ci} did not build; building its cases one at a time\n{chunk_err}"
                );
                for (ri, flag, c, (inputs, expected)) in chunk {
                    let work = work_root.join("single");
                    let _ = std::fs::remove_dir_all(work.join("src"));
                    let o = match harness::build_runner(
                        &[Case {
                            generated: &c.generated,
                        }],
                        &work,
                        &common::gen_target(),
                        Profile::Fast,
                    ) {
                        Ok(runner) => match runner.run(0, inputs) {
                            Ok(out) => compare_all(&out, expected),
                            Err(e) => Outcome::Fail(first_line(&e)),
                        },
                        Err(e) => Outcome::Fail(format!(
                            "generated code does not build: {}",
                            first_line(&e.replace("the generated code did not build:\n", ""))
                        )),
                    };
                    merge(&mut results[*ri].generated, flag, o);
                }
            }
        }
    }

    // Every outcome, for whoever looks into a failure.
    let mut log = String::new();
    for r in &results {
        let _ = writeln!(
            log,
            "{}\t{}\tgenerated: {:?}\treference: {:?}",
            r.name, r.op, r.generated, r.reference
        );
    }
    let _ = std::fs::write(work_root.join("results.tsv"), log);
    let table = render_table(&results, &edge_ops());
    if filter.is_none() && std::env::var("KILN_UPDATE_CONFORMANCE").is_ok_and(|v| v == "1") {
        std::fs::write(common::repo().join("docs/conformance.md"), &table).unwrap();
    }
    check_allowlist(
        &results,
        &common::repo().join("tests/conformance/node.txt"),
        filter.is_some(),
        &edge_ops(),
    );
}

/// Every test must be accounted for: a passing test is listed bare, a failing one with its
/// reason. Tests of unsupported ops may go unlisted, except in the edge set, where every
/// test that does not pass needs a reason.
fn check_allowlist(results: &[TestResult], path: &Path, filtered: bool, edge: &BTreeSet<String>) {
    let allow = parse_allowlist(&std::fs::read_to_string(path).unwrap_or_default());
    let mut problems = Vec::new();
    let mut suggestions = Vec::new();
    for r in results {
        let passed = r.generated == Outcome::Pass && r.reference == Outcome::Pass;
        let unsupported = matches!(r.generated, Outcome::Unsupported(_));
        let why = |o: &Outcome| match o {
            Outcome::Fail(m) | Outcome::Unsupported(m) => m.clone(),
            Outcome::Pass => "passes".into(),
        };
        match (allow.get(&r.name), passed) {
            (Some(None), true) => {}
            (Some(None), false) => problems.push(format!(
                "{}: listed as passing but fails (generated: {}; reference: {})",
                r.name,
                why(&r.generated),
                why(&r.reference)
            )),
            (Some(Some(_)), true) => {
                problems.push(format!("{}: passes now; remove its exclusion", r.name))
            }
            (Some(Some(_)), false) => {}
            (None, true) => {
                problems.push(format!("{}: passes but is not in the allowlist", r.name));
                suggestions.push(r.name.clone());
            }
            (None, false) if unsupported && !edge.contains(&r.op) => {}
            (None, false) => {
                problems.push(format!(
                    "{}: fails and is not listed with a reason (generated: {}; reference: {})",
                    r.name,
                    why(&r.generated),
                    why(&r.reference)
                ));
                let reason = match r.exotic {
                    Some(family) => format!(
                        "{family} element type: kiln has no {family} tensors yet ({})",
                        why(&r.generated)
                    ),
                    None => why(&r.generated),
                };
                suggestions.push(format!("{} ! {reason}", r.name));
            }
        }
    }
    for name in allow.keys() {
        if !filtered && !results.iter().any(|r| &r.name == name) {
            problems.push(format!("{name}: in the allowlist but no such test"));
        }
    }
    if !problems.is_empty() {
        panic!(
            "{} conformance problems:\n{}\n\nlines for {}:\n{}",
            problems.len(),
            problems.join("\n"),
            path.display(),
            suggestions.join("\n")
        );
    }
}

fn render_table(results: &[TestResult], edge: &BTreeSet<String>) -> String {
    #[derive(Default)]
    struct Row {
        tests: usize,
        gen_pass: usize,
        ref_pass: usize,
        failed: usize,
        unsupported: usize,
    }
    let mut rows: BTreeMap<&str, Row> = BTreeMap::new();
    for r in results {
        let row = rows.entry(&r.op).or_default();
        row.tests += 1;
        match (&r.generated, &r.reference) {
            (Outcome::Unsupported(_), _) => row.unsupported += 1,
            (g, rf) => {
                row.gen_pass += (*g == Outcome::Pass) as usize;
                row.ref_pass += (*rf == Outcome::Pass) as usize;
                if *g != Outcome::Pass || *rf != Outcome::Pass {
                    row.failed += 1;
                }
            }
        }
    }
    // The C backend's record (tests/c_backend.rs): the tests it passes, by name.
    let c_pass: BTreeSet<String> =
        std::fs::read_to_string(common::repo().join("tests/conformance/c-node.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains(" ! "))
            .map(str::to_string)
            .collect();
    let mut c_rows: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results {
        *c_rows.entry(&r.op).or_default() += c_pass.contains(&r.name) as usize;
    }
    let total = |f: fn(&Row) -> usize| rows.values().map(f).sum::<usize>();
    let mut s = String::from(
        "# ONNX conformance\n\nThe ONNX backend node tests (onnx 1.22.0, 1,765 tests) run through kiln's **generated \
         code** and through its **reference semantics**, compared with numpy `allclose(rtol=1e-3, atol=1e-7)`.\n\
         Regenerate with `scripts/update-conformance` (after `scripts/fetch-test-data`). Excluded tests and their \
         reasons are in `tests/conformance/node.txt`.\n\n",
    );
    let _ = writeln!(
        s,
        "**Summary:** {} tests; passed as generated code: {}; passed through the reference semantics: {}; \
         failed (listed with reasons): {}; unsupported op: {}.\n",
        results.len(),
        total(|r| r.gen_pass),
        total(|r| r.ref_pass),
        total(|r| r.failed),
        total(|r| r.unsupported)
    );
    let _ = writeln!(
        s,
        "**C backend** (`--emit c`, `tests/c_backend.rs`): of the {} tests that pass as generated Rust, {} pass \
         as generated C, built by gcc and clang with `-std=c99 -Wall -Wextra -Werror -pedantic` under \
         AddressSanitizer and UndefinedBehaviorSanitizer, at -O0 and -O2 (`tests/conformance/c-node.txt` \
         says why each other one does not yet).\n",
        total(|r| r.gen_pass),
        c_rows.values().sum::<usize>()
    );
    let passed = |r: &&TestResult| r.generated == Outcome::Pass && r.reference == Outcome::Pass;
    let in_edge: Vec<&TestResult> = results.iter().filter(|r| edge.contains(&r.op)).collect();
    let scoped: Vec<&&TestResult> = in_edge.iter().filter(|r| r.exotic.is_none()).collect();
    let scoped_pass = scoped.iter().filter(|r| passed(r)).count();
    let _ = writeln!(
        s,
        "**Edge set** ({} ops, `tests/conformance/edge-ops.txt`): {} tests; passed as generated code: {}; \
         passed through the reference semantics: {}. Leaving out the {} tests with float8, 4-bit, 2-bit or \
         string element types: **{} / {} pass as generated code ({:.1}%)**.\n",
        edge.len(),
        in_edge.len(),
        in_edge
            .iter()
            .filter(|r| r.generated == Outcome::Pass)
            .count(),
        in_edge
            .iter()
            .filter(|r| r.reference == Outcome::Pass)
            .count(),
        in_edge.len() - scoped.len(),
        scoped_pass,
        scoped.len(),
        100.0 * scoped_pass as f64 / scoped.len().max(1) as f64,
    );
    let _ = writeln!(
        s,
        "Passing tests whose shape-deciding operands (a Reshape's `shape`, a Slice's `starts`, `axes`, \
         `pads`...) are graph inputs are compiled with those inputs bound to the test data \
         (`kiln compile --bind-input`), as a deployment with static shapes would: {} tests.\n",
        results.iter().filter(|r| r.bound && passed(r)).count()
    );
    s.push_str(
        "| op | edge set | tests | generated code passed | reference passed | failed | unsupported | C passed |\n",
    );
    s.push_str("| --- | :---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (op, r) in &rows {
        if r.unsupported == r.tests {
            continue;
        }
        let _ = writeln!(
            s,
            "| {op} | {} | {} | {} | {} | {} | {} | {} |",
            if edge.contains(*op) { "yes" } else { "" },
            r.tests,
            r.gen_pass,
            r.ref_pass,
            r.failed,
            r.unsupported,
            c_rows.get(op).copied().unwrap_or(0)
        );
    }
    let unsupported: Vec<&str> = rows
        .iter()
        .filter(|(_, r)| r.unsupported == r.tests)
        .map(|(op, _)| *op)
        .collect();
    let _ = writeln!(
        s,
        "\nOps with no supported test yet ({}): {}.",
        unsupported.len(),
        unsupported.join(", ")
    );
    s
}
