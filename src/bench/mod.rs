//! `kiln bench`: the generated code's latency against onnxruntime and tract, measured in
//! one run on the same inputs, and where its time goes.
//!
//! Each model is compiled as each requested [`Variant`] (`-O0`, `-O2`, and `-O2 --fma`,
//! the fused multiply-add kernels that need `std`) and once more per `-O2` build with the
//! step hook (`run_profiled`), all into one runner crate built as a user on this machine
//! would build it ([`Profile::Native`]: cargo's release profile, `-C target-cpu=native`,
//! and `-prefer-256-bit` on AVX-512 x86-64: see [`harness::native_rustflags`]).
//! The peers run in persistent Python processes (the embedded `scripts/peer-time`),
//! single-threaded, on the same tensors. Each round times every contender in turn, each for
//! about `round_secs` of runs in one process (the median of those runs), then profiles the
//! steps; the report gives the median over rounds. The machine's single-core peaks (a
//! multiply then an add; fused multiply-add when the `--fma` build is timed) are measured
//! by the runner's peak kernels at the start, before each model and at the end (the best
//! counts). Machines are noisy, and other processes share them: the ratios, measured in
//! alternation, are what the numbers are for.

mod report;

pub use report::fmt_ms;

use crate::harness::{self, Case, PeakKernel, Profile, Runner, Spread};
use kiln_codegen::{EmitKind, RustOptions, program::Program};
use kiln_ir::{DType, Target, Tensor};
use kiln_passes::OptLevel;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The corpus's fp32 models, in `tests/corpus.rs`'s order.
pub const CORPUS: [&str; 7] = [
    "mlperf_ad_fcae",
    "mlperf_ic_resnet8",
    "mlperf_vww_mobilenetv1",
    "silero_vad_16k",
    "ppocr_cls_mobile_v2",
    "ppocrv4_rec",
    "ddddocr_det",
];

/// The timing script of the peers, written into the work directory when a run starts (so
/// an installed `kiln` needs no checkout).
const PEER_SCRIPT: &str = include_str!("../../scripts/peer-time");

/// A peer runtime, run from Python.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Ort,
    Tract,
}

impl Peer {
    /// The name `scripts/peer-time --peer` takes.
    pub fn key(self) -> &'static str {
        match self {
            Peer::Ort => "ort",
            Peer::Tract => "tract",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Peer::Ort => "onnxruntime",
            Peer::Tract => "tract",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Peer::Ort => "onnxruntime==1.32.0",
            Peer::Tract => "tract==0.23.9",
        }
    }
}

/// A build of kiln's code to time: an optimisation level, and whether the micro-kernels
/// fuse each multiply-add (`--fma`, whose code needs `std`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// `-O0`: the reference kernels.
    O0,
    /// `-O2`: the default, `no_std` code; a separate multiply and add.
    O2,
    /// `-O2 --fma`: the same program with `f32::mul_add` in the micro-kernels.
    O2Fma,
    /// `-O2 --intrinsics`: the same program with `core::arch` intrinsics where kiln has
    /// them (x86's AVX-512 VNNI or AVX2 in the int8 quad kernels).
    O2Intrinsics,
}

impl Variant {
    /// As the report and the command line spell it.
    pub fn label(self) -> &'static str {
        match self {
            Variant::O0 => "-O0",
            Variant::O2 => "-O2",
            Variant::O2Fma => "-O2 --fma",
            Variant::O2Intrinsics => "-O2 --intrinsics",
        }
    }

    pub fn opt_level(self) -> OptLevel {
        match self {
            Variant::O0 => OptLevel::O0,
            Variant::O2 | Variant::O2Fma | Variant::O2Intrinsics => OptLevel::O2,
        }
    }

    pub fn fma(self) -> bool {
        self == Variant::O2Fma
    }

    /// The peak kernel whose arithmetic this build's GEMM micro-kernels do.
    pub fn peak_kernel(self) -> PeakKernel {
        match self {
            Variant::O2Fma => PeakKernel::Fused,
            Variant::O0 | Variant::O2 | Variant::O2Intrinsics => PeakKernel::MulAdd,
        }
    }

    /// `base` compiled as this build.
    fn options(self, base: &crate::CompileOptions) -> crate::CompileOptions {
        crate::CompileOptions {
            opt_level: self.opt_level(),
            fma: self.fma(),
            intrinsics: self == Variant::O2Intrinsics,
            // As `kiln compile` writes a module: its packed weights in a file beside it.
            weights_file: Some("model.weights".into()),
            ..base.clone()
        }
    }

    /// The builds `kiln bench` times without flags: `-O0`, `-O2` and, when `target` has
    /// fused multiply-add vector kernels, `-O2 --fma`.
    pub fn defaults(target: Target) -> Vec<Variant> {
        let mut v = vec![Variant::O0, Variant::O2];
        if fma_support(target).is_ok() {
            v.push(Variant::O2Fma);
        }
        v
    }

    /// The builds the command line asks for: the `-O` `levels` (none: `-O0` and `-O2`), plus
    /// `-O2 --fma` if `fma`, which `target` must support, and `-O2 --intrinsics` if
    /// `intrinsics`; no flag: [`Variant::defaults`].
    pub fn select(
        levels: &[OptLevel],
        fma: bool,
        intrinsics: bool,
        target: Target,
    ) -> Result<Vec<Variant>, String> {
        if levels.is_empty() && !fma && !intrinsics {
            return Ok(Variant::defaults(target));
        }
        let mut v: Vec<Variant> = match levels {
            [] => vec![Variant::O0, Variant::O2],
            _ => levels
                .iter()
                .map(|&l| match l {
                    OptLevel::O0 => Variant::O0,
                    OptLevel::O2 => Variant::O2,
                })
                .collect(),
        };
        if fma {
            fma_support(target)?;
            v.push(Variant::O2Fma);
        }
        if intrinsics {
            intrinsics_support(target)?;
            v.push(Variant::O2Intrinsics);
        }
        v.sort_unstable();
        v.dedup();
        Ok(v)
    }
}

