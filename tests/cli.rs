//! The `kiln` command line end to end: good models compile into crates that build offline,
//! bad models give a clear error and a non-zero exit, never a panic or a partial output.

mod common;

use kiln::frontend::onnx::{
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorShapeProto, TypeProto,
    ValueInfoProto, tensor_proto::DataType, tensor_shape_proto::Dimension,
    tensor_shape_proto::dimension, type_proto,
};
use prost::Message;
use std::path::Path;
use std::process::{Command, Output};

fn kiln(args: &[&str]) -> Output {
    Command::new(common::kiln_bin())
        .args(args)
        .output()
        .expect("run kiln")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A clean failure: exit code 1, the expected words in the message, no panic.
fn assert_clean_error(o: &Output, expect: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit status; stderr:\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "kiln panicked:\n{err}"
    );
    for e in expect {
        assert!(err.contains(e), "message lacks {e:?}:\n{err}");
    }
}

fn f32_value(name: &str, shape: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: shape
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(dimension::Value::DimValue(d)),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
) -> Vec<u8> {
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            node: nodes,
            input: inputs,
            output: outputs,
            name: Some("g".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn malformed_models_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.rs");
    let out_s = out.to_string_lossy().into_owned();

    let resnet = std::fs::read(common::corpus_model("mlperf_ic_resnet8")).unwrap();
    let truncated = write(dir.path(), "truncated.onnx", &resnet[..resnet.len() / 2]);
    assert_clean_error(
        &kiln(&["compile", &truncated, "-o", &out_s]),
        &["not a valid ONNX model"],
    );

    let unknown = model(
        vec![
            node("FooBar", "first_unknown", &["x"], &["a"]),
            node("Relu", "relu", &["a"], &["b"]),
            node("Frobnicate", "second_unknown", &["b"], &["y"]),
        ],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    let unknown = write(dir.path(), "unknown.onnx", &unknown);
    // Every unsupported op is listed at once, with node name and opset.
    assert_clean_error(
        &kiln(&["compile", &unknown, "-o", &out_s]),
        &[
            "FooBar",
            "first_unknown",
            "Frobnicate",
            "second_unknown",
            "opset 13",
        ],
    );

    let missing = model(
        vec![node("Conv", "conv1", &["x", "weights"], &["y"])],
        vec![f32_value("x", &[1, 1, 4, 4])],
        vec![f32_value("y", &[1, 1, 4, 4])],
    );
    let missing = write(dir.path(), "missing.onnx", &missing);
    assert_clean_error(
        &kiln(&["compile", &missing, "-o", &out_s]),
        &["conv1", "weights"],
    );

    let cyclic = model(
        vec![
            node("Relu", "r1", &["b"], &["a"]),
            node("Relu", "r2", &["a"], &["b"]),
            node("Relu", "r3", &["a"], &["y"]),
        ],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    let cyclic = write(dir.path(), "cyclic.onnx", &cyclic);
    assert_clean_error(
        &kiln(&["compile", &cyclic, "-o", &out_s]),
        &["cycle", "r1", "r2"],
    );

    let absent = dir
        .path()
        .join("absent.onnx")
        .to_string_lossy()
        .into_owned();
    assert_clean_error(&kiln(&["inspect", &absent]), &["absent.onnx"]);

    // Nothing was written for any of the failures.
    assert!(
        !out.exists(),
        "a failed compile left {} behind",
        out.display()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".kiln-tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary output left behind: {leftovers:?}"
    );
}

#[test]
fn unresolved_input_dimension_names_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = f32_value("pixels", &[1, 4]);
    if let Some(type_proto::Value::TensorType(t)) = x.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape.as_mut().unwrap().dim[0].value = Some(dimension::Value::DimParam("batch".into()));
    }
    let m = model(
        vec![node("Relu", "relu", &["pixels"], &["y"])],
        vec![x],
        vec![f32_value("y", &[1, 4])],
    );
    let path = write(dir.path(), "dynamic.onnx", &m);
    let out = dir.path().join("m.rs").to_string_lossy().into_owned();
    assert_clean_error(
        &kiln(&["compile", &path, "-o", &out]),
        &["pixels", "batch", "--input-shape"],
    );
    let ok = kiln(&["compile", &path, "-o", &out, "--input-shape", "pixels=2x4"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let src = std::fs::read_to_string(&out).unwrap();
    assert!(
        src.contains("[f32; 8]"),
        "the pinned shape 2x4 must give 8-element arrays"
    );
}

#[test]
fn resnet8_crate_builds_offline_without_dependencies_or_unsafe() {
    let dir = common::repo().join("target").join("kiln-cli-test");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = common::corpus_model("mlperf_ic_resnet8");
    let model = model.to_string_lossy().into_owned();
    let a = dir.join("a");
    let b = dir.join("b");
    for out in [&a, &b] {
        let o = kiln(&[
            "compile",
            &model,
            "-o",
            &out.to_string_lossy(),
            "--emit",
            "crate",
            "--name",
            "resnet8",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // Deterministic: byte-identical output for the same input.
    for f in ["Cargo.toml", "src/lib.rs", "README.md"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }
    let manifest = std::fs::read_to_string(a.join("Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap_or("");
    let deps = deps.split("\n[").next().unwrap_or("");
    assert!(
        deps.lines()
            .all(|l| l.trim().is_empty() || l.trim().starts_with('#')),
        "dependencies: {deps}"
    );
    let lib = std::fs::read_to_string(a.join("src/lib.rs")).unwrap();
    assert_eq!(
        lib.matches("unsafe").count(),
        lib.matches("forbid(unsafe_code)").count(),
        "unsafe in generated code"
    );
    assert!(lib.contains("#![no_std]"));
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--offline"])
        .current_dir(&a)
        .env("CARGO_TARGET_DIR", common::gen_target())
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", stderr(&build));
}

#[test]
fn inspect_reports_the_plan_and_verify_matches_onnxruntime() {
    let model = common::corpus_model("mlperf_ic_resnet8")
        .to_string_lossy()
        .into_owned();
    let o = kiln(&["inspect", &model, "--plan"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for w in ["Conv", "MACs", "arena:", "lower bound:", "offset"] {
        assert!(text.contains(w), "inspect output lacks {w:?}:\n{text}");
    }
    let ir = kiln(&["inspect", &model, "--ir"]);
    assert!(String::from_utf8_lossy(&ir.stdout).contains("Conv(ConvAttrs"));

    let data = common::corpus_data("mlperf_ic_resnet8")
        .to_string_lossy()
        .into_owned();
    let v = kiln(&["verify", &model, "--data", &data]);
    let out = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success(), "verify failed:\n{out}\n{}", stderr(&v));
    assert!(out.contains("ok"), "{out}");
}
