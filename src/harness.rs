//! Building and running generated code against test vectors: the engine of `kiln verify`,
//! the corpus end-to-end tests and the ONNX conformance suite.
//!
//! Compiling generated code is the slow part, so many models go into one runner crate (one
//! module each) and one `cargo build`; the runner binary then runs one model per process, so
//! a crash in one case does not hide the others. Tensors cross the process boundary as raw
//! little-endian files.

use kiln_codegen::{Generated, Signature};
use kiln_ir::{DType, Tensor, TensorData};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One model to put in a runner crate.
pub struct Case<'a> {
    pub generated: &'a Generated,
}

/// How the runner crate is optimised: `Fast` builds quickly (conformance, many tiny models);
/// `Release` is what users ship (corpus models); `Native` is what a user building on this
/// machine gets (cargo's default release profile with `-C target-cpu=native`), for
/// benchmarks: its runner also measures the machine's peaks ([`Runner::peak_gflops`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Fast,
    Release,
    Native,
    /// As [`Profile::Release`] with `-C target-feature=+avx2,+fma` on x86-64: the code a
    /// machine with AVX2 but not AVX-512 runs, on any AVX2 machine (its `--intrinsics`
    /// tiles are tested there even where `target-cpu=native` would take AVX-512's).
    X86Avx2,
}

/// The rustflags of [`Profile::Native`]: `-C target-cpu=native`; on an x86-64 machine
/// with AVX-512 `-C target-feature=-prefer-256-bit`; and where the machine has fused
/// multiply-add units ([`native_contracts`]) `-C llvm-args=-fp-contract=fast`.
///
/// LLVM's tuning for Intel's AVX-512 cores (not AMD's) limits its vectorisers to 256-bit
/// vectors, so the kernels' 16-lane arrays became pairs of 256-bit operations: measured on
/// a Xeon, MobileNet v1 ran 20% and ResNet-8 13% faster without that limit. (rustc warns
/// that the feature is unknown to it and passes it on to LLVM; on a core without the
/// tuning it changes nothing.)
///
/// `-fp-contract=fast` lets LLVM fuse each `c + a * b` the `no_std` code writes into one
/// fused multiply-add, as C compilers do with `-ffp-contract=fast`: stable `core` has no
/// `mul_add`, so this build flag is how safe `no_std` Rust reaches the FMA units. Measured
/// on a Xeon (AVX-512), `-O2` ResNet-8 ran 22% and MobileNet v1 16% faster.
pub fn native_rustflags() -> Vec<&'static str> {
    let mut flags = vec!["-C", "target-cpu=native"];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        flags.extend(["-C", "target-feature=-prefer-256-bit"]);
    }
    if native_contracts() {
        flags.extend(["-C", "llvm-args=-fp-contract=fast"]);
    }
    flags
}

/// Whether [`Profile::Native`] builds contract multiplies and adds into fused
/// multiply-adds: where this machine has FMA units (x86-64 with FMA; every AArch64 core).
pub fn native_contracts() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("fma");
    #[cfg(target_arch = "aarch64")]
    return true;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    return false;
}

/// A built runner binary.
pub struct Runner {
    pub binary: PathBuf,
    pub signatures: Vec<Signature>,
    pub work_dir: PathBuf,
    /// Per case, the steps `run_profiled` reports when it was generated with the step hook.
    pub profiled_steps: Vec<Option<usize>>,
    /// Whether the runner has the peak kernels ([`Profile::Native`]).
    pub has_peak: bool,
    /// The emulator command that runs the binary (empty: it runs here).
    pub wrapper: Vec<String>,
}

/// The Rust element type a runner holds a port in. The IR's short names are the Rust
/// element types, except for the 16-bit floats, which the generated code takes and returns
/// as their bits.
pub(crate) fn elem_type(d: DType) -> &'static str {
    match d {
        DType::F16 | DType::BF16 => "u16",
        _ => d.name(),
    }
}

const RUNNER_PRELUDE: &str = r#"use std::path::Path;

// A runner whose models take no inputs reads no files.
#[allow(dead_code)]
trait Elem: Copy {
    const SIZE: usize;
    fn zero() -> Self;
    fn from_le(b: &[u8]) -> Self;
    fn put_le(self, out: &mut Vec<u8>);
}
macro_rules! num_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn zero() -> Self { 0 as $t }
            fn from_le(b: &[u8]) -> Self { <$t>::from_le_bytes(b.try_into().expect("element bytes")) }
            fn put_le(self, out: &mut Vec<u8>) { out.extend_from_slice(&self.to_le_bytes()) }
        }
    )*};
}
num_elem!(f32, f64, i8, i16, i32, i64, u8, u16, u32, u64);
impl Elem for bool {
    const SIZE: usize = 1;
    fn zero() -> Self { false }
    fn from_le(b: &[u8]) -> Self { b[0] != 0 }
    fn put_le(self, out: &mut Vec<u8>) { out.push(self as u8) }
}

