//! `kiln inspect --json` and `--svg`, checked from outside the planner: the identities of
//! a memory plan are recomputed from the JSON, and the SVG is checked as XML.

mod common;

use common::onnx::{f32_value, model, node};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const MODELS: [&str; 3] = [
    "mlperf_ic_resnet8",
    "mlperf_vww_mobilenetv1",
    "mlperf_ad_fcae",
];

fn kiln(args: &[&str]) -> Output {
    let o = Command::new(common::kiln_bin())
        .args(args)
        .output()
        .expect("run kiln");
    assert!(
        o.status.success(),
        "kiln {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn model_path(name: &str) -> String {
    common::corpus_model(name).to_string_lossy().into_owned()
}

fn inspect_json(model: &str) -> Value {
    inspect_json_with(model, &[])
}

fn inspect_json_with(model: &str, args: &[&str]) -> Value {
    let o = kiln(&[&["inspect", model, "--json"], args].concat());
    serde_json::from_slice(&o.stdout).expect("inspect --json prints JSON")
}

/// A device target: the reference kernels, no scratch space, the same plan on every host.
const DEVICE: [&str; 2] = ["--target", "thumbv7em-none-eabihf"];

fn num(v: &Value, key: &str) -> usize {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}")) as usize
}

/// One buffer as the JSON gives it.
struct Buf {
    name: String,
    dtype: String,
    offset: usize,
    bytes: usize,
    first: usize,
    last: usize,
}

fn buffers(plan: &Value) -> Vec<Buf> {
    plan["buffers"]
        .as_array()
        .expect("buffers is an array")
        .iter()
        .map(|b| Buf {
            name: b["value"].as_str().unwrap().to_string(),
            dtype: b["dtype"].as_str().unwrap().to_string(),
            offset: num(b, "offset_bytes"),
            bytes: num(b, "bytes"),
            first: num(b, "first_step"),
            last: num(b, "last_step"),
        })
        .collect()
}

