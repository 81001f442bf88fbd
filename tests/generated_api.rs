//! What a generated module or crate offers its user: no `deny(warnings)` of its own, no
//! warning when only its constants are used, the model's name, sha256, MACs, element
//! counts and (for quantized ports) scale and zero point as constants, and a README whose
//! example builds, with the arena in a static.

mod common;

use common::onnx::{f32_tensor, graph, model_proto, node, small_conv_model, value};
use kiln::codegen::EmitKind;
use kiln::frontend::onnx::{TensorProto, tensor_proto::DataType};
use prost::Message;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

/// int8 `x` [1, 4] -> DequantizeLinear (scale 0.5, zero point 3) -> Relu ->
/// QuantizeLinear (scale 0.25, zero point -2) -> int8 `y`.
fn quantized_io_model() -> Vec<u8> {
    let i8_scalar = |name: &str, v: i8| TensorProto {
        name: Some(name.into()),
        data_type: Some(DataType::Int8 as i32),
        raw_data: Some(vec![v as u8]),
        ..Default::default()
    };
    let mut g = graph(
        vec![
            node("DequantizeLinear", "dq", &["x", "x_scale", "x_zp"], &["xf"]),
            node("Relu", "relu", &["xf"], &["r"]),
            node("QuantizeLinear", "q", &["r", "y_scale", "y_zp"], &["y"]),
        ],
        vec![value("x", DataType::Int8, &[1, 4])],
        vec![value("y", DataType::Int8, &[1, 4])],
    );
    g.initializer = vec![
        f32_tensor("x_scale", &[], &[0.5]),
        i8_scalar("x_zp", 3),
        f32_tensor("y_scale", &[], &[0.25]),
        i8_scalar("y_zp", -2),
    ];
    model_proto(g, 13).encode_to_vec()
}

fn module_source(model: &Path) -> String {
    let compiled = kiln::compile(model, EmitKind::Module, &Default::default()).unwrap();
    compiled.generated.files[0].contents.clone()
}

/// The first ```rust block of a markdown text.
fn first_rust_block(md: &str) -> String {
    let start = md.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let len = md[start..].find("```").expect("the block ends");
    md[start..start + len].to_string()
}