#[allow(dead_code)]
fn read<T: Elem, const N: usize>(dir: &Path, i: usize) -> Box<[T; N]> {
    let p = dir.join(format!("input_{i}.bin"));
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(bytes.len(), N * T::SIZE, "{}: wrong size", p.display());
    let v: Vec<T> = bytes.chunks_exact(T::SIZE).map(T::from_le).collect();
    v.into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!())
}

fn zeroed<T: Elem, const N: usize>() -> Box<[T; N]> {
    vec![T::zero(); N].into_boxed_slice().try_into().unwrap_or_else(|_| unreachable!())
}

fn write<T: Elem>(dir: &Path, i: usize, data: &[T]) {
    let mut out = Vec::with_capacity(data.len() * T::SIZE);
    for &x in data {
        x.put_le(&mut out);
    }
    let p = dir.join(format!("output_{i}.bin"));
    std::fs::write(&p, out).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
}
"#;

/// The arithmetic of a peak kernel ([`Runner::peak_gflops`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeakKernel {
    /// A multiply, then an add, as the default (`no_std`) generated code writes them: two
    /// instructions, unless the build contracts them into one ([`native_contracts`]).
    MulAdd,
    /// `f32::mul_add`, one fused instruction on FMA units: what `--fma` code does.
    Fused,
}

impl PeakKernel {
    /// The runner's argument that runs it.
    fn arg(self) -> &'static str {
        match self {
            PeakKernel::MulAdd => "peak",
            PeakKernel::Fused => "peak-fma",
        }
    }
}

/// The runner's peak kernels (`runner peak` and `runner peak-fma` print GFLOP/s): 16
/// independent chains of `a = a * x + y` over 16 lanes, enough to hide the latency of a
/// multiply then an add (or of a fused multiply-add) on the widest vector units, with a
/// separate multiply and add (`madd`) or `f32::mul_add` (`fmadd`). The chains are
/// separate named variables: LLVM vectorises those well but not chains kept in an array
/// indexed in a loop (on AVX2 without AVX-512 they are [`AVX2_CHAINS`]). Both count a
/// multiply-add as two flops, as GFLOP/s of a model counts a MAC.
fn peak_source() -> String {
    const CHAINS: usize = 16;
    let mut s = format!(
        "\n/// Lanes summed over all chains: {CHAINS} chains of 16 lanes.\n\
         #[cfg(not(all(target_arch = \"x86_64\", target_feature = \"fma\", not(target_feature = \"avx512f\"))))]\n\
         const CHAIN_LANES: usize = {CHAINS} * 16;\n"
    );
    s.push_str(
        "\n#[allow(dead_code)]\n#[inline(always)]\nfn madd(a: [f32; 16], x: [f32; 16], y: [f32; 16]) -> [f32; 16] {\n    \
         core::array::from_fn(|j| a[j] * x[j] + y[j])\n}\n\n\
         #[allow(dead_code)]\n#[inline(always)]\nfn fmadd(a: [f32; 16], x: [f32; 16], y: [f32; 16]) -> [f32; 16] {\n    \
         core::array::from_fn(|j| a[j].mul_add(x[j], y[j]))\n}\n",
    );
    for op in ["madd", "fmadd"] {
        let _ = writeln!(
            s,
            "\n#[cfg(not(all(target_arch = \"x86_64\", target_feature = \"fma\", not(target_feature = \"avx512f\"))))]\n\
             #[inline(never)]\nfn chains_{op}(n: u64, x: [f32; 16], y: [f32; 16]) -> f32 {{"
        );
        for c in 0..CHAINS {
            // Distinct starting values, so no two chains are the same computation.
            let _ = writeln!(s, "    let mut a{c} = [{}.0f32 / 16.0; 16];", c + 1);
        }
        s.push_str("    for _ in 0..n {\n");
        for c in 0..CHAINS {
            let _ = writeln!(s, "        a{c} = {op}(a{c}, x, y);");
        }
        s.push_str("    }\n    let mut sum = 0.0f32;\n    for j in 0..16 {\n        sum += 0.0");
        for c in 0..CHAINS {
            let _ = write!(s, " + a{c}[j]");
        }
        s.push_str(";\n    }\n    sum\n}\n");
    }
    s.push_str(AVX2_CHAINS);
    let _ = write!(
        s,
        "\n/// The best of a few ~50 ms runs of `chains`, in GFLOP/s (a multiply-add counts two).\n\
         fn peak(chains: fn(u64, [f32; 16], [f32; 16]) -> f32) {{\n    \
         let flops_per_iter = (CHAIN_LANES * 2) as f64;\n    \
         let (x, y) = (std::hint::black_box([0.9999f32; 16]), std::hint::black_box([1e-3f32; 16]));\n    \
         let mut n: u64 = 1 << 12;\n    \
         loop {{\n        \
         let t = std::time::Instant::now();\n        \
         std::hint::black_box(chains(std::hint::black_box(n), x, y));\n        \
         if t.elapsed().as_secs_f64() > 0.05 || n > 1 << 40 {{ break; }}\n        \
         n *= 2;\n    }}\n    \
         let mut best = 0.0f64;\n    \
         for _ in 0..5 {{\n        \
         let t = std::time::Instant::now();\n        \
         std::hint::black_box(chains(std::hint::black_box(n), x, y));\n        \
         best = best.max(flops_per_iter * n as f64 / t.elapsed().as_secs_f64() / 1e9);\n    }}\n    \
         println!(\"{{best}}\");\n}}\n"
    );
    s
}

