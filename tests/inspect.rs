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
    let o = kiln(&["inspect", model, "--json"]);
    serde_json::from_slice(&o.stdout).expect("inspect --json prints JSON")
}

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
    let out = dir.join("plan.svg");
    kiln(&["inspect", model, "--svg", &out.to_string_lossy()]);
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
            svg.matches("<rect ").count(),
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
    assert_eq!(svg.matches("<rect ").count(), 2);
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
    let j = inspect_json(&path);
    let n = j["program"]["steps"].as_array().unwrap().len();
    let o = kiln(&["inspect", &path, "--kernels"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(lines.len(), n);
    assert!(
        lines[0].contains(" conv ") && lines[0].contains("NCHW"),
        "{}",
        lines[0]
    );
    assert!(text.contains("epilogue: add(in3), relu"), "{text}");
    assert!(
        text.contains("\nkernels: ") && text.contains("Conv"),
        "{text}"
    );
}