#[test]
fn generated_code_serves_constants_without_warnings_and_its_readme_example_builds() {
    let root = common::repo().join("target").join("kiln-api-test");
    let _ = std::fs::remove_dir_all(&root);
    let user = root.join("user");
    std::fs::create_dir_all(user.join("src")).unwrap();

    // The models: the shipped ResNet-8 (as a crate and as a module), a small conv and one
    // with quantized input and output.
    let resnet8 = common::repo().join("examples/models/mlperf_ic_resnet8.onnx");
    let opts = kiln::CompileOptions {
        crate_name: Some("resnet8".into()),
        ..Default::default()
    };
    let krate = kiln::compile(&resnet8, EmitKind::Crate, &opts).unwrap();
    kiln::write_output(&krate.generated, EmitKind::Crate, &root.join("resnet8")).unwrap();
    let lib = std::fs::read_to_string(root.join("resnet8/src/lib.rs")).unwrap();
    assert!(
        !lib.contains("deny(warnings)"),
        "the crate must not deny warnings"
    );
    let readme = std::fs::read_to_string(root.join("resnet8/README.md")).unwrap();
    let example = first_rust_block(&readme);
    assert!(
        example.contains("static ARENA") && !example.contains("unsafe"),
        "{example}"
    );

    let models = root.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let conv = models.join("conv.onnx");
    std::fs::write(&conv, small_conv_model()).unwrap();
    let quant = models.join("quant.onnx");
    std::fs::write(&quant, quantized_io_model()).unwrap();
    for (file, model) in [
        ("resnet8.rs", resnet8.as_path()),
        ("conv.rs", &conv),
        ("quant.rs", &quant),
    ] {
        std::fs::write(user.join("src").join(file), module_source(model)).unwrap();
    }

    // A crate that reads only constants of the modules, and runs the README's example
    // against the generated crate.
    std::fs::write(
        user.join("Cargo.toml"),
        "[package]\nname = \"user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nresnet8 = { path = \"../resnet8\" }\n\n[workspace]\n",
    )
    .unwrap();
    let main = format!(
        r#"#[forbid(unsafe_code)]
mod resnet8_module {{
    include!("resnet8.rs");
}}
#[forbid(unsafe_code)]
mod conv {{
    include!("conv.rs");
}}
#[forbid(unsafe_code)]
mod quant {{
    include!("quant.rs");
}}

// The generated README's example, as written.
{example}
fn main() {{
    use resnet8_module as m;
    println!("arena {{}}", m::ARENA_BYTES);
    println!("name {{}} file {{}} sha256 {{}}", m::MODEL_NAME, m::MODEL_FILE, m::MODEL_SHA256);
    println!("input {{}} output {{}}", m::INPUT_1_ELEMENTS, m::IDENTITY_ELEMENTS);
    println!("conv macs {{}}", conv::MACS);
    let (xs, xz): (f32, i8) = (quant::X_SCALE, quant::X_ZERO_POINT);
    let (ys, yz): (f32, i8) = (quant::Y_SCALE, quant::Y_ZERO_POINT);
    println!("quant x {{xs}} {{xz}} y {{ys}} {{yz}}");
    infer();
    println!("crate {{}}", resnet8::MODEL_NAME);
}}
"#
    );
    std::fs::write(user.join("src/main.rs"), main).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(&cargo)
        .args(["build", "--offline", "--release"])
        .current_dir(&user)
        .env("CARGO_TARGET_DIR", common::gen_target())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&build.stderr);
    assert!(build.status.success(), "{err}");
    assert!(!err.contains("warning"), "{err}");

    let run = Command::new(common::gen_target().join("release/user"))
        .output()
        .unwrap();
    assert!(run.status.success());
    let out = String::from_utf8_lossy(&run.stdout);
    let sha: String = Sha256::digest(std::fs::read(&resnet8).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // ResNet-8 takes a 3x32x32 image and gives 10 class scores; the small conv has
    // 4 x 6 x 6 outputs, each reading 2 x 3 x 3 inputs: 2592 multiply-accumulates.
    for want in [
        format!("arena {}", krate.plan.arena_bytes()),
        format!("name mlperf_ic_resnet8 file mlperf_ic_resnet8.onnx sha256 {sha}"),
        "input 3072 output 10".into(),
        "conv macs 2592".into(),
        "quant x 0.5 3 y 0.25 -2".into(),
        "crate resnet8".into(),
    ] {
        assert!(out.contains(&want), "lacks {want:?}:\n{out}");
    }
}

#[test]
fn only_quantized_integer_ports_get_a_scale() {
    let dir = tempfile::tempdir().unwrap();
    let conv = dir.path().join("conv.onnx");
    std::fs::write(&conv, small_conv_model()).unwrap();
    let src = module_source(&conv);
    assert!(src.contains("pub const X_ELEMENTS: usize = 72;"), "{src}");
    assert!(!src.contains("_SCALE"), "{src}");

    // An int8 input that some node reads as a plain integer has no scale to state.
    let mut g = graph(
        vec![
            node("DequantizeLinear", "dq", &["x", "s"], &["xf"]),
            node("Cast", "cast", &["x"], &["xc"]),
            node("Add", "add", &["xf", "xc"], &["y"]),
        ],
        vec![value("x", DataType::Int8, &[1, 4])],
        vec![value("y", DataType::Float, &[1, 4])],
    );
    g.node[1].attribute = vec![kiln::frontend::onnx::AttributeProto {
        name: Some("to".into()),
        r#type: Some(kiln::frontend::onnx::attribute_proto::AttributeType::Int as i32),
        i: Some(DataType::Float as i64),
        ..Default::default()
    }];
    g.initializer = vec![f32_tensor("s", &[], &[0.5])];
    let mixed = dir.path().join("mixed.onnx");
    std::fs::write(&mixed, model_proto(g, 13).encode_to_vec()).unwrap();
    let src = module_source(&mixed);
    assert!(
        src.contains("X_ELEMENTS") && !src.contains("X_SCALE"),
        "{src}"
    );
}