/// Whether `target` has the fused multiply-add kernels, or why not: the rule of
/// [`crate::CompileOptions::kernels`], which also refuses `kiln compile --fma` there.
pub fn fma_support(target: Target) -> Result<(), String> {
    let o = crate::CompileOptions {
        opt_level: OptLevel::O2,
        fma: true,
        ..Default::default()
    };
    o.kernels(target.resolve())
        .map(|_| ())
        .map_err(|e| format!("cannot time -O2 --fma on this machine: {e}"))
}

/// Whether kiln has intrinsics kernels for `target`, or why not: the rule that also refuses
/// `kiln compile --intrinsics` there.
pub fn intrinsics_support(target: Target) -> Result<(), String> {
    let o = crate::CompileOptions {
        opt_level: OptLevel::O2,
        intrinsics: true,
        ..Default::default()
    };
    o.kernels(target.resolve())
        .map(|_| ())
        .map_err(|e| format!("cannot time -O2 --intrinsics on this machine: {e}"))
}

/// How to run a benchmark.
#[derive(Clone, Debug)]
pub struct Options {
    /// Rounds of alternation; the report gives the median.
    pub rounds: usize,
    /// About how long each contender runs in one round, in seconds.
    pub round_secs: f64,
    /// The builds of kiln's code to time (at least one), in the report's order; each `-O2`
    /// build among them is also profiled step by step (`-O2` if there is none).
    pub variants: Vec<Variant>,
    pub peers: Vec<Peer>,
    /// The Python interpreter running the peers (`KILN_BENCH_PYTHON`, else `python3`).
    pub python: String,
    /// Where the runner crate, its build and the peers' inputs go; reruns are incremental.
    pub work_dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rounds: 7,
            round_secs: 0.2,
            variants: Variant::defaults(Target::Host),
            peers: vec![Peer::Ort, Peer::Tract],
            python: std::env::var("KILN_BENCH_PYTHON").unwrap_or_else(|_| "python3".into()),
            work_dir: PathBuf::from("target/kiln-bench"),
        }
    }
}

impl Options {
    /// The builds whose steps are profiled: the `-O2` ones timed, else `-O2`.
    pub fn profiled(&self) -> Vec<Variant> {
        let v: Vec<Variant> = self
            .variants
            .iter()
            .copied()
            .filter(|v| v.opt_level() == OptLevel::O2)
            .collect();
        if v.is_empty() { vec![Variant::O2] } else { v }
    }
}

/// One model to time.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    /// The name in the report (the file's stem).
    pub name: String,
    /// The model, or why it is not there (a corpus model not fetched).
    pub model: Result<PathBuf, String>,
    /// An ONNX test-data directory (`input_<i>.pb`); without one, fixed-pattern f32 inputs.
    pub data: Option<PathBuf>,
}

impl ModelSpec {
    /// A model file, with its data: `data` if given, else `test_data_set_0` beside the
    /// model (the ONNX layout) or under `../inputs/<stem>/` (the corpus layout), if there.
    pub fn new(model: &Path, data: Option<PathBuf>) -> ModelSpec {
        let stem = model
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
        let data = data.or_else(|| {
            let beside = model.parent().map(|d| d.join("test_data_set_0"));
            let corpus = model
                .parent()
                .and_then(Path::parent)
                .map(|d| d.join("inputs").join(&stem).join("test_data_set_0"));
            beside.into_iter().chain(corpus).find(|d| d.is_dir())
        });
        ModelSpec {
            name: stem,
            model: Ok(model.to_path_buf()),
            data,
        }
    }
}

