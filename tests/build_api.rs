//! `kiln::Build`, the build.rs interface: the README's snippet, options the CLI has, errors
//! that name builder methods (never flags) and print readably, and the files cargo must
//! watch.

mod common;

use common::onnx::{f32_value, graph, model_proto, node, value};
use kiln::frontend::onnx::{
    StringStringEntryProto, TensorProto, ValueInfoProto, tensor_proto::DataLocation,
    tensor_proto::DataType, tensor_shape_proto::dimension, type_proto,
};
use kiln::ir::{Tensor, TensorData};
use prost::Message;
use std::path::{Path, PathBuf};

/// The shipped model: every input dimension fixed.
fn resnet8() -> PathBuf {
    common::repo().join("examples/models/mlperf_ic_resnet8.onnx")
}

/// `vi` with dimension `i` made symbolic (`dim_param`).
fn symbolic(mut vi: ValueInfoProto, i: usize, param: &str) -> ValueInfoProto {
    if let Some(type_proto::Value::TensorType(t)) =
        vi.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape.as_mut().unwrap().dim[i].value = Some(dimension::Value::DimParam(param.into()));
    }
    vi
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Relu on `x` of shape [N, 4], N symbolic.
fn symbolic_relu() -> Vec<u8> {
    model_proto(
        graph(
            vec![node("Relu", "relu", &["x"], &["y"])],
            vec![symbolic(f32_value("x", &[1, 4]), 0, "N")],
            vec![symbolic(f32_value("y", &[1, 4]), 0, "N")],
        ),
        13,
    )
    .encode_to_vec()
}

/// The fenced block of `text` that starts with the line `// build.rs`, as written.
fn build_rs_block(text: &str, prefix: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| match l.strip_prefix(prefix) {
            Some(rest) if !prefix.is_empty() => rest.strip_prefix(' ').unwrap_or(rest),
            _ => l,
        })
        .collect();
    let start = lines
        .iter()
        .position(|l| *l == "// build.rs")
        .expect("a block starting with `// build.rs`");
    let len = lines[start..]
        .iter()
        .position(|l| l.starts_with("```"))
        .expect("the block ends");
    lines[start..start + len].join("\n")
}

#[test]
fn the_readme_snippet_is_the_compiled_doc_example_and_needs_no_input_shape() {
    // The crate docs' example is compiled by `cargo test --doc`; the README's must be the
    // same text, so it compiles too.
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let lib = std::fs::read_to_string(common::repo().join("src/lib.rs")).unwrap();
    let snippet = build_rs_block(&readme, "");
    assert_eq!(snippet, build_rs_block(&lib, "//!"));
    // Copied for a model with fixed input dimensions it must work as is: no option that
    // only some models accept is left uncommented, and errors print with Display.
    for line in snippet.lines() {
        let code = line.split("//").next().unwrap();
        assert!(!code.contains(".input_shape("), "{line}");
        assert!(!code.contains(".expect("), "{line}");
    }
    assert!(snippet.contains("panic!(\"kiln: {e}\")"), "{snippet}");

    // What the snippet runs, on such a model.
    let out = tempfile::tempdir().unwrap();
    let compiled = kiln::Build::new(resnet8())
        .emit(out.path())
        .unwrap_or_else(|e| panic!("kiln: {e}"));
    assert!(out.path().join("model.rs").is_file());
    // At least the three 16x32x32 f32 activations live at once (ResNet-8's architecture),
    // plus scratch space for the host's fast convolutions; the plan meets its lower bound.
    assert!(compiled.plan.arena_bytes() >= 196_608);
    assert_eq!(
        compiled.plan.arena_bytes(),
        compiled.plan.lower_bound_bytes()
    );
    assert!(compiled.external_data.is_empty());
}

