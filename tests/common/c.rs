//! Building generated C with a small harness, as `tests/c_backend.rs` and
//! `tests/int_kernels.rs` run it: `-std=c99 -Wall -Wextra -Werror -pedantic` under
//! AddressSanitizer and UndefinedBehaviorSanitizer, inputs and outputs through raw
//! little-endian files, an arena of exactly `<NAME>_ARENA_BYTES` from malloc.

use kiln::codegen::{Generated, Port};
use kiln::ir::{Tensor, TensorData};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const FLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
];

/// The C compilers to test with: `cc` (gcc) always, clang where installed. A missing `cc`
/// fails under `CI=true` and is reported loudly otherwise (then `None`).
pub fn compilers() -> Option<Vec<&'static str>> {
    let have = |c: &str| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("cc") {
        let msg = "\n\n*** no C compiler (`cc`) found: the C backend suite did NOT run ***\n";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return None;
    }
    let mut cs = vec!["cc"];
    if have("clang") {
        cs.push("clang");
    } else {
        let msg = "*** clang not found: the C backend is tested with cc only ***";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
    }
    Some(cs)
}

pub fn c_type(p: &Port) -> &'static str {
    use kiln::ir::DType::*;
    match p.dtype {
        F32 => "float",
        F64 => "double",
        I8 => "int8_t",
        I16 => "int16_t",
        I32 => "int32_t",
        I64 => "int64_t",
        U8 => "uint8_t",
        U16 => "uint16_t",
        U32 => "uint32_t",
        U64 => "uint64_t",
        Bool => "_Bool",
        other => panic!("no C type for {other}"),
    }
}

/// The parameter name the generated C gives a port (see `codegen/src/c/mod.rs`): read
/// back from the prototype in the header rather than recomputed.
pub fn harness_source(name: &str, header: &str, sig: &kiln::codegen::Signature) -> String {
    let upper = name.to_ascii_uppercase();
    let proto_at = header
        .find(&format!("void {name}_run("))
        .expect("the header declares run");
    assert!(header[proto_at..].contains("void *arena);"));
    let ports: Vec<&Port> = sig.inputs.iter().chain(&sig.outputs).collect();
    let mut s = format!(
        "#include \"{name}.h\"\n#include <stdio.h>\n#include <stdlib.h>\n\n\
         static void *load(const char *path, size_t bytes)\n{{\n    \
         void *p = malloc(bytes ? bytes : 1);\n    FILE *f = fopen(path, \"rb\");\n    \
         if (!p || !f || fread(p, 1, bytes, f) != bytes) {{ fprintf(stderr, \"cannot read %s\\n\", path); exit(2); }}\n    \
         fclose(f);\n    return p;\n}}\n\n\
         static void save(const char *path, const void *p, size_t bytes)\n{{\n    \
         FILE *f = fopen(path, \"wb\");\n    \
         if (!f || fwrite(p, 1, bytes, f) != bytes) {{ fprintf(stderr, \"cannot write %s\\n\", path); exit(2); }}\n    \
         fclose(f);\n}}\n\n\
         int main(int argc, char **argv)\n{{\n    void *arena = malloc({upper}_ARENA_BYTES ? {upper}_ARENA_BYTES : 1);\n"
    );
    s.push_str(&format!(
        "    if (argc != {} || !arena) {{ return 2; }}\n",
        ports.len() + 1
    ));
    for (i, p) in ports.iter().enumerate() {
        let t = c_type(p);
        let bytes = format!("{} * sizeof({t})", p.len);
        if i < sig.inputs.len() {
            s.push_str(&format!(
                "    {t} *p{i} = ({t} *)load(argv[{}], {bytes});\n",
                i + 1
            ));
        } else {
            s.push_str(&format!(
                "    {t} *p{i} = ({t} *)malloc({bytes} ? {bytes} : 1);\n    if (!p{i}) {{ return 2; }}\n"
            ));
        }
    }
    let args: Vec<String> = (0..ports.len()).map(|i| format!("p{i}")).collect();
    s.push_str(&format!("    {name}_run({}, arena);\n", args.join(", ")));
    for (i, p) in ports.iter().enumerate().skip(sig.inputs.len()) {
        s.push_str(&format!(
            "    save(argv[{}], p{i}, {} * sizeof({}));\n",
            i + 1,
            p.len,
            c_type(p)
        ));
    }
    for i in 0..ports.len() {
        s.push_str(&format!("    free(p{i});\n"));
    }
    s.push_str("    free(arena);\n    return 0;\n}\n");
    s
}

/// Writes the generated files and the harness under `dir`, builds them with `cc`, runs
/// the program on `inputs` and returns its outputs.
pub fn build_and_run(
    dir: &Path,
    generated: &Generated,
    inputs: &[Tensor],
    cc: &str,
) -> Result<Vec<Tensor>, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut c_file = None;
    let mut header = String::new();
    for f in &generated.files {
        std::fs::write(dir.join(&f.path), &f.contents).map_err(|e| e.to_string())?;
        if f.path.extension().is_some_and(|e| e == "c") {
            c_file = Some(f.path.clone());
        }
        if f.path.extension().is_some_and(|e| e == "h") {
            header = f.contents.clone();
        }
    }
    let c_file = c_file.ok_or("no .c file generated")?;
    let name = c_file.file_stem().unwrap().to_string_lossy().into_owned();
    let sig = &generated.signature;
    std::fs::write(dir.join("harness.c"), harness_source(&name, &header, sig))
        .map_err(|e| e.to_string())?;
    let exe = dir.join(format!("run-{cc}"));
    let out = Command::new(cc)
        .args(FLAGS)
        .arg("-o")
        .arg(&exe)
        .arg(dir.join(&c_file))
        .arg(dir.join("harness.c"))
        .output()
        .map_err(|e| format!("{cc}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{cc} failed:\n{}", &err[..err.len().min(4000)]));
    }
    let mut args: Vec<PathBuf> = Vec::new();
    if inputs.len() != sig.inputs.len() {
        return Err(format!(
            "{} inputs for {} ports",
            inputs.len(),
            sig.inputs.len()
        ));
    }
    for (i, t) in inputs.iter().enumerate() {
        let p = dir.join(format!("input_{i}.bin"));
        std::fs::write(&p, t.data.to_le_bytes()).map_err(|e| e.to_string())?;
        args.push(p);
    }
    for i in 0..sig.outputs.len() {
        args.push(dir.join(format!("output_{i}.bin")));
    }
    let run = Command::new(&exe)
        .args(&args)
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .output()
        .map_err(|e| e.to_string())?;
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        return Err(format!(
            "{cc} build exited with {}:\n{}",
            run.status,
            &err[..err.len().min(4000)]
        ));
    }
    sig.outputs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let bytes =
                std::fs::read(dir.join(format!("output_{i}.bin"))).map_err(|e| e.to_string())?;
            let data = TensorData::from_le_bytes(p.dtype, &bytes).ok_or("bad output size")?;
            Tensor::new(p.shape.clone(), data)
        })
        .collect()
}
