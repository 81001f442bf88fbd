//! Benchmark: the generated code's latency with `-O0` against full optimisation and
//! against onnxruntime (the peer), measured in the same run (the machines are noisy, so
//! only the ratios are meaningful).
//!
//! ```sh
//! cargo run --release --example latency [-- MODEL.onnx ...]
//! ```
//!
//! Without arguments it runs the corpus models that are present: the MLPerf Tiny models
//! under `tests/data/corpus/models` and those `scripts/fetch-test-data` put under
//! `tests/data/fetched`. A model's inputs come from its `test_data_set_0` when it sits in
//! the corpus layout (which also pins symbolic input dimensions), else from a fixed
//! pattern. Each model is compiled at both levels into one release-built runner; the two
//! and onnxruntime (`scripts/ort-time`: one thread, as in the corpus manifest) are timed in
//! alternation, several rounds, each round the median of many runs in one process; the
//! table gives the median over rounds and the ratios. Without Python's onnxruntime the
//! peer columns say why they are empty.

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::passes::OptLevel;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

const ROUNDS: usize = 7;

/// The corpus models, in `tests/corpus.rs`'s order.
const CORPUS: [&str; 7] = [
    "mlperf_ad_fcae",
    "mlperf_ic_resnet8",
    "mlperf_vww_mobilenetv1",
    "silero_vad_16k",
    "ppocr_cls_mobile_v2",
    "ppocrv4_rec",
    "ddddocr_det",
];

/// onnxruntime in a `scripts/ort-time` process that keeps its session between rounds.
struct Peer {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Peer {
    fn start(repo: &Path, model: &Path, data: &Path) -> Result<Peer, String> {
        let mut child = Command::new("python3")
            .arg(repo.join("scripts/ort-time"))
            .arg(model)
            .arg(data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run python3: {e}"))?;
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let _ = child.wait();
            let last = err.trim().lines().last().unwrap_or("").to_string();
            return Err(format!(
                "scripts/ort-time failed ({last}); pip install onnxruntime==1.32.0 onnx numpy"
            ));
        }
        Ok(Peer { child, out })
    }