/// The corpus's seven fp32 models: under `dir` (`models/<name>.onnx`,
/// `inputs/<name>/test_data_set_0`), or, without one, in this repository's test data
/// (`tests/data/corpus`, and `tests/data/fetched/corpus` after `scripts/fetch-test-data`).
/// A model that is not there is kept, with the reason, so the report says so. With
/// `int8`, each model's int8 QDQ form (`<name>.int8.qdq.onnx`) follows it, timed on the
/// same inputs.
pub fn corpus(dir: Option<&Path>, int8: bool) -> Vec<ModelSpec> {
    let forms: &[&str] = if int8 { &["", ".int8.qdq"] } else { &[""] };
    CORPUS
        .iter()
        .flat_map(|name| forms.iter().map(move |form| (name, form)))
        .map(|(name, form)| {
            let file = format!("{name}{form}.onnx");
            let (models, inputs): (Vec<PathBuf>, PathBuf) = match dir {
                Some(d) => (vec![d.join("models").join(&file)], d.join("inputs")),
                None => (
                    vec![
                        PathBuf::from("tests/data/corpus/models").join(&file),
                        PathBuf::from("tests/data/fetched/corpus/models").join(&file),
                    ],
                    PathBuf::from("tests/data/corpus/inputs"),
                ),
            };
            let data = inputs.join(name).join("test_data_set_0");
            let data = data.is_dir().then_some(data);
            match models.iter().find(|p| p.is_file()) {
                Some(m) => ModelSpec {
                    name: format!("{name}{form}"),
                    model: Ok(m.clone()),
                    data,
                },
                None => ModelSpec {
                    name: format!("{name}{form}"),
                    model: Err(format!(
                        "not present ({}){}",
                        models
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if dir.is_none() {
                            "; run scripts/fetch-test-data or pass --corpus DIR"
                        } else {
                            ""
                        }
                    )),
                    data,
                },
            }
        })
        .collect()
}

/// The machine and toolchain the numbers come from.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub cpu: String,
    /// What `-C target-cpu=native` means here, as rustc names it (`znver4`).
    pub target_cpu: String,
    pub cores: usize,
    pub rustc: String,
    /// The peers' versions, as their processes reported them.
    pub peers: BTreeMap<&'static str, String>,
    /// The 1-minute load average at the start and the end of the run (Linux), which says
    /// how much else was running.
    pub load: (Option<f64>, Option<f64>),
}

/// The 1-minute load average, where `/proc/loadavg` has it.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Machine {
    fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let run = |args: &[&str]| {
            Command::new(&rustc)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let target_cpu = run(&["--print", "target-cpus"])
            .lines()
            .find(|l| l.trim_start().starts_with("native"))
            .and_then(|l| l.split("(currently ").nth(1))
            .map(|s| s.trim_end_matches(['.', ')']).to_string())
            .unwrap_or_else(|| "native".into());
        Machine {
            cpu,
            target_cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rustc: run(&["--version"]).trim().to_string(),
            peers: BTreeMap::new(),
            load: (load_average(), None),
        }
    }
}

/// One step's share of an `-O2` build's time.
#[derive(Clone, Debug)]
pub struct StepTime {
    pub index: usize,
    /// The kernel it calls.
    pub kernel: String,
    /// The IR op and the node it came from.
    pub op: String,
    pub node: String,
    pub macs: u64,
    /// Median over rounds of the step's median time.
    pub time: Duration,
    /// Its fastest time in any round.
    pub best: Duration,
    /// Its part of the sum of all steps' times.
    pub share: f64,
}

/// One model's results. Every `Err` says why the number is missing.
#[derive(Clone, Debug)]
pub struct ModelReport {
    pub name: String,
    /// Multiply-accumulates of one run of the `-O2` program (0 when it did not compile);
    /// `-O2 --fma` runs the same program with other micro-kernels.
    pub macs: u64,
    /// Per build, in [`Options::variants`] order: the median over rounds of each round's
    /// median run.
    pub kiln: Vec<(Variant, Result<Duration, String>)>,
    pub peers: Vec<(Peer, Result<Duration, String>)>,
    /// The fastest run of each build and peer in any round (`None` where it failed).
    pub kiln_best: Vec<(Variant, Option<Duration>)>,
    pub peers_best: Vec<(Peer, Option<Duration>)>,
    /// Per profiled build ([`Options::profiled`]), its steps, hottest first (all of them).
    pub steps: Vec<(Variant, Result<Vec<StepTime>, String>)>,
    /// What was done to feed the model (pinned shapes, bound inputs, pattern inputs).
    pub notes: Vec<String>,
}

impl ModelReport {
    pub fn kiln_time(&self, variant: Variant) -> Option<Duration> {
        self.kiln
            .iter()
            .find(|(v, _)| *v == variant)
            .and_then(|(_, t)| t.as_ref().ok().copied())
    }

    pub fn peer_time(&self, peer: Peer) -> Option<Duration> {
        self.peers
            .iter()
            .find(|(p, _)| *p == peer)
            .and_then(|(_, t)| t.as_ref().ok().copied())
    }

    /// The fastest run of `variant` (see [`ModelReport::kiln_best`]).
    pub fn kiln_best_time(&self, variant: Variant) -> Option<Duration> {
        self.kiln_best
            .iter()
            .find(|(v, _)| *v == variant)
            .and_then(|(_, t)| *t)
    }

    /// The fastest run of `peer`.
    pub fn peer_best_time(&self, peer: Peer) -> Option<Duration> {
        self.peers_best
            .iter()
            .find(|(p, _)| *p == peer)
            .and_then(|(_, t)| *t)
    }

