//! Snapshots of the emitted source for small hand-built graphs, and of the error messages.
//! Review changes with `INSTA_UPDATE=always cargo test -p kiln-codegen` and `git diff`.

mod common;

use common::Builder;
use kiln_codegen::{CodegenError, EmitKind, Generated, Provenance, RustOptions, emit_rust};
use kiln_ir::ops::{ConvAttrs, GemmAttrs};
use kiln_ir::{DType, Graph, Op, TensorData};

fn options(name: &str) -> RustOptions {
    RustOptions {
        step_hook: false,
        module_name: name.into(),
        provenance: Provenance {
            kiln_version: "0.1.0".into(),
            model_file: format!("{name}.onnx"),
            model_sha256: "0123abcd".into(),
            options: vec!["--input-shape image=1x3x8x8".into()],
        },
        // Pinned: the host resolves to the machine running the tests, whose vector width
        // the arena alignment follows (64 bytes on AVX-512, 32 on AVX2).
        target: kiln_ir::Target::X86_64V4,
        kernels: kiln_codegen::KernelChoice::Reference,
        intrinsics: false,
        weights_file: None,
    }
}

fn emit(g: &Graph, kind: EmitKind) -> Result<Generated, CodegenError> {
    let verified = kiln_ir::verify(g).expect("test graphs are valid");
    let plan = kiln_passes::plan_memory(&verified);
    emit_rust(&verified, &plan, kind, &options(&g.name))
}

#[test]
fn cnn_module() {
    let g = common::cnn();
    let out = emit(&g, EmitKind::Module).unwrap();
    assert_eq!(out.files.len(), 1);
    assert_eq!(out.files[0].path.to_str(), Some("model.rs"));
    insta::assert_snapshot!("cnn_model_rs", out.files[0].contents);
    // Deterministic: a second emission is byte-identical.
    assert_eq!(emit(&g, EmitKind::Module).unwrap(), out);
}

#[test]
fn integers_crate() {
    let out = emit(&common::integers(), EmitKind::Crate).unwrap();
    let names: Vec<_> = out
        .files
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["src/lib.rs", "Cargo.toml", "README.md"]);
    for f in &out.files {
        let name = format!(
            "integers_{}",
            f.path.to_string_lossy().replace(['/', '.'], "_")
        );
        insta::assert_snapshot!(name, f.contents);
    }
    let sig = &out.signature;
    let idents: Vec<&str> = sig
        .inputs
        .iter()
        .chain(&sig.outputs)
        .map(|p| p.ident.as_str())
        .collect();
    assert_eq!(
        idents,
        [
            "a",
            "type_",
            "big",
            "mul_4_0",
            "mul_4_0_1",
            "type_1",
            "add_5_0",
            "k"
        ]
    );
}

#[test]
fn unsupported_nodes_are_all_reported() {
    let mut b = Builder::new("bad");
    let x = b.input("x", DType::F32, &[1, 1, 2, 2, 2, 2]);
    let w = b.weights("w", &[1, 1, 1, 1, 1, 1], 0, 1.0);
    let conv = b.one(
        Op::Conv(ConvAttrs {
            window: common::window(&[], &[], &[]),
            group: 1,
        }),
        &[x, w],
    );
    let a = b.input("a", DType::I32, &[2, 2]);
    let half = Op::Gemm(GemmAttrs {
        alpha: 0.5,
        ..Default::default()
    });
    let g = b.one(half, &[a, a]);
    b.output(conv);
    b.output(g);
    let err = emit(&b.g, EmitKind::Module).unwrap_err();
    insta::assert_snapshot!("unsupported_nodes", err.to_string());

    let mut b = Builder::new("half");
    let h = b.input("h", DType::F16, &[2]);
    let c = b.constant("c", &[2], TensorData::F16(vec![0, 0]));
    let s = b.one(Op::Binary(kiln_ir::ops::BinaryOp::Add), &[h, c]);
    b.output(s);
    let err = emit(&b.g, EmitKind::Module).unwrap_err();
    insta::assert_snapshot!("f16_port", err.to_string());
}

/// The step hook adds `run_profiled` (the steps of `run`, each followed by `hook(i)`) and
/// changes nothing else; without it the output is the `cnn_model_rs` snapshot above.
#[test]
fn step_hook_adds_hook_calls_and_nothing_else() {
    let g = common::cnn();
    let verified = kiln_ir::verify(&g).expect("test graphs are valid");
    let plan = kiln_passes::plan_memory(&verified);
    let plain = emit(&g, EmitKind::Module).unwrap();
    assert_eq!(plain.profiled_steps, None);
    let opts = RustOptions {
        step_hook: true,
        ..options(&g.name)
    };
    let hooked = emit_rust(&verified, &plan, EmitKind::Module, &opts).unwrap();
    let (plain, text) = (&plain.files[0].contents, &hooked.files[0].contents);
    let steps = hooked.profiled_steps.expect("the step count");
    assert!(steps > 1, "{steps}");
    assert!(text.contains(&format!("pub const STEPS: usize = {steps};")));
    // The body of `run_profiled` is `run`'s body with `hook(i);` after each step, in order.
    let body = |src: &str, start: &str| -> String {
        let from = src.find(start).unwrap_or_else(|| panic!("no {start:?}"));
        let open = from + src[from..].find(") {\n").expect("a body") + 4;
        let len = src[open..].find("\n}\n").expect("the end of the body");
        src[open..open + len].to_string()
    };
    let profiled = body(text, "pub fn run_profiled(");
    let hooks: Vec<&str> = profiled
        .lines()
        .filter(|l| l.trim_start().starts_with("hook("))
        .collect();
    let expected: Vec<String> = (0..steps).map(|i| format!("    hook({i});")).collect();
    assert_eq!(hooks, expected);
    let unhooked: Vec<&str> = profiled
        .lines()
        .filter(|l| !l.trim_start().starts_with("hook("))
        .collect();
    assert_eq!(unhooked.join("\n"), body(plain, "pub fn run("));
    // `run` is kept, calling the profiled body with a hook that does nothing.
    assert!(text.contains("run_profiled(inputs, outputs, arena, &mut |_| {});"));
    // Everything after the run function (kernels, statics) is the same.
    let tail = |src: &str| src[src.find("// ---- kernels ----").expect("kernels")..].to_string();
    assert_eq!(tail(text), tail(plain));
}
