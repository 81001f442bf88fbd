//! `kiln verify MODEL --data DIR` with no other flag: symbolic input dimensions take their
//! shape from the data, and inputs whose values decide shapes are bound from the data (and
//! not fed at run time). Expected outputs are written by hand from the inputs.

mod common;

use common::onnx::{f32_value, model, node, value};
use kiln::frontend::encode_tensor_pb;
use kiln::frontend::onnx::tensor_proto::DataType;
use kiln::frontend::onnx::{ValueInfoProto, tensor_shape_proto::dimension, type_proto};
use kiln::ir::{Tensor, TensorData};
use std::path::Path;
use std::process::{Command, Output};

fn verify(model: &Path, data: &Path) -> Output {
    Command::new(common::kiln_bin())
        .arg("verify")
        .arg(model)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run kiln")
}

/// `v` with dimension `i` made symbolic (`dim_param`).
fn symbolic(mut v: ValueInfoProto, i: usize, param: &str) -> ValueInfoProto {
    if let Some(type_proto::Value::TensorType(t)) = v.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape.as_mut().unwrap().dim[i].value = Some(dimension::Value::DimParam(param.into()));
    }
    v
}

fn write_set(dir: &Path, inputs: &[(&str, Tensor)], outputs: &[(&str, Tensor)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (k, (name, t)) in inputs.iter().enumerate() {
        std::fs::write(dir.join(format!("input_{k}.pb")), encode_tensor_pb(name, t)).unwrap();
    }
    for (k, (name, t)) in outputs.iter().enumerate() {
        std::fs::write(
            dir.join(format!("output_{k}.pb")),
            encode_tensor_pb(name, t),
        )
        .unwrap();
    }
}

fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn symbolic_dimensions_are_pinned_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(
        vec![node("Relu", "relu", &["x"], &["y"])],
        vec![symbolic(f32_value("x", &[1, 3]), 0, "batch")],
        vec![symbolic(f32_value("y", &[1, 3]), 0, "batch")],
    );
    let path = dir.path().join("relu.onnx");
    std::fs::write(&path, m).unwrap();
    let data = dir.path().join("test_data_set_0");
    write_set(
        &data,
        &[("x", f32s(&[2, 3], &[-1.0, 2.0, -3.0, 4.0, 0.5, -0.5]))],
        &[("y", f32s(&[2, 3], &[0.0, 2.0, 0.0, 4.0, 0.5, 0.0]))],
    );
    let o = verify(&path, &data);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("pinned input \"x\" to 2x3"), "{err}");
    assert_eq!(err.matches("pinned input").count(), 1, "{err}");
    assert!(out.contains("— ok"), "{out}");

    // The comparison is real: a wrong expectation fails.
    let wrong = dir.path().join("wrong");
    write_set(
        &wrong,
        &[("x", f32s(&[2, 3], &[-1.0, 2.0, -3.0, 4.0, 0.5, -0.5]))],
        &[("y", f32s(&[2, 3], &[0.0, 2.0, 0.0, 4.0, 0.5, 1.0]))],
    );
    let o = verify(&path, &wrong);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).0.contains("MISMATCH"));
}

#[test]
fn a_shape_deciding_input_is_bound_from_the_data_and_not_fed() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(
        vec![node("Reshape", "reshape", &["x", "shape"], &["y"])],
        vec![
            f32_value("x", &[2, 3]),
            value("shape", DataType::Int64, &[2]),
        ],
        vec![f32_value("y", &[3, 2])],
    );
    let path = dir.path().join("reshape.onnx");
    std::fs::write(&path, m).unwrap();
    let data = dir.path().join("test_data_set_0");
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    write_set(
        &data,
        &[
            ("x", f32s(&[2, 3], &x)),
            (
                "shape",
                Tensor::new(vec![2], TensorData::I64(vec![3, 2])).unwrap(),
            ),
        ],
        &[("y", f32s(&[3, 2], &x))],
    );
    let o = verify(&path, &data);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("bound input \"shape\"") && err.contains("input_1.pb"),
        "{err}"
    );
    assert_eq!(err.matches("bound input").count(), 1, "{err}");
    assert!(!err.contains("pinned"), "{err}");
    assert!(out.contains("— ok"), "{out}");

    // Compiling without the data names the flag that binds it (build.rs users are told
    // about their method instead: tests/build_api.rs).
    let o = Command::new(common::kiln_bin())
        .arg("compile")
        .arg(&path)
        .arg("-o")
        .arg(dir.path().join("m.rs"))
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for want in ["only known at run time", "--bind-input NAME=FILE.pb"] {
        assert!(err.contains(want), "lacks {want:?}: {err}");
    }
    assert!(!err.contains("bind_input"), "{err}");
}

/// Every corpus model, with its test data and no other flag (ppocr_cls and ppocrv4_rec have
/// symbolic input dimensions; ddddocr_det gets the absolute tolerance tests/corpus.rs states
/// and justifies): the generated code matches onnxruntime's outputs.
#[test]
fn verify_passes_on_every_corpus_model_with_no_other_flag() {
    let models = [
        ("mlperf_ad_fcae", None),
        ("mlperf_ic_resnet8", None),
        ("mlperf_vww_mobilenetv1", None),
        ("silero_vad_16k", None),
        ("ppocr_cls_mobile_v2", None),
        ("ppocrv4_rec", None),
        ("ddddocr_det", Some("5e-6")),
    ];
    for (name, atol) in models {
        let model = common::corpus_model(name);
        if !common::require_data(&model, &format!("corpus model {name}")) {
            continue;
        }
        let mut cmd = Command::new(common::kiln_bin());
        cmd.arg("verify")
            .arg(&model)
            .arg("--data")
            .arg(common::corpus_data(name));
        if let Some(atol) = atol {
            cmd.args(["--atol", atol]);
        }
        let out = cmd.output().expect("run kiln");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{name}:\n{stdout}\n{stderr}");
        let outputs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("output")).collect();
        assert!(
            !outputs.is_empty() && outputs.iter().all(|l| l.ends_with("ok")),
            "{name}:\n{stdout}"
        );
    }
}