/// The peak kernels on x86 with AVX2 and FMA but not AVX-512: there the portable chains
/// need 32 of the 16 vector registers and LLVM's vectorisers spill them (a third of the
/// peak measured), so the chains are `core::arch` vectors, 12 of 8 lanes (enough for two
/// FMA pipes of latency 4 to 5). `madd` is a multiply then an add, which the build's
/// `-fp-contract=fast` fuses as it does the generated code's.
const AVX2_CHAINS: &str = "
#[cfg(all(target_arch = \"x86_64\", target_feature = \"fma\", not(target_feature = \"avx512f\")))]
const CHAIN_LANES: usize = 12 * 8;

#[cfg(all(target_arch = \"x86_64\", target_feature = \"fma\", not(target_feature = \"avx512f\")))]
#[inline(never)]
fn chains_madd(n: u64, x: [f32; 16], y: [f32; 16]) -> f32 {
    avx2_chains(n, x[0], y[0], false)
}

#[cfg(all(target_arch = \"x86_64\", target_feature = \"fma\", not(target_feature = \"avx512f\")))]
#[inline(never)]
fn chains_fmadd(n: u64, x: [f32; 16], y: [f32; 16]) -> f32 {
    avx2_chains(n, x[0], y[0], true)
}

#[cfg(all(target_arch = \"x86_64\", target_feature = \"fma\", not(target_feature = \"avx512f\")))]
#[allow(unsafe_code)]
#[inline(always)]
fn avx2_chains(n: u64, x: f32, y: f32, fused: bool) -> f32 {
    use core::arch::x86_64::*;
    // SAFETY: compiled only where the build's target features include AVX2 and FMA.
    unsafe {
        let (x, y) = (_mm256_set1_ps(x), _mm256_set1_ps(y));
        let mut a = [_mm256_setzero_ps(); 12];
        for (c, v) in a.iter_mut().enumerate() {
            *v = _mm256_set1_ps((c + 1) as f32 / 16.0);
        }
        for _ in 0..n {
            for v in a.iter_mut() {
                *v = if fused { _mm256_fmadd_ps(*v, x, y) } else { _mm256_add_ps(_mm256_mul_ps(*v, x), y) };
            }
        }
        let mut s = _mm256_setzero_ps();
        for v in a {
            s = _mm256_add_ps(s, v);
        }
        let mut out = [0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), s);
        out.iter().sum()
    }
}
";

/// The profile mode of a case generated with the step hook: `KILN_BENCH_PROFILE=N` runs
/// `run_profiled` N times and writes each step's median and fastest time (ns), one line
/// per step. Each
/// step's vector is allocated up front, so no push reallocates between clock reads.
fn profile_source(module: &str, ins: &str, outs: &str) -> String {
    format!(
        "    if let Some(n) = std::env::var(\"KILN_BENCH_PROFILE\").ok().and_then(|v| v.parse::<usize>().ok()) {{\n        \
         let mut per: Vec<Vec<u64>> = (0..{module}::STEPS).map(|_| Vec::with_capacity(n.max(1))).collect();\n        \
         for _ in 0..n.max(1) {{\n            \
         let mut last = std::time::Instant::now();\n            \
         {module}::run_profiled(&{module}::Inputs {{ {ins} }}, &mut {module}::Outputs {{ {outs} }}, &mut arena, &mut |s| {{\n                \
         let now = std::time::Instant::now();\n                \
         per[s].push((now - last).as_nanos() as u64);\n                \
         last = now;\n            }});\n        }}\n        \
         let mut text = String::new();\n        \
         for mut v in per {{\n            \
         v.sort_unstable();\n            \
         text.push_str(&format!(\"{{}} {{}}\\n\", v.get(v.len() / 2).copied().unwrap_or(0), v.first().copied().unwrap_or(0)));\n        }}\n        \
         std::fs::write(dir.join(\"steps_ns.txt\"), text).expect(\"write profile\");\n    }}\n"
    )
}

