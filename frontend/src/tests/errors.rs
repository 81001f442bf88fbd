//! Malformed and unsupported models: each gives a precise error, never a panic.

use super::*;
use crate::onnx::tensor_proto::DataType;
use std::collections::BTreeMap;

fn relu_model() -> ModelBuilder {
    model(13)
        .input(f32_input("x", &[1, 4]))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y")
}

#[test]
fn every_unsupported_op_is_listed_at_once() {
    let mut m = model(15)
        .input(f32_input("x", &[1, 2, 4, 4]))
        .init(f32_tensor("s", &[2], &[1.0; 2]))
        .node(named(
            node("TfIdfVectorizer", &["x"], &["a"], vec![]),
            "lstm1",
        ))
        .node(named(node("NonMaxSuppression", &["a"], &["b"], vec![]), ""))
        .node(named(
            node(
                "BatchNormalization",
                &["b", "s", "s", "s", "s"],
                &["c", "running_mean"],
                vec![],
            ),
            "bn",
        ))
        .node(named(node("FusedConv", &["c"], &["y"], vec![]), "fc"))
        .output("y");
    m.nodes[3].domain = Some("com.microsoft".into());
    m.extra_opsets.push(("com.microsoft", 1));
    let (e, msg) = m.err();
    let FrontendError::Unsupported(list) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(list.len(), 4, "{msg}");
    assert_eq!(list[0].node, "lstm1");
    assert_eq!(
        list[1].node, "NonMaxSuppression_1",
        "empty names are synthesised as Op_index"
    );
    assert_eq!(list[3].domain, "com.microsoft");
    let lines: Vec<&str> = msg.lines().collect();
    assert!(lines[0].contains("4 nodes"), "{msg}");
    assert_eq!(
        lines[1],
        "  node \"lstm1\": TfIdfVectorizer (domain ai.onnx, opset 15)"
    );
    assert_eq!(
        lines[2],
        "  node \"NonMaxSuppression_1\": NonMaxSuppression (domain ai.onnx, opset 15)"
    );
    assert!(
        lines[3].starts_with(
            "  node \"bn\": BatchNormalization (domain ai.onnx, opset 15): running_mean and \
             running_var are outputs only with training_mode=1"
        ),
        "{msg}"
    );
    assert_eq!(
        lines[4],
        "  node \"fc\": FusedConv (domain com.microsoft, opset 1)"
    );
    assert_contains(&msg, &["kiln supports", "Conv", "Export the model"]);
}

#[test]
fn batchnorm_with_statistics_outputs_is_training_mode() {
    let (e, msg) = model(9)
        .input(f32_input("x", &[1, 2]))
        .init(f32_tensor("s", &[2], &[1.0; 2]))
        .node(node(
            "BatchNormalization",
            &["x", "s", "s", "s", "s"],
            &["y", "mean"],
            vec![],
        ))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::Unsupported(_)));
    assert_contains(
        &msg,
        &["training outputs of opsets before 14", "inference mode"],
    );
}

#[test]
fn legacy_axis_broadcasting_is_refused() {
    let (_, msg) = model(6)
        .input(f32_input("x", &[2, 3, 4]))
        .init(f32_tensor("b", &[3], &[1.0; 3]))
        .node(node(
            "Add",
            &["x", "b"],
            &["y"],
            vec![a_int("broadcast", 1), a_int("axis", 1)],
        ))
        .output("y")
        .err();
    assert_contains(
        &msg,
        &[
            "Add (domain ai.onnx, opset 6)",
            "legacy broadcasting",
            "axis",
        ],
    );
    // Without `axis`, legacy broadcasting is numpy's suffix alignment and is accepted.
    let g = model(6)
        .input(f32_input("x", &[2, 3, 4]))
        .init(f32_tensor("b", &[4], &[1.0; 4]))
        .node(node(
            "Add",
            &["x", "b"],
            &["y"],
            vec![a_int("broadcast", 1)],
        ))
        .output("y")
        .ok();
    assert_eq!(value_named(&g, "y").ty.shape, vec![2, 3, 4]);
}

