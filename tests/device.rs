//! The corpus on emulated devices (`kiln verify --device`'s engine): the MLPerf Tiny
//! models built for Cortex-M4F profiles (fp32 on the STM32L4R5, whose 640 KiB of RAM
//! holds their float arenas; int8 on the STM32F446RE's 128 KiB, and on the RP2040's
//! Cortex-M0+, which has no FPU) and run bare metal under
//! `qemu-system-arm`, and every corpus model built for the Raspberry Pi 4 profile
//! (aarch64) under `qemu-aarch64`. Outputs are compared with onnxruntime's, with the
//! tolerances of `tests/corpus.rs`. Needs `qemu-system-arm`, `qemu-user`,
//! `gcc-aarch64-linux-gnu` and the rustup targets (`.ci/run` installs them); without them
//! the suite says so loudly, and fails under `CI=true`.

mod common;

use kiln::codegen::EmitKind;
use kiln::harness;

type InputShapes = &'static [(&'static str, &'static [usize])];

/// Whether the tools for `device` are here; loud when not, a failure under `CI=true`.
fn require_tools(tools: &[(&str, &str)]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<String> = tools
        .iter()
        .filter(|(t, _)| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .map(|(t, pkg)| format!("{t} (apt-get install {pkg})"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "\n\n*** device tools NOT FOUND: {} ***\n*** this suite did NOT run ***\n",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    false
}

struct Model {
    file: String,
    /// The inputs' test set, and the expected outputs' (onnxruntime's) when they differ.
    data: std::path::PathBuf,
    expected: Option<std::path::PathBuf>,
    /// Its Rust build for a Cortex-M must hold no panic machinery (the kernels it uses take
    /// every range with `get`).
    panic_free: bool,
    shapes: InputShapes,
    rtol: f64,
    atol: f64,
}

/// Compiles `m` for `device`, runs it there and compares; returns a row of figures or the
/// failure.
fn run_on(device: &str, m: &Model, kind: EmitKind, intrinsics: bool) -> Result<String, String> {
    let dev = kiln::Device::find(device).map_err(|e| e.to_string())?;
    let opts = kiln::CompileOptions {
        target: dev.target,
        device: Some(dev.clone()),
        intrinsics,
        input_shapes: m
            .shapes
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect(),
        ..Default::default()
    };
    let path = common::corpus_model(&m.file);
    let c =
        kiln::compile(&path, kind, &opts).map_err(|e| format!("{} on {device}: {e}", m.file))?;
    let lang = match (kind, intrinsics) {
        (EmitKind::C, _) => "c",
        (_, false) => "rust",
        (_, true) => "rust --intrinsics",
    };
    // The SMLAD kernels' assembly is in (and only then is there `unsafe`).
    if c.generated.has_unsafe != intrinsics {
        return Err(format!(
            "{} on {device}: intrinsics {intrinsics} but unsafe code {}",
            m.file, c.generated.has_unsafe
        ));
    }
    let (inputs, mut expected) = harness::read_test_set(&m.data)?;
    if let Some(dir) = &m.expected {
        expected = harness::read_test_set(dir)?.1;
    }
    if expected.is_empty() {
        return Err(format!("{}: no expected outputs", m.file));
    }
    let work = common::repo()
        .join("target")
        .join("kiln-device")
        .join(format!("{device}-{}-{}", lang.replace(" --", "-"), m.file));
    let run = kiln::cross::run(&dev, &c.generated, &inputs, &work)
        .map_err(|e| format!("{} on {device}: {e}", m.file))?;
    for (k, (a, e)) in run.outputs.iter().zip(&expected).enumerate() {
        let cmp = harness::compare(a, e, m.rtol, m.atol);
        if !cmp.ok {
            return Err(format!(
                "{} on {device}: output {k}: max abs {:.3e}, max rel {:.3e}",
                m.file, cmp.max_abs, cmp.max_rel
            ));
        }
    }
    if let Some(panics) = &run.panic_symbols
        && m.panic_free
        && !panics.is_empty()
    {
        return Err(format!(
            "{} on {device}: panic paths left in the program: {}",
            m.file,
            panics.join(", ")
        ));
    }
    let macs: u64 = kiln::report::node_rows(&c.graph, &c.plan)
        .iter()
        .map(|r| r.macs)
        .sum();
    let n = run
        .instructions
        .ok_or_else(|| format!("{} on {device}: no instruction count", m.file))?;
    // A count far below the MACs would mean the measurement is broken, not fast code.
    if n < macs / 4 {
        return Err(format!(
            "{} on {device}: {n} instructions for {macs} MACs cannot be right",
            m.file
        ));
    }
    // As the program stores them (packed panels included; C on a DSP core may keep the
    // row convolutions' weights as 16-bit pairs, twice their bytes).
    let weights = c
        .device_fit
        .as_ref()
        .map_or_else(|| "-".to_string(), |f| f.weights.to_string());
    Ok(format!(
        "| {} | {device} | {lang} | {:.2} | {} | {} | {} | {} |",
        m.file,
        n as f64 / macs as f64,
        run.sizes.text,
        weights,
        c.plan.arena_bytes(),
        run.stack.map_or("-".into(), |s| s.to_string())
    ))
}

fn check_all(device: &str, models: &[Model], kind: EmitKind) {
    check_all_with(device, models, kind, false);
}

fn check_all_with(device: &str, models: &[Model], kind: EmitKind, intrinsics: bool) {
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for m in models {
        if !common::require_data(
            &common::corpus_model(&m.file),
            &format!("corpus model {}", m.file),
        ) {
            return;
        }
        match run_on(device, m, kind, intrinsics) {
            Ok(row) => rows.push(row),
            Err(e) => failures.push(e),
        }
    }
    eprintln!("| model | device | code | instructions/MAC | .text | weights | arena | stack |");
    eprintln!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        eprintln!("{r}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn fp32(name: &'static str, shapes: InputShapes, atol: f64) -> Model {
    Model {
        file: name.to_string(),
        data: common::corpus_data(name),
        expected: None,
        panic_free: true,
        shapes,
        rtol: 1e-4,
        atol,
    }
}

/// The int8 QDQ model on the float inputs, and onnxruntime's outputs for it; atol as `tests/corpus.rs`'s
/// INT8_MODELS (one quantization step of the output for the classifiers).
fn int8(name: &'static str, atol: f64) -> Model {
    Model {
        file: format!("{name}.int8.qdq"),
        data: common::corpus_data(name),
        expected: Some(
            common::corpus_data(name)
                .parent()
                .unwrap()
                .join("int8_test_data_set_0"),
        ),
        panic_free: true,
        shapes: &[],
        rtol: 0.0,
        atol,
    }
}

const ARM: &[(&str, &str)] = &[("qemu-system-arm", "qemu-system-arm")];

#[test]
fn mlperf_models_pass_bare_metal_on_cortex_m4f_in_rust() {
    if !require_tools(ARM) {
        return;
    }
    check_all(
        "stm32l4r5",
        &[
            fp32("mlperf_ad_fcae", &[], 1e-6),
            fp32("mlperf_ic_resnet8", &[], 1e-6),
            fp32("mlperf_vww_mobilenetv1", &[], 1e-6),
        ],
        EmitKind::Module,
    );
}

fn mlperf_int8() -> [Model; 3] {
    [
        int8("mlperf_ad_fcae", 1e-6),
        int8("mlperf_ic_resnet8", 0.0040),
        int8("mlperf_vww_mobilenetv1", 0.0040),
    ]
}

#[test]
fn mlperf_int8_models_pass_bare_metal_on_a_128k_cortex_m4f_in_rust() {
    if !require_tools(ARM) {
        return;
    }
    check_all("stm32f446re", &mlperf_int8(), EmitKind::Module);
}

/// On a core without an FPU (the RP2040's Cortex-M0+, emulated as the MPS2-AN385's
/// Cortex-M3, which runs the same Thumb code): the requantization in integers (`requant`),
/// the compact kernels. Within one step of onnxruntime's outputs, as on the M4F.
#[test]
fn mlperf_int8_models_pass_bare_metal_on_a_cortex_m0plus_without_an_fpu_in_rust() {
    if !require_tools(ARM) {
        return;
    }
    check_all("rp2040", &mlperf_int8(), EmitKind::Module);
}

/// The same with `--intrinsics`: the SMLAD kernels name `SMLAD`/`SXTB16` by inline
/// assembly (in one module, `kiln_dsp`), so this runs that assembly.
#[test]
fn mlperf_int8_models_pass_bare_metal_on_a_128k_cortex_m4f_in_rust_with_intrinsics() {
    if !require_tools(ARM) {
        return;
    }
    check_all_with("stm32f446re", &mlperf_int8(), EmitKind::Module, true);
}

const ARM_C: &[(&str, &str)] = &[
    ("qemu-system-arm", "qemu-system-arm"),
    ("arm-none-eabi-gcc", "gcc-arm-none-eabi"),
];

#[test]
fn mlperf_models_pass_bare_metal_on_cortex_m4f_in_c() {
    if !require_tools(ARM_C) {
        return;
    }
    check_all(
        "stm32l4r5",
        &[
            fp32("mlperf_ad_fcae", &[], 1e-6),
            fp32("mlperf_ic_resnet8", &[], 1e-6),
            fp32("mlperf_vww_mobilenetv1", &[], 1e-6),
        ],
        EmitKind::C,
    );
}

#[test]
fn mlperf_int8_models_pass_bare_metal_on_a_128k_cortex_m4f_in_c() {
    if !require_tools(ARM_C) {
        return;
    }
    check_all("stm32f446re", &mlperf_int8(), EmitKind::C);
}

#[test]
fn corpus_models_pass_on_raspberry_pi_4_aarch64() {
    if !require_tools(&[
        ("qemu-aarch64", "qemu-user"),
        ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    ]) {
        return;
    }
    check_all(
        "rpi4",
        &[
            // tests/corpus.rs explains ddddocr_det's atol.
            fp32("ddddocr_det", &[], 5e-6),
            fp32("mlperf_ad_fcae", &[], 1e-6),
            fp32("mlperf_ic_resnet8", &[], 1e-6),
            fp32("mlperf_vww_mobilenetv1", &[], 1e-6),
            fp32("ppocr_cls_mobile_v2", &[("x", &[1, 3, 48, 192])], 1e-6),
            fp32("ppocrv4_rec", &[("x", &[1, 3, 48, 320])], 1e-6),
            fp32("silero_vad_16k", &[], 1e-6),
        ],
        EmitKind::Module,
    );
}

#[test]
fn mlperf_models_pass_on_raspberry_pi_4_aarch64_in_c() {
    if !require_tools(&[
        ("qemu-aarch64", "qemu-user"),
        ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
    ]) {
        return;
    }
    check_all(
        "rpi4",
        &[
            fp32("mlperf_ad_fcae", &[], 1e-6),
            fp32("mlperf_ic_resnet8", &[], 1e-6),
            fp32("mlperf_vww_mobilenetv1", &[], 1e-6),
        ],
        EmitKind::C,
    );
}

#[test]
fn a_model_too_big_for_the_device_fails_with_the_excess() {
    let path = common::corpus_model("mlperf_ic_resnet8");
    if !common::require_data(&path, "corpus model mlperf_ic_resnet8") {
        return;
    }
    let dev = kiln::Device::find("stm32f446re").unwrap();
    let opts = kiln::CompileOptions {
        target: dev.target,
        device: Some(dev),
        ..Default::default()
    };
    // fp32 ResNet-8's arena is 203,152 B (its lower bound: kiln's plan is tight): 192 KiB
    // of activations and 6,544 B for the input rows of its widest convolution (16
    // channels, 3 rows of 34 columns, and 4 read past the end, in f32; see
    // `kiln_passes::kernels::row_conv`). The part has 128 KiB: 203,152 + 4,096 (stack
    // reserve) - 131,072 = 76,176 B over.
    let e = kiln::compile(&path, EmitKind::Module, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not fit stm32f446re"), "{e}");
    assert!(e.contains("by 76176 B (74.4 KiB)"), "{e}");
    assert!(e.contains("int8") && e.contains("which fits"), "{e}");
}

#[test]
fn a_crate_for_a_device_documents_its_budgets() {
    let path = common::corpus_model("mlperf_ic_resnet8.int8.qdq");
    if !common::require_data(&path, "corpus model mlperf_ic_resnet8.int8.qdq") {
        return;
    }
    let dev = kiln::Device::find("stm32f446re").unwrap();
    let opts = kiln::CompileOptions {
        target: dev.target,
        device: Some(dev.clone()),
        ..Default::default()
    };
    for kind in [EmitKind::Crate, EmitKind::C] {
        let c = kiln::compile(&path, kind, &opts).unwrap();
        let readme = c
            .generated
            .files
            .iter()
            .find(|f| f.path.ends_with("README.md"))
            .expect("a README");
        let ram = c.plan.arena_bytes() as u64 + dev.stack_bytes;
        let text = &readme.contents;
        assert!(text.contains("## On stm32f446re"), "{text}");
        assert!(
            text.contains(&format!("| RAM total | {ram} B | 131072 B")),
            "{text}"
        );
        assert!(text.contains("kiln verify --device stm32f446re"), "{text}");
    }
}

/// C for a DSP core stores the row convolutions' weights as 16-bit pairs when the device's
/// flash holds them, says so in the README, and keeps them i8 where it does not: MobileNet
/// int8's weights are 219,090 B as i8 and 434,770 B with pairs, so the stm32f446re (512
/// KiB of flash, 64 KiB of it reserved for code) takes the pairs and a part with 320 KiB
/// takes i8, which fits it.
#[test]
fn c_for_a_dsp_core_takes_16_bit_weight_pairs_where_the_flash_holds_them() {
    let path = common::corpus_model("mlperf_vww_mobilenetv1.int8.qdq");
    if !common::require_data(&path, "corpus model mlperf_vww_mobilenetv1.int8.qdq") {
        return;
    }
    let small = kiln::Device::from_toml(
        "name = \"m4-320k\"\ntarget = \"thumbv7em+fpu\"\nram = \"128K\"\nflash = \"320K\"\n",
    )
    .unwrap();
    let big = kiln::Device::find("stm32f446re").unwrap();
    let mut weights = Vec::new();
    for dev in [big, small] {
        let opts = kiln::CompileOptions {
            target: dev.target,
            device: Some(dev.clone()),
            ..Default::default()
        };
        let c = kiln::compile(&path, EmitKind::C, &opts).unwrap();
        let fit = c.device_fit.expect("a device fit");
        let source = &c.generated.files[1].contents;
        let readme = &c.generated.files[2].contents;
        let pairs = source.contains("int_conv_dsp_rows_w_u8_u8(x0");
        let quads = source.contains("int_conv_dsp_rows_u8_u8(x0");
        assert!(pairs != quads, "{}: pairs {pairs}, quads {quads}", dev.name);
        assert_eq!(pairs, fit.pair_bytes > 0, "{}", dev.name);
        assert_eq!(pairs, readme.contains("16-bit pairs"), "{}", dev.name);
        weights.push((pairs, fit.weights, fit.pair_bytes));
    }
    assert!(weights[0].0 && !weights[1].0, "{weights:?}");
    // The pairs take twice the bytes of the i8 weights they replace.
    assert_eq!(weights[0].1 - weights[0].2, weights[1].1, "{weights:?}");
}
