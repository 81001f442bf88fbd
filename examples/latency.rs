//! Benchmark: the generated code's latency with `-O0` against full optimisation, measured
//! in the same run (the machines are noisy, so only the ratio is meaningful).
//!
//! ```sh
//! cargo run --release --example latency [-- MODEL.onnx ...]
//! ```
//!
//! Without arguments it runs the MLPerf Tiny models under `tests/data/corpus/models`. Each
//! model is compiled at both levels into one release-built runner; the two are timed in
//! alternation, several rounds, each round the median of many runs in one process; the
//! table gives the median over rounds and the ratio.

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::passes::OptLevel;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ROUNDS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut models: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if models.is_empty() {
        for m in [
            "mlperf_ad_fcae",
            "mlperf_ic_resnet8",
            "mlperf_vww_mobilenetv1",
        ] {
            models.push(repo.join(format!("tests/data/corpus/models/{m}.onnx")));
        }
    }
    let mut compiled = Vec::new();
    for m in &models {
        for level in [OptLevel::O0, OptLevel::O2] {
            let opts = kiln::CompileOptions {
                opt_level: level,
                ..Default::default()
            };
            compiled.push((m.clone(), level, kiln::compile(m, EmitKind::Module, &opts)?));
        }
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
        "| model | nodes | kernels -O0 | kernels -O2 | arena -O0 | arena -O2 | lower bound -O2 | greedy -O2 | latency -O0 | latency -O2 | -O0 / -O2 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (k, m) in models.iter().enumerate() {
        let (i0, i2) = (2 * k, 2 * k + 1);
        let inputs = inputs_for(m, &compiled[i0].2)?;
        // Enough runs per round for ~0.2 s of work.
        let once = runner.time(i2, &inputs, 3)?;
        let iters = ((0.2 / once.as_secs_f64().max(1e-6)) as usize).clamp(5, 5000);
        let (mut t0, mut t2) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            t0.push(runner.time(i0, &inputs, iters)?);
            t2.push(runner.time(i2, &inputs, iters)?);
        }
        let (m0, m2) = (median(&mut t0), median(&mut t2));
        let (c0, c2) = (&compiled[i0].2, &compiled[i2].2);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} ms | {:.3} ms | {:.2} |",
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

/// The model's test inputs when it sits in the corpus layout, else deterministic f32 values
/// of the right shapes.
fn inputs_for(model: &Path, c: &kiln::Compiled) -> Result<Vec<kiln::ir::Tensor>, String> {
    let stem = model
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let data = model
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("inputs").join(&stem).join("test_data_set_0"));
    if let Some(d) = data.filter(|d| d.exists()) {
        return harness::read_test_set(&d).map(|(i, _)| i);
    }
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