    /// Why none of kiln's builds could be timed (the model did not compile, say), if so.
    pub fn failure(&self) -> Option<&str> {
        match self.kiln.iter().all(|(_, t)| t.is_err()) {
            true => self
                .kiln
                .iter()
                .find_map(|(_, t)| t.as_ref().err().map(String::as_str)),
            false => None,
        }
    }

    /// GFLOP/s at `time` (a MAC is two flops).
    pub fn gflops(&self, time: Duration) -> f64 {
        2.0 * self.macs as f64 / time.as_secs_f64() / 1e9
    }
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct Report {
    pub machine: Machine,
    /// The best of the peak measurements (at the start, before each model and at the end)
    /// with a separate multiply and add: the default code's arithmetic.
    pub peak_gflops: Result<f64, String>,
    /// The same with fused multiply-add, when the `-O2 --fma` build is timed.
    pub fma_peak_gflops: Option<Result<f64, String>>,
    pub options: Options,
    pub models: Vec<ModelReport>,
}

impl Report {
    /// The peak that `variant`'s GFLOP/s is a share of: the one of its arithmetic.
    pub fn peak_for(&self, variant: Variant) -> Result<f64, String> {
        match variant.peak_kernel() {
            PeakKernel::MulAdd => self.peak_gflops.clone(),
            PeakKernel::Fused => self
                .fma_peak_gflops
                .clone()
                .unwrap_or_else(|| Err("the FMA peak was not measured".into())),
        }
    }
}

/// A build with the step hook: its case in the runner and the program whose steps it times.
type ProfiledCase = (usize, Program);

/// A model compiled for the runner: its cases and inputs.
struct Prepared {
    /// Case index per build, in `Options::variants` order; `Err` if it did not compile.
    builds: Vec<Result<usize, String>>,
    /// Per profiled build, the case and its program.
    profiled: Vec<(Variant, Result<ProfiledCase, String>)>,
    /// The generated code's arguments.
    args: Vec<Tensor>,
    /// The peers' inputs: every runtime input of the model, as `.npy` files.
    peer_inputs: Result<Vec<PathBuf>, String>,
    macs: u64,
    notes: Vec<String>,
}

/// Times `models` as `opts` says. Fails only when nothing can be measured at all (the
/// runner does not build); a model or a peer that fails gets its reason in the report.
pub fn run(models: &[ModelSpec], opts: &Options) -> Result<Report, String> {
    if opts.variants.is_empty() {
        return Err("no build of kiln's code to time (give -O0, -O2 and/or --fma)".into());
    }
    // The fused and intrinsics builds are refused up front, not once per model.
    if opts.variants.contains(&Variant::O2Fma) {
        fma_support(Target::Host)?;
    }
    if opts.variants.contains(&Variant::O2Intrinsics) {
        intrinsics_support(Target::Host)?;
    }
    if opts.rounds == 0 || opts.round_secs.is_nan() || opts.round_secs <= 0.0 {
        return Err("--rounds and --round-time must be positive".into());
    }
    let work = std::path::absolute(&opts.work_dir)
        .map_err(|e| format!("{}: {e}", opts.work_dir.display()))?;
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let script = work.join("peer-time.py");
    std::fs::write(&script, PEER_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    let mut machine = Machine::probe();

    // Compile everything first: one runner, one cargo build.
    let mut generated = Vec::new();
    let mut prepared = Vec::new();
    for (k, spec) in models.iter().enumerate() {
        eprintln!("kiln bench: compiling {}", spec.name);
        let p = match &spec.model {
            Ok(path) => prepare(
                path,
                spec,
                opts,
                &work.join(format!("inputs/{k}")),
                &mut generated,
            ),
            Err(e) => Err(e.clone()),
        };
        prepared.push(p);
    }
    let cases: Vec<Case> = generated.iter().map(|g| Case { generated: g }).collect();
    // Nothing compiled, nothing to build: the reports say why.
    let runner = match cases.is_empty() {
        true => None,
        false => {
            eprintln!(
                "kiln bench: building the generated code (release, {}) in {}",
                harness::native_rustflags().join(" "),
                work.display()
            );
            Some(harness::build_runner(
                &cases,
                &work.join("runner"),
                &work.join("target"),
                Profile::Native,
            )?)
        }
    };
    // The peak kernels the timed builds' arithmetic calls for.
    let kernels: Vec<PeakKernel> = [PeakKernel::MulAdd, PeakKernel::Fused]
        .into_iter()
        .filter(|&k| k == PeakKernel::MulAdd || opts.variants.iter().any(|v| v.peak_kernel() == k))
        .collect();
    let peak = || -> Vec<Result<f64, String>> {
        kernels
            .iter()
            .map(|&k| match &runner {
                Some(r) => r.peak_gflops(k),
                None => Err("no model compiled, so no runner to measure it".into()),
            })
            .collect()
    };
    // The peaks, at the start, before each model and at the end: the best of them, since
    // whatever else runs on the machine only ever lowers them.
    let mut peaks = vec![peak()];
    let mut reports = Vec::new();
    for (spec, p) in models.iter().zip(prepared) {
        let report = match (p, &runner) {
            (Ok(p), Some(runner)) => {
                eprintln!("kiln bench: timing {}", spec.name);
                peaks.push(peak());
                time_model(runner, spec, &p, opts, &script, &mut machine)
            }
            (p, _) => {
                let e = p.err().unwrap_or_else(|| "no runner".into());
                eprintln!("kiln bench: {}: {e}", spec.name);
                ModelReport {
                    name: spec.name.clone(),
                    macs: 0,
                    kiln: opts.variants.iter().map(|&v| (v, Err(e.clone()))).collect(),
                    peers: opts
                        .peers
                        .iter()
                        .map(|&p| (p, Err("model not compiled".into())))
                        .collect(),
                    kiln_best: opts.variants.iter().map(|&v| (v, None)).collect(),
                    peers_best: opts.peers.iter().map(|&p| (p, None)).collect(),
                    steps: opts
                        .profiled()
                        .into_iter()
                        .map(|v| (v, Err(e.clone())))
                        .collect(),
                    notes: Vec::new(),
                }
            }
        };
        reports.push(report);
    }
    peaks.push(peak());
    machine.load.1 = load_average();
    let best = |k: usize| -> Result<f64, String> {
        let all = peaks.iter().map(|p| &p[k]);
        let best = all
            .clone()
            .filter_map(|p| p.as_ref().ok())
            .copied()
            .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))));
        match best {
            Some(g) => Ok(g),
            None => Err(all
                .filter_map(|p| p.clone().err())
                .next()
                .unwrap_or_default()),
        }
    };
    let peak_gflops = best(0);
    let fma_peak_gflops = kernels
        .iter()
        .position(|&k| k == PeakKernel::Fused)
        .map(best);
    Ok(Report {
        machine,
        peak_gflops,
        fma_peak_gflops,
        options: opts.clone(),
        models: reports,
    })
}

