//! How the Rust printer spells the weight statics. With a weights file
//! (`RustOptions::weights_file`) on x86-64 or AArch64, the f32 weights the GEMM kernels read
//! packed are that file's bytes, included whole (see [`byte_statics`]). The others: small
//! tensors are array literals
//! (readable, and as fast to compile); from [`PACK_MIN`] elements on, the elements' bit
//! patterns are packed into `u128` hex words that a `const fn` of the generated module
//! unpacks at compile time (`unpack_f32` and its siblings), so the static is still a
//! `[T; N]` (in the aligned wrapper `Aligned`) in read-only memory, with nothing done at
//! run time.
//!
//! Why: rustc spends about 4 µs on each decimal float literal of a large array (parsing,
//! type checking, lints, a `Neg` per negative value); one `u128` literal carries four f32
//! and the `const fn` turns them into floats faster than that, in less source and a third
//! of the compiler's memory (ddddocr_det: 70.5 MB of source, 2.76 GB peak, 37.9 s of CPU
//! for a clean release build before; 45.5 MB, 0.86 GB, 27.6 s after). Const evaluation is
//! itself slow (~1.5 µs per call), which is why a denser text encoding (base64 in a string)
//! decoded byte by byte loses to both; see ARCHITECTURE.md.

use crate::api::CodegenError;
use crate::literal;
use crate::namer::quote;
use crate::program::{Packing, Program};
use crate::writer::Writer;
use kiln_ir::{DType, Tensor};
use std::collections::BTreeSet;

/// Tensors with fewer elements stay array literals: below about a thousand elements a
/// literal compiles as fast as the packed form, and biases and scales stay readable.
const PACK_MIN: usize = 1024;

/// Elements per `const` part of a packed static. Each part is its own const evaluation,
/// which keeps every evaluation far below rustc's `long_running_const_eval` limit (2M
/// interpreted terminators; 8 parts' worth of f32 or f64 in one evaluation measured not to
/// trip it), so the lint never fires and needs no `allow`. A multiple of 16, so parts start
/// on a word.
const PART: usize = 65536;

/// Hex words per line of a packed static (128 bytes of weights, about 290 columns), comma
/// separated without spaces: the source stays near twice the weight bytes.
const WORDS_PER_LINE: usize = 8;

/// The statics stored as bytes in the weights file (`weights_file`): the f32 weights a GEMM
/// kernel reads packed, on targets whose loads of an f32 from any byte address cost what
/// an aligned one does (x86-64, AArch64: the kernels read them through `wt`, a
/// `from_le_bytes` that compiles to the plain load). Microcontrollers keep `[f32; N]`
/// statics: a Cortex-M's FPU loads need word alignment, which a `[u8; 4]` does not promise.
pub(super) fn byte_statics(program: &Program, weights_file: Option<&str>) -> BTreeSet<String> {
    use kiln_ir::target::Arch;
    if weights_file.is_none() || !matches!(program.target.arch(), Arch::X86_64 | Arch::Aarch64) {
        return BTreeSet::new();
    }
    program
        .statics
        .iter()
        .filter(|s| {
            s.ty.starts_with("f32")
                && matches!(
                    s.packing,
                    Some(
                        Packing::RowPanels { .. }
                            | Packing::ColPanels { .. }
                            | Packing::Winograd { .. }
                    )
                )
        })
        .map(|s| s.name.clone())
        .collect()
}