/// The runner's `main.rs`: one `case_<i>` function per model, dispatched on argv[1] (or
/// `peak` and `peak-fma`, with `peak`, for the peak kernels).
fn runner_main(cases: &[Case], peak: bool) -> Result<String, String> {
    let mut s = String::from("#![deny(warnings)]\n");
    for (i, case) in cases.iter().enumerate() {
        // Code compiled with `--intrinsics` has `unsafe` in one module, which `forbid`
        // would not let it allow.
        let level = if case.generated.has_unsafe {
            "deny"
        } else {
            "forbid"
        };
        let _ = writeln!(s, "#[{level}(unsafe_code)]\nmod m{i};");
    }
    s.push_str(RUNNER_PRELUDE);
    for (i, case) in cases.iter().enumerate() {
        let sig = &case.generated.signature;
        let _ = writeln!(s, "\nfn case_{i}(dir: &Path) {{");
        for (k, p) in sig.inputs.iter().enumerate() {
            let _ = writeln!(
                s,
                "    let in_{k}: Box<[{}; {}]> = read(dir, {k});",
                elem_type(p.dtype),
                p.len
            );
        }
        for (k, p) in sig.outputs.iter().enumerate() {
            let _ = writeln!(
                s,
                "    let mut out_{k}: Box<[{}; {}]> = zeroed();",
                elem_type(p.dtype),
                p.len
            );
        }
        let _ = writeln!(s, "    let mut arena = Box::new(m{i}::Arena::new());");
        let mut ins: Vec<String> = sig
            .inputs
            .iter()
            .enumerate()
            .map(|(k, p)| format!("{}: &in_{k}", p.ident))
            .collect();
        if ins.is_empty() {
            // A model without inputs (all constants) still has the struct, with a marker field.
            ins.push("_marker: core::marker::PhantomData".into());
        }
        let outs: Vec<String> = sig
            .outputs
            .iter()
            .enumerate()
            .map(|(k, p)| format!("{}: &mut out_{k}", p.ident))
            .collect();
        let call = format!(
            "m{i}::run(&m{i}::Inputs {{ {} }}, &mut m{i}::Outputs {{ {} }}, &mut arena);",
            ins.join(", "),
            outs.join(", ")
        );
        let _ = writeln!(s, "    {call}");
        if case.generated.profiled_steps.is_some() {
            s.push_str(&profile_source(
                &format!("m{i}"),
                &ins.join(", "),
                &outs.join(", "),
            ));
        }
        // Timing mode (Runner::time): run again N times, record the median and the fastest.
        let _ = writeln!(
            s,
            "    if let Some(n) = std::env::var(\"KILN_BENCH_ITERS\").ok().and_then(|v| v.parse::<usize>().ok()) {{\n        let mut ts: Vec<u128> = Vec::with_capacity(n);\n        for _ in 0..n.max(1) {{\n            let t = std::time::Instant::now();\n            {call}\n            ts.push(t.elapsed().as_nanos());\n        }}\n        ts.sort_unstable();\n        std::fs::write(dir.join(\"median_ns.txt\"), format!(\"{{}} {{}}\", ts[ts.len() / 2], ts[0])).expect(\"write timing\");\n    }}"
        );
        for k in 0..sig.outputs.len() {
            let _ = writeln!(s, "    write(dir, {k}, &out_{k}[..]);");
        }
        s.push_str("}\n");
    }
    if peak {
        s.push_str(&peak_source());
    }
    s.push_str("\nfn main() {\n    let args: Vec<String> = std::env::args().collect();\n");
    if peak {
        s.push_str(
            "    match args[1].as_str() {\n        \
             \"peak\" => return peak(chains_madd),\n        \
             \"peak-fma\" => return peak(chains_fmadd),\n        \
             _ => {}\n    }\n",
        );
    }
    s.push_str("    let case: usize = args[1].parse().expect(\"case number\");\n");
    s.push_str("    let dir = std::path::PathBuf::from(&args[2]);\n");
    // Large models have large arenas: run on a thread with a big stack.
    s.push_str(
        "    let t = std::thread::Builder::new().stack_size(1 << 30).spawn(move || match case {\n",
    );
    for i in 0..cases.len() {
        let _ = writeln!(s, "        {i} => case_{i}(&dir),");
    }
    s.push_str("        _ => panic!(\"no case {case}\"),\n    });\n");
    s.push_str("    t.expect(\"thread\").join().expect(\"case panicked\");\n}\n");
    Ok(s)
}