#[test]
fn missing_input_names_node_op_opset_and_value() {
    let (e, msg) = model(13)
        .input(f32_input("x", &[1, 4]))
        .node(named(node("Add", &["x", "foo"], &["y"], vec![]), "add1"))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::MissingInput { .. }), "{e:?}");
    assert_contains(
        &msg,
        &[
            "node \"add1\" (Add, opset 13) reads \"foo\"",
            "which no node, input or initializer provides",
        ],
    );
}

#[test]
fn cycles_are_reported_with_their_nodes() {
    let (e, msg) = model(13)
        .input(f32_input("x", &[1, 4]))
        .node(named(node("Relu", &["x"], &["r"], vec![]), "start"))
        .node(named(node("Add", &["r", "c"], &["a"], vec![]), "a"))
        .node(named(node("Relu", &["a"], &["b"], vec![]), "b"))
        .node(named(node("Relu", &["b"], &["c"], vec![]), "c"))
        .node(named(node("Relu", &["c"], &["y"], vec![]), "after"))
        .output("y")
        .err();
    let FrontendError::Cycle { nodes } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(nodes.len(), 4, "{msg}");
    assert_eq!(nodes.first(), nodes.last());
    assert_contains(
        &msg,
        &["\"a\" (Add)", "\"b\" (Relu)", "\"c\" (Relu)", "cycle"],
    );
    assert!(!msg.contains("start") && !msg.contains("after"), "{msg}");

    let (e, _) = model(13)
        .input(f32_input("x", &[1, 4]))
        .node(named(node("Add", &["x", "y"], &["y"], vec![]), "self"))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::Cycle { .. }), "{e:?}");
}

#[test]
fn duplicate_producers_are_refused() {
    let (_, msg) = model(13)
        .input(f32_input("x", &[1, 4]))
        .node(named(node("Relu", &["x"], &["y"], vec![]), "one"))
        .node(named(node("Sigmoid", &["x"], &["y"], vec![]), "two"))
        .output("y")
        .err();
    assert_contains(
        &msg,
        &["\"y\" is produced by both node \"one\" (Relu) and node \"two\" (Sigmoid)"],
    );
    let (_, msg) = model(13)
        .input(f32_input("x", &[1, 4]))
        .node(named(node("Relu", &["x"], &["x"], vec![]), "one"))
        .output("x")
        .err();
    assert_contains(&msg, &["writes \"x\", which is already a graph input"]);
}

#[test]
fn graph_output_without_a_source() {
    let (_, msg) = relu_model().output("nothing").err();
    assert_contains(&msg, &["graph output \"nothing\" is not produced"]);
}

#[test]
fn wrong_attribute_type_names_node_op_opset_and_attribute() {
    let (e, msg) = model(11)
        .input(f32_input("x", &[1, 1, 4, 4]))
        .init(f32_tensor("w", &[1, 1, 3, 3], &[0.0; 9]))
        .node(named(
            node("Conv", &["x", "w"], &["y"], vec![a_float("strides", 2.0)]),
            "conv",
        ))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::Attribute { .. }), "{e:?}");
    assert_contains(
        &msg,
        &[
            "node \"conv\" (Conv, opset 11)",
            "attribute \"strides\"",
            "list of integers (INTS)",
            "a float (FLOAT)",
        ],
    );
}