/// Checks the identities every plan must satisfy, from the JSON alone.
fn check_plan_identities(model: &str, plan: &Value) {
    let arena = num(plan, "arena_bytes");
    let lower = num(plan, "lower_bound_bytes");
    let greedy = num(plan, "greedy_by_size_bytes");
    assert!(
        lower <= arena,
        "{model}: lower bound {lower} > arena {arena}"
    );
    assert!(
        arena <= greedy,
        "{model}: arena {arena} > greedy by size {greedy}"
    );

    let pools = plan["pools"].as_array().expect("pools is an array");
    let pool_bytes: BTreeMap<String, usize> = pools
        .iter()
        .map(|p| (p["dtype"].as_str().unwrap().to_string(), num(p, "bytes")))
        .collect();
    assert_eq!(pool_bytes.len(), pools.len(), "{model}: one pool per dtype");
    assert_eq!(
        arena,
        pool_bytes.values().sum::<usize>(),
        "{model}: arena = sum of pools"
    );
    assert_eq!(
        greedy,
        pools.iter().map(|p| num(p, "greedy_bytes")).sum::<usize>(),
        "{model}: greedy = sum over pools"
    );
    for p in pools {
        assert!(
            num(p, "lower_bound_bytes") <= num(p, "bytes"),
            "{model}: {p}"
        );
        assert!(num(p, "bytes") <= num(p, "greedy_bytes"), "{model}: {p}");
    }

    let nodes = plan["nodes"].as_array().expect("nodes is an array");
    let bufs = buffers(plan);
    assert!(!bufs.is_empty(), "{model}: no buffers");
    for (b, raw) in bufs.iter().zip(plan["buffers"].as_array().unwrap()) {
        assert!(
            b.first <= b.last && b.last < nodes.len(),
            "{model}: {}",
            b.name
        );
        assert!(
            b.offset + b.bytes <= pool_bytes[&b.dtype],
            "{model}: {} runs past its pool",
            b.name
        );
        // The node that writes a buffer runs at its first step.
        assert_eq!(
            raw["producer"], nodes[b.first]["name"],
            "{model}: producer of {}",
            b.name
        );
    }
    // No two buffers live at the same step share a byte.
    for (i, a) in bufs.iter().enumerate() {
        for b in &bufs[i + 1..] {
            let time = a.first <= b.last && b.first <= a.last;
            let space = a.dtype == b.dtype
                && a.offset < b.offset + b.bytes
                && b.offset < a.offset + a.bytes;
            assert!(
                !(time && space),
                "{model}: {} and {} overlap in time and space",
                a.name,
                b.name
            );
        }
    }
    // The lower bound is the most bytes live at one step.
    let steps = bufs.iter().map(|b| b.last + 1).max().unwrap_or(0);
    let most_live = (0..steps)
        .map(|s| {
            bufs.iter()
                .filter(|b| b.first <= s && s <= b.last)
                .map(|b| b.bytes)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(lower, most_live, "{model}: lower bound");
}

#[test]
fn json_plans_of_the_mlperf_models_hold_their_identities() {
    for m in MODELS {
        let path = common::corpus_model(m);
        if !common::require_data(&path, m) {
            continue;
        }
        let plan = inspect_json(&path.to_string_lossy());
        check_plan_identities(m, &plan);
        assert!(plan["algorithm"].is_string());
        assert!(!plan["nodes"].as_array().unwrap().is_empty());
        let ops: Vec<&str> = plan["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["op"].as_str().unwrap())
            .collect();
        assert!(
            ops.contains(&"Gemm") || ops.contains(&"Conv"),
            "{m}: {ops:?}"
        );
    }
}

#[test]
fn text_plan_lists_size_offset_and_lifetime_per_buffer() {
    let model = model_path("mlperf_ad_fcae");
    let text = String::from_utf8(kiln(&["inspect", &model, "--plan"]).stdout).unwrap();
    for w in [
        "offset",
        "elements",
        "bytes",
        "steps",
        "greedy by size:",
        "0..=1",
    ] {
        assert!(text.contains(w), "plan text lacks {w:?}:\n{text}");
    }
    let plan = inspect_json(&model);
    // One line per buffer after the header of the plan table.
    let table = &text[text.find("value ").expect("plan table header")..];
    assert_eq!(
        table.lines().count(),
        1 + plan["buffers"].as_array().unwrap().len()
    );
}

/// A small XML well-formedness check: balanced tags, one root, quoted attributes, `&` only
/// in the predefined entities or character references, no `<` in text or attributes.
fn check_xml(s: &str) -> Result<(), String> {
    fn check_text(t: &str) -> Result<(), String> {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').ok_or(format!("bare & in {t:?}"))?;
            let ent = &after[..end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix("#x")
                    .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
                || ent
                    .strip_prefix('#')
                    .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("bad entity &{ent}; in {t:?}"));
            }
            rest = &after[end + 1..];
        }
        if t.contains('<') {
            return Err(format!("< in {t:?}"));
        }
        Ok(())
    }
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
    };
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let Some(tag_body) = rest.strip_prefix('<') else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            check_text(text)?;
            rest = &rest[end..];
            continue;
        };
        // Attribute values never hold '>' in kiln's output (it is escaped), so the tag
        // ends at the first one.
        let end = tag_body.find('>').ok_or("unterminated tag")?;
        let tag = &tag_body[..end];
        rest = &tag_body[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let (tag, self_closing) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = &tag[..name_end];
        if !name_ok(name) {
            return Err(format!("bad tag name {name:?}"));
        }
        let mut attrs = tag[name_end..].trim_start();
        while !attrs.is_empty() {
            let eq = attrs
                .find('=')
                .ok_or(format!("attribute without value in <{name}>"))?;
            if !name_ok(attrs[..eq].trim()) {
                return Err(format!("bad attribute name in <{name}>: {attrs:?}"));
            }
            let value = attrs[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted attribute in <{name}>"))?;
            let close = value.find('"').ok_or("unterminated attribute")?;
            check_text(&value[..close])?;
            attrs = value[close + 1..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{open}> never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

#[test]
fn the_xml_check_rejects_what_it_should() {
    assert!(check_xml("<a x=\"1\"><b/>t &amp; u</a>").is_ok());
    for bad in [
        "<a>x & y</a>",
        "<a><b></a>",
        "<a x=\"<\"/>",
        "<a x=\"&\"/>",
        "<a/><b/>",
        "<a>",
        "<a x=1/>",
        "<a>&bogus;</a>",
    ] {
        assert!(check_xml(bad).is_err(), "{bad} passed");
    }
}

fn svg_of(model: &str, dir: &Path) -> String {
    svg_of_with(model, dir, &[])
}

fn svg_of_with(model: &str, dir: &Path, args: &[&str]) -> String {
    let out = dir.join("plan.svg");
    kiln(&[&["inspect", model, "--svg", &out.to_string_lossy()], args].concat());
    std::fs::read_to_string(&out).expect("the SVG was written")
}

#[test]
fn svg_is_xml_with_one_rect_per_buffer() {
    let dir = tempfile::tempdir().unwrap();
    for m in MODELS {
        let model = model_path(m);
        let svg = svg_of(&model, dir.path());
        check_xml(&svg).unwrap_or_else(|e| panic!("{m}: SVG is not well-formed: {e}"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let plan = inspect_json(&model);
        let n = plan["buffers"].as_array().unwrap().len();
        assert_eq!(
            svg.matches("<rect class=\"buffer\"").count(),
            n,
            "{m}: one <rect> per buffer"
        );
        // A tooltip per buffer and per lower-bound line, and the title of the picture.
        assert_eq!(svg.matches("<title>").count(), n + pools(&plan) + 1);
        assert!(svg.contains("stroke-dasharray"), "{m}: lower-bound line");
        for key in ["arena_bytes", "lower_bound_bytes", "greedy_by_size_bytes"] {
            let label = format!("{} B", num(&plan, key));
            assert!(svg.contains(&label), "{m}: SVG lacks {label}");
        }
        // Deterministic.
        assert_eq!(
            svg,
            svg_of(&model, dir.path()),
            "{m}: SVG differs between runs"
        );
    }
    // Nothing else is left in the directory (the file was renamed into place).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["plan.svg"]);
}

fn pools(plan: &Value) -> usize {
    plan["pools"].as_array().unwrap().len()
}

#[test]
fn model_strings_are_escaped_in_the_svg() {
    let dir = tempfile::tempdir().unwrap();
    let odd = "t<&\"'>";
    let bytes = model(
        vec![
            node("Relu", "first<&\">", &["x"], &[odd]),
            // Reading `odd` twice keeps the Add from writing over it: two buffers.
            node("Add", "second", &[odd, odd], &["mid"]),
            // Softmax does not fuse, so `mid` keeps a buffer of its own.
            node("Softmax", "third", &["mid"], &["y"]),
        ],
        vec![f32_value("x", &[1, 4])],
        vec![f32_value("y", &[1, 4])],
    );
    let path = dir.path().join("odd.onnx");
    std::fs::write(&path, bytes).unwrap();
    let model = path.to_string_lossy().into_owned();

    let plan = inspect_json(&model);
    check_plan_identities("odd", &plan);
    let names: Vec<&str> = plan["buffers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["value"].as_str().unwrap())
        .collect();
    assert_eq!(names, [odd, "mid"]);
    assert_eq!(plan["buffers"][0]["producer"], "first<&\">");

    let svg_dir = tempfile::tempdir().unwrap();
    let svg = svg_of(&model, svg_dir.path());
    check_xml(&svg).unwrap_or_else(|e| panic!("SVG is not well-formed: {e}\n{svg}"));
    assert!(svg.contains("t&lt;&amp;&quot;&apos;&gt;"), "{svg}");
    assert!(!svg.contains(odd), "{svg}");
    assert_eq!(svg.matches("<rect class=\"buffer\"").count(), 2);
}

#[test]
fn json_and_ir_do_not_mix() {
    let model = model_path("mlperf_ad_fcae");
    let o = Command::new(common::kiln_bin())
        .args(["inspect", &model, "--ir", "--json"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be used with"));
}

/// The kernel program in `--json`: one step per scheduled node, with the node's own MACs,
/// every operand region inside its pool, and each read of an arena value naming an earlier
/// step; the step totals agree with the plan's node table. ResNet-8's three residual Adds
/// and its Relus are fused into convolutions (facts of the model's graph).
#[test]
fn kernel_program_in_json_matches_the_plan() {
    for name in MODELS {
        let path = model_path(name);
        let j = inspect_json(&path);
        assert_eq!(j["schema_version"].as_u64(), Some(2), "{name}");
        let p = &j["program"];
        assert_eq!(p["schema_version"].as_u64(), Some(1), "{name}");
        let steps = p["steps"].as_array().expect("steps");
        let nodes = j["nodes"].as_array().expect("nodes");
        assert_eq!(steps.len(), nodes.len(), "{name}: a step per node");
        let pools: BTreeMap<String, usize> = j["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["dtype"].as_str().unwrap().to_string(), num(q, "elements")))
            .collect();
        let mut macs = 0;
        for (i, (s, n)) in steps.iter().zip(nodes).enumerate() {
            assert_eq!(num(s, "index"), i);
            assert_eq!(s["node"], n["name"], "{name}: step {i}");
            assert_eq!(num(s, "macs"), num(n, "macs"), "{name}: step {i}");
            macs += num(s, "macs");
            for o in s["kind"]["operands"].as_array().into_iter().flatten() {
                let h = &o["home"];
                if h["in"] == "arena" {
                    let end = num(h, "offset") + num(h, "len");
                    assert!(end <= pools[h["pool"].as_str().unwrap()], "{name}: {o}");
                }
                if let Some(k) = o["producer"].as_u64() {
                    assert!((k as usize) < i, "{name}: step {i} reads a later step");
                }
            }
        }
        assert_eq!(num(p, "macs"), macs, "{name}");
    }
    let j = inspect_json(&model_path("mlperf_ic_resnet8"));
    let steps = j["program"]["steps"].as_array().unwrap();
    let residual = steps
        .iter()
        .filter(|s| {
            s["epilogue"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.as_str().unwrap().starts_with("add("))
        })
        .count();
    assert_eq!(
        residual, 3,
        "ResNet-8 has three residual Adds, each fused into a Conv"
    );
}

/// `--kernels` prints every step with its kernel, and the kernels and math routines used.
#[test]
fn kernels_text_lists_every_step() {
    let path = model_path("mlperf_ic_resnet8");
    // The device's kernels: the same program on every host (its 3x3 convolutions on
    // `conv_rows`, the microcontroller's register tile on the input rows of one output row).
    let j = inspect_json_with(&path, &DEVICE);
    let n = j["program"]["steps"].as_array().unwrap().len();
    let o = kiln(&["inspect", &path, "--kernels", DEVICE[0], DEVICE[1]]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(lines.len(), n);
    assert!(
        lines[0].contains(" conv_rows ") && lines[0].contains("NCHW"),
        "{}",
        lines[0]
    );
    assert!(text.contains("epilogue: add(in3), relu"), "{text}");
    assert!(
        text.contains("\nkernels: ") && text.contains("Conv"),
        "{text}"
    );
}

fn inspect_text(model: &str) -> String {
    String::from_utf8(kiln(&["inspect", model]).stdout).unwrap()
}

/// The number after `label` in `line` (`"MACs: 640"`, label `"MACs: "`), leading `(` skipped.
fn number_after(line: &str, label: &str) -> usize {
    let at = line
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    let rest = line[at + label.len()..].trim_start_matches('(');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {line:?}"))
}

/// The number before `word` in `line` (`"24 as imported"`, word `" as imported"`).
fn number_before(line: &str, word: &str) -> usize {
    let at = line
        .find(word)
        .unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
    let digits: String = line[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().unwrap()
}

/// The rows of the text's node table, split into cells (node names here have no spaces;
/// the op and its opset are two cells).
fn node_table(text: &str) -> Vec<Vec<String>> {
    let start = text.find("\nstep ").expect("node table header") + 1;
    text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Bytes of a tensor written as `f32[1x16x32x32]`, computed from the type's name.
fn type_bytes(ty: &str) -> usize {
    let (dtype, dims) = ty.trim_end_matches(']').split_once('[').unwrap();
    let size = match dtype {
        "f32" | "i32" | "u32" => 4,
        "f64" | "i64" | "u64" => 8,
        "f16" | "bf16" | "i16" | "u16" => 2,
        "i8" | "u8" | "bool" => 1,
        other => panic!("unknown element type {other}"),
    };
    dims.split('x')
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().unwrap())
        .product::<usize>()
        * size
}

/// Every figure of the text's totals is in the JSON with the same value; the per-node rows
/// agree with the JSON's nodes, their activation bytes with their output shapes, and the
/// MACs with their sum. No size reads "(… (…))".
#[test]
fn json_totals_and_rows_equal_the_text() {
    for m in MODELS {
        let model = model_path(m);
        let text = inspect_text(&model);
        let j = inspect_json(&model);
        assert!(!text.contains("))"), "{m}: doubled parentheses:\n{text}");
        assert_eq!(j["schema_version"].as_u64(), Some(2), "{m}");
        let totals = text.lines().find(|l| l.starts_with("nodes: ")).unwrap();
        assert_eq!(
            number_after(totals, "nodes: "),
            num(&j, "node_count"),
            "{m}"
        );
        assert_eq!(
            number_before(totals, " as imported"),
            num(&j, "nodes_as_imported"),
            "{m}"
        );
        assert_eq!(
            number_before(totals, " merged into steps"),
            num(&j, "nodes_merged"),
            "{m}"
        );
        assert_eq!(
            number_before(totals, " removed"),
            num(&j, "nodes_removed"),
            "{m}"
        );
        assert_eq!(
            number_after(totals, "parameters: "),
            num(&j, "parameters"),
            "{m}"
        );
        assert_eq!(
            number_after(totals, &format!("parameters: {} (", num(&j, "parameters"))),
            num(&j, "parameter_bytes"),
            "{m}"
        );
        assert_eq!(number_after(totals, "MACs: "), num(&j, "macs"), "{m}");
        let arena = text.lines().find(|l| l.starts_with("arena: ")).unwrap();
        assert_eq!(number_after(arena, "arena: "), num(&j, "arena_bytes"));
        assert_eq!(
            number_after(arena, "lower bound: "),
            num(&j, "lower_bound_bytes")
        );
        assert_eq!(
            number_after(arena, "greedy by size: "),
            num(&j, "greedy_by_size_bytes")
        );
        assert!(arena.ends_with(&format!("planner: {}", j["algorithm"].as_str().unwrap())));
        for p in j["pools"].as_array().unwrap() {
            let dtype = p["dtype"].as_str().unwrap();
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("  pool {dtype}: ")))
                .unwrap();
            assert_eq!(number_after(line, ": "), num(p, "elements"));
            assert_eq!(number_after(line, "elements ("), num(p, "bytes"));
            assert_eq!(
                number_after(line, "lower bound "),
                num(p, "lower_bound_elements")
            );
            assert_eq!(
                number_after(line, "greedy by size "),
                num(p, "greedy_elements")
            );
        }

        let rows = node_table(&text);
        let nodes = j["nodes"].as_array().unwrap();
        assert_eq!(rows.len(), nodes.len(), "{m}: one row per node");
        assert_eq!(rows.len(), num(&j, "node_count"), "{m}");
        let mut macs = 0;
        for (i, (r, n)) in rows.iter().zip(nodes).enumerate() {
            assert_eq!(r[0], i.to_string(), "{m}: step column");
            assert_eq!(r[2], n["op"].as_str().unwrap(), "{m}: row {i}");
            assert_eq!(r[3], format!("v{}", n["opset"]), "{m}: row {i}");
            assert_eq!(r[4], n["output"].as_str().unwrap(), "{m}: row {i}");
            let cols: Vec<usize> = r[5..9].iter().map(|c| c.parse().unwrap()).collect();
            assert_eq!(
                cols,
                [
                    num(n, "output_bytes"),
                    num(n, "params"),
                    num(n, "param_bytes"),
                    num(n, "macs")
                ],
                "{m}: row {i}"
            );
            // Single-output nodes in these models: the activation bytes are the output's.
            assert_eq!(cols[0], type_bytes(&r[4]), "{m}: row {i}");
            macs += cols[3];
        }
        assert_eq!(macs, num(&j, "macs"), "{m}: MACs are the sum of the rows");
    }
}

/// ResNet-8's residual Adds and its Relus all run inside convolutions: the default table says
/// so on their steps, as many of each as the ONNX file holds.
#[test]
fn the_default_table_shows_what_was_merged_into_each_step() {
    use prost::Message;
    let model = model_path("mlperf_ic_resnet8");
    let proto = kiln::frontend::onnx::ModelProto::decode(&*std::fs::read(&model).unwrap()).unwrap();
    let count = |op: &str| {
        proto
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .filter(|n| n.op_type() == op)
            .count()
    };
    let (adds, relus) = (count("Add"), count("Relu"));
    assert!(
        adds == 3 && relus > adds,
        "the model: {adds} Adds, {relus} Relus"
    );
    let text = inspect_text(&model);
    let rows = node_table(&text);
    let merged: Vec<String> = rows.iter().map(|r| r[9..].join(" ")).collect();
    assert_eq!(
        merged.iter().filter(|m| *m == "fused Add, Relu").count(),
        adds,
        "{text}"
    );
    let mentions = |op: &str| {
        merged
            .iter()
            .map(|m| m.split([' ', ',']).filter(|w| *w == op).count())
            .sum::<usize>()
    };
    assert_eq!(mentions("Relu"), relus, "{text}");
    assert_eq!(mentions("Add"), adds, "{text}");
    // None of them is left as a step of its own.
    assert!(
        rows.iter().all(|r| r[2] != "Relu" && r[2] != "Add"),
        "{text}"
    );
    // And the JSON says which nodes they were.
    let j = inspect_json(&model);
    let step2 = &j["nodes"][2]["merged"];
    assert_eq!(step2[0]["op"], "Add");
    assert_eq!(step2[0]["how"], "fused");
    assert!(
        step2[0]["name"]
            .as_str()
            .unwrap()
            .ends_with("model/add/add"),
        "{step2}"
    );
}

/// Long names are cut in the middle: what is shown is a head and a tail of the real name,
/// the tail the longer part, and the names stay distinct (TFLite exports share long heads).
#[test]
fn long_names_are_cut_in_the_middle_keeping_the_tail() {
    let model = model_path("mlperf_ic_resnet8");
    let text = inspect_text(&model);
    let j = inspect_json(&model);
    let rows = node_table(&text);
    let mut shown = std::collections::BTreeSet::new();
    let mut cut = 0;
    for (r, n) in rows.iter().zip(j["nodes"].as_array().unwrap()) {
        let (name, full) = (&r[1], n["name"].as_str().unwrap());
        assert!(name.chars().count() <= 44, "{name}");
        match name.split_once('…') {
            None => assert_eq!(name, full),
            Some((head, tail)) => {
                cut += 1;
                assert!(
                    full.starts_with(head) && full.ends_with(tail),
                    "{name} / {full}"
                );
                assert!(tail.chars().count() > head.chars().count(), "{name}");
                assert!(tail.chars().count() >= 20, "{name}");
            }
        }
        assert!(shown.insert(name.clone()), "{name} shown twice");
    }
    assert!(cut >= 10, "ResNet-8's long TFLite names are cut: {cut}");
    // The plan's value names too.
    let plan = String::from_utf8(kiln(&["inspect", &model, "--plan"]).stdout).unwrap();
    let table = &plan[plan.find("\nvalue ").unwrap() + 1..];
    for (line, b) in table.lines().skip(1).zip(j["buffers"].as_array().unwrap()) {
        let (name, full) = (
            line.split_whitespace().next().unwrap(),
            b["value"].as_str().unwrap(),
        );
        match name.split_once('…') {
            None => assert_eq!(name, full),
            Some((head, tail)) => assert!(full.starts_with(head) && full.ends_with(tail)),
        }
    }
}

/// `fields` of `pub struct NAME<'a> { ... }` in generated source: `(field, array length)`.
fn struct_fields(src: &str, name: &str) -> Vec<(String, usize)> {
    let start = src
        .find(&format!("pub struct {name}<'a> {{"))
        .unwrap_or_else(|| panic!("no struct {name}"));
    let body = &src[start..start + src[start..].find("\n}").unwrap()];
    body.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("pub ")?;
            let (field, ty) = l.split_once(": ")?;
            let len = ty
                .rsplit_once("; ")?
                .1
                .trim_end_matches("],")
                .parse()
                .ok()?;
            Some((field.to_string(), len))
        })
        .collect()
}

/// The inputs and outputs `inspect` lists carry the names the generated code declares: the
/// fields of `Inputs` and `Outputs` (with their array lengths) and the `<NAME>_SHAPE`
/// constants (with the shapes), read from the compiled module; names that are keywords or
/// not identifiers included.
#[test]
fn inputs_and_outputs_have_the_names_the_generated_code_declares() {
    let dir = tempfile::tempdir().unwrap();
    let odd = model(
        vec![
            node("Add", "add", &["type", "x.1"], &["s"]),
            node("Relu", "relu", &["s"], &["Identity"]),
            node("Neg", "neg", &["s"], &["self"]),
        ],
        vec![f32_value("type", &[1, 4]), f32_value("x.1", &[1, 4])],
        vec![f32_value("Identity", &[1, 4]), f32_value("self", &[2, 2])],
    );
    let odd_path = dir.path().join("odd names.onnx");
    std::fs::write(&odd_path, odd).unwrap();
    let mut models = vec![
        model_path("mlperf_ic_resnet8"),
        odd_path.to_string_lossy().into_owned(),
    ];
    let silero = common::corpus_model("silero_vad_16k");
    if common::require_data(&silero, "silero_vad_16k") {
        models.push(silero.to_string_lossy().into_owned());
    }
    for m in &models {
        let out = dir.path().join("m.rs");
        kiln(&["compile", m, "-o", &out.to_string_lossy()]);
        let src = std::fs::read_to_string(&out).unwrap();
        let j = inspect_json(m);
        let text = inspect_text(m);
        for (key, st) in [("inputs", "Inputs"), ("outputs", "Outputs")] {
            let ports = j[key].as_array().unwrap();
            let fields = struct_fields(&src, st);
            let listed: Vec<(String, usize)> = ports
                .iter()
                .map(|p| (p["field"].as_str().unwrap().to_string(), num(p, "elements")))
                .collect();
            assert_eq!(listed, fields, "{m}: {st}");
            for p in ports {
                let dims: Vec<String> = p["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.to_string())
                    .collect();
                let decl = format!(
                    "pub const {}: [usize; {}] = [{}];",
                    p["shape_const"].as_str().unwrap(),
                    dims.len(),
                    dims.join(", ")
                );
                assert!(src.contains(&decl), "{m}: the module lacks {decl}");
                // The text lists the same: name, type, bytes, field, constant.
                let row = format!("{}[{}]", p["dtype"].as_str().unwrap(), dims.join("x"));
                assert!(
                    text.lines().any(|l| {
                        let c: Vec<&str> = l.split_whitespace().collect();
                        c.len() == 5
                            && c[0] == p["name"].as_str().unwrap()
                            && c[1] == row
                            && c[2] == num(p, "bytes").to_string()
                            && c[3] == p["field"].as_str().unwrap()
                            && c[4] == p["shape_const"].as_str().unwrap()
                    }),
                    "{m}: no row for {p}:\n{text}"
                );
            }
        }
    }
    // The odd names: a keyword gets a `_`, a dot becomes `_` (facts of the namer's rules).
    let j = inspect_json(&odd_path.to_string_lossy());
    let fields: Vec<&str> = ["inputs", "outputs"]
        .iter()
        .flat_map(|k| j[*k].as_array().unwrap())
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["type_", "x_1", "identity", "self_"]);
}

/// One attribute's value in a tag: `attr("<rect x=\"1\" ...", "x")`.
fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    let at = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"));
    let v = &tag[at + key.len()..];
    &v[..v.find('"').unwrap()]
}

fn attr_f(tag: &str, name: &str) -> f64 {
    attr(tag, name).parse().unwrap()
}

/// Every element of `svg` that starts with `prefix` (`<rect class="buffer"`), up to its `>`.
fn tags<'a>(svg: &'a str, prefix: &str) -> Vec<&'a str> {
    svg.match_indices(prefix)
        .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()])
        .collect()
}

/// The SVG: titled with the model file's name (not the graph's), an opaque white background
/// covering it, the peak marked at the step where the JSON's buffers have the most bytes
/// live, every step named under the axis, the largest buffer labelled with its name and
/// size; written as an ordinary file (the mode `File::create` gives, 0644 under umask 022).
#[test]
fn svg_has_title_background_peak_labels_and_an_ordinary_mode() {
    let model = model_path("mlperf_ic_resnet8");
    let dir = tempfile::tempdir().unwrap();
    // For a device: its buffers are whole activations, whose sizes are whole KiB.
    let svg = svg_of_with(&model, dir.path(), &DEVICE);
    let j = inspect_json_with(&model, &DEVICE);

    // Title: the file, not the graph ("pre-alpha" in ResNet-8).
    let (graph, _) = kiln::load(Path::new(&model), &Default::default()).unwrap();
    assert_eq!(graph.name, "pre-alpha");
    assert!(
        svg.contains("<title>mlperf_ic_resnet8.onnx: activation arena over time</title>"),
        "{svg}"
    );
    assert!(!svg.contains("pre-alpha"), "the graph's name is in the SVG");
    let title = tags(&svg, "<text class=\"title\"")[0];
    let after = &svg[svg.find(title).unwrap() + title.len() + 1..];
    assert!(after.starts_with("mlperf_ic_resnet8.onnx"), "{after}");

    // The background: the first thing drawn, white, as large as the picture.
    let root = tags(&svg, "<svg ")[0];
    let first_shape = svg
        .match_indices("<rect ")
        .next()
        .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap()])
        .unwrap();
    assert!(
        first_shape.contains("class=\"background\""),
        "{first_shape}"
    );
    assert_eq!(attr(first_shape, "fill"), "#ffffff");
    assert_eq!(attr_f(first_shape, "x"), 0.0);
    assert_eq!(attr_f(first_shape, "y"), 0.0);
    assert_eq!(attr(first_shape, "width"), attr(root, "width"));
    assert_eq!(attr(first_shape, "height"), attr(root, "height"));
    // Nothing but the title comes before it.
    let before = &svg[..svg.find(first_shape).unwrap()];
    assert!(
        !before.contains("<text") && !before.contains("<path"),
        "{before}"
    );

    // Where the steps are, from the buffers' rectangles and their lifetimes.
    let rects = tags(&svg, "<rect class=\"buffer\"");
    let buffers = buffers(&j);
    let (x0, w0) = (attr_f(rects[0], "x"), attr_f(rects[0], "width"));
    let step_w = w0 / (buffers[0].last - buffers[0].first + 1) as f64;
    let left = x0 - buffers[0].first as f64 * step_w;
    for (r, b) in rects.iter().zip(&buffers) {
        assert!(
            (attr_f(r, "x") - (left + b.first as f64 * step_w)).abs() < 0.02,
            "{r}"
        );
    }

    // The peak: the first step with the most bytes live, computed from the JSON.
    let live = |s: usize| -> usize {
        buffers
            .iter()
            .filter(|b| b.first <= s && s <= b.last)
            .map(|b| b.bytes)
            .sum()
    };
    let steps = j["nodes"].as_array().unwrap().len();
    let most = (0..steps).map(live).max().unwrap();
    let peak = (0..steps).find(|&s| live(s) == most).unwrap();
    assert_eq!(most, num(&j, "lower_bound_bytes"));
    let mark = &svg[svg.find("<g class=\"peak\">").expect("a peak mark")..];
    let mark = &mark[..mark.find("</g>").unwrap()];
    assert!(
        mark.contains(&format!("peak: {most} B live at step {peak} (")),
        "{mark}"
    );
    let line = tags(mark, "<line")[0];
    let x = attr_f(line, "x1");
    assert!(
        left + peak as f64 * step_w < x && x < left + (peak + 1) as f64 * step_w,
        "the peak line is not on step {peak}: {line}"
    );

    // Every step is named under the axis with its op.
    let names = tags(&svg, "<text class=\"step\"");
    assert_eq!(names.len(), steps);
    for (k, (t, n)) in names.iter().zip(j["nodes"].as_array().unwrap()).enumerate() {
        let at = svg.find(t).unwrap() + t.len() + 1;
        let label = &svg[at..at + svg[at..].find('<').unwrap()];
        let op = n["op"].as_str().unwrap();
        assert!(label.starts_with(&format!("{k} {op} ")), "{label}");
    }

    // The largest buffer is labelled with (part of) its name and its size in KiB.
    let largest = buffers.iter().max_by_key(|b| b.bytes).unwrap();
    let size = format!("{} KiB", largest.bytes / 1024);
    assert_eq!(largest.bytes % 1024, 0);
    let labels: Vec<String> = svg
        .match_indices("<text class=\"label\"")
        .map(|(i, _)| {
            let t = &svg[i..i + svg[i..].find("</text>").unwrap()];
            // The text of its lines, tags removed.
            let mut out = String::new();
            let mut inside = false;
            for c in t.chars() {
                match c {
                    '<' => inside = true,
                    '>' => {
                        inside = false;
                        out.push(' ');
                    }
                    c if !inside => out.push(c),
                    _ => {}
                }
            }
            out
        })
        .collect();
    assert!(
        labels.iter().any(|l| {
            let l = l.trim();
            let head = l.split('…').next().unwrap();
            l.ends_with(&size) && head.len() >= 3 && largest.name.starts_with(head)
        }),
        "no label for {} ({size}): {labels:?}",
        largest.name
    );

    // An ordinary file's mode: what `File::create` gives next to it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let reference = dir.path().join("reference");
        std::fs::File::create(&reference).unwrap();
        let expected = mode(&reference);
        std::fs::remove_file(&reference).unwrap();
        assert_eq!(mode(&dir.path().join("plan.svg")), expected);
        assert_ne!(expected, 0o600, "the test needs a umask that is not 077");
    }
}