/// Compiles `model` at each level and with the step hook, adding the generated modules to
/// `generated`, and writes the peers' inputs under `inputs_dir`.
fn prepare(
    model: &Path,
    spec: &ModelSpec,
    opts: &Options,
    inputs_dir: &Path,
    generated: &mut Vec<kiln_codegen::Generated>,
) -> Result<Prepared, String> {
    let mut notes = Vec::new();
    let data: Vec<(String, Tensor)> = match &spec.data {
        Some(d) => harness::read_named(d, "input").map_err(|e| format!("{}: {e}", d.display()))?,
        None => Vec::new(),
    };
    let data: Vec<Tensor> = data.into_iter().map(|(_, t)| t).collect();
    let copts = compile_options(model, &data, spec.data.as_deref(), &mut notes)?;
    let mut builds = Vec::new();
    let mut args: Option<Vec<Tensor>> = None;
    for &variant in &opts.variants {
        match crate::compile(model, EmitKind::Module, &variant.options(&copts)) {
            Ok(c) => {
                if args.is_none() {
                    args = Some(feed(model, &c, &data)?);
                }
                builds.push(Ok(generated.len()));
                generated.push(c.generated);
            }
            Err(e) => builds.push(Err(e.to_string())),
        }
    }
    let profiled: Vec<(Variant, Result<ProfiledCase, String>)> = opts
        .profiled()
        .into_iter()
        .map(|v| {
            let p = profiled(model, &v.options(&copts)).map(|(g, program)| {
                generated.push(g);
                (generated.len() - 1, program)
            });
            (v, p)
        })
        .collect();
    // The builds differ in their micro-kernels only: one program's MACs are every one's.
    let macs = profiled
        .iter()
        .find_map(|(_, p)| p.as_ref().ok())
        .map_or(0, |(_, p)| p.macs());
    let args = match args {
        Some(a) => a,
        None => {
            // No build compiled: nothing of kiln's to time, and the reason is per build.
            let why = builds.iter().find_map(|l| l.as_ref().err()).cloned();
            return Err(why.unwrap_or_else(|| "did not compile".into()));
        }
    };
    let peer_inputs = if data.is_empty() {
        if !args.is_empty() {
            notes.push("no test data: fixed-pattern inputs".into());
        }
        write_npy_files(inputs_dir, &args)
    } else {
        write_npy_files(inputs_dir, &data)
    };
    Ok(Prepared {
        builds,
        profiled,
        args,
        peer_inputs,
        macs,
        notes,
    })
}