/// Writes a runner crate for `cases` into `work_dir` and builds it with cargo (offline),
/// placing build products in `target_dir` so repeated runs are incremental.
pub fn build_runner(
    cases: &[Case],
    work_dir: &Path,
    target_dir: &Path,
    profile: Profile,
) -> Result<Runner, String> {
    build_runner_for(cases, work_dir, target_dir, profile, None)
}

/// A runner built for another machine and run through an emulator.
#[derive(Clone, Debug)]
pub struct Cross {
    /// The Rust target triple, e.g. `aarch64-unknown-linux-gnu`.
    pub triple: String,
    /// The C compiler that links for it, e.g. `aarch64-linux-gnu-gcc`.
    pub linker: String,
    /// The command that runs its programs, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`.
    pub runner: Vec<String>,
}

/// [`build_runner`], cross-built when `cross` says so.
pub fn build_runner_for(
    cases: &[Case],
    work_dir: &Path,
    target_dir: &Path,
    profile: Profile,
    cross: Option<Cross>,
) -> Result<Runner, String> {
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let src = work_dir.join("src");
    std::fs::create_dir_all(&src).map_err(|e| io(&src, e))?;
    let opt = match profile {
        Profile::Fast => {
            "opt-level = 1\ncodegen-units = 16\ndebug-assertions = true\noverflow-checks = true"
        }
        Profile::Release => "opt-level = 3\ncodegen-units = 4",
        // Cargo's defaults: what `cargo build --release` gives a user.
        Profile::Native | Profile::X86Avx2 => "",
    };
    // Runner crates share a target directory, where cargo only refreshes `release/<bin>` when
    // it rebuilds; a distinct package name per work directory keeps binaries apart.
    let bin: String = format!(
        "kiln_runner_{}",
        work_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    )
    .chars()
    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
    .collect();
    let manifest = format!(
        "[package]\nname = \"{bin}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n\n[profile.release]\n{opt}\n"
    );
    write_if_changed(&work_dir.join("Cargo.toml"), &manifest)?;
    for (i, case) in cases.iter().enumerate() {
        let file = case
            .generated
            .files
            .first()
            .ok_or("a case without generated source")?;
        // A module with a weights file is a directory, `m{i}/mod.rs` beside the file its
        // `include_bytes!` names; without, `m{i}.rs`. Work directories are reused, so the
        // other form, left by an earlier build, goes (both would be ambiguous).
        let (flat, dir) = (src.join(format!("m{i}.rs")), src.join(format!("m{i}")));
        let stale = if case.generated.weights.is_some() {
            &flat
        } else {
            &dir
        };
        let gone = if stale.is_dir() {
            std::fs::remove_dir_all(stale)
        } else {
            std::fs::remove_file(stale)
        };
        if let Err(e) = gone
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(format!("{}: {e}", stale.display()));
        }
        match &case.generated.weights {
            Some(w) => {
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                write_if_changed(&dir.join(&w.path), &w.bytes)?;
                write_if_changed(&dir.join("mod.rs"), &file.contents)?;
            }
            None => write_if_changed(&flat, &file.contents)?,
        }
    }
    let peak = profile == Profile::Native;
    write_if_changed(&src.join("main.rs"), &runner_main(cases, peak)?)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--offline", "--quiet"]);
    if let Some(c) = &cross {
        cmd.args(["--target", &c.triple]);
        let var = format!(
            "CARGO_TARGET_{}_LINKER",
            c.triple.to_ascii_uppercase().replace('-', "_")
        );
        cmd.env(var, &c.linker);
    }
    if profile == Profile::Native {
        // As a user would set it in `.cargo/config.toml`.
        let flags: Vec<String> = native_rustflags()
            .iter()
            .map(|f| format!("{f:?}"))
            .collect();
        cmd.arg("--config")
            .arg(format!("build.rustflags=[{}]", flags.join(", ")));
    }
    if profile == Profile::X86Avx2 {
        cmd.arg("--config")
            .arg("build.rustflags=[\"-C\", \"target-feature=+avx2,+fma\"]");
    }
    // Flags from the environment would override (or, for the others, add to) the profile's.
    let out = cmd
        .current_dir(work_dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let head: String = err.lines().take(80).collect::<Vec<_>>().join("\n");
        return Err(format!("the generated code did not build:\n{head}"));
    }
    let out_dir = match &cross {
        Some(c) => target_dir.join(&c.triple),
        None => target_dir.to_path_buf(),
    };
    Ok(Runner {
        binary: out_dir.join("release").join(&bin),
        wrapper: cross.map(|c| c.runner).unwrap_or_default(),
        signatures: cases
            .iter()
            .map(|c| c.generated.signature.clone())
            .collect(),
        work_dir: work_dir.to_path_buf(),
        profiled_steps: cases.iter().map(|c| c.generated.profiled_steps).collect(),
        has_peak: peak,
    })
}