#[test]
fn build_errors_name_builder_methods_and_debug_prints_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let model = write(dir.path(), "m.onnx", &symbolic_relu());
    let e = kiln::Build::new(&model).emit(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(".input_shape(\"x\", &[1, 4])") && !msg.contains("--"),
        "{msg}"
    );
    // `.expect(..)` prints Debug: the same readable message, not a struct dump.
    assert_eq!(format!("{e:?}"), msg);

    // The CLI's message for the same model names the flag.
    let cli = kiln::compile(
        &model,
        kiln::codegen::EmitKind::Module,
        &kiln::CompileOptions::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(cli.contains("--input-shape x=1x4"), "{cli}");

    // With the shape pinned it compiles, and the header records the option as written.
    let compiled = kiln::Build::new(&model)
        .input_shape("x", &[2, 4])
        .emit(dir.path())
        .unwrap();
    let src = &compiled.generated.files[0].contents;
    assert!(src.contains(".input_shape(\\\"x\\\", &[2, 4])"), "{src}");
}

const DEVICE: kiln::ir::Target = kiln::ir::Target::Thumbv7em { fpu: true };

#[test]
fn arena_budget_takes_bytes_or_text_and_names_its_method() {
    let out = tempfile::tempdir().unwrap();
    let too_small = |b: kiln::Build| b.emit(out.path()).unwrap_err().to_string();
    for b in [
        // A device budget, for the device: the arena is the three 16x32x32 f32 activations
        // ResNet-8 holds at once and the input rows of its widest convolution (6,544 B; see
        // tests/device.rs).
        kiln::Build::new(resnet8())
            .target(DEVICE)
            .max_arena_bytes("64K"),
        kiln::Build::new(resnet8())
            .target(DEVICE)
            .max_arena_bytes(64 * 1024),
    ] {
        let msg = too_small(b);
        assert!(
            msg.contains("203152 bytes")
                && msg.contains("limit of 65536 bytes")
                && msg.contains(".max_arena_bytes(..)")
                && !msg.contains("--"),
            "{msg}"
        );
    }
    let msg = too_small(kiln::Build::new(resnet8()).max_arena_bytes("64 lakh"));
    assert!(
        msg.contains("Build::max_arena_bytes") && msg.contains("\"64 lakh\""),
        "{msg}"
    );
    // Exactly the arena fits; the last budget set wins over `limits`.
    kiln::Build::new(resnet8())
        .target(DEVICE)
        .limits(kiln::Limits {
            arena_bytes: 1,
            ..Default::default()
        })
        .max_arena_bytes(203_152)
        .emit(out.path())
        .unwrap();
    // Other limits have their methods too, named in their errors.
    let msg = too_small(kiln::Build::new(resnet8()).max_nodes(3));
    assert!(
        msg.contains(".max_nodes(..)") && !msg.contains("--"),
        "{msg}"
    );
    let msg = too_small(kiln::Build::new(resnet8()).max_file_bytes("1K"));
    assert!(msg.contains(".max_file_bytes(..)"), "{msg}");
}

/// `x` [2, 3] reshaped to the run-time input `shape` ([3, 2] in the data).
fn reshape_by_input() -> Vec<u8> {
    model_proto(
        graph(
            vec![node("Reshape", "reshape", &["x", "shape"], &["y"])],
            vec![
                f32_value("x", &[2, 3]),
                value("shape", DataType::Int64, &[2]),
            ],
            vec![f32_value("y", &[3, 2])],
        ),
        13,
    )
    .encode_to_vec()
}

#[test]
fn bind_input_takes_a_tensor_or_a_pb_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = write(dir.path(), "m.onnx", &reshape_by_input());
    let msg = kiln::Build::new(&model)
        .emit(dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("only known at run time") && msg.contains(".bind_input(NAME, \"FILE.pb\")"),
        "{msg}"
    );
    assert!(!msg.contains("--bind-input"), "{msg}");

    let shape = Tensor::new(vec![2], TensorData::I64(vec![3, 2])).unwrap();
    let pb = write(
        dir.path(),
        "shape.pb",
        &kiln::frontend::encode_tensor_pb("shape", &shape),
    );
    for b in [
        kiln::Build::new(&model).bind_input("shape", shape.clone()),
        kiln::Build::new(&model).bind_input("shape", pb.as_path()),
    ] {
        let compiled = b.emit(dir.path()).unwrap();
        // Bound, it is no longer an argument of the generated code.
        let sig = &compiled.generated.signature;
        assert_eq!(sig.inputs.len(), 1, "{sig:?}");
        assert_eq!(sig.outputs[0].shape, vec![3, 2]);
    }
    // A bound value that does not fit the input is refused, naming the method.
    let wrong = Tensor::new(vec![3], TensorData::I64(vec![3, 2, 1])).unwrap();
    let msg = kiln::Build::new(&model)
        .bind_input("shape", wrong)
        .emit(dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("Build::bind_input shape"), "{msg}");
    let msg = kiln::Build::new(&model)
        .bind_input("shape", dir.path().join("absent.pb"))
        .emit(dir.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("absent.pb"), "{msg}");
}