/// The options that make `model` compile on `data`: symbolic input dimensions pinned from
/// it, and the inputs that decide shapes bound to it when kiln needs their values (as
/// `kiln verify` does).
fn compile_options(
    model: &Path,
    data: &[Tensor],
    dir: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<crate::CompileOptions, String> {
    let mut opts = crate::CompileOptions::default();
    let Some(dir) = dir else {
        return Ok(opts);
    };
    let bytes = kiln_frontend::read_model_file(model, opts.limits.file_bytes)
        .map_err(|e| format!("{}: {e}", model.display()))?;
    let sig = kiln_frontend::model_signature(&bytes).map_err(|e| e.to_string())?;
    let symbolic = harness::symbolic_inputs(&bytes)?;
    for ((name, _), t) in sig.runtime_inputs.iter().zip(data) {
        if symbolic.contains(name) && t.numel() > 0 {
            opts.input_shapes.insert(name.clone(), t.shape.clone());
        }
    }
    let mut compiled = crate::load(model, &opts).and_then(|(g, _)| crate::plan(g, &opts));
    let file = |k: usize| dir.join(format!("input_{k}.pb")).display().to_string();
    for stage in harness::BindStage::ALL {
        let Err(e) = &compiled else { break };
        if !harness::needs_binding(&e.to_string()) {
            break;
        }
        let bound = harness::bind_shape_inputs(&sig, data, stage, file);
        if bound.len() > opts.bound_inputs.len() {
            for name in bound.keys() {
                opts.input_shapes.remove(name);
            }
            opts.bound_inputs = bound;
            compiled = crate::load(model, &opts).and_then(|(g, _)| crate::plan(g, &opts));
        }
    }
    for (name, dims) in &opts.input_shapes {
        let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        notes.push(format!(
            "input {name:?} pinned to {} from the data",
            dims.join("x")
        ));
    }
    for name in opts.bound_inputs.keys() {
        notes.push(format!("input {name:?} bound to the data at compile time"));
    }
    Ok(opts)
}

/// The generated code's arguments: the data of the inputs that stayed arguments, or,
/// without data, a fixed f32 pattern of their shapes.
fn feed(model: &Path, c: &crate::Compiled, data: &[Tensor]) -> Result<Vec<Tensor>, String> {
    if !data.is_empty() {
        let bytes = kiln_frontend::read_model_file(model, crate::Limits::default().file_bytes)
            .map_err(|e| e.to_string())?;
        let sig = kiln_frontend::model_signature(&bytes).map_err(|e| e.to_string())?;
        return Ok(harness::runtime_args(&c.graph, &sig, data));
    }
    c.generated
        .signature
        .inputs
        .iter()
        .map(|p| {
            if p.dtype != DType::F32 {
                return Err(format!(
                    "input {:?} is {}: without test data (--data DIR) only f32 inputs can be made up",
                    p.model_name, p.dtype
                ));
            }
            let v: Vec<f32> = (0..p.len)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0)
                .collect();
            Tensor::from_f32(p.shape.clone(), v)
        })
        .collect()
}

/// The code `opts` asks for (an `-O2` build) with the step hook, and the program it
/// prints, whose steps the hook numbers.
fn profiled(
    model: &Path,
    opts: &crate::CompileOptions,
) -> Result<(kiln_codegen::Generated, Program), String> {
    let (graph, _) = crate::load(model, opts).map_err(|e| e.to_string())?;
    let planned = crate::plan(graph, opts).map_err(|e| e.to_string())?;
    let kernels = opts.kernels(planned.target).map_err(|e| e.to_string())?;
    let program = kiln_codegen::lower(
        &planned.verified(),
        &planned.plan,
        planned.target,
        kernels,
        false,
    )
    .map_err(|e| e.to_string())?;
    let ropts = RustOptions {
        step_hook: true,
        module_name: "profiled".into(),
        target: planned.target,
        kernels,
        intrinsics: opts.intrinsics,
        weights_file: Some("model.weights".into()),
        ..Default::default()
    };
    let generated =
        kiln_codegen::print_rust(&planned.verified(), &program, EmitKind::Module, &ropts)
            .map_err(|e| e.to_string())?;
    Ok((generated, program))
}

fn write_npy_files(dir: &Path, tensors: &[Tensor]) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    tensors
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let p = dir.join(format!("input_{k}.npy"));
            std::fs::write(&p, crate::npy::npy_bytes(t)?)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(p)
        })
        .collect()
}

/// A peer in a `peer-time` process that keeps its session between rounds.
struct PeerProcess {
    child: Child,
    out: BufReader<ChildStdout>,
    stderr: PathBuf,
}

