//! The `kiln` command line: compile, inspect and verify ONNX models.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use kiln::codegen::EmitKind;
use kiln::{CompileOptions, harness};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod progress;

#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Compile ONNX models to dependency-free no_std Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Emit {
    /// One `.rs` file to include as a module (`-o` names the file).
    Module,
    /// A complete crate with Cargo.toml and README (`-o` names the directory).
    Crate,
    /// C99: `<name>.h`, `<name>.c` and README.md (`-o` names the directory).
    C,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lang {
    Rust,
    C,
}

#[derive(clap::Args)]
struct ModelArgs {
    /// The ONNX model file.
    model: PathBuf,
    /// Pins the shape of an input with symbolic dimensions, e.g. `x=1x3x48x192`. Repeatable.
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    input_shape: Vec<String>,
    /// Fixes an input to the tensor in a `.pb` file (TensorProto) at compile time, so the
    /// values it decides (a shape, axes, pads, starts...) are folded, e.g.
    /// `shape=test_data_set_0/input_1.pb`. Repeatable.
    #[arg(long = "bind-input", value_name = "NAME=FILE")]
    bind_input: Vec<String>,
    /// Optimisation level: 0 turns every pass, view and in-place write off; 2 (the
    /// default) turns them all on.
    #[arg(short = 'O', value_name = "LEVEL", default_value = "2", value_parser = ["0", "2"])]
    opt: String,
    /// Largest model file accepted: bytes, or with K, M, G (powers of 1024) or KiB, MiB,
    /// GiB, e.g. 512M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = kiln::frontend::DEFAULT_MAX_FILE_BYTES)]
    max_file_bytes: u64,
    /// Largest element count of any one tensor (weights, inputs, activations).
    #[arg(long, value_name = "N", default_value_t = kiln::frontend::DEFAULT_MAX_TENSOR_ELEMENTS)]
    max_tensor_elements: u64,
    /// Most graph nodes accepted, counting subgraphs.
    #[arg(long, value_name = "N", default_value_t = kiln::frontend::DEFAULT_MAX_NODES)]
    max_nodes: usize,
    /// Deepest subgraph nesting accepted (the decoder refuses more than about 30).
    #[arg(long, value_name = "N", default_value_t = kiln::frontend::DEFAULT_MAX_DEPTH)]
    max_depth: usize,
    /// Largest activation arena accepted: set it to the device's RAM budget to fail when the
    /// model does not fit. Bytes, or with K, M, G (powers of 1024, as most firmware tools
    /// read them: 128K is 131072 bytes) or KiB, MiB, GiB; the suffix's case does not matter.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value_t = kiln::DEFAULT_MAX_ARENA_BYTES)]
    max_arena_bytes: u64,
    /// What the generated code may assume: host (the machine kiln runs on), x86_64,
    /// x86_64-v3, x86_64-v4, aarch64, thumbv6m, thumbv7em, thumbv7em+fpu, thumbv8m.main
    /// (+dsp, +fpu), riscv32imc, riscv32imac, generic, or a Rust target triple such as
    /// thumbv7em-none-eabihf.
    #[arg(long, value_name = "NAME", default_value = "host")]
    target: kiln::ir::Target,
    /// The device to compile for: a built-in profile (`kiln devices` lists them, e.g.
    /// stm32f446re, rpi4) or a profile file (FILE.toml). It sets --target, and the
    /// compilation fails when the arena and stack exceed the device's RAM or the weights and
    /// code its flash, saying by how much and what would fit.
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "target")]
    device: Option<String>,
    /// Fuse each multiply-add of the micro-kernels into one instruction (`f32::mul_add`):
    /// faster on x86_64-v3/v4 and aarch64, but the generated code then needs `std` (stable
    /// Rust has `mul_add` in `std` only), so it is off by default and not for `no_std`
    /// firmware.
    #[arg(long)]
    fma: bool,
    /// Use intrinsics where kiln has them (so far x86's AVX-512 VNNI, or AVX2's VPMADDWD,
    /// in the int8 convolutions and Gemms, in code compiled for those instructions, e.g.
    /// with `-C target-cpu=native` on such a machine; and for thumbv7em, Cortex-M4/M7, the DSP
    /// extension's SMLAD in the int8 ones, by inline assembly); elsewhere the same code runs
    /// its portable kernels. The generated code then contains `unsafe` in one module, so it takes
    /// `deny(unsafe_code)` rather than `forbid`; off by default.
    #[arg(long)]
    intrinsics: bool,
    /// Quantize a float model with kiln's own post-training quantization: int8 weights
    /// (per channel, symmetric) and uint8 activations, calibrated on --calibration.
    #[arg(long, value_name = "TYPE", value_parser = ["int8"], requires = "calibration")]
    quantize: Option<String>,
    /// The calibration samples for --quantize: a directory of test_data_set_* folders of
    /// input_<i>.pb (or .npy) files, one such folder, or (one-input models) .npy files.
    #[arg(long, value_name = "DIR")]
    calibration: Option<PathBuf>,
    /// How calibration takes each activation's range: minmax, or percentile[=P] (the
    /// percentile kept at each end; P defaults to 99.999, as does the method).
    #[arg(long, value_name = "METHOD", default_value = "percentile=99.999", value_parser = parse_method, requires = "calibration")]
    calibration_method: kiln::passes::ptq::Method,
    /// A layer whose own quantization error (relative RMS, see `kiln quantize`) passes this
    /// stays float; `off` quantizes every layer kiln can.
    #[arg(long, value_name = "X|off", default_value = "0.1", value_parser = parse_threshold, requires = "calibration")]
    float_threshold: Threshold,
}

