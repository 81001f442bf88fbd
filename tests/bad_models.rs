//! The bad-model corpus: every model here is built by the recipe next to its name (no
//! hand-edited binaries), written to its own folder and compiled with the `kiln` binary.
//! Each must give exit status 1 and an error naming the problem and, where there is one,
//! the node (snapshot-tested in tests/snapshots/bad_models__*.snap), with no panic, within
//! a time and memory bound, and with no output left behind.
//!
//! `KILN_WRITE_BAD_MODELS=DIR cargo test --test bad_models` also copies the corpus to DIR
//! (e.g. as fuzzing seeds: `fuzz/corpus/load_model`).

mod common;

use common::onnx::{
    attr_graph, attr_ints, attr_string, f32_tensor, f32_value, graph, model, model_proto, node,
    small_conv_model, value,
};
use kiln::frontend::onnx::{
    AttributeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_proto::DataType,
};
use prost::Message;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-time bound per run. Every case finishes in well under a second; the bound is
/// generous for a loaded 2-core CI machine and is there to turn a hang into a failure.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Address-space bound per run (`ulimit -v`, KiB): 1 GiB, though the largest case (a
/// 100-MB attribute) needs about 300 MB. Exceeding it aborts kiln, which fails the case.
const MEMORY_LIMIT_KIB: u64 = 1 << 20;