/// A small model with a long file name: the picture is wide enough for its title (at a
/// generous 0.6 em per character of the bold 15-px title font; DejaVu Sans Bold averages
/// about 0.63 em on lower-case letters, narrower on the digits and `_` most names have).
#[test]
fn svg_title_is_not_clipped() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a_rather_long_model_file_name_for_a_tiny_model_of_two_steps.onnx";
    let path = dir.path().join(name);
    std::fs::write(
        &path,
        model(
            vec![
                node("Relu", "r", &["x"], &["h"]),
                node("Softmax", "s", &["h"], &["y"]),
            ],
            vec![f32_value("x", &[1, 4])],
            vec![f32_value("y", &[1, 4])],
        ),
    )
    .unwrap();
    let svg = svg_of(&path.to_string_lossy(), dir.path());
    check_xml(&svg).unwrap();
    let title = format!("{name}: activation arena over time");
    assert!(svg.contains(&format!(">{title}</text>")), "{svg}");
    let t = tags(&svg, "<text class=\"title\"")[0];
    let width: f64 = attr_f(tags(&svg, "<svg ")[0], "width");
    let needed = attr_f(t, "x") + title.chars().count() as f64 * 15.0 * 0.6;
    assert!(width >= needed, "width {width} < {needed}");
}

/// The text's layout, for a small model with a long node name, names that are not
/// identifiers and a fused Relu (a formatting snapshot; the figures are checked above).
#[test]
fn inspect_text_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.onnx");
    let long = "TFLITE2ONNX_FAF_model/activation_1/Relu;model/batch_normalization_1/\
                FusedBatchNormV3;model/conv2d_1/Conv2D";
    let mut m = common::onnx::small_conv_model();
    // The same model with a long Conv name and odd tensor names.
    {
        use prost::Message;
        let mut p = kiln::frontend::onnx::ModelProto::decode(&*m).unwrap();
        let g = p.graph.as_mut().unwrap();
        g.node[0].name = Some(long.into());
        for n in &mut g.node {
            for v in n.input.iter_mut().chain(n.output.iter_mut()) {
                if v == "x" {
                    *v = "input.1".into();
                } else if v == "y" {
                    *v = "Identity".into();
                }
            }
        }
        g.input[0].name = Some("input.1".into());
        g.output[0].name = Some("Identity".into());
        m = p.encode_to_vec();
    }
    std::fs::write(&path, m).unwrap();
    // For a device, so the plan (no scratch space) is the same on every host.
    let o = kiln(&["inspect", &path.to_string_lossy(), DEVICE[0], DEVICE[1]]);
    let text = String::from_utf8(o.stdout).unwrap();
    insta::assert_snapshot!(text);
}

/// A QDQ model's report says how much runs on integers and which ops stay float; the
/// three MLPerf int8 models have an integer kernel for every op, so nothing stays float,
/// and their fp32 models get no such line.
#[test]
fn text_report_says_which_ops_of_a_quantized_model_stay_float() {
    for name in MODELS {
        let text =
            |m: &str| String::from_utf8(kiln(&["inspect", &model_path(m)]).stdout).expect("utf-8");
        let int8 = text(&format!("{name}.int8.qdq"));
        let line = int8
            .lines()
            .find(|l| l.starts_with("int8: "))
            .unwrap_or_else(|| panic!("{name}: no int8 line in\n{int8}"));
        assert!(line.ends_with("in float: nothing"), "{name}: {line}");
        assert!(
            int8.contains(" IntConv ") || int8.contains(" IntGemm "),
            "{name}"
        );
        assert!(!text(name).contains("\nint8: "), "{name} fp32");
    }
}