pub(crate) fn write_if_changed(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), String> {
    let contents = contents.as_ref();
    // Unchanged files keep their timestamps, so cargo does not rebuild what it need not.
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(());
    }
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

/// What one runner process does with a case.
#[derive(Clone, Copy)]
enum Mode {
    Run,
    /// Run again N times and record the median and the fastest run.
    Time(usize),
    /// Run `run_profiled` N times and record each step's median and fastest time.
    Profile(usize),
}

/// Times over several runs in one process: the median run and the fastest. On a shared
/// machine interference only ever adds time, so the fastest run is the code's time with the
/// least of it, and the median is what a run usually takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spread {
    pub median: std::time::Duration,
    pub best: std::time::Duration,
}

impl Spread {
    /// From a timing line's numbers: the median, then the fastest (as the runner writes
    /// them and the peer script answers).
    pub(crate) fn of(line: &[std::time::Duration]) -> Option<Spread> {
        match *line {
            [median, best] => Some(Spread { median, best }),
            _ => None,
        }
    }
}

impl Runner {
    /// Runs case `i` on `inputs` (in the model's input order) and returns its outputs.
    pub fn run(&self, i: usize, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
        self.run_mode(i, inputs, Mode::Run).map(|(out, _)| out)
    }

    /// The median time of one `run` of case `i` over `iters` runs in one process (after a
    /// first, untimed run), for benchmarks: compare medians taken in the same session.
    pub fn time(
        &self,
        i: usize,
        inputs: &[Tensor],
        iters: usize,
    ) -> Result<std::time::Duration, String> {
        self.time_spread(i, inputs, iters).map(|t| t.median)
    }

    /// [`Runner::time`] with the fastest of the runs too.
    pub fn time_spread(&self, i: usize, inputs: &[Tensor], iters: usize) -> Result<Spread, String> {
        let (_, t) = self.run_mode(i, inputs, Mode::Time(iters))?;
        t.first()
            .and_then(|l| Spread::of(l))
            .ok_or_else(|| "the runner wrote no timing".into())
    }

    /// Each step's median and fastest time over `iters` runs of `run_profiled` in one
    /// process (after a first, untimed `run`), for a case generated with the step hook.
    pub fn profile(
        &self,
        i: usize,
        inputs: &[Tensor],
        iters: usize,
    ) -> Result<Vec<Spread>, String> {
        let steps = self
            .profiled_steps
            .get(i)
            .copied()
            .flatten()
            .ok_or("the case was not generated with the step hook")?;
        let (_, t) = self.run_mode(i, inputs, Mode::Profile(iters))?;
        if t.len() != steps {
            return Err(format!(
                "the runner timed {} steps, the case has {steps}",
                t.len()
            ));
        }
        t.iter()
            .map(|l| Spread::of(l).ok_or_else(|| format!("the runner wrote step line {l:?}")))
            .collect()
    }