    fn time(&mut self, iters: usize) -> Result<Duration, String> {
        let stdin = self.child.stdin.as_mut().ok_or("no stdin")?;
        writeln!(stdin, "{iters}").map_err(|e| e.to_string())?;
        stdin.flush().map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.out.read_line(&mut line).map_err(|e| e.to_string())?;
        let ns: u64 = line
            .trim()
            .parse()
            .map_err(|_| format!("scripts/ort-time answered {line:?}"))?;
        Ok(Duration::from_nanos(ns))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Closing stdin ends the script's loop.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut models: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if models.is_empty() {
        for m in CORPUS {
            let vendored = repo.join(format!("tests/data/corpus/models/{m}.onnx"));
            let fetched = repo.join(format!("tests/data/fetched/corpus/models/{m}.onnx"));
            match [vendored, fetched].into_iter().find(|p| p.exists()) {
                Some(p) => models.push(p),
                None => eprintln!("{m}: not present, left out (run scripts/fetch-test-data)"),
            }
        }
    }
    let mut compiled = Vec::new();
    let mut inputs = Vec::new();
    for m in &models {
        let (data, named) = test_inputs(m)?;
        for level in [OptLevel::O0, OptLevel::O2] {
            let opts = kiln::CompileOptions {
                opt_level: level,
                // Symbolic input dimensions take the test data's shapes.
                input_shapes: named
                    .iter()
                    .filter(|(n, _)| !n.is_empty())
                    .map(|(n, t)| (n.clone(), t.shape.clone()))
                    .collect(),
                ..Default::default()
            };
            eprintln!("compiling {} at {level:?}...", m.display());
            compiled.push((m.clone(), level, kiln::compile(m, EmitKind::Module, &opts)?));
        }
        inputs.push((data, named.into_iter().map(|(_, t)| t).collect::<Vec<_>>()));
    }
    let cases: Vec<Case> = compiled
        .iter()
        .map(|(_, _, c)| Case {
            generated: &c.generated,
        })
        .collect();
    let work = repo.join("target/kiln-latency");
    eprintln!("building the generated code (release)...");
    let runner = harness::build_runner(
        &cases,
        &work,
        &repo.join("target/kiln-gen"),
        Profile::Release,
    )?;
    println!(
        "| model | nodes | kernels -O0 | kernels -O2 | arena -O0 | arena -O2 | lower bound -O2 | greedy -O2 | latency -O0 | latency -O2 | onnxruntime | -O0 / -O2 | -O2 / onnxruntime |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (k, m) in models.iter().enumerate() {
        let (i0, i2) = (2 * k, 2 * k + 1);
        let (data_dir, inputs) = &inputs[k];
        let inputs = match inputs.is_empty() {
            true => pattern_inputs(&compiled[i0].2)?,
            false => inputs.clone(),
        };
        let mut peer = match data_dir {
            Some(d) => Peer::start(&repo, m, d),
            None => Err("no test data to feed it".into()),
        };
        // Enough runs per round for ~0.2 s of work.
        let once = runner.time(i2, &inputs, 3)?;
        let iters = ((0.2 / once.as_secs_f64().max(1e-6)) as usize).clamp(5, 5000);
        let (mut t0, mut t2, mut tp) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            t0.push(runner.time(i0, &inputs, iters)?);
            t2.push(runner.time(i2, &inputs, iters)?);
            if let Ok(p) = &mut peer {
                match p.time(iters) {
                    Ok(t) => tp.push(t),
                    Err(e) => peer = Err(e),
                }
            }
        }
        let (m0, m2) = (median(&mut t0), median(&mut t2));
        let (c0, c2) = (&compiled[i0].2, &compiled[i2].2);
        let (peer_ms, ratio) = match &peer {
            Ok(_) => {
                let mp = median(&mut tp);
                (
                    format!("{:.3} ms", mp.as_secs_f64() * 1e3),
                    format!("{:.2}", m2.as_secs_f64() / mp.as_secs_f64()),
                )
            }
            Err(e) => {
                eprintln!("{}: onnxruntime not timed: {e}", m.display());
                ("n/a".into(), "n/a".into())
            }
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} ms | {:.3} ms | {peer_ms} | {:.2} | {ratio} |",
            m.file_stem().unwrap_or_default().to_string_lossy(),
            c0.nodes_before,
            kernels(c0),
            kernels(c2),
            c0.plan.arena_bytes(),
            c2.plan.arena_bytes(),
            c2.plan.lower_bound_bytes(),
            c2.plan.greedy_by_size_bytes(),
            m0.as_secs_f64() * 1e3,
            m2.as_secs_f64() * 1e3,
            m0.as_secs_f64() / m2.as_secs_f64()
        );
    }
    Ok(())
}

/// Nodes that emit a kernel call (views emit none).
fn kernels(c: &kiln::Compiled) -> usize {
    c.graph.node_count() - c.plan.views.len()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

/// The model's test data directory and inputs (each with its name in the file) when the
/// model sits in the corpus layout (`models/NAME.onnx` beside `inputs/NAME/`, vendored or
/// fetched), else nothing.
type TestInputs = (Option<PathBuf>, Vec<(String, kiln::ir::Tensor)>);

fn test_inputs(model: &Path) -> Result<TestInputs, String> {
    let stem = model
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let beside = model
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("inputs").join(&stem).join("test_data_set_0"));
    let vendored = repo
        .join("tests/data/corpus/inputs")
        .join(&stem)
        .join("test_data_set_0");
    let Some(dir) = beside.into_iter().chain([vendored]).find(|d| d.exists()) else {
        return Ok((None, Vec::new()));
    };
    let named = harness::read_named(&dir, "input")?;
    Ok((Some(dir), named))
}

/// Deterministic f32 inputs of the generated code's shapes, for a model without test data.
fn pattern_inputs(c: &kiln::Compiled) -> Result<Vec<kiln::ir::Tensor>, String> {
    c.generated
        .signature
        .inputs
        .iter()
        .map(|p| {
            let v: Vec<f32> = (0..p.len)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
                .collect();
            kiln::ir::Tensor::from_f32(p.shape.clone(), v)
        })
        .collect()
}