impl PeerProcess {
    fn start(
        opts: &Options,
        script: &Path,
        peer: Peer,
        model: &Path,
        inputs: &[PathBuf],
        stderr: PathBuf,
    ) -> Result<(PeerProcess, String), String> {
        let err_file =
            std::fs::File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let mut child = Command::new(&opts.python)
            .arg(script)
            .args(["--peer", peer.key()])
            .arg(model)
            .args(inputs)
            // One-line errors from tract, not a Rust backtrace.
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err_file)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}); set KILN_BENCH_PYTHON to a Python 3 with numpy and {}",
                    opts.python,
                    peer.package()
                )
            })?;
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        let mut p = PeerProcess { child, out, stderr };
        match line.trim().strip_prefix(&format!("ready {} ", peer.key())) {
            Some(version) => Ok((p, version.to_string())),
            None => Err(p.failure()),
        }
    }

    /// Why the process stopped: the last line it wrote on standard error.
    fn failure(&mut self) -> String {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let last = err.trim().lines().last().unwrap_or("").trim();
        if last.is_empty() {
            "the peer process failed without a message".into()
        } else {
            last.to_string()
        }
    }

    /// The median and the fastest of `iters` runs (the script answers both, in ns).
    fn time(&mut self, iters: usize) -> Result<Spread, String> {
        let sent = match self.child.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{iters}").and_then(|()| stdin.flush()),
            None => return Err("the peer process has stopped".into()),
        };
        let mut line = String::new();
        if sent.is_err() || self.out.read_line(&mut line).is_err() {
            return Err(self.failure());
        }
        let ns: Result<Vec<Duration>, _> = line
            .split_whitespace()
            .map(|n| n.parse().map(Duration::from_nanos))
            .collect();
        match ns.ok().as_deref().and_then(Spread::of) {
            Some(t) => Ok(t),
            None => Err(self.failure()),
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        // Closing stdin ends the script's loop.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Something timed in each round.
enum Contender<'a> {
    Kiln(usize),
    Peer(&'a mut PeerProcess),
}

fn time_model(
    runner: &Runner,
    spec: &ModelSpec,
    p: &Prepared,
    opts: &Options,
    script: &Path,
    machine: &mut Machine,
) -> ModelReport {
    let model = spec.model.as_ref().expect("prepared models exist");
    let mut procs: Vec<Result<PeerProcess, String>> = Vec::new();
    for &peer in &opts.peers {
        let started = match &p.peer_inputs {
            Ok(inputs) => {
                let log = runner.work_dir.with_file_name(format!(
                    "peer-{}-{}.stderr",
                    spec.name,
                    peer.key()
                ));
                PeerProcess::start(opts, script, peer, model, inputs, log)
            }
            Err(e) => Err(e.clone()),
        };
        procs.push(started.map(|(proc_, version)| {
            machine.peers.insert(peer.name(), version);
            proc_
        }));
    }
    // Results per contender: kiln's builds, then the peers; `Err` once one fails.
    let n_kiln = opts.variants.len();
    let mut results: Vec<Result<Vec<Spread>, String>> = p
        .builds
        .iter()
        .map(|l| l.as_ref().map(|_| Vec::new()).map_err(Clone::clone))
        .collect();
    results.extend(
        procs
            .iter()
            .map(|r| r.as_ref().map(|_| Vec::new()).map_err(Clone::clone)),
    );
    let mut contenders: Vec<Option<Contender>> = p
        .builds
        .iter()
        .map(|l| l.as_ref().ok().map(|&case| Contender::Kiln(case)))
        .collect();
    contenders.extend(
        procs
            .iter_mut()
            .map(|r| r.as_mut().ok().map(Contender::Peer)),
    );
    let measure = |c: &mut Contender, iters: usize| match c {
        Contender::Kiln(case) => runner.time_spread(*case, &p.args, iters),
        Contender::Peer(proc_) => proc_.time(iters),
    };
    // Enough runs for about `round_secs` each, from one short run of each.
    let mut iters = vec![1usize; contenders.len()];
    for (k, c) in contenders.iter_mut().enumerate() {
        let Some(c) = c else { continue };
        match measure(c, 3) {
            Ok(t) => iters[k] = runs_for(opts.round_secs, t.median),
            Err(e) => results[k] = Err(e),
        }
    }
    // Each profiled build runs as often as its timed twin (the first contender's count if
    // it is not timed).
    let profile_iters: Vec<usize> = p
        .profiled
        .iter()
        .map(|(v, _)| {
            let k = opts.variants.iter().position(|u| u == v);
            k.map_or(iters[0], |k| iters[k])
        })
        .collect();
    let mut step_rounds: Vec<Result<Vec<Vec<Spread>>, String>> = p
        .profiled
        .iter()
        .map(|(_, r)| r.as_ref().map(|_| Vec::new()).map_err(Clone::clone))
        .collect();
    for _ in 0..opts.rounds {
        for (k, c) in contenders.iter_mut().enumerate() {
            let (Some(c), Ok(times)) = (c, &mut results[k]) else {
                continue;
            };
            match measure(c, iters[k]) {
                Ok(t) => times.push(t),
                Err(e) => results[k] = Err(e),
            }
        }
        for (k, (_, prof)) in p.profiled.iter().enumerate() {
            let (Ok((case, _)), Ok(rounds)) = (prof, &mut step_rounds[k]) else {
                continue;
            };
            match runner.profile(*case, &p.args, profile_iters[k]) {
                Ok(t) => rounds.push(t),
                Err(e) => step_rounds[k] = Err(e),
            }
        }
    }
    let mut bests: Vec<Option<Duration>> = results
        .iter()
        .map(|r| r.as_ref().ok().and_then(|v| v.iter().map(|t| t.best).min()))
        .collect();
    let peers_best = bests.split_off(n_kiln);
    let mut medians: Vec<Result<Duration, String>> = results
        .into_iter()
        .map(|r| r.map(|v| median(&mut v.iter().map(|t| t.median).collect::<Vec<_>>())))
        .collect();
    let peers = medians.split_off(n_kiln);
    let steps = p
        .profiled
        .iter()
        .zip(step_rounds)
        .map(|((v, prof), rounds)| {
            let steps = match (prof, rounds) {
                (Ok((_, program)), Ok(rounds)) => Ok(step_times(program, &rounds)),
                (_, Err(e)) => Err(e),
                (Err(e), Ok(_)) => Err(e.clone()),
            };
            (*v, steps)
        })
        .collect();
    ModelReport {
        name: spec.name.clone(),
        macs: p.macs,
        kiln: opts.variants.iter().copied().zip(medians).collect(),
        peers: opts.peers.iter().copied().zip(peers).collect(),
        kiln_best: opts.variants.iter().copied().zip(bests).collect(),
        peers_best: opts.peers.iter().copied().zip(peers_best).collect(),
        steps,
        notes: p.notes.clone(),
    }
}

/// Runs that take about `secs`, given one run's time, between 3 and 100,000.
fn runs_for(secs: f64, once: Duration) -> usize {
    ((secs / once.as_secs_f64().max(1e-7)) as usize).clamp(3, 100_000)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Each step's median over rounds (and its fastest time), hottest first, with its share
/// of the total.
fn step_times(program: &Program, rounds: &[Vec<Spread>]) -> Vec<StepTime> {
    let mut steps: Vec<StepTime> = program
        .steps
        .iter()
        .map(|s| {
            let per: Vec<Spread> = rounds
                .iter()
                .filter_map(|r| r.get(s.index))
                .copied()
                .collect();
            let mut t: Vec<Duration> = per.iter().map(|t| t.median).collect();
            StepTime {
                index: s.index,
                kernel: s.kernel_name().to_string(),
                op: s.op.clone(),
                node: s.node.clone(),
                macs: s.macs,
                time: median(&mut t),
                best: per.iter().map(|t| t.best).min().unwrap_or_default(),
                share: 0.0,
            }
        })
        .collect();
    let total: f64 = steps.iter().map(|s| s.time.as_secs_f64()).sum();
    for s in &mut steps {
        s.share = if total > 0.0 {
            s.time.as_secs_f64() / total
        } else {
            0.0
        };
    }
    steps.sort_by(|a, b| b.time.cmp(&a.time).then(a.index.cmp(&b.index)));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_follow_the_flags_and_the_machines_fma_kernels() {
        use Variant::*;
        let (o0, o2) = (OptLevel::O0, OptLevel::O2);
        // No flag: -O0 and -O2, and -O2 --fma where the target has FMA vector kernels
        // (x86-64-v3 and up, AArch64), not on baseline x86-64.
        for t in [Target::X86_64V3, Target::X86_64V4, Target::Aarch64] {
            assert_eq!(
                Variant::select(&[], false, false, t),
                Ok(vec![O0, O2, O2Fma]),
                "{t}"
            );
        }
        assert_eq!(
            Variant::select(&[], false, false, Target::X86_64),
            Ok(vec![O0, O2])
        );
        // -O alone: those levels, no fused build.
        assert_eq!(
            Variant::select(&[o2], false, false, Target::X86_64V4),
            Ok(vec![O2])
        );
        assert_eq!(
            Variant::select(&[o2, o0], false, false, Target::X86_64V4),
            Ok(vec![O0, O2])
        );
        // --fma adds -O2 --fma to the levels given, or to both.
        assert_eq!(
            Variant::select(&[o2], true, false, Target::X86_64V3),
            Ok(vec![O2, O2Fma])
        );
        assert_eq!(
            Variant::select(&[o0], true, false, Target::Aarch64),
            Ok(vec![O0, O2Fma])
        );
        assert_eq!(
            Variant::select(&[], true, false, Target::X86_64V4),
            Ok(vec![O0, O2, O2Fma])
        );
        // Where `kiln compile --fma` is refused, so is `kiln bench --fma`, with the reason:
        // baseline x86-64 has no FMA; a Cortex-M7 has FMA but no vector kernels.
        for t in [
            Target::X86_64,
            Target::Generic,
            Target::Thumbv7em { fpu: true },
        ] {
            let e = Variant::select(&[], true, false, t).unwrap_err();
            assert!(
                e.contains("cannot time -O2 --fma") && e.contains("--fma: target"),
                "{t}: {e}"
            );
        }
        // `--intrinsics` the same way: of these, only x86-64 with AVX2 or AVX-512 has such
        // kernels.
        for t in [Target::X86_64V4, Target::X86_64V3] {
            assert_eq!(
                Variant::select(&[o2], false, true, t),
                Ok(vec![O2, O2Intrinsics])
            );
        }
        for t in [Target::X86_64, Target::Aarch64, Target::Thumbv6m] {
            let e = Variant::select(&[o2], false, true, t).unwrap_err();
            assert!(
                e.contains("cannot time -O2 --intrinsics") && e.contains("--intrinsics"),
                "{t}: {e}"
            );
        }
    }

    #[test]
    fn the_o2_builds_are_profiled() {
        use Variant::*;
        let profiled = |variants: Vec<Variant>| {
            Options {
                variants,
                ..Default::default()
            }
            .profiled()
        };
        assert_eq!(profiled(vec![O0, O2, O2Fma]), [O2, O2Fma]);
        assert_eq!(profiled(vec![O0, O2]), [O2]);
        assert_eq!(profiled(vec![O2Fma]), [O2Fma]);
        // Only -O0 timed: the steps are still the default build's.
        assert_eq!(profiled(vec![O0]), [O2]);
    }
}