/// A `--float-threshold` value (clap needs a type of its own for an optional number).
#[derive(Clone, Copy)]
struct Threshold(Option<f64>);

fn parse_threshold(s: &str) -> Result<Threshold, String> {
    if s == "off" {
        return Ok(Threshold(None));
    }
    match s.parse::<f64>() {
        Ok(x) if x >= 0.0 => Ok(Threshold(Some(x))),
        _ => Err(format!("{s:?}: give a relative error such as 0.1, or off")),
    }
}

fn parse_method(s: &str) -> Result<kiln::passes::ptq::Method, String> {
    use kiln::passes::ptq::Method;
    match s.split_once('=') {
        None if s == "minmax" => Ok(Method::MinMax),
        None if s == "percentile" => Ok(kiln::passes::ptq::DEFAULT_METHOD),
        Some(("percentile", p)) => match p.parse::<f64>() {
            Ok(p) if (50.0..=100.0).contains(&p) => Ok(Method::Percentile(p)),
            _ => Err(format!(
                "percentile={p}: give a percentile from 50 to 100, e.g. 99.99"
            )),
        },
        _ => Err(format!("{s:?}: use minmax, percentile or percentile=P")),
    }
}

/// A size flag's value: see [`kiln::parse_bytes`].
fn parse_size(s: &str) -> Result<u64, String> {
    kiln::parse_bytes(s).map_err(|e| e.to_string())
}

