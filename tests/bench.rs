//! `kiln bench` on the shipped ResNet-8 with one short round: the report has its columns
//! (`-O0`, `-O2`, and `-O2 --fma` where the machine has fused multiply-add kernels), its
//! numbers are consistent (latencies positive, each ratio the quotient of the latencies it
//! names, GFLOP/s = 2 x MACs / latency, each `-O2` build's share of the peak of its own
//! arithmetic, step shares that add up), each `-O2` build has its hottest steps, and a peer
//! that cannot run is reported in its column, not dropped. It asserts nothing about speed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tests share one work directory (one runner build), so they take turns.
static WORK_DIR: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether `kiln bench` times `-O2 --fma` by default here: the rule of `kiln compile --fma`
/// (x86-64-v3 and up, AArch64).
fn machine_has_fma() -> bool {
    kiln::bench::fma_support(kiln::ir::Target::Host).is_ok()
}

/// `kiln bench` on ResNet-8 and its test data; `python` is the peers' interpreter.
fn bench(python: Option<&str>) -> String {
    let out = bench_cmd(python, &[]).output().expect("run kiln");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// The `kiln bench` command on ResNet-8, with `extra` arguments, holding the work directory.
fn bench_cmd(python: Option<&str>, extra: &[&str]) -> Locked {
    let turn = WORK_DIR.lock().unwrap_or_else(|e| e.into_inner());
    let r = repo();
    let mut cmd = Command::new(common::kiln_bin());
    cmd.arg("bench")
        .arg(r.join("examples/models/mlperf_ic_resnet8.onnx"))
        .arg("--data")
        .arg(r.join("tests/data/corpus/inputs/mlperf_ic_resnet8/test_data_set_0"))
        .args(["--rounds", "1", "--round-time", "0.02", "--work-dir"])
        // Both runs share the runner build.
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("kiln-bench"))
        .args(extra);
    match python {
        Some(p) => cmd.env("KILN_BENCH_PYTHON", p),
        None => cmd.env_remove("KILN_BENCH_PYTHON"),
    };
    Locked { cmd, _turn: turn }
}