    /// The machine's single-core peak in GFLOP/s with `kernel`'s arithmetic (a
    /// multiply-add counts two), from the runner's peak kernels ([`Profile::Native`]
    /// runners only). [`PeakKernel::Fused`] measures the FMA units only where the runner's
    /// `-C target-cpu=native` has them; elsewhere `mul_add` is a library call.
    pub fn peak_gflops(&self, kernel: PeakKernel) -> Result<f64, String> {
        if !self.has_peak {
            return Err("the runner was not built with Profile::Native".into());
        }
        let out = Command::new(&self.binary)
            .arg(kernel.arg())
            .output()
            .map_err(|e| format!("could not run {}: {e}", self.binary.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        match text.trim().parse::<f64>() {
            Ok(g) if out.status.success() && g.is_finite() && g > 0.0 => Ok(g),
            _ => Err(format!(
                "the peak kernel failed: {}{}",
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }

    fn run_mode(
        &self,
        i: usize,
        inputs: &[Tensor],
        mode: Mode,
    ) -> Result<(Vec<Tensor>, Vec<Vec<std::time::Duration>>), String> {
        let sig = self.signatures.get(i).ok_or("no such case")?;
        if inputs.len() != sig.inputs.len() {
            return Err(format!(
                "the model takes {} inputs, {} given",
                sig.inputs.len(),
                inputs.len()
            ));
        }
        let dir = crate::tempdir::TempDir::new_in(&self.work_dir, "case-")
            .map_err(|e| format!("temp dir: {e}"))?;
        for (k, (t, p)) in inputs.iter().zip(&sig.inputs).enumerate() {
            if t.dtype() != p.dtype || t.numel() != p.len {
                return Err(format!(
                    "input {k} ({}) must be {}[{}], the test data has {}",
                    p.model_name,
                    p.dtype,
                    p.len,
                    t.ty()
                ));
            }
            let path = dir.path().join(format!("input_{k}.bin"));
            std::fs::write(&path, t.data.to_le_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let mut cmd = match self.wrapper.split_first() {
            Some((w, args)) => {
                let mut c = Command::new(w);
                c.args(args).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        cmd.arg(i.to_string()).arg(dir.path());
        cmd.env_remove("KILN_BENCH_ITERS")
            .env_remove("KILN_BENCH_PROFILE");
        let file = match mode {
            Mode::Run => None,
            Mode::Time(n) => {
                cmd.env("KILN_BENCH_ITERS", n.to_string());
                Some("median_ns.txt")
            }
            Mode::Profile(n) => {
                cmd.env("KILN_BENCH_PROFILE", n.to_string());
                Some("steps_ns.txt")
            }
        };
        let out = cmd
            .output()
            .map_err(|e| format!("could not run {}: {e}", self.binary.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("the generated code failed: {}", err.trim()));
        }
        let outputs = sig
            .outputs
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let path = dir.path().join(format!("output_{k}.bin"));
                let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let data =
                    TensorData::from_le_bytes(p.dtype, &bytes).ok_or("output of the wrong size")?;
                Tensor::new(p.shape.clone(), data)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timing = match file {
            None => Vec::new(),
            Some(name) => {
                let p = dir.path().join(name);
                // A line per timing (per step when profiling): numbers in ns, space apart.
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .lines()
                    .map(|l| {
                        l.split_whitespace()
                            .map(|n| {
                                n.parse()
                                    .map(std::time::Duration::from_nanos)
                                    .map_err(|_| format!("{}: bad timing {l:?}", p.display()))
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok((outputs, timing))
    }
}

/// How far an output is from its expected value.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub max_abs: f64,
    /// Largest |actual - expected| / |expected| over elements with a non-zero expectation.
    pub max_rel: f64,
    /// Whether every element satisfies |actual - expected| <= atol + rtol * |expected|
    /// (numpy's `allclose`), with NaN equal to NaN; shapes and types must match exactly.
    pub ok: bool,
    pub note: Option<String>,
}

/// Compares `actual` with `expected` the way the ONNX backend tests do (`allclose`).
pub fn compare(actual: &Tensor, expected: &Tensor, rtol: f64, atol: f64) -> Comparison {
    let fail = |note: String| Comparison {
        max_abs: f64::INFINITY,
        max_rel: f64::INFINITY,
        ok: false,
        note: Some(note),
    };
    if actual.dtype() != expected.dtype() {
        return fail(format!(
            "element type {} but expected {}",
            actual.dtype(),
            expected.dtype()
        ));
    }
    if actual.shape != expected.shape {
        return fail(format!(
            "shape {:?} but expected {:?}",
            actual.shape, expected.shape
        ));
    }
    let (a, e) = (actual.data.to_f64_vec(), expected.data.to_f64_vec());
    let exact = !expected.dtype().is_float();
    let (mut max_abs, mut max_rel, mut ok) = (0.0f64, 0.0f64, true);
    for (&x, &y) in a.iter().zip(&e) {
        if x.is_nan() && y.is_nan() || x == y {
            continue;
        }
        let d = (x - y).abs();
        if d.is_nan() {
            ok = false;
            max_abs = f64::INFINITY;
            continue;
        }
        max_abs = max_abs.max(d);
        if y != 0.0 {
            max_rel = max_rel.max(d / y.abs());
        }
        if exact || d > atol + rtol * y.abs() {
            ok = false;
        }
    }
    Comparison {
        max_abs,
        max_rel,
        ok,
        note: None,
    }
}

/// Reads `input_<i>.pb` and `output_<i>.pb` of an ONNX test-data directory.
pub fn read_test_set(dir: &Path) -> Result<(Vec<Tensor>, Vec<Tensor>), String> {
    let tensors = |prefix| -> Result<Vec<Tensor>, String> {
        Ok(read_named(dir, prefix)?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    };
    Ok((tensors("input")?, tensors("output")?))
}

/// `<prefix>_0.pb`, `<prefix>_1.pb`... of a test-data directory, up to the first missing
/// one, each with the name its file gives the tensor.
pub fn read_named(dir: &Path, prefix: &str) -> Result<Vec<(String, Tensor)>, String> {
    let mut v = Vec::new();
    for i in 0.. {
        let p = dir.join(format!("{prefix}_{i}.pb"));
        if !p.exists() {
            break;
        }
        v.push(kiln_frontend::read_tensor_pb(&p).map_err(|e| format!("{}: {e}", p.display()))?);
    }
    Ok(v)
}

/// On microcontrollers shapes are static, so an operand that decides a shape (Reshape's
/// `shape`, Slice's `starts`, a reduction's `axes`...) must be known when compiling, and an
/// empty tensor cannot be a run-time argument. Test data passes such operands as graph
/// inputs; a deployment binds them with `kiln compile --bind-input NAME=FILE.pb`, and so do
/// `kiln verify` and the conformance suite: when kiln says a value is "only known at run
/// time" or an input is empty ("declared 0") ([`needs_binding`]), the graph inputs of
/// `stage` are bound to their test data and the model is compiled again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindStage {
    /// The integer-typed inputs after the first (the data), and the empty ones.
    ShapeInputs,
    /// Every input but the first (a Pad's `constant_value`, a Dropout's `ratio`).
    AllButData,
    /// Range, ConstantOfShape, EyeLike...: the first input decides the shape too.
    All,
}

impl BindStage {
    /// The stages in the order to try them.
    pub const ALL: [BindStage; 3] = [
        BindStage::ShapeInputs,
        BindStage::AllButData,
        BindStage::All,
    ];
}

/// Whether a compile error asks for a value at compile time that the graph leaves to run time.
pub fn needs_binding(error: &str) -> bool {
    error.contains("only known at run time") || error.contains("(declared 0")
}

/// The run-time inputs (`sig`, in order, with `inputs` their test data) that `stage` binds,
/// each with `source(k)`, the file it came from, for the generated header.
pub fn bind_shape_inputs(
    sig: &kiln_frontend::ModelSignature,
    inputs: &[Tensor],
    stage: BindStage,
    source: impl Fn(usize) -> String,
) -> std::collections::BTreeMap<String, (Tensor, String)> {
    sig.runtime_inputs
        .iter()
        .zip(inputs)
        .enumerate()
        .filter(|(k, ((_, code), t))| match stage {
            BindStage::ShapeInputs => (*k > 0 && matches!(code, 2..=7 | 12 | 13)) || t.numel() == 0,
            BindStage::AllButData => *k > 0,
            BindStage::All => true,
        })
        .map(|(k, ((name, _), t))| (name.clone(), (t.clone(), source(k))))
        .collect()
}

/// The run-time inputs of a model (`ModelProto` bytes) whose declared shape is not fully
/// static (a symbolic, unknown or zero dimension, or no shape at all), by name.
pub fn symbolic_inputs(model: &[u8]) -> Result<std::collections::BTreeSet<String>, String> {
    use kiln_frontend::onnx::{tensor_shape_proto::dimension, type_proto};
    use prost::Message as _;
    let m = kiln_frontend::onnx::ModelProto::decode(model)
        .map_err(|e| format!("not a valid ONNX model: {e}"))?;
    let Some(g) = m.graph else {
        return Ok(Default::default());
    };
    let inits: std::collections::BTreeSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    Ok(g.input
        .iter()
        .filter(|vi| !inits.contains(vi.name()))
        .filter(
            |vi| match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(type_proto::Value::TensorType(t)) => t.shape.as_ref().is_none_or(|s| {
                    s.dim
                        .iter()
                        .any(|d| !matches!(d.value, Some(dimension::Value::DimValue(v)) if v > 0))
                }),
                _ => false,
            },
        )
        .map(|vi| vi.name().to_string())
        .collect())
}

/// The test data of the inputs that stayed arguments of the generated code (bound inputs
/// and empty ones folded away are constants now), in the model's input order.
pub fn runtime_args(
    graph: &kiln_ir::Graph,
    sig: &kiln_frontend::ModelSignature,
    inputs: &[Tensor],
) -> Vec<Tensor> {
    let args: std::collections::BTreeSet<&str> = graph
        .inputs
        .iter()
        .map(|&v| graph.value(v).name.as_str())
        .collect();
    sig.runtime_inputs
        .iter()
        .zip(inputs)
        .filter(|((n, _), _)| args.contains(n.as_str()))
        .map(|(_, t)| t.clone())
        .collect()
}