impl ModelArgs {
    fn options(&self) -> Result<CompileOptions> {
        if self.calibration.is_some() && self.quantize.is_none() {
            bail!(
                "--calibration DIR goes with --quantize int8 (or `kiln quantize`, which reports the accuracy)"
            );
        }
        let mut opts = CompileOptions {
            limits: kiln::Limits {
                file_bytes: self.max_file_bytes,
                tensor_elements: self.max_tensor_elements,
                nodes: self.max_nodes,
                depth: self.max_depth,
                arena_bytes: self.max_arena_bytes,
            },
            opt_level: if self.opt == "0" {
                kiln::passes::OptLevel::O0
            } else {
                kiln::passes::OptLevel::O2
            },
            target: self.target,
            fma: self.fma,
            intrinsics: self.intrinsics,
            quantize: self
                .calibration
                .as_ref()
                .filter(|_| self.quantize.is_some())
                .map(|dir| kiln::Quantize {
                    calibration: dir.clone(),
                    options: kiln::passes::ptq::PtqOptions {
                        method: self.calibration_method,
                        float_threshold: self.float_threshold.0,
                    },
                }),
            ..Default::default()
        };
        if let Some(d) = &self.device {
            let device = kiln::Device::find(d)?;
            opts.target = device.target;
            opts.device = Some(device);
        }
        for s in &self.input_shape {
            let (name, dims) = kiln::parse_input_shape(s)?;
            opts.input_shapes.insert(name, dims);
        }
        for s in &self.bind_input {
            let (name, file) = s.split_once('=').ok_or_else(|| {
                kiln::Error::Usage(format!(
                    "--bind-input {s:?}: write NAME=FILE.pb, e.g. shape=input_1.pb"
                ))
            })?;
            let t = kiln::read_tensor_file(Path::new(file))?;
            opts.bound_inputs
                .insert(name.to_string(), (t, file.to_string()));
        }
        Ok(opts)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile a model to Rust source.
    Compile {
        #[command(flatten)]
        model: ModelArgs,
        /// Output file (module) or directory (crate).
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "module")]
        emit: Emit,
        /// The model's name: `MODEL_NAME` in the generated code and, with `--emit crate`, the
        /// crate's name (default: the model file's stem).
        #[arg(long)]
        name: Option<String>,
        /// Print each stage's and each pass's time and what each pass changed.
        #[arg(long)]
        timings: bool,
    },
    /// Print the per-node table, parameter and MAC counts, and the memory plan.
    Inspect {
        #[command(flatten)]
        model: ModelArgs,
        /// Print the IR as text instead.
        #[arg(long, conflicts_with_all = ["plan", "json", "svg"])]
        ir: bool,
        /// Also list every buffer of the memory plan.
        #[arg(long, conflicts_with = "json")]
        plan: bool,
        /// Print the report as JSON instead: totals, pools, nodes and every buffer.
        #[arg(long)]
        json: bool,
        /// Also write an SVG picture of the arena over time to FILE.
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
        /// Print the kernel program instead: per step the kernel, layout, the ONNX nodes
        /// merged into it, its epilogue, each operand's region and the MACs.
        #[arg(long, conflicts_with_all = ["ir", "plan", "json"])]
        kernels: bool,
    },
    /// Compile, build and run the generated code on a test data set and compare with the
    /// expected outputs (ONNX `test_data_set_*` layout: input_<i>.pb, output_<i>.pb).
    Verify {
        #[command(flatten)]
        model: ModelArgs,
        /// Test data directory (default: `test_data_set_0` next to the model).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Relative tolerance (numpy allclose).
        #[arg(long, default_value_t = 1e-4)]
        rtol: f64,
        /// Absolute tolerance (numpy allclose).
        #[arg(long, default_value_t = 1e-6)]
        atol: f64,
        /// Also write the generated code's outputs to this directory as `output_<i>.pb`
        /// (TensorProto, like the test data), to compare them with another evaluation.
        #[arg(long, value_name = "DIR")]
        save_outputs: Option<PathBuf>,
        /// With --device: build in DIR and keep it (the program, its sources and linker
        /// script; reruns are incremental) instead of a temporary directory.
        #[arg(long, value_name = "DIR", requires = "device")]
        work_dir: Option<PathBuf>,
        /// With --device: the generated code to run, Rust (built with the profile's rustup
        /// target) or C (built with the profile's cross gcc, -std=c99 -Wall -Wextra -Werror
        /// -pedantic).
        #[arg(long, value_enum, default_value = "rust", requires = "device")]
        lang: Lang,
    },
    /// Quantize a float model with kiln's own post-training quantization and report its
    /// accuracy: per output cosine, max error and top-1 agreement with the float model on
    /// a data set; per layer the error it adds. Takes --calibration (and the options of
    /// --quantize); `kiln compile --quantize int8` builds what this measures.
    Quantize {
        #[command(flatten)]
        model: ModelArgs,
        /// The samples to measure on, in --calibration's layouts (default: the calibration
        /// samples themselves).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// List the built-in device profiles (`--device NAME`) with their facts: core, target,
    /// RAM and flash budgets, features and the emulator `kiln verify --device` uses.
    Devices,
    /// Time the generated code (built for this machine) against onnxruntime and tract in
    /// one run, single thread, same inputs, in alternation; profile its hottest steps.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The ONNX model (or --corpus).
    #[arg(required_unless_present = "corpus", conflicts_with_all = ["corpus"])]
    model: Option<PathBuf>,
    /// Test data directory (input_<i>.pb; default: test_data_set_0 beside the model, or the
    /// corpus layout's inputs/<name>/test_data_set_0); without one, made-up f32 inputs.
    #[arg(long, conflicts_with = "corpus")]
    data: Option<PathBuf>,
    /// Time the corpus's seven fp32 models: DIR/models/<name>.onnx with
    /// DIR/inputs/<name>/test_data_set_0 (default: this repository's tests/data).
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    corpus: Option<Option<PathBuf>>,
    /// With --corpus: also time each model's int8 QDQ form (models/<name>.int8.qdq.onnx,
    /// where present) on the same inputs, in the same run.
    #[arg(long, requires = "corpus")]
    int8: bool,
    /// Also write the report (Markdown) to FILE, e.g. docs/benchmarks.md.
    #[arg(long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Rounds of alternation (the report gives the median).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Seconds each contender runs per round.
    #[arg(long, value_name = "SECS", default_value_t = 0.2)]
    round_time: f64,
    /// Levels to time kiln's code at (repeat: -O0 -O2). Without -O or --fma: -O0, -O2 and,
    /// on a machine with fused multiply-add vector kernels, -O2 --fma.
    #[arg(short = 'O', value_name = "LEVEL", value_parser = ["0", "2"])]
    opt: Vec<String>,
    /// Also time -O2 --fma: the fused multiply-add kernels, whose code needs std (an error
    /// on a machine without them).
    #[arg(long)]
    fma: bool,
    /// Also time -O2 --intrinsics: the same program with `core::arch` intrinsics where
    /// kiln has them (AVX-512 VNNI or AVX2 in the int8 quad kernels).
    #[arg(long)]
    intrinsics: bool,
    /// Peers to time, comma-separated (ort, tract), or none.
    #[arg(long, value_delimiter = ',', default_value = "ort,tract", value_parser = ["ort", "tract", "none"])]
    peers: Vec<String>,
    /// Where the runner crate and its build go (reruns are incremental).
    #[arg(long, value_name = "DIR", default_value = "target/kiln-bench")]
    work_dir: PathBuf,
}