/// The statics as Rust items, preceded by the unpacking functions they use, and the
/// weights file's bytes if any static is stored there (see [`byte_statics`]).
pub(super) fn statics(
    program: &Program,
    data: &dyn Fn(kiln_ir::ValueId) -> Option<Tensor>,
    weights_file: Option<&str>,
) -> Result<(String, Option<Vec<u8>>), CodegenError> {
    let in_bytes = byte_statics(program, weights_file);
    let align = vector_align(program.target).unwrap_or(4);
    let mut blob: Vec<u8> = Vec::new();
    let mut w = Writer::new(0);
    // Element types unpacked, by their Rust name; whether any static has parts.
    let mut unpacked: BTreeSet<&'static str> = BTreeSet::new();
    let mut joined = false;
    for (i, s) in program.statics.iter().enumerate() {
        let t = data(s.id)
            .ok_or_else(|| CodegenError::Plan(format!("{:?} is not a constant", s.value)))?;
        // Weights a kernel reads packed are stored in that order (see `Packing`).
        let t = match s.packing {
            Some(p) => p.apply(&t).map_err(CodegenError::Plan)?,
            None => t,
        };
        let elem = literal::elem(t.dtype()).map_err(|message| CodegenError::Port {
            what: "constant",
            name: s.value.clone(),
            message,
        })?;
        if i > 0 {
            w.line("");
        }
        let n = t.numel();
        if in_bytes.contains(&s.name) {
            // Each static starts on the target's vector width, as the `Aligned` ones do.
            blob.resize(blob.len().next_multiple_of(align), 0);
            let at = blob.len();
            let kiln_ir::TensorData::F32(values) = &t.data else {
                return Err(CodegenError::Plan(format!(
                    "packed weights {:?} are not f32",
                    s.value
                )));
            };
            for v in values {
                blob.extend_from_slice(&v.to_le_bytes());
            }
            w.line(format!(
                "/// Constant {} ({}): bytes {at}..{} of the weights file.",
                quote(&s.value),
                s.ty,
                blob.len()
            ));
            w.line(format!(
                "static {}: &[Wt] = KILN_WEIGHTS.0.split_at({at}).1.split_at({}).0.as_chunks::<4>().0;",
                s.name,
                4 * n
            ));
            continue;
        }
        w.line(format!("/// Constant {} ({}).", quote(&s.value), s.ty));
        if n < PACK_MIN {
            if t.dtype().is_float() {
                // Weights are data: one may happen to be close to pi.
                w.line("#[allow(clippy::approx_constant)]");
            }
            w.open(format!(
                "static {}: Aligned<[{elem}; {n}]> = Aligned([",
                s.name
            ));
            let per_line = if t.dtype().is_float() { 8 } else { 16 };
            for line in literal::array_lines(&t.data, per_line) {
                w.line(line);
            }
            w.close("]);");
            continue;
        }
        unpacked.insert(elem);
        let words = literal::words(&t.data);
        let lanes = literal::lanes(t.dtype());
        if n <= PART {
            w.open(format!(
                "static {}: Aligned<[{elem}; {n}]> = Aligned(unpack_{elem}(&[",
                s.name
            ));
            word_lines(&mut w, &words);
            w.close("]));");
            continue;
        }
        joined = true;
        // The parts exist only during const evaluation (join copies them), so clippy's
        // worry, a large const copied at each use at run time, does not apply.
        w.line("#[allow(clippy::large_const_arrays)]");
        w.open(format!(
            "static {}: Aligned<[{elem}; {n}]> = Aligned({{",
            s.name
        ));
        let mut parts = Vec::new();
        for (p, start) in (0..n).step_by(PART).enumerate() {
            let len = PART.min(n - start);
            let first = start / lanes;
            let last = (start + len).div_ceil(lanes);
            w.open(format!("const P{p}: [{elem}; {len}] = unpack_{elem}(&["));
            word_lines(&mut w, &words[first..last]);
            w.close("]);");
            parts.push(format!("&P{p}"));
        }
        w.line(format!("join(&[{}], {})", parts.join(", "), zero(elem)));
        w.close("});");
    }
    let mut head = Writer::new(0);
    if !program.statics.is_empty() {
        head.append(&aligned_struct(program.target));
        head.line("");
    }
    for elem in &unpacked {
        head.append(&unpack_fn(elem)?);
        head.line("");
    }
    if joined {
        head.append(JOIN);
        head.line("");
    }
    let blob = match weights_file {
        Some(file) if !blob.is_empty() => {
            head.line(format!(
                "/// The packed f32 weights: the little-endian bytes of {}, which kiln writes beside
/// this file (rustc reads them whole; as literals, their conversion took most of a large
/// model's build).
static KILN_WEIGHTS: Aligned<[u8; {}]> = Aligned(*include_bytes!({}));
",
                quote(file),
                blob.len(),
                quote(file)
            ));
            Some(blob)
        }
        _ => None,
    };
    let mut text = head.finish();
    text.push_str(&w.finish());
    Ok((text, blob))
}

/// The alignment of a vector target's statics and arena: its vector width in bytes; `None`
/// without vectors (a microcontroller keeps its elements' alignment and spends no RAM or
/// flash on padding).
pub(super) fn vector_align(target: kiln_ir::Target) -> Option<usize> {
    let bytes = target.simd_bytes();
    (bytes >= 16).then_some(bytes)
}

/// The wrapper every static is stored in (and read through, as `&NAME.0`): aligned to the
/// target's vector width, so a vector load of packed weights never straddles two cache
/// lines. Left to the element's alignment, where each static landed varied from build to
/// build: the autoencoder's one-row Gemms, whose every load is a weight vector, took 8.1 us
/// with their weights 64-byte aligned and 12.9 us with them 28 bytes off (the same code, two
/// modules of one benchmark binary). Targets without vectors take the element's alignment
/// (at least 4 bytes), so a microcontroller's flash gains at most three bytes a static.
fn aligned_struct(target: kiln_ir::Target) -> String {
    let align = vector_align(target).unwrap_or(4);
    format!(
        "/// A static's storage, aligned to {align} bytes (the target's vector width, or the
/// elements' own): vector loads of the weights then never straddle two cache lines.
#[repr(C, align({align}))]
struct Aligned<T>(T);
"
    )
}