#[test]
fn external_data_files_are_reported_for_rerun_if_changed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let w: Vec<u8> = [1f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    write(&dir.path().join("data"), "w.bin", &w);
    let mut g = graph(
        vec![node("Add", "add", &["x", "w"], &["y"])],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    g.initializer = vec![TensorProto {
        name: Some("w".into()),
        dims: vec![4],
        data_type: Some(DataType::Float as i32),
        data_location: Some(DataLocation::External as i32),
        external_data: vec![StringStringEntryProto {
            key: Some("location".into()),
            value: Some("data/w.bin".into()),
        }],
        ..Default::default()
    }];
    let model = write(dir.path(), "m.onnx", &model_proto(g, 13).encode_to_vec());
    let compiled = kiln::Build::new(&model).emit(dir.path()).unwrap();
    // The path as cargo should watch it: the model's folder joined with the location.
    assert_eq!(compiled.external_data, vec![dir.path().join("data/w.bin")]);
}

#[test]
fn name_is_the_generated_model_name() {
    let out = tempfile::tempdir().unwrap();
    let compiled = kiln::Build::new(resnet8())
        .name("cifar10")
        .file_name("cifar.rs")
        .emit(out.path())
        .unwrap();
    let src = std::fs::read_to_string(out.path().join("cifar.rs")).unwrap();
    assert_eq!(src, compiled.generated.files[0].contents);
    assert!(
        src.contains("pub const MODEL_NAME: &str = \"cifar10\";"),
        "{src}"
    );
}

/// `Build::fma` is the CLI's `--fma`: fused kernels where the target has FMA vector units,
/// refused (naming the method) where it has none.
#[test]
fn fma_takes_the_fused_kernels_or_names_its_method() {
    let out = tempfile::tempdir().unwrap();
    let x86 = "x86_64-v3".parse::<kiln::ir::Target>().unwrap();
    let compiled = kiln::Build::new(resnet8())
        .fma(true)
        .target(x86)
        .emit(out.path())
        .unwrap();
    let src = &compiled.generated.files[0].contents;
    assert!(src.contains(".mul_add(") && src.contains("extern crate std;"));
    assert!(
        src.contains("// - .fma(true)\n"),
        "the header names the method"
    );
    let m4 = "thumbv7em-none-eabihf".parse::<kiln::ir::Target>().unwrap();
    let err = kiln::Build::new(resnet8())
        .fma(true)
        .target(m4)
        .emit(out.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(".fma(true)") && err.contains("thumbv7em+fpu"),
        "{err}"
    );
    assert!(!err.contains("--fma"), "a flag in a build.rs error: {err}");
}

/// `Build::quantize_int8` is `--quantize int8 --calibration DIR`: the report comes back on
/// `Compiled`, the header names the builder methods, the options without a calibration
/// directory are an error naming the method to call.
#[test]
fn build_quantizes_with_its_own_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::corpus_data("mlperf_ic_resnet8");
    let c = kiln::Build::new(resnet8())
        .quantize_int8(&data)
        .calibration_method(kiln::passes::ptq::Method::MinMax)
        .float_threshold(Some(0.2))
        .emit(dir.path())
        .unwrap();
    let r = c.quantization.as_ref().expect("a quantization report");
    assert_eq!(r.samples, 1);
    assert!(!r.layers.is_empty() && r.layers.iter().all(|l| !l.float));
    let src = std::fs::read_to_string(dir.path().join("model.rs")).unwrap();
    assert!(
        src.contains(".quantize_int8("),
        "provenance names the method"
    );
    assert!(
        src.contains("minmax, float threshold 0.2"),
        "and its options"
    );

    let e = kiln::Build::new(resnet8())
        .float_threshold(None)
        .emit(dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("Build::quantize_int8(CALIBRATION_DIR)"), "{e}");
}