/// `print!` that ends the process quietly when stdout is closed (`kiln inspect | head`)
/// instead of panicking, as Unix tools do.
macro_rules! out {
    ($($arg:tt)*) => {
        write_stdout(&format!($($arg)*))
    };
}

/// `println!`, ending quietly on a closed stdout like [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => {
        write_stdout(&format!("{}\n", format!($($arg)*)))
    };
}

fn write_stdout(s: &str) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(s.as_bytes()).and_then(|()| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {}", message(&e));
        std::process::exit(1);
    }
}

/// The error and its causes, like `{:#}`, but without a cause the message already quotes
/// (kiln's errors name their I/O cause themselves).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Compile {
            model,
            output,
            emit,
            name,
            timings,
        } => {
            let mut opts = model.options()?;
            opts.crate_name = name;
            let kind = match emit {
                Emit::Module => EmitKind::Module,
                Emit::Crate => EmitKind::Crate,
                Emit::C => EmitKind::C,
            };
            if kind == EmitKind::Module {
                opts.weights_file = Some(kiln::weights_file_for(&output));
            }
            let t = Instant::now();
            // On a terminal, a compile that takes more than a second says what it is doing.
            let progress = progress::Progress::on_stderr(file_name(&model.model));
            progress.stage("load");
            let (mut graph, sha) = kiln::load(&model.model, &opts)?;
            let load_time = t.elapsed();
            let q = Instant::now();
            progress.stage("calibrate+quantize");
            let quantization = kiln::quantize_graph(&mut graph, &opts)?;
            let quantize_time = q.elapsed();
            let p = Instant::now();
            progress.stage("optimise+plan");
            let planned = kiln::plan_as(graph, &opts, kind)?;
            let plan_time = p.elapsed();
            let e = Instant::now();
            progress.stage("lower+print (emit)");
            let compiled = kiln::emit_planned(planned, &file_name(&model.model), sha, kind, &opts)?;
            let emit_time = e.elapsed();
            let w = Instant::now();
            progress.stage("write");
            kiln::write_output(&compiled.generated, kind, &output)?;
            let write_time = w.elapsed();
            drop(progress);
            if timings {
                eprintln!("kiln: {:<22} {:>10}", "stage", "time");
                for (stage, time) in [
                    ("load", load_time),
                    ("calibrate+quantize", quantize_time),
                    ("optimise+plan", plan_time),
                    ("lower+print (emit)", emit_time),
                    ("write", write_time),
                    ("total", t.elapsed()),
                ] {
                    eprintln!("kiln: {stage:<22} {time:>10.2?}");
                }
                eprintln!(
                    "kiln: {:<22} {:>10} {:>6}  changes",
                    "pass (in optimise+plan)", "time", "nodes"
                );
                for p in &compiled.passes {
                    eprintln!(
                        "kiln: {:<22} {:>10.2?} {:>6}  {}",
                        p.name,
                        p.elapsed,
                        p.nodes_after,
                        p.changes.len()
                    );
                    for c in &p.changes {
                        eprintln!("kiln:     {c}");
                    }
                }
            }
            if let Some(r) = &quantization {
                eprintln!("kiln: {}", kiln::quantization::summary(r));
            }
            eprintln!(
                "kiln: wrote {}{} ({} nodes, {} after optimisation; arena {} B, lower bound {} B) in {:.2?}",
                output.display(),
                match (&compiled.generated.weights, kind) {
                    (Some(w), EmitKind::Module) => format!(
                        " and its weights {}",
                        output.with_file_name(&w.path).display()
                    ),
                    _ => String::new(),
                },
                compiled.nodes_before,
                compiled.graph.node_count(),
                compiled.plan.arena_bytes(),
                compiled.plan.lower_bound_bytes(),
                t.elapsed()
            );
            if let (Some(d), Some(fit)) = (&opts.device, &compiled.device_fit) {
                eprintln!("kiln: {}", d.usage(fit));
            }
        }
        Cmd::Inspect {
            model,
            ir,
            plan,
            json,
            svg,
            kernels,
        } => {
            let opts = model.options()?;
            let (mut graph, _) = kiln::load(&model.model, &opts)?;
            kiln::quantize_graph(&mut graph, &opts)?;
            // The report describes what `compile` with the same options would build: the
            // two halves of `kiln::passes::compile`.
            let popts = opts.passes_options();
            let optimized =
                kiln::passes::compile::optimize(graph, &popts).map_err(kiln::Error::from)?;
            if ir {
                out!("{}", optimized.graph.graph().dump());
                return Ok(());
            }
            let planned =
                kiln::passes::compile::plan(optimized, &popts).map_err(kiln::Error::from)?;
            let choice = opts.kernels(planned.target)?;
            let program = kiln::codegen::lower(
                &planned.verified(),
                &planned.plan,
                planned.target,
                choice,
                false,
            )?;
            let model_file = file_name(&model.model);
            let ins = kiln::report::Inspection {
                model_file: &model_file,
                graph: planned.graph(),
                plan: &planned.plan,
                program: &program,
                nodes_as_imported: planned.nodes_before,
            };
            if let Some(path) = &svg {
                write_atomically(path, kiln::report::plan_svg(&ins).as_bytes())?;
            }
            if kernels {
                out!("{}", kiln::report::kernels_text(&program));
                return Ok(());
            }
            if json {
                let report = kiln::report::report_json(&ins);
                outln!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            out!("{}", kiln::report::inspect_text(&ins));
            if plan {
                out!("\n{}", kiln::report::plan_text(ins.graph, ins.plan));
            }
        }
        Cmd::Verify {
            model,
            data,
            rtol,
            atol,
            save_outputs,
            work_dir,
            lang,
        } => verify(
            &model,
            data,
            rtol,
            atol,
            save_outputs.as_deref(),
            work_dir.as_deref(),
            lang,
        )?,
        Cmd::Quantize { mut model, data } => {
            let Some(calibration) = model.calibration.clone() else {
                bail!("kiln quantize needs --calibration DIR (sample inputs to calibrate on)");
            };
            model.quantize = Some("int8".into());
            let opts = model.options()?;
            let (graph, _) = kiln::load(&model.model, &opts)?;
            let progress = progress::Progress::on_stderr(file_name(&model.model));
            progress.stage("calibrate, quantize and compare");
            let data = data.as_deref().unwrap_or(&calibration);
            let acc = kiln::quantization::accuracy(graph, &opts, data)?;
            drop(progress);
            out!(
                "{}",
                kiln::quantization::accuracy_text(&acc, model.float_threshold.0)
            );
        }
        Cmd::Devices => {
            for d in kiln::device::builtins() {
                out!("{}", d.describe());
            }
            outln!(
                "A profile file (--device FILE.toml) describes another board; see `kiln::Device::from_toml`'s docs for its fields."
            );
        }
        Cmd::Bench(args) => bench(args)?,
    }
    Ok(())
}