fn word_lines(w: &mut Writer, words: &[u128]) {
    for line in words.chunks(WORDS_PER_LINE) {
        let items: Vec<String> = line.iter().map(|x| format!("{x:#x}")).collect();
        w.line(format!("{},", items.join(",")));
    }
}

/// The zero of a Rust element type, to fill an array before it is written.
fn zero(elem: &str) -> &'static str {
    match elem {
        "f32" | "f64" => "0.0",
        "bool" => "false",
        _ => "0",
    }
}

/// Copies the parts of a packed static into one array (`copy_from_slice` is one memcpy
/// for const evaluation, not a loop).
const JOIN: &str = "\
/// Concatenates the parts of a large static, which are unpacked one by one.
const fn join<T: Copy, const N: usize>(parts: &[&[T]], zero: T) -> [T; N] {
    let mut out = [zero; N];
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        let (_, rest) = out.split_at_mut(at);
        let (dst, _) = rest.split_at_mut(parts[i].len());
        dst.copy_from_slice(parts[i]);
        at += parts[i].len();
        i += 1;
    }
    out
}
";

/// Elements unpacked per loop iteration: the loop's own cost is then shared by 16.
const GROUP: usize = 16;

/// `unpack_<elem>`: `N` elements from their bit patterns packed into `u128` words, the
/// lowest bits first, `128 / bits` to a word; 16 at a time, then the rest one by one.
fn unpack_fn(elem: &str) -> Result<String, CodegenError> {
    // The Rust element name is a DType name (f16 and bf16 are unpacked as u16).
    let dtype = DType::from_name(elem)
        .ok_or_else(|| CodegenError::Plan(format!("no unpacking for {elem}")))?;
    let lanes = literal::lanes(dtype);
    let bits = 128 / lanes;
    let per_group = GROUP / lanes;
    let conv = |x: &str| match elem {
        "f32" => format!("f32::from_bits({x} as u32)"),
        "f64" => format!("f64::from_bits({x} as u64)"),
        "bool" => format!("{x} & 1 != 0"),
        other => format!("{x} as {other}"),
    };
    let lane = |word: &str, l: usize| {
        if l == 0 {
            word.to_string()
        } else {
            format!("({word} >> {})", bits * l)
        }
    };
    let mut w = Writer::new(0);
    w.line(format!(
        "/// Unpacks `N` {elem} from their bit patterns, {} to a `u128` word, lowest first.",
        lanes
    ));
    w.open(format!(
        "const fn unpack_{elem}<const N: usize>(words: &[u128]) -> [{elem}; N] {{"
    ));
    w.line(format!("let mut out = [{}; N];", zero(elem)));
    w.line(format!(
        "let (groups, rest) = out.as_chunks_mut::<{GROUP}>();"
    ));
    w.line("let mut g = 0;");
    w.open("while g < groups.len() {");
    for k in 0..per_group {
        if per_group == 1 {
            w.line("let w0 = words[g];");
        } else if k == 0 {
            w.line(format!("let w0 = words[{per_group} * g];"));
        } else {
            w.line(format!("let w{k} = words[{per_group} * g + {k}];"));
        }
    }
    w.open("groups[g] = [");
    for k in 0..per_group {
        let items: Vec<String> = (0..lanes)
            .map(|l| conv(&lane(&format!("w{k}"), l)))
            .collect();
        w.line(format!("{},", items.join(", ")));
    }
    w.close("];");
    w.line("g += 1;");
    w.close("}");
    w.line(format!("let start = {GROUP} * groups.len();"));
    w.line("let mut j = 0;");
    w.open("while j < rest.len() {");
    w.line("let i = start + j;");
    w.line(format!(
        "rest[j] = {};",
        conv(&format!("(words[i / {lanes}] >> ({bits} * (i % {lanes})))"))
    ));
    w.line("j += 1;");
    w.close("}");
    w.line("out");
    w.close("}");
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use super::aligned_struct;
    use kiln_ir::Target;

    /// The wrapper takes the vector width where there are vectors (AVX-512 64 bytes, AVX2
    /// 32, NEON and SSE2 16) and no more than an f32's 4 bytes on a microcontroller.
    #[test]
    fn statics_align_to_the_targets_vectors() {
        for (name, align) in [
            ("x86_64-v4", 64),
            ("x86_64-v3", 32),
            ("x86_64", 16),
            ("aarch64", 16),
            ("thumbv7em+fpu", 4),
            ("thumbv6m", 4),
        ] {
            let target: Target = name.parse().unwrap();
            let text = aligned_struct(target);
            assert!(
                text.contains(&format!("#[repr(C, align({align}))]")),
                "{name}: {text}"
            );
        }
    }
}
