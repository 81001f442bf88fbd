//! `kiln bench` on the shipped ResNet-8 with one short round: the report has its columns,
//! its numbers are consistent (latencies positive, each ratio the quotient of the latencies
//! it names, GFLOP/s = 2 x MACs / latency, step shares that add up), and a peer that cannot
//! run is reported in its column, not dropped. It asserts nothing about speed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tests share one work directory (one runner build), so they take turns.
static WORK_DIR: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `kiln bench` on ResNet-8 and its test data; `python` is the peers' interpreter.
fn bench(python: Option<&str>) -> String {
    let _turn = WORK_DIR.lock().unwrap_or_else(|e| e.into_inner());
    let r = repo();
    let mut cmd = Command::new(common::kiln_bin());
    cmd.arg("bench")
        .arg(r.join("examples/models/mlperf_ic_resnet8.onnx"))
        .arg("--data")
        .arg(r.join("tests/data/corpus/inputs/mlperf_ic_resnet8/test_data_set_0"))
        .args(["--rounds", "1", "--round-time", "0.02", "--work-dir"])
        // Both runs share the runner build.
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("kiln-bench"));
    match python {
        Some(p) => cmd.env("KILN_BENCH_PYTHON", p),
        None => cmd.env_remove("KILN_BENCH_PYTHON"),
    };
    let out = cmd.output().expect("run kiln");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// The rows of the first Markdown table after `heading`, header first, as trimmed cells.
fn table(text: &str, heading: &str) -> Vec<Vec<String>> {
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in\n{text}"));
    text[from..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter(|l| !l.starts_with("| ---"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn num(s: &str) -> f64 {
    s.trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// `ratio`, printed to two decimals, against `a / b` of latencies printed to about four
/// significant digits.
fn assert_ratio(ratio: &str, a: &str, b: &str) {
    let (r, q) = (num(ratio), num(a) / num(b));
    assert!(
        (r - q).abs() <= 0.006 + 0.002 * q,
        "ratio {ratio} but {a} / {b} = {q}"
    );
}

/// Whether `python3` has the peer's Python package (and numpy).
fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import numpy, {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn bench_reports_latencies_ratios_and_hottest_steps() {
    let text = bench(None);
    let rows = table(&text, "## Latency");
    let head: Vec<&str> = rows[0].iter().map(String::as_str).collect();
    assert_eq!(
        head,
        [
            "model",
            "MMAC",
            "kiln -O0 (ms)",
            "kiln -O2 (ms)",
            "onnxruntime (ms)",
            "tract (ms)",
            "-O0 / -O2",
            "-O2 / onnxruntime",
            "-O2 / tract",
            "GFLOP/s -O2",
            "% of peak"
        ]
    );
    assert_eq!(rows.len(), 2, "{text}");
    let row = &rows[1];
    let col = |name: &str| row[head.iter().position(|h| *h == name).unwrap()].as_str();
    assert_eq!(col("model"), "mlperf_ic_resnet8");
    // ResNet-8's convolutions and dense layer, counted from its architecture: 12,501,632
    // MACs (the residual Adds fused into them add a few thousand).
    let mmac = num(col("MMAC"));
    assert!((mmac - 12.50).abs() / 12.50 < 0.01, "{mmac}");
    let (o0, o2) = (col("kiln -O0 (ms)"), col("kiln -O2 (ms)"));
    assert!(num(o0) > 0.0 && num(o2) > 0.0, "{row:?}");
    assert_ratio(col("-O0 / -O2"), o0, o2);
    // GFLOP/s = 2 * MACs / time: 2 * MMAC / ms.
    let gflops = num(col("GFLOP/s -O2"));
    let expected = 2.0 * mmac / num(o2);
    assert!(
        (gflops - expected).abs() <= 0.01 + 0.002 * expected,
        "{gflops} vs {expected}"
    );
    let peak = text
        .lines()
        .find_map(|l| l.split("measurements in this run: ").nth(1))
        .and_then(|s| s.split(' ').next())
        .map(num)
        .unwrap_or_else(|| panic!("no peak in\n{text}"));
    assert!(peak > 0.0);
    let share = num(col("% of peak"));
    assert!(
        (share - 100.0 * gflops / peak).abs() <= 0.1 + 0.01 * share,
        "{share}% of {peak}"
    );
    for (peer, module) in [("onnxruntime", "onnxruntime"), ("tract", "tract")] {
        let t = col(&format!("{peer} (ms)"));
        let ratio = col(&format!("-O2 / {peer}"));
        if python_has(module) {
            assert!(num(t) > 0.0, "{peer}: {t}");
            assert_ratio(ratio, o2, t);
        } else {
            // Without the package the column says why.
            assert!(t.starts_with("not run: ") && t.contains(module), "{t}");
            assert_eq!(ratio, "n/a");
        }
    }

    // The five hottest steps: hottest first, shares of the whole that fit in it.
    let steps = table(&text, "### mlperf_ic_resnet8");
    assert_eq!(
        steps[0],
        [
            "step",
            "kernel",
            "op",
            "node",
            "share",
            "time (ms)",
            "MMAC",
            "GFLOP/s"
        ]
    );
    assert_eq!(steps.len(), 6, "{text}");
    let times: Vec<f64> = steps[1..].iter().map(|r| num(&r[5])).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let shares: f64 = steps[1..].iter().map(|r| num(&r[4])).sum();
    assert!(shares > 0.0 && shares <= 100.5, "{shares}");
    // The hottest steps of a CNN are its convolutions.
    assert!(steps[1..].iter().any(|r| r[2] == "Conv"), "{steps:?}");
}

#[test]
fn a_peer_that_cannot_run_is_reported_not_dropped() {
    let text = bench(Some("/nonexistent/python"));
    let rows = table(&text, "## Latency");
    let head = &rows[0];
    let row = &rows[1];
    for peer in ["onnxruntime", "tract"] {
        let k = head
            .iter()
            .position(|h| *h == format!("{peer} (ms)"))
            .unwrap();
        assert!(
            row[k].starts_with("not run: cannot run /nonexistent/python")
                && row[k].contains("KILN_BENCH_PYTHON"),
            "{}",
            row[k]
        );
        let k = head
            .iter()
            .position(|h| *h == format!("-O2 / {peer}"))
            .unwrap();
        assert_eq!(row[k], "n/a");
    }
    // kiln's own numbers are still there.
    let k = head.iter().position(|h| h == "kiln -O2 (ms)").unwrap();
    assert!(num(&row[k]) > 0.0);
    assert!(text.contains("onnxruntime (did not start)"), "{text}");
}