/// A frontend error about `model`, naming the file when it is not an ONNX model.
fn about_file(model: &Path, e: kiln::frontend::FrontendError) -> anyhow::Error {
    kiln::model_file_error(model, e).into()
}

fn file_name(model: &Path) -> String {
    model
        .file_name()
        .map_or_else(|| "model.onnx".into(), |f| f.to_string_lossy().into_owned())
}

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed into
/// place: no half-written file is left behind. The file gets the mode a new file gets.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".kiln-tmp-");
    // A temporary file is private (0600); the result is an ordinary file, readable as one
    // made by `File::create` is (0644 under the usual umask 022).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn verify(
    model: &ModelArgs,
    data: Option<PathBuf>,
    rtol: f64,
    atol: f64,
    save_outputs: Option<&Path>,
    work_dir: Option<&Path>,
    lang: Lang,
) -> Result<()> {
    let opts = model.options()?;
    let kind = match lang {
        Lang::Rust => EmitKind::Module,
        Lang::C => EmitKind::C,
    };
    let data = match data {
        Some(d) => d,
        None => model
            .model
            .parent()
            .unwrap_or(Path::new("."))
            .join("test_data_set_0"),
    };
    let (inputs, expected) = harness::read_test_set(&data)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("reading {}", data.display()))?;
    if expected.is_empty() {
        bail!(
            "{} has no output_<i>.pb files to compare with",
            data.display()
        );
    }
    let bytes = kiln::frontend::read_model_file(&model.model, opts.limits.file_bytes)
        .map_err(|e| about_file(&model.model, e))?;
    let sig = kiln::frontend::model_signature(&bytes).map_err(|e| about_file(&model.model, e))?;
    let symbolic = harness::symbolic_inputs(&bytes).map_err(anyhow::Error::msg)?;
    let input_file = |k: usize| data.join(format!("input_{k}.pb")).display().to_string();
    // Inputs the user left symbolic take their shape from the data.
    let mut opts = opts;
    let mut pinned = Vec::new();
    for (k, ((name, _), t)) in sig.runtime_inputs.iter().zip(&inputs).enumerate() {
        // An empty tensor cannot be an argument: it is bound below instead.
        if symbolic.contains(name)
            && t.numel() > 0
            && !opts.input_shapes.contains_key(name)
            && !opts.bound_inputs.contains_key(name)
        {
            opts.input_shapes.insert(name.clone(), t.shape.clone());
            pinned.push((k, name.clone()));
        }
    }
    let t = Instant::now();
    let mut compiled = kiln::compile(&model.model, kind, &opts);
    // Values that decide shapes must be known at compile time: bind them from the data.
    let given = opts.bound_inputs.clone();
    for stage in harness::BindStage::ALL {
        let Err(e) = &compiled else { break };
        if !harness::needs_binding(&e.to_string()) {
            break;
        }
        let mut bound = harness::bind_shape_inputs(&sig, &inputs, stage, input_file);
        bound.extend(given.clone());
        if bound.len() > opts.bound_inputs.len() {
            for name in bound.keys() {
                if pinned.iter().any(|(_, n)| n == name) {
                    opts.input_shapes.remove(name);
                }
            }
            opts.bound_inputs = bound;
            compiled = kiln::compile(&model.model, kind, &opts);
        }
    }
    let compiled = compiled?;
    for (k, name) in &pinned {
        if let Some(dims) = opts.input_shapes.get(name) {
            let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            eprintln!(
                "kiln: pinned input {name:?} to {} from {} (as --input-shape {name}={} would)",
                dims.join("x"),
                input_file(*k),
                dims.join("x")
            );
        }
    }
    for (name, (_, from)) in &opts.bound_inputs {
        if !given.contains_key(name) {
            eprintln!(
                "kiln: bound input {name:?} to {from} at compile time (kiln needs its value; \
                 as --bind-input would); it is not fed at run time"
            );
        }
    }
    // Bound inputs are constants now, no longer arguments of the generated code.
    let inputs = harness::runtime_args(&compiled.graph, &sig, &inputs);
    eprintln!(
        "kiln: compiled in {:.2?}; building the generated code…",
        t.elapsed()
    );
    let work = tempfile::tempdir()?;
    let t = Instant::now();
    let signature = &compiled.generated.signature;
    let (actual, on_device) = match &opts.device {
        Some(device) if device.emulator != Some(kiln::device::Emulator::Native) => {
            let dir = work_dir.unwrap_or(work.path());
            let run = kiln::cross::run(device, &compiled.generated, &inputs, dir)
                .map_err(anyhow::Error::msg)?;
            eprintln!(
                "kiln: built and ran on {} in {:.2?}",
                device.emulator.as_ref().map_or("?", |e| e.name()),
                t.elapsed()
            );
            (run.outputs.clone(), Some(run))
        }
        _ => {
            let target = work.path().join("target");
            let runner = harness::build_runner(
                &[harness::Case {
                    generated: &compiled.generated,
                }],
                work.path(),
                &target,
                harness::Profile::Release,
            )
            .map_err(anyhow::Error::msg)?;
            eprintln!("kiln: built in {:.2?}; running", t.elapsed());
            (runner.run(0, &inputs).map_err(anyhow::Error::msg)?, None)
        }
    };
    if let Some(dir) = save_outputs {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (k, a) in actual.iter().enumerate() {
            let name = &signature.outputs[k].model_name;
            let path = dir.join(format!("output_{k}.pb"));
            write_atomically(&path, &kiln::frontend::encode_tensor_pb(name, a))?;
        }
        eprintln!("kiln: wrote {} outputs to {}", actual.len(), dir.display());
    }
    let mut all_ok = true;
    for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let c = harness::compare(a, e, rtol, atol);
        let name = &signature.outputs[k].model_name;
        outln!(
            "output {k} {name:?}: max abs error {:.3e}, max rel error {:.3e} — {}{}",
            c.max_abs,
            c.max_rel,
            if c.ok { "ok" } else { "MISMATCH" },
            c.note.map(|n| format!(" ({n})")).unwrap_or_default()
        );
        all_ok &= c.ok;
    }
    if let (Some(run), Some(device)) = (&on_device, &opts.device) {
        out!(
            "{}",
            kiln::cross::report(
                device,
                run,
                kiln::report::node_rows(&compiled.graph, &compiled.plan)
                    .iter()
                    .map(|r| r.macs)
                    .sum()
            )
        );
    }
    if !all_ok {
        bail!("the generated code does not match the expected outputs (rtol {rtol}, atol {atol})");
    }
    Ok(())
}