#[test]
fn bad_attribute_values_are_errors() {
    let (_, msg) = model(11)
        .input(f32_input("x", &[1, 1, 4, 4]))
        .node(named(
            node(
                "MaxPool",
                &["x"],
                &["y"],
                vec![a_ints("kernel_shape", &[2, -2])],
            ),
            "mp",
        ))
        .output("y")
        .err();
    assert_contains(&msg, &["\"kernel_shape\"", "between 0 and"]);
    let (_, msg) = model(11)
        .input(f32_input("x", &[1, 1, 4, 4]))
        .node(node("MaxPool", &["x"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["\"kernel_shape\" is required"]);
    let (_, msg) = model(11)
        .input(f32_input("x", &[1, 1, 4, 4]))
        .node(node(
            "AveragePool",
            &["x"],
            &["y"],
            vec![a_ints("kernel_shape", &[2, 2]), a_str("auto_pad", "SAME")],
        ))
        .output("y")
        .err();
    assert_contains(&msg, &["\"auto_pad\" is \"SAME\""]);
}

#[test]
fn shape_inference_errors_carry_node_context() {
    let (e, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .input(f32_input("z", &[4, 5]))
        .node(named(node("MatMul", &["x", "z"], &["y"], vec![]), "mm"))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::Node { .. }), "{e:?}");
    assert_contains(
        &msg,
        &["node \"mm\" (MatMul, opset 13)", "inner dimensions"],
    );
}

#[test]
fn arity_is_checked() {
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .node(node("Relu", &["x", "x"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["has 2 inputs but Relu takes at most 1"]);
    let (_, msg) = model(13)
        .input(f32_input("x", &[2, 3]))
        .node(node("Relu", &["x"], &["y", "z"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["has 2 outputs but Relu produces 1"]);
}

#[test]
fn unresolved_symbolic_dimension_asks_for_input_shape() {
    let m = model(13)
        .input(value_info(
            "image",
            DataType::Float,
            Some(&[D::P("N"), D::N(3), D::N(32), D::N(32)]),
        ))
        .node(node("Relu", &["image"], &["y"], vec![]))
        .output("y");
    let (e, msg) = m.err();
    assert!(matches!(e, FrontendError::InputShape(_)), "{e:?}");
    assert_contains(
        &msg,
        &[
            "input \"image\"",
            "dimension 0 (\"N\")",
            "--input-shape image=1x3x32x32",
        ],
    );

    let with = |shape: Vec<usize>, name: &str| {
        let opts = LoadOptions {
            input_shapes: BTreeMap::from([(name.to_string(), shape)]),
            ..Default::default()
        };
        m.load_with(&opts)
    };
    let g = with(vec![4, 3, 32, 32], "image").unwrap();
    assert_eq!(g.value(g.inputs[0]).ty.shape, vec![4, 3, 32, 32]);
    let msg = with(vec![1, 1, 32, 32], "image").unwrap_err().to_string();
    assert_contains(&msg, &["dimension 1 fixed to 3"]);
    let msg = with(vec![1, 3, 32], "image").unwrap_err().to_string();
    assert_contains(&msg, &["rank 4", "rank 3"]);
    let msg = with(vec![1, 3, 32, 32], "imgae").unwrap_err().to_string();
    assert_contains(
        &msg,
        &["\"imgae\", which is not a run-time input", "\"image\""],
    );
    let msg = with(vec![0, 3, 32, 32], "image").unwrap_err().to_string();
    assert_contains(&msg, &["zero dimension"]);

    // From build.rs the same messages name `kiln::Build`'s methods, as Rust.
    let build = |shape: Option<Vec<usize>>| {
        let opts = LoadOptions {
            input_shapes: shape
                .map(|s| BTreeMap::from([("image".to_string(), s)]))
                .unwrap_or_default(),
            option_names: kiln_ir::OptionNames::Build,
            ..Default::default()
        };
        m.load_with(&opts).unwrap_err().to_string()
    };
    for msg in [build(None), build(Some(vec![1, 1, 32, 32]))] {
        assert_contains(&msg, &[".input_shape(\"image\", &["]);
        assert!(!msg.contains("--"), "{msg}");
    }
    assert_contains(&build(None), &[".input_shape(\"image\", &[1, 3, 32, 32])"]);

    let (_, msg) = model(13)
        .input(value_info("x", DataType::Float, None))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(&msg, &["no declared shape", "--input-shape x="]);
}

#[test]
fn unsupported_element_types_are_named() {
    let (e, msg) = relu_model()
        .init(crate::onnx::TensorProto {
            name: Some("labels".into()),
            dims: vec![1],
            data_type: Some(DataType::String as i32),
            string_data: vec![b"cat".to_vec()],
            ..Default::default()
        })
        .err();
    assert!(matches!(e, FrontendError::UnsupportedDType { .. }), "{e:?}");
    assert_contains(
        &msg,
        &["unsupported element type STRING for initializer \"labels\""],
    );
    let (_, msg) = model(13)
        .input(value_info("x", DataType::Float8e4m3fn, Some(&[D::N(2)])))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y")
        .err();
    assert_contains(
        &msg,
        &["unsupported element type FLOAT8E4M3FN for graph input \"x\""],
    );
}

#[test]
fn opset_newer_than_kiln_knows() {
    let (e, msg) = model(crate::MAX_OPSET + 1)
        .input(f32_input("x", &[1]))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y")
        .err();
    assert!(matches!(e, FrontendError::OpsetTooNew { .. }), "{e:?}");
    assert_contains(&msg, &[&format!("opset_version={}", crate::MAX_OPSET)]);
}

#[test]
fn declared_element_type_must_match_inference() {
    let mut m = model(13)
        .input(f32_input("x", &[1, 4]))
        .node(node("Relu", &["x"], &["r"], vec![]))
        .node(node("Relu", &["r"], &["y"], vec![]))
        .output("y");
    m.value_info.push(value_info("r", DataType::Int64, None));
    let (_, msg) = m.err();
    assert_contains(&msg, &["\"r\" is f32", "declares element type INT64"]);
}

#[test]
fn truncated_and_random_bytes_are_decode_errors_never_panics() {
    let m = model(13)
        .input(f32_input("x", &[1, 2, 4, 4]))
        .init(f32_tensor("w", &[2, 2, 1, 1], &[1.0, 2.0, 3.0, 4.0]))
        .node(node(
            "Conv",
            &["x", "w"],
            &["c"],
            vec![a_ints("pads", &[0, 0, 0, 0])],
        ))
        .node(node("Relu", &["c"], &["y"], vec![]))
        .output("y");
    let bytes = m.bytes();
    assert!(load_model_bytes(&bytes, None, &LoadOptions::default()).is_ok());
    let mut decode_errors = 0;
    for cut in 0..bytes.len() {
        // Cutting at a field boundary leaves a shorter, valid message that fails later
        // (missing graph parts) or, rarely, still loads; anything but a panic is fine.
        if let Err(FrontendError::Decode(msg)) =
            load_model_bytes(&bytes[..cut], None, &LoadOptions::default())
        {
            decode_errors += 1;
            assert!(!msg.is_empty());
        }
    }
    assert!(
        decode_errors > bytes.len() / 2,
        "{decode_errors} of {}",
        bytes.len()
    );
    let e = load_model_bytes(&bytes[..bytes.len() / 2], None, &LoadOptions::default());
    assert!(
        e.unwrap_err()
            .to_string()
            .starts_with("not a valid ONNX model: ")
    );

    // Random bytes and single-byte corruptions: any error is fine, a panic is not.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let len = (next() % 200) as usize;
        let random: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = load_model_bytes(&random, None, &LoadOptions::default());
        let mut flipped = bytes.clone();
        let i = (next() as usize) % flipped.len();
        flipped[i] = next() as u8;
        let _ = load_model_bytes(&flipped, None, &LoadOptions::default());
    }
}

#[test]
fn other_formats_are_named() {
    let msg = |b: &[u8]| {
        load_model_bytes(b, None, &LoadOptions::default())
            .unwrap_err()
            .to_string()
    };
    assert_contains(
        &msg(b"\x1c\x00\x00\x00TFL3\x00\x00\x00\x00"),
        &["TensorFlow Lite"],
    );
    assert_contains(
        &msg(b"PK\x03\x04\x14\x00\x00\x00"),
        &["zip archive", "PyTorch", "torch.onnx.export"],
    );
    assert_contains(&msg(b"\x80\x02\x8a\x0alots"), &["pickle"]);
    assert_contains(&msg(b""), &["not a valid ONNX model", "empty"]);
}

#[test]
fn limits_are_enforced() {
    let bytes = relu_model().bytes();
    let opts = LoadOptions {
        max_file_bytes: 10,
        ..Default::default()
    };
    let e = load_model_bytes(&bytes, None, &opts).unwrap_err();
    assert!(matches!(e, FrontendError::FileTooLarge { .. }), "{e:?}");
    assert_contains(&e.to_string(), &["(--max-file-bytes)"]);
    // A build script is told about its builder method, not the flag.
    let build = LoadOptions {
        option_names: kiln_ir::OptionNames::Build,
        ..opts.clone()
    };
    let e = load_model_bytes(&bytes, None, &build).unwrap_err();
    assert_contains(&e.to_string(), &["(.max_file_bytes(..))"]);
    assert!(!e.to_string().contains("--"), "{e}");

    let opts = LoadOptions {
        max_tensor_elements: 3,
        ..Default::default()
    };
    let e = relu_model().load_with(&opts).unwrap_err();
    assert!(matches!(e, FrontendError::TensorTooLarge { .. }), "{e:?}");
    assert_contains(
        &e.to_string(),
        &["graph input \"x\"", "4", "--max-tensor-elements"],
    );
    let build = LoadOptions {
        option_names: kiln_ir::OptionNames::Build,
        ..opts.clone()
    };
    let e = relu_model().load_with(&build).unwrap_err();
    assert_contains(&e.to_string(), &[".max_tensor_elements(..)"]);
    let e = model(13)
        .input(f32_input("x", &[1]))
        .init(f32_tensor("big", &[2, 2], &[0.0; 4]))
        .node(node("Relu", &["x"], &["y"], vec![]))
        .output("y")
        .load_with(&opts)
        .unwrap_err();
    assert_contains(&e.to_string(), &["initializer \"big\""]);

    // A file on disk over the limit is refused before it is read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    std::fs::write(&path, &bytes).unwrap();
    let opts = LoadOptions {
        max_file_bytes: 10,
        ..Default::default()
    };
    let e = crate::load_model(&path, &opts).unwrap_err();
    assert!(matches!(e, FrontendError::FileTooLarge { .. }), "{e:?}");
    let build = LoadOptions {
        option_names: kiln_ir::OptionNames::Build,
        ..opts.clone()
    };
    let e = crate::load_model(&path, &build).unwrap_err();
    assert_contains(&e.to_string(), &["m.onnx", ".max_file_bytes(..)"]);
    assert!(crate::load_model(&path, &LoadOptions::default()).is_ok());
    let e =
        crate::load_model(&dir.path().join("absent.onnx"), &LoadOptions::default()).unwrap_err();
    assert!(matches!(e, FrontendError::Io { .. }), "{e:?}");
}

#[test]
fn huge_window_attributes_do_not_overflow() {
    for (attr, v) in [
        ("pads", vec![i64::MAX; 4]),
        ("strides", vec![i64::MAX, 1]),
        ("dilations", vec![i64::MAX, i64::MAX]),
    ] {
        for auto_pad in ["NOTSET", "SAME_UPPER", "VALID"] {
            let r = model(13)
                .input(f32_input("x", &[1, 1, 4, 4]))
                .init(f32_tensor("w", &[1, 1, 3, 3], &[0.0; 9]))
                .node(node(
                    "Conv",
                    &["x", "w"],
                    &["y"],
                    vec![a_ints(attr, &v), a_str("auto_pad", auto_pad)],
                ))
                .output("y")
                .load();
            // With auto_pad set, pads are ignored and the model may load; it must not panic.
            if auto_pad == "NOTSET" || attr != "pads" {
                let e = r.unwrap_err().to_string();
                assert!(
                    e.contains(attr) || e.contains("window"),
                    "{attr} {auto_pad}: {e}"
                );
            }
        }
    }
}