struct Case {
    name: &'static str,
    /// The model file's bytes, written as `model.onnx` in the case's folder.
    model: Vec<u8>,
    /// Other files to write beside it (external data).
    extra: Vec<(&'static str, Vec<u8>)>,
    /// Symbolic links to make beside it: (link name, target).
    links: Vec<(&'static str, PathBuf)>,
    /// Compile this path instead of `model.onnx` (absolute, or relative to the folder).
    path: Option<&'static str>,
    args: Vec<&'static str>,
}

impl Case {
    fn new(name: &'static str, model: Vec<u8>) -> Self {
        Case {
            name,
            model,
            extra: Vec::new(),
            links: Vec::new(),
            path: None,
            args: Vec::new(),
        }
    }
    fn args(mut self, args: &[&'static str]) -> Self {
        self.args = args.to_vec();
        self
    }
}

/// Deterministic bytes (xorshift64*), so the random-bytes case is the same every run.
fn random_bytes(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn relu_model(opset: i64) -> Vec<u8> {
    model_proto(
        graph(
            vec![node("Relu", "relu", &["x"], &["y"])],
            vec![f32_value("x", &[1, 4])],
            vec![f32_value("y", &[1, 4])],
        ),
        opset,
    )
    .encode_to_vec()
}

/// A model whose initializer `w` has external data at `location` (and offset/length).
fn external_model(location: &str, offset: Option<&str>, length: Option<&str>) -> Vec<u8> {
    let mut entries = vec![StringStringEntryProto {
        key: Some("location".into()),
        value: Some(location.into()),
    }];
    for (k, v) in [("offset", offset), ("length", length)] {
        if let Some(v) = v {
            entries.push(StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v.into()),
            });
        }
    }
    let w = TensorProto {
        name: Some("w".into()),
        dims: vec![4],
        data_type: Some(DataType::Float as i32),
        data_location: Some(DataLocation::External as i32),
        external_data: entries,
        ..Default::default()
    };
    let mut g = graph(
        vec![node("Add", "add_weights", &["x", "w"], &["y"])],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    g.initializer = vec![w];
    model_proto(g, 13).encode_to_vec()
}

/// Three initializers, each reading the same 400 bytes of `weights.bin`.
fn external_reuse_model() -> Vec<u8> {
    let ext = |name: &str| TensorProto {
        name: Some(name.into()),
        dims: vec![1, 100],
        data_type: Some(DataType::Float as i32),
        data_location: Some(DataLocation::External as i32),
        external_data: vec![StringStringEntryProto {
            key: Some("location".into()),
            value: Some("weights.bin".into()),
        }],
        ..Default::default()
    };
    let mut g = graph(
        vec![
            node("Add", "add1", &["x", "w1"], &["a"]),
            node("Add", "add2", &["a", "w2"], &["b"]),
            node("Add", "add3", &["b", "w3"], &["y"]),
        ],
        vec![f32_value("x", &[1, 100])],
        vec![f32_value("y", &[1, 100])],
    );
    g.initializer = vec![ext("w1"), ext("w2"), ext("w3")];
    model_proto(g, 13).encode_to_vec()
}

/// `levels` If nodes, each holding the next in its `then_branch`.
fn nested_if_model(levels: usize) -> Vec<u8> {
    let mut inner = graph(
        vec![node("Identity", "leaf", &["x"], &["y"])],
        vec![],
        vec![f32_value("y", &[1])],
    );
    let leaf = inner.clone();
    for k in (0..levels).rev() {
        let mut n = node("If", &format!("if_{k}"), &["cond"], &["y"]);
        // Only one branch nests: nesting both would double the size at each level.
        n.attribute = vec![
            attr_graph("then_branch", inner),
            attr_graph("else_branch", leaf.clone()),
        ];
        inner = graph(vec![n], vec![], vec![f32_value("y", &[1])]);
    }
    inner.input = vec![value("cond", DataType::Bool, &[]), f32_value("x", &[1])];
    model_proto(inner, 13).encode_to_vec()
}

fn with_initializers(
    nodes: Vec<kiln::frontend::onnx::NodeProto>,
    inits: Vec<TensorProto>,
) -> Vec<u8> {
    let mut g = graph(
        nodes,
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    g.initializer = inits;
    model_proto(g, 13).encode_to_vec()
}

fn big_dims_initializer(dims: &[i64]) -> Vec<u8> {
    let mut t = f32_tensor("w", &[1], &[1.0]);
    t.dims = dims.to_vec();
    with_initializers(
        vec![node("Add", "add_weights", &["x", "w"], &["y"])],
        vec![t],
    )
}

fn cases() -> Vec<Case> {
    let resnet = std::fs::read(common::corpus_model("mlperf_ic_resnet8")).expect("resnet8");
    let relu13 = |nodes, inputs, outputs| model(nodes, inputs, outputs);
    let mut v = vec![
        Case::new("empty_file", Vec::new()),
        Case::new("truncated", resnet[..resnet.len() / 2].to_vec()),
        Case::new("random_bytes", random_bytes(4096, 0x6b69_6c6e)),
        // TFLite: a flatbuffer whose file identifier "TFL3" sits at bytes 4..8.
        Case::new("tflite_file", {
            let mut b = vec![0x1c, 0, 0, 0];
            b.extend_from_slice(b"TFL3");
            b.extend(random_bytes(120, 1));
            b
        }),
        // PyTorch's torch.save writes a zip archive.
        Case::new("pytorch_zip", {
            let mut b = b"PK\x03\x04".to_vec();
            b.extend_from_slice(b"\x00\x00\x08\x00archive/data.pkl");
            b.extend(random_bytes(64, 2));
            b
        }),
        // Legacy torch.save: a pickle stream, protocol 2.
        Case::new(
            "pytorch_pickle",
            b"\x80\x02}q\x00(X\x05\x00\x00\x00model".to_vec(),
        ),
        Case::new(
            "onnx_text_format",
            b"ir_version: 8\ngraph {\n  node { op_type: \"Relu\" }\n}\n".to_vec(),
        ),
        Case::new(
            "empty_graph",
            model_proto(graph(vec![], vec![], vec![]), 13).encode_to_vec(),
        ),
        Case::new(
            "missing_input",
            relu13(
                vec![node("Relu", "relu", &["ghost"], &["y"])],
                vec![f32_value("x", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new(
            "missing_initializer",
            relu13(
                vec![node("Conv", "conv1", &["x", "conv1.weight"], &["y"])],
                vec![f32_value("x", &[1, 1, 4, 4])],
                vec![f32_value("y", &[1, 1, 4, 4])],
            ),
        ),
        Case::new(
            "duplicate_output_name",
            relu13(
                vec![
                    node("Relu", "first", &["x"], &["a"]),
                    node("Sigmoid", "second", &["x"], &["a"]),
                    node("Relu", "last", &["a"], &["y"]),
                ],
                vec![f32_value("x", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new(
            "duplicate_initializer_name",
            with_initializers(
                vec![node("Add", "add_weights", &["x", "w"], &["y"])],
                vec![
                    f32_tensor("w", &[4], &[1.0; 4]),
                    f32_tensor("w", &[4], &[2.0; 4]),
                ],
            ),
        ),
        Case::new(
            "duplicate_input_name",
            relu13(
                vec![node("Relu", "relu", &["x"], &["y"])],
                vec![f32_value("x", &[1, 4]), f32_value("x", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new(
            "output_shadows_input",
            relu13(
                vec![node("Relu", "relu", &["x"], &["x"])],
                vec![f32_value("x", &[1, 4])],
                vec![f32_value("x", &[1, 4])],
            ),
        ),
        Case::new(
            "cycle",
            relu13(
                vec![
                    node("Relu", "r1", &["b"], &["a"]),
                    node("Relu", "r2", &["a"], &["b"]),
                    node("Relu", "r3", &["a"], &["y"]),
                ],
                vec![f32_value("x", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new(
            "unknown_op",
            relu13(
                vec![
                    node("FooBar", "first_unknown", &["x"], &["a"]),
                    node("Relu", "relu", &["a"], &["b"]),
                    node("Frobnicate", "second_unknown", &["b"], &["y"]),
                ],
                vec![f32_value("x", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new("unknown_domain", {
            let mut m = model_proto(
                graph(
                    vec![{
                        let mut n = node("Relu", "custom_relu", &["x"], &["y"]);
                        n.domain = Some("com.example.custom".into());
                        n
                    }],
                    vec![f32_value("x", &[1, 4])],
                    vec![f32_value("y", &[1, 4])],
                ),
                13,
            );
            m.opset_import.push(OperatorSetIdProto {
                domain: Some("com.example.custom".into()),
                version: Some(1),
            });
            m.encode_to_vec()
        }),
        Case::new("opset_too_new", relu_model(99)),
        Case::new("opset_zero", relu_model(0)),
        Case::new("attribute_wrong_type", {
            let mut conv = node("Conv", "conv1", &["x", "w"], &["y"]);
            conv.attribute = vec![
                attr_ints("kernel_shape", &[3, 3]),
                AttributeProto {
                    name: Some("strides".into()),
                    r#type: Some(AttributeType::String as i32),
                    s: Some(b"2,2".to_vec()),
                    ..Default::default()
                },
            ];
            let mut g = graph(
                vec![conv],
                vec![f32_value("x", &[1, 1, 6, 6])],
                vec![f32_value("y", &[1, 1, 2, 2])],
            );
            g.initializer = vec![f32_tensor("w", &[1, 1, 3, 3], &[0.1; 9])];
            model_proto(g, 13).encode_to_vec()
        }),
        Case::new("raw_data_length_mismatch", {
            let mut t = f32_tensor("w", &[2, 3], &[0.0; 6]);
            t.raw_data = Some(vec![0; 5]);
            with_initializers(
                vec![node("Add", "add_weights", &["x", "w"], &["y"])],
                vec![t],
            )
        }),
        Case::new("negative_dims_initializer", big_dims_initializer(&[-1, 4])),
        Case::new(
            "negative_dims_input",
            relu13(
                vec![node("Relu", "relu", &["x"], &["y"])],
                vec![f32_value("x", &[1, -3])],
                vec![f32_value("y", &[1, 3])],
            ),
        ),
        Case::new(
            "zero_sized_input",
            relu13(
                vec![node("Relu", "relu", &["x"], &["y"])],
                vec![f32_value("x", &[1, 0])],
                vec![f32_value("y", &[1, 0])],
            ),
        ),
        // 2^31 x 2^31 = 2^62 elements, with 4 bytes of data.
        Case::new(
            "dims_product_2_pow_62",
            big_dims_initializer(&[1 << 31, 1 << 31]),
        ),
        // Overflows 64 bits.
        Case::new(
            "dims_product_overflows",
            big_dims_initializer(&[1 << 62, 1 << 62, 16]),
        ),
        // 12.9 G elements: more memory than any device has.
        Case::new(
            "input_too_large",
            relu13(
                vec![node("Relu", "relu", &["x"], &["y"])],
                vec![f32_value("x", &[1, 3, 65536, 65536])],
                vec![f32_value("y", &[1, 3, 65536, 65536])],
            ),
        ),
        // Each tensor is 4 GiB, within the element limit, but the two intermediate values
        // need an 8 GiB arena.
        Case::new(
            "arena_too_large",
            relu13(
                vec![
                    node("Relu", "relu", &["x"], &["a"]),
                    node("Sigmoid", "sigmoid", &["a"], &["b"]),
                    node("Add", "add", &["a", "b"], &["y"]),
                ],
                vec![f32_value("x", &[1, 1 << 30])],
                vec![f32_value("y", &[1, 1 << 30])],
            ),
        ),
        // A real model on a device with 64 KiB of RAM for activations.
        Case::new("does_not_fit_device", resnet.clone()).args(&[
            "--max-arena-bytes",
            "65536",
            "--target",
            "thumbv7em-none-eabihf",
        ]),
        Case::new("file_over_limit", resnet.clone()).args(&["--max-file-bytes", "10000"]),
        Case::new("too_many_nodes", {
            let names: Vec<String> = (0..=200).map(|i| format!("v{i}")).collect();
            let nodes = (0..200)
                .map(|i| {
                    node(
                        "Relu",
                        &format!("relu_{i}"),
                        &[names[i].as_str()],
                        &[if i == 199 { "y" } else { names[i + 1].as_str() }],
                    )
                })
                .collect();
            relu13(
                nodes,
                vec![f32_value("v0", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            )
        })
        .args(&["--max-nodes", "100"]),
        Case::new(
            "external_data_parent_dir",
            external_model("../../etc/passwd", None, None),
        ),
        Case::new(
            "external_data_absolute",
            external_model("/etc/passwd", None, None),
        ),
        Case {
            links: vec![("weights.bin", PathBuf::from("/etc/passwd"))],
            ..Case::new(
                "external_data_symlink",
                external_model("weights.bin", None, None),
            )
        },
        Case {
            extra: vec![("weights.bin", vec![0; 8])],
            ..Case::new(
                "external_data_past_end",
                external_model("weights.bin", Some("4"), Some("16")),
            )
        },
        // 3 x 400 bytes read from one 400-byte file: over a 1000-byte budget.
        Case {
            extra: vec![("weights.bin", vec![0; 400])],
            ..Case::new("external_data_over_budget", external_reuse_model())
        }
        .args(&["--max-file-bytes", "1000"]),
        Case::new("nested_subgraphs_over_limit", nested_if_model(20)),
        Case::new("nested_subgraphs_past_decoder", nested_if_model(200)),
        Case::new("string_attribute_100mb", {
            let mut conv = node("Conv", "conv1", &["x", "w"], &["y"]);
            conv.attribute = vec![attr_string("auto_pad", vec![b'A'; 100 << 20])];
            let mut g = graph(
                vec![conv],
                vec![f32_value("x", &[1, 1, 6, 6])],
                vec![f32_value("y", &[1, 1, 4, 4])],
            );
            g.initializer = vec![f32_tensor("w", &[1, 1, 3, 3], &[0.1; 9])];
            model_proto(g, 13).encode_to_vec()
        }),
        Case::new(
            "node_name_1mb",
            relu13(
                vec![node("Relu", &"n".repeat(1 << 20), &["x"], &["y"])],
                vec![f32_value("x", &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new(
            "string_input",
            relu13(
                vec![node("Relu", "relu", &["x"], &["y"])],
                vec![value("x", DataType::String, &[1, 4])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case::new(
            "inconsistent_output_type",
            relu13(
                vec![node("Relu", "relu", &["x"], &["y"])],
                vec![f32_value("x", &[1, 4])],
                vec![value("y", DataType::Int64, &[1, 4])],
            ),
        ),
        Case::new(
            "shape_mismatch",
            relu13(
                vec![node("Add", "add", &["x", "z"], &["y"])],
                vec![f32_value("x", &[1, 4]), f32_value("z", &[3, 5])],
                vec![f32_value("y", &[1, 4])],
            ),
        ),
        Case {
            path: Some("."),
            ..Case::new("model_is_a_directory", Vec::new())
        },
        Case {
            path: Some("/dev/zero"),
            ..Case::new("model_is_a_device", Vec::new())
        },
        Case {
            path: Some("absent.onnx"),
            ..Case::new("model_is_absent", Vec::new())
        },
        Case::new("bad_input_shape_flag", relu_model(13)).args(&["--input-shape", "x=1xfour"]),
        Case::new("input_shape_for_unknown_input", relu_model(13))
            .args(&["--input-shape", "pixels=1x4"]),
    ];
    v.sort_by_key(|c| c.name);
    v
}

/// Replaces the case folder's path (it differs per run) with `[DIR]`.
fn normalize(s: &str, dir: &Path) -> String {
    s.replace(&dir.to_string_lossy().into_owned(), "[DIR]")
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// Runs `kiln` in `dir` under the time and memory bounds.
fn run_kiln(dir: &Path, args: &[&str]) -> Outcome {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(common::kiln_bin())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kiln");
    let mut err = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for kiln") {
            break Some(st);
        }
        if start.elapsed() > TIME_LIMIT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stderr = reader.join().unwrap_or_default();
    Outcome {
        code: status.and_then(|s| s.code()),
        stderr,
        elapsed,
    }
}

/// Files in `dir` that kiln may have written: anything but the case's own inputs.
fn leftovers(dir: &Path, case: &Case) -> Vec<String> {
    let ours: Vec<&str> = ["model.onnx"]
        .into_iter()
        .chain(case.extra.iter().map(|(n, _)| *n))
        .chain(case.links.iter().map(|(n, _)| *n))
        .collect();
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !ours.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// Problems with a failed run: anything but a clean error.
fn check_clean_error(o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match o.code {
        Some(1) => {}
        None => problems.push(format!(
            "killed: no exit within {TIME_LIMIT:?} or by a signal (abort, out of memory)"
        )),
        Some(c) => problems.push(format!("exit status {c}, want 1")),
    }
    for w in [
        "panicked",
        "RUST_BACKTRACE",
        "stack backtrace",
        "memory allocation of",
    ] {
        if o.stderr.contains(w) {
            problems.push(format!("stderr contains {w:?}"));
        }
    }
    if !o.stderr.starts_with("error: ") {
        problems.push("stderr does not start with \"error: \"".into());
    }
    if o.stderr.len() > 4000 {
        problems.push(format!("message is {} bytes long", o.stderr.len()));
    }
    problems
}

#[test]
fn bad_models_give_clear_errors() {
    let root = tempfile::tempdir().unwrap();
    let write_to = std::env::var_os("KILN_WRITE_BAD_MODELS").map(PathBuf::from);
    let mut failures = Vec::new();
    let mut results = Vec::new();
    for case in cases() {
        let dir = root.path().join(case.name);
        std::fs::create_dir_all(&dir).unwrap();
        if case.path.is_none() {
            std::fs::write(dir.join("model.onnx"), &case.model).unwrap();
        }
        if let Some(w) = &write_to
            && !case.model.is_empty()
            && case.model.len() < (1 << 20)
        {
            std::fs::create_dir_all(w).unwrap();
            std::fs::write(w.join(format!("{}.onnx", case.name)), &case.model).unwrap();
        }
        for (name, bytes) in &case.extra {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        for (name, target) in &case.links {
            std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
        }
        let model = case.path.unwrap_or("model.onnx");
        let mut args = vec!["compile", model, "-o", "out", "--emit", "crate"];
        args.extend(&case.args);
        eprintln!("case {}", case.name);
        let o = run_kiln(&dir, &args);
        let mut problems = check_clean_error(&o);
        let left = leftovers(&dir, &case);
        if !left.is_empty() {
            problems.push(format!("left behind: {left:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n{}",
                case.name,
                problems.join("; "),
                o.stderr
            ));
        }
        results.push((case.name, normalize(&o.stderr, &dir), o.elapsed));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The messages themselves, after the hard checks, so a wording change shows as a diff.
    for (name, stderr, _) in &results {
        insta::assert_snapshot!(*name, stderr);
    }
    let slowest = results.iter().max_by_key(|r| r.2).map(|r| (r.0, r.2));
    eprintln!("{} bad models, slowest {slowest:?}", results.len());
}

/// One byte flipped (xor 0xff) at every position of a small valid model: each run must
/// either compile to a complete crate or fail cleanly. Weight bytes give valid models.
#[test]
fn flipped_bytes_never_crash() {
    let good = small_conv_model();
    let root = tempfile::tempdir().unwrap();
    let (mut compiled, mut refused) = (0, 0);
    let mut failures = Vec::new();
    for i in 0..good.len() {
        let dir = root.path().join(format!("flip{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = good.clone();
        bytes[i] ^= 0xff;
        std::fs::write(dir.join("model.onnx"), &bytes).unwrap();
        let o = run_kiln(&dir, &["compile", "model.onnx", "-o", "out.rs"]);
        if o.code == Some(0) {
            compiled += 1;
            let src = std::fs::read_to_string(dir.join("out.rs")).unwrap_or_default();
            if !src.contains("pub fn run(") {
                failures.push(format!("byte {i}: exit 0 but out.rs is incomplete"));
            }
            continue;
        }
        refused += 1;
        let problems = check_clean_error(&o);
        if !problems.is_empty() || dir.join("out.rs").exists() {
            failures.push(format!("byte {i}: {}\n{}", problems.join("; "), o.stderr));
        }
    }
    eprintln!(
        "{} positions: {compiled} compiled, {refused} refused cleanly",
        good.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Both outcomes must occur, or the test is not testing what it says.
    assert!(
        compiled > 0 && refused > 0,
        "{compiled} compiled, {refused} refused"
    );
}