fn bench(args: BenchArgs) -> Result<()> {
    use kiln::bench::{self, Peer};
    let mut opts = bench::Options {
        rounds: args.rounds,
        round_secs: args.round_time,
        work_dir: args.work_dir,
        ..Default::default()
    };
    let levels: Vec<kiln::passes::OptLevel> = [
        ("0", kiln::passes::OptLevel::O0),
        ("2", kiln::passes::OptLevel::O2),
    ]
    .into_iter()
    .filter(|(k, _)| args.opt.iter().any(|o| o == k))
    .map(|(_, l)| l)
    .collect();
    opts.variants =
        bench::Variant::select(&levels, args.fma, args.intrinsics, kiln::ir::Target::Host)
            .map_err(anyhow::Error::msg)?;
    opts.peers = [("ort", Peer::Ort), ("tract", Peer::Tract)]
        .into_iter()
        .filter(|(k, _)| args.peers.iter().any(|p| p == k))
        .map(|(_, p)| p)
        .collect();
    let models = match (&args.corpus, &args.model) {
        (Some(dir), _) => bench::corpus(dir.as_deref(), args.int8),
        (None, Some(m)) => vec![bench::ModelSpec::new(m, args.data.clone())],
        (None, None) => bail!("give a model or --corpus"),
    };
    // The report names the command that made it.
    let command: Vec<String> = std::iter::once("kiln".to_string())
        .chain(std::env::args().skip(1))
        .collect();
    let command = command.join(" ");
    let report = bench::run(&models, &opts).map_err(anyhow::Error::msg)?;
    // One model that cannot run is an error; over the corpus, a row says it.
    if let (None, [one]) = (&args.corpus, &report.models[..])
        && let Some(e) = one.failure()
    {
        bail!("{}: {e}", one.name);
    }
    let text = report.markdown(&command);
    out!("{text}");
    if let Some(path) = &args.write {
        write_atomically(path, text.as_bytes())?;
        eprintln!("kiln: wrote {}", path.display());
    }
    Ok(())
}