/// A command that runs while it holds the shared work directory.
struct Locked {
    cmd: Command,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Locked {
    fn output(&mut self) -> std::io::Result<std::process::Output> {
        self.cmd.output()
    }
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

/// The number after `prefix` on the report line that starts with it.
fn line_number(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|s| s.split(' ').next())
        .map(num)
        .unwrap_or_else(|| panic!("no {prefix:?} in\n{text}"))
}

/// The hottest-steps table of one build: five steps, hottest first, shares of the whole
/// that fit in it, and, a CNN's being its convolutions, a Conv among them.
fn check_steps(text: &str, heading: &str) {
    let steps = table(text, heading);
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
            "GFLOP/s",
            "fastest (ms)",
            "GFLOP/s at fastest",
            "% of peak at fastest"
        ]
    );
    assert_eq!(steps.len(), 6, "{heading}: {text}");
    let times: Vec<f64> = steps[1..].iter().map(|r| num(&r[5])).collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "{heading}: {times:?}"
    );
    // A step's fastest time is one of the runs its median is taken over, so it is no
    // slower (the cells round to four digits); its GFLOP/s is 2 * MMAC / ms, within what
    // the rounding of the three cells allows (each is off by at most half a unit of its
    // last digit: MMAC 1.18 is 1.175 to 1.185, which alone moves a GFLOP/s by 0.4%).
    let half_unit = |cell: &str| {
        let decimals = cell.split_once('.').map_or(0, |(_, d)| d.len());
        0.5 * 10f64.powi(-(decimals as i32))
    };
    for r in &steps[1..] {
        let (median, fastest) = (num(&r[5]), num(&r[8]));
        assert!(
            fastest > 0.0 && fastest <= median * 1.001,
            "{heading}: {r:?}"
        );
        if r[9] != "-" {
            let (mmac, hm) = (num(&r[6]), half_unit(&r[6]));
            let hf = half_unit(&r[8]);
            let (gflops, hg) = (num(&r[9]), half_unit(&r[9]));
            let lo = 2.0 * (mmac - hm) / (fastest + hf);
            let hi = 2.0 * (mmac + hm) / (fastest - hf).max(f64::MIN_POSITIVE);
            assert!(
                gflops + hg >= lo && gflops - hg <= hi,
                "{heading}: {r:?} (2 * MMAC / ms from {lo} to {hi})"
            );
        }
    }
    let shares: f64 = steps[1..].iter().map(|r| num(&r[4])).sum();
    assert!(shares > 0.0 && shares <= 100.5, "{heading}: {shares}");
    assert!(steps[1..].iter().any(|r| r[2] == "Conv"), "{steps:?}");
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
    let fma = machine_has_fma();
    let rows = table(&text, "## Latency");
    let head: Vec<&str> = rows[0].iter().map(String::as_str).collect();
    // The columns the report's spec gives: each build's latency, each peer's, -O0 / -O2,
    // the fused build against the default one, each -O2 build against each peer, and each
    // -O2 build's GFLOP/s with its share of the peak of its own arithmetic.
    let mut expected = vec!["model", "MMAC", "kiln -O0 (ms)", "kiln -O2 (ms)"];
    if fma {
        expected.push("kiln -O2 --fma (ms)");
    }
    expected.extend(["onnxruntime (ms)", "tract (ms)", "-O0 / -O2"]);
    if fma {
        expected.push("-O2 --fma / -O2");
    }
    expected.extend(["-O2 / onnxruntime", "-O2 / tract"]);
    if fma {
        expected.extend(["-O2 --fma / onnxruntime", "-O2 --fma / tract"]);
    }
    expected.extend(["GFLOP/s -O2", "% of mul+add peak"]);
    if fma {
        expected.extend(["GFLOP/s -O2 --fma", "% of FMA peak"]);
    }
    assert_eq!(head, expected);
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

    // Each -O2 build: GFLOP/s = 2 * MACs / time (2 * MMAC / ms), as a share of the peak of
    // its arithmetic, which the report's peak lines give.
    let mut builds = vec![("-O2", "mul+add", o2)];
    let mul_add_peak = line_number(
        &text,
        "- Single-core peak (mul+add), a multiply then an add (the arithmetic of `-O0` and `-O2`): ",
    );
    assert!(mul_add_peak > 0.0);
    let mut peaks = vec![mul_add_peak];
    if fma {
        let fused = col("kiln -O2 --fma (ms)");
        assert!(num(fused) > 0.0, "{row:?}");
        assert_ratio(col("-O2 --fma / -O2"), fused, o2);
        builds.push(("-O2 --fma", "FMA", fused));
        peaks.push(line_number(
            &text,
            "- Single-core peak (FMA), fused multiply-add (the arithmetic of `-O2 --fma`): ",
        ));
        assert!(peaks[1] > 0.0);
    } else {
        assert!(!text.contains("Single-core peak (FMA)"), "{text}");
    }
    for ((label, arith, t), peak) in builds.iter().zip(&peaks) {
        let gflops = num(col(&format!("GFLOP/s {label}")));
        let expected = 2.0 * mmac / num(t);
        assert!(
            (gflops - expected).abs() <= 0.01 + 0.002 * expected,
            "{label}: {gflops} vs {expected}"
        );
        let share = num(col(&format!("% of {arith} peak")));
        assert!(
            (share - 100.0 * gflops / peak).abs() <= 0.1 + 0.01 * share,
            "{label}: {share}% of {peak}"
        );
        for (peer, module) in [("onnxruntime", "onnxruntime"), ("tract", "tract")] {
            let pt = col(&format!("{peer} (ms)"));
            let ratio = col(&format!("{label} / {peer}"));
            if python_has(module) {
                assert!(num(pt) > 0.0, "{peer}: {pt}");
                assert_ratio(ratio, t, pt);
            } else {
                // Without the package the column says why.
                assert!(pt.starts_with("not run: ") && pt.contains(module), "{pt}");
                assert_eq!(ratio, "n/a");
            }
        }
        // Each -O2 build has its own hottest steps.
        check_steps(&text, &format!("### mlperf_ic_resnet8 ({label})"));
    }
    assert_eq!(
        text.matches("\n### mlperf_ic_resnet8 (").count(),
        builds.len(),
        "{text}"
    );
    // The fastest-runs table: the same columns, each time no slower than its median (the
    // fastest run is among those the median is taken over), ratios of those times.
    let fastest = table(&text, "## Fastest runs");
    assert_eq!(fastest[0], rows[0], "{text}");
    assert_eq!(fastest.len(), 2, "{text}");
    let frow = &fastest[1];
    let fcol = |name: &str| frow[head.iter().position(|h| *h == name).unwrap()].as_str();
    for (k, name) in head.iter().enumerate() {
        if name.ends_with("(ms)") && !row[k].starts_with("not run") {
            assert!(
                num(&frow[k]) > 0.0 && num(&frow[k]) <= num(&row[k]) * 1.001,
                "{name}: {} vs {}",
                frow[k],
                row[k]
            );
        }
    }
    assert_ratio(
        fcol("-O0 / -O2"),
        fcol("kiln -O0 (ms)"),
        fcol("kiln -O2 (ms)"),
    );
    if python_has("onnxruntime") {
        assert_ratio(
            fcol("-O2 / onnxruntime"),
            fcol("kiln -O2 (ms)"),
            fcol("onnxruntime (ms)"),
        );
    }
    // The method says which builds ran, and that the fused one needs std.
    assert!(
        text.contains(if fma {
            "times kiln's code as -O0, -O2 and -O2 --fma and then each peer"
        } else {
            "times kiln's code as -O0 and -O2 and then each peer"
        }),
        "{text}"
    );
    assert_eq!(text.contains("so the code needs `std`"), fma, "{text}");
}

#[test]
fn bench_fma_needs_a_machine_with_fma_kernels() {
    if machine_has_fma() {
        // Here `--fma` is possible: `Variant::select`'s unit tests cover the refusal.
        return;
    }
    let out = bench_cmd(None, &["--fma"]).output().expect("run kiln");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot time -O2 --fma on this machine")
            && stderr.contains("no fused multiply-add vector kernels"),
        "{stderr}"
    );
}

#[test]
fn a_peer_that_cannot_run_is_reported_not_dropped() {
    let text = bench(Some("/nonexistent/python"));
    let rows = table(&text, "## Latency");
    let head = &rows[0];
    let row = &rows[1];
    let builds: &[&str] = if machine_has_fma() {
        &["-O2", "-O2 --fma"]
    } else {
        &["-O2"]
    };
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
        for build in builds {
            let k = head
                .iter()
                .position(|h| *h == format!("{build} / {peer}"))
                .unwrap();
            assert_eq!(row[k], "n/a");
        }
    }
    // kiln's own numbers are still there.
    let k = head.iter().position(|h| h == "kiln -O2 (ms)").unwrap();
    assert!(num(&row[k]) > 0.0);
    assert!(text.contains("onnxruntime (did not start)"), "{text}");
}
