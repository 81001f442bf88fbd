//! Reports of `kiln inspect`: the model's inputs and outputs, the per-node table and the
//! memory plan as text ([`inspect_text`], [`plan_text`]), the same as JSON ([`report_json`])
//! and the arena over time as an SVG picture ([`plan_svg`]).

use kiln_codegen::Program;
use kiln_ir::{Graph, ValueKind};
use kiln_passes::MemoryPlan;
use std::fmt::Write as _;

/// What `kiln inspect` reports on: a planned graph, the kernel program lowered from it (whose
/// signature names the generated code's fields), and where it came from.
#[derive(Clone, Copy)]
pub struct Inspection<'a> {
    /// The model file's name, without its folder (titles).
    pub model_file: &'a str,
    /// The graph after optimisation, in schedule order.
    pub graph: &'a Graph,
    pub plan: &'a MemoryPlan,
    pub program: &'a Program,
    /// Nodes as imported, before optimisation.
    pub nodes_as_imported: usize,
}

/// Widest node or value name in the text tables; longer ones are cut in the middle.
const NAME_WIDTH: usize = 44;

/// One row of the per-node table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeRow {
    pub name: String,
    pub op: String,
    pub opset: i64,
    /// The first output's type, as `f32[1x16x32x32]`.
    pub output: String,
    /// Bytes of the node's outputs: the activations this layer writes.
    pub output_bytes: usize,
    /// Elements of constant inputs (weights).
    pub params: usize,
    /// Bytes of those constant inputs.
    pub param_bytes: usize,
    pub macs: u64,
    /// The ONNX nodes the passes merged into this one (folded into its weights, fused into
    /// its epilogue, removed as no-ops), in the order they were merged.
    pub merged: Vec<MergedRow>,
}

/// An ONNX node merged into another.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MergedRow {
    pub op: String,
    pub name: String,
    /// `folded`, `fused`, `removed` or `bias of Gemm`.
    pub how: String,
}

pub fn node_rows(graph: &Graph, plan: &MemoryPlan) -> Vec<NodeRow> {
    plan.schedule
        .iter()
        .map(|&n| {
            let node = graph.node(n);
            let in_types: Vec<Option<&kiln_ir::TensorType>> = node
                .inputs
                .iter()
                .map(|i| i.map(|v| &graph.value(v).ty))
                .collect();
            let out_types: Vec<&kiln_ir::TensorType> =
                node.outputs.iter().map(|&v| &graph.value(v).ty).collect();
            let weights: Vec<&kiln_ir::TensorType> = node
                .inputs
                .iter()
                .flatten()
                .filter(|&&v| matches!(graph.value(v).kind, ValueKind::Const(_)))
                .map(|&v| &graph.value(v).ty)
                .collect();
            NodeRow {
                name: node.name.clone(),
                op: node.op.name().to_string(),
                opset: node.opset,
                output: out_types
                    .first()
                    .map_or_else(String::new, |t| t.to_string()),
                output_bytes: out_types.iter().map(|t| t.size_bytes()).sum(),
                params: weights.iter().map(|t| t.numel()).sum(),
                param_bytes: weights.iter().map(|t| t.size_bytes()).sum(),
                macs: node.op.macs(&in_types, &out_types),
                merged: node
                    .merged
                    .iter()
                    .map(|m| MergedRow {
                        op: m.op.clone(),
                        name: m.name.clone(),
                        how: m.how.to_string(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// What was merged into a node, grouped by how: `fused Add, Relu; folded Mul`.
fn merged_text(merged: &[MergedRow]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for m in merged {
        match groups.iter_mut().find(|(how, _)| *how == m.how) {
            Some((_, ops)) => ops.push(&m.op),
            None => groups.push((&m.how, vec![&m.op])),
        }
    }
    groups
        .iter()
        .map(|(how, ops)| format!("{how} {}", ops.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One input or output of the generated code.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PortRow {
    /// The tensor's name in the model.
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub elements: usize,
    pub bytes: usize,
    /// The field of the generated `Inputs` or `Outputs` struct.
    pub field: String,
    /// The generated constant holding its shape.
    pub shape_const: String,
}

/// The generated code's inputs and outputs, with the names the printer gives them (the
/// program's signature, named by the codegen namer).
pub fn port_rows(program: &Program) -> (Vec<PortRow>, Vec<PortRow>) {
    let rows = |ports: &[kiln_codegen::Port]| {
        ports
            .iter()
            .map(|p| PortRow {
                name: p.model_name.clone(),
                dtype: p.dtype.to_string(),
                shape: p.shape.clone(),
                elements: p.len,
                bytes: p.len * p.dtype.size_bytes(),
                field: p.ident.clone(),
                shape_const: kiln_codegen::namer::shape_const(&p.ident),
            })
            .collect()
    };
    (
        rows(&program.signature.inputs),
        rows(&program.signature.outputs),
    )
}

/// The figures the text's totals print.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Totals {
    /// Nodes after optimisation: the steps of the schedule.
    pub node_count: usize,
    pub nodes_as_imported: usize,
    /// Imported nodes merged into a step (fused, folded, absorbed: each step's `merged`).
    pub nodes_merged: usize,
    /// Imported nodes that are in no step: removed as no-ops, folded into constants or
    /// dead (`kiln compile --timings` lists them per pass).
    pub nodes_removed: usize,
    /// Elements of all constants (weights).
    pub parameters: usize,
    pub parameter_bytes: usize,
    pub macs: u64,
}

/// For a quantized model (integer steps, or QuantizeLinear/DequantizeLinear left): how
/// many steps compute on integers, and which ops still compute in float between a
/// DequantizeLinear and a QuantizeLinear (no integer kernel, or a pattern the quantize
/// pass does not take).
pub fn quantization_line(g: &Graph) -> Option<String> {
    use std::collections::BTreeMap;
    let mut int = 0;
    let mut float: BTreeMap<&str, usize> = BTreeMap::new();
    let mut quantized = false;
    for n in g.node_ids() {
        let node = g.node(n);
        match &node.op {
            kiln_ir::Op::Int(_) => int += 1,
            kiln_ir::Op::QuantizeLinear(_) | kiln_ir::Op::DequantizeLinear(_) => quantized = true,
            op => {
                let reads_float = node.inputs.iter().flatten().any(|&v| {
                    g.value(v).ty.dtype.is_float()
                        && !matches!(g.value(v).kind, ValueKind::Const(_))
                });
                if reads_float {
                    *float.entry(op.name()).or_default() += 1;
                }
            }
        }
    }
    if int == 0 && !quantized {
        return None;
    }
    let list: Vec<String> = float.iter().map(|(op, k)| format!("{op} x{k}")).collect();
    Some(format!(
        "int8: {int} steps on integers; in float: {}",
        if list.is_empty() {
            "nothing".to_string()
        } else {
            list.join(", ")
        }
    ))
}

pub fn totals(ins: &Inspection, rows: &[NodeRow]) -> Totals {
    // The constants some step reads (or the caller gets as an output): the statics of
    // the generated code. Passes leave the weights they replaced unread, not deleted.
    let read: std::collections::BTreeSet<kiln_ir::ValueId> = ins
        .graph
        .node_ids()
        .flat_map(|n| ins.graph.node(n).inputs.iter().flatten().copied())
        .chain(ins.graph.outputs.iter().copied())
        .collect();
    let consts = || {
        read.iter()
            .filter_map(|&v| ins.graph.value(v).const_tensor())
    };
    let merged: usize = rows.iter().map(|r| r.merged.len()).sum();
    Totals {
        node_count: rows.len(),
        nodes_as_imported: ins.nodes_as_imported,
        nodes_merged: merged,
        // Saturating: lowerings add nodes too (widen-half's Casts), which were not imported.
        nodes_removed: ins.nodes_as_imported.saturating_sub(rows.len() + merged),
        parameters: consts().map(|t| t.numel()).sum(),
        parameter_bytes: consts().map(|t| t.ty().size_bytes()).sum(),
        macs: rows.iter().map(|r| r.macs).sum(),
    }
}

/// `bytes` with a binary-prefixed size after a comma, for inside parentheses:
/// `310840 B, 303.6 KiB`.
fn human_parts(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{bytes} B, {:.2} MiB", bytes as f64 / (1 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{bytes} B, {:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// `bytes` with a binary-prefixed size in parentheses: `196608 B (192.0 KiB)`.
pub(crate) fn human(bytes: usize) -> String {
    match human_parts(bytes).split_once(", ") {
        Some((b, k)) => format!("{b} ({k})"),
        None => format!("{bytes} B"),
    }
}

/// A model string for a text line: control characters (a newline in a name) and the
/// invisible bidirectional controls (which reorder what a terminal shows) escaped, so one
/// row stays one line and reads as it is.
fn printable(s: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Columns padded to their widest cell (right-aligned where `right` says), two spaces
/// apart; the last column is not padded.
fn table(header: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for r in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (k, (c, &w)) in r.iter().zip(&widths).enumerate() {
            if k > 0 {
                line.push_str("  ");
            }
            let last = k + 1 == r.len();
            if right[k] {
                let _ = write!(line, "{c:>w$}");
            } else if last {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<w$}");
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

fn ports_table(what: &str, ports: &[PortRow]) -> String {
    let rows: Vec<Vec<String>> = ports
        .iter()
        .map(|p| {
            let dims: Vec<String> = p.shape.iter().map(|d| d.to_string()).collect();
            vec![
                shorten(&printable(&p.name), NAME_WIDTH),
                format!("{}[{}]", p.dtype, dims.join("x")),
                p.bytes.to_string(),
                p.field.clone(),
                p.shape_const.clone(),
            ]
        })
        .collect();
    let field = if what == "input" {
        "field of Inputs"
    } else {
        "field of Outputs"
    };
    table(
        &[what, "type", "bytes", field, "shape constant"],
        &[false, false, true, false, false],
        &rows,
    )
}

/// The text `kiln inspect` prints: the inputs and outputs with their names in the generated
/// code, one row per node (schedule step) with what was merged into it, and the totals.
pub fn inspect_text(ins: &Inspection) -> String {
    let (graph, plan) = (ins.graph, ins.plan);
    let rows = node_rows(graph, plan);
    let mut s = String::new();
    let _ = writeln!(s, "model: {}\n", printable(ins.model_file));
    let (inputs, outputs) = port_rows(ins.program);
    if !inputs.is_empty() {
        s.push_str(&ports_table("input", &inputs));
        s.push('\n');
    }
    s.push_str(&ports_table("output", &outputs));
    s.push('\n');
    let names: Vec<String> = rows.iter().map(|r| printable(&r.name)).collect();
    let names = shorten_distinct(&names, NAME_WIDTH);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                i.to_string(),
                names[i].clone(),
                format!("{} v{}", r.op, r.opset),
                r.output.clone(),
                r.output_bytes.to_string(),
                r.params.to_string(),
                r.param_bytes.to_string(),
                r.macs.to_string(),
                merged_text(&r.merged),
            ]
        })
        .collect();
    s.push_str(&table(
        &[
            "step",
            "node",
            "op",
            "output",
            "out bytes",
            "params",
            "param bytes",
            "MACs",
            "merged into it",
        ],
        &[true, false, false, false, true, true, true, true, false],
        &cells,
    ));
    let t = totals(ins, &rows);
    let _ = writeln!(
        s,
        "\nnodes: {} ({} as imported: {} merged into steps, {} removed)   parameters: {} ({})   \
         MACs: {}",
        t.node_count,
        t.nodes_as_imported,
        t.nodes_merged,
        t.nodes_removed,
        t.parameters,
        human_parts(t.parameter_bytes),
        t.macs
    );
    if let Some(line) = quantization_line(ins.graph) {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "arena: {}   lower bound: {}   greedy by size: {}   planner: {}",
        human(plan.arena_bytes()),
        human(plan.lower_bound_bytes()),
        human(plan.greedy_by_size_bytes()),
        plan.algorithm
    );
    for p in &plan.pools {
        let _ = writeln!(
            s,
            "  pool {}: {} elements ({}), lower bound {} elements, greedy by size {} elements ({})",
            p.dtype,
            p.len,
            human_parts(p.len * p.dtype.size_bytes()),
            p.lower_bound,
            p.greedy_len,
            p.algorithm
        );
    }
    s
}

/// The memory plan, one buffer a line: value, pool, offset and size (in elements of the
/// pool), size in bytes, first and last schedule step using it.
pub fn plan_text(graph: &Graph, plan: &MemoryPlan) -> String {
    let names: Vec<String> = plan
        .buffers
        .iter()
        .map(|b| printable(&b.name(graph)))
        .collect();
    let names = shorten_distinct(&names, NAME_WIDTH);
    let rows: Vec<Vec<String>> = plan
        .buffers
        .iter()
        .zip(names)
        .map(|(b, name)| {
            let p = plan.placements[&b.value];
            vec![
                name,
                p.dtype.to_string(),
                p.offset.to_string(),
                p.len.to_string(),
                (p.len * p.dtype.size_bytes()).to_string(),
                format!("{}..={}", b.first, b.last),
            ]
        })
        .collect();
    table(
        &["value", "pool", "offset", "elements", "bytes", "steps"],
        &[false, false, true, true, true, false],
        &rows,
    )
}

/// Everything `kiln inspect --json` prints. Every figure of the text is here.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReportJson {
    /// [`JSON_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The model file's name.
    pub model: String,
    pub inputs: Vec<PortRow>,
    pub outputs: Vec<PortRow>,
    #[serde(flatten)]
    pub totals: Totals,
    #[serde(flatten)]
    pub plan: PlanJson,
    pub program: ProgramJson,
}

/// The report of `kiln inspect --json`.
pub fn report_json(ins: &Inspection) -> ReportJson {
    let plan = plan_json(ins.graph, ins.plan);
    let (inputs, outputs) = port_rows(ins.program);
    ReportJson {
        schema_version: JSON_SCHEMA_VERSION,
        model: ins.model_file.to_string(),
        inputs,
        outputs,
        totals: totals(ins, &plan.nodes),
        plan,
        program: program_json(ins.program),
    }
}

/// The plan as `kiln inspect --json` prints it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PlanJson {
    /// Bytes of the arena: the sum of the pools.
    pub arena_bytes: usize,
    /// The most activation bytes live at one schedule step: no plan can do better.
    pub lower_bound_bytes: usize,
    /// Bytes greedy by size (the baseline) would need.
    pub greedy_by_size_bytes: usize,
    /// The algorithm that produced the offsets.
    pub algorithm: String,
    pub pools: Vec<PoolJson>,
    /// Per node, in schedule order (the index is the schedule step).
    pub nodes: Vec<NodeRow>,
    pub buffers: Vec<BufferJson>,
}

/// One typed pool of the arena.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PoolJson {
    pub dtype: String,
    pub elements: usize,
    pub bytes: usize,
    pub lower_bound_elements: usize,
    pub lower_bound_bytes: usize,
    pub greedy_elements: usize,
    pub greedy_bytes: usize,
    pub algorithm: String,
}

/// One activation buffer of the arena.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BufferJson {
    /// The value's name in the model.
    pub value: String,
    /// Its element type, which names its pool.
    pub dtype: String,
    pub elements: usize,
    pub bytes: usize,
    /// Offset within its pool, in elements and in bytes.
    pub offset_elements: usize,
    pub offset_bytes: usize,
    /// First and last schedule step (inclusive) that use it.
    pub first_step: usize,
    pub last_step: usize,
    /// Name of the node that writes it.
    pub producer: String,
}

/// The plan of `graph` for `kiln inspect --json`.
pub fn plan_json(graph: &Graph, plan: &MemoryPlan) -> PlanJson {
    PlanJson {
        arena_bytes: plan.arena_bytes(),
        lower_bound_bytes: plan.lower_bound_bytes(),
        greedy_by_size_bytes: plan.greedy_by_size_bytes(),
        algorithm: plan.algorithm.to_string(),
        pools: plan
            .pools
            .iter()
            .map(|p| {
                let size = p.dtype.size_bytes();
                PoolJson {
                    dtype: p.dtype.to_string(),
                    elements: p.len,
                    bytes: p.len * size,
                    lower_bound_elements: p.lower_bound,
                    lower_bound_bytes: p.lower_bound * size,
                    greedy_elements: p.greedy_len,
                    greedy_bytes: p.greedy_len * size,
                    algorithm: p.algorithm.to_string(),
                }
            })
            .collect(),
        nodes: node_rows(graph, plan),
        buffers: plan
            .buffers
            .iter()
            .map(|b| {
                let p = plan.placements[&b.value];
                let size = p.dtype.size_bytes();
                BufferJson {
                    value: b.name(graph),
                    dtype: p.dtype.to_string(),
                    elements: p.len,
                    bytes: p.len * size,
                    offset_elements: p.offset,
                    offset_bytes: p.offset * size,
                    first_step: b.first,
                    last_step: b.last,
                    producer: b
                        .producer(graph)
                        .map(|n| graph.node(n).name.clone())
                        .unwrap_or_default(),
                }
            })
            .collect(),
    }
}

/// Escapes text for XML content and attribute values.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0.
            c if (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{FFFE}' | '\u{FFFF}') =>
            {
                out.push('\u{FFFD}')
            }
            c => out.push(c),
        }
    }
    out
}

/// A size in the few characters a picture label has room for: `640 B`, `16 KiB`, `1.5 MiB`.
fn short_size(bytes: usize) -> String {
    let (v, unit) = if bytes >= 1 << 20 {
        (bytes as f64 / (1 << 20) as f64, "MiB")
    } else if bytes >= 1 << 10 {
        (bytes as f64 / 1024.0, "KiB")
    } else {
        return format!("{bytes} B");
    };
    if v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// Rough width of `chars` characters of sans-serif text at `font` pixels, on the generous
/// side, so that text laid out by it is not clipped.
fn text_width(chars: usize, font: f64) -> f64 {
    chars as f64 * font * 0.6
}

/// The step at which the most activation bytes are live (the first, on a tie), and those
/// bytes: where the lower bound is reached. `None` when nothing is in the arena.
pub fn peak_step(plan: &MemoryPlan) -> Option<(usize, usize)> {
    let steps = plan.buffers.iter().map(|b| b.last + 1).max()?;
    let live = |s: usize| -> usize {
        plan.buffers
            .iter()
            .filter(|b| b.first <= s && s <= b.last)
            .map(|b| b.len * b.dtype.size_bytes())
            .sum()
    };
    (0..steps)
        .map(|s| (s, live(s)))
        .fold(None, |best: Option<(usize, usize)>, (s, b)| match best {
            Some((_, bb)) if bb >= b => best,
            _ => Some((s, b)),
        })
}

/// The arena over time as an SVG picture (`kiln inspect --svg`) on a white background,
/// titled with the model file's name: x is the schedule step, each labelled with its node
/// below the axis, y the offset in bytes, one band per pool stacked bottom to top; one
/// rectangle per buffer (its lifetime by its bytes, with a tooltip), labelled with its value
/// and size where it has room (the largest of each pool always), a dashed line at each
/// pool's lower bound, the step where the most bytes are live marked as the peak, and the
/// arena, lower-bound and greedy-by-size totals. Deterministic.
pub fn plan_svg(ins: &Inspection) -> String {
    let (graph, plan) = (ins.graph, ins.plan);
    const LEFT: f64 = 110.0;
    const RIGHT: f64 = 30.0;
    const TOP: f64 = 92.0;
    const PLOT_H: f64 = 480.0;
    const MIN_PLOT_W: f64 = 640.0;
    const MIN_BAND: f64 = 24.0;
    const GAP: f64 = 8.0;
    /// Font sizes: title, text, labels of buffers and steps.
    const TITLE: f64 = 15.0;
    const TEXT: f64 = 11.0;
    const LABEL: f64 = 10.0;
    const STEP_LABEL: f64 = 9.0;
    /// Characters of a node name under the axis.
    const STEP_NAME: usize = 30;
    const PALETTE: [&str; 10] = [
        "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
        "#d9d9d9", "#bc80bd",
    ];
    let n_steps = plan.schedule.len().max(1);
    let mut step_w = (960.0 / n_steps as f64).clamp(2.0, 40.0);
    if step_w * (n_steps as f64) < MIN_PLOT_W {
        step_w = MIN_PLOT_W / n_steps as f64;
    }
    let plot_w = step_w * n_steps as f64;
    let arena = plan.arena_bytes().max(1);
    // Band height per pool: proportional to its bytes, but never too thin to see.
    let bands: Vec<f64> = plan
        .pools
        .iter()
        .map(|p| (PLOT_H * (p.len * p.dtype.size_bytes()) as f64 / arena as f64).max(MIN_BAND))
        .collect();
    let plot_h = bands.iter().sum::<f64>() + GAP * bands.len().saturating_sub(1) as f64;
    let plot_h = plot_h.max(MIN_BAND);
    let axis = TOP + plot_h;
    let step_name = |k: usize| -> String {
        let node = graph.node(plan.schedule[k]);
        format!(
            "{k} {} {}",
            node.op.name(),
            shorten(&printable(&node.name), STEP_NAME)
        )
    };
    // Room under the axis for the longest step label, written downwards.
    let longest = (0..plan.schedule.len())
        .map(|k| step_name(k).chars().count())
        .max()
        .unwrap_or(0);
    let bottom_margin = 8.0 + text_width(longest, STEP_LABEL) + 30.0;

    let peak = peak_step(plan);
    let file = shorten(&printable(ins.model_file), 80);
    let title = format!("{file}: activation arena over time");
    let totals = format!(
        "arena {} B, lower bound {} B, greedy by size {} B (planner: {})",
        plan.arena_bytes(),
        plan.lower_bound_bytes(),
        plan.greedy_by_size_bytes(),
        plan.algorithm
    );
    let key = "x: schedule step and node; y: offset in bytes within each pool; \
               dashed red: lower bound; blue: peak";
    let text_w = [
        text_width(title.chars().count(), TITLE),
        text_width(totals.chars().count(), TEXT),
        text_width(key.chars().count(), TEXT),
    ]
    .into_iter()
    .fold(0.0, f64::max);
    let width = (LEFT + plot_w + RIGHT).max(10.0 + text_w + 10.0).ceil();
    let height = (axis + bottom_margin).ceil();

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"{TEXT}\">"
    );
    let _ = writeln!(
        s,
        "<title>{}: activation arena over time</title>",
        xml_escape(ins.model_file)
    );
    // Opaque, so the picture reads the same on a dark page or viewer.
    let _ = writeln!(
        s,
        "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" \
         fill=\"#ffffff\"/>"
    );
    let _ = writeln!(
        s,
        "<text class=\"title\" x=\"10\" y=\"22\" font-size=\"{TITLE}\" \
         font-weight=\"bold\">{}</text>",
        xml_escape(&title)
    );
    let _ = writeln!(s, "<text x=\"10\" y=\"42\">{}</text>", xml_escape(&totals));
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"58\" fill=\"#555\">{}</text>",
        xml_escape(key)
    );

    // Labels go after every rectangle so no rectangle covers one.
    let mut labels = String::new();
    // Pools bottom to top: pool k's band ends at `bottom_k` (pixels).
    let mut bottom = axis;
    for (k, p) in plan.pools.iter().enumerate() {
        let band = bands[k];
        let size = p.dtype.size_bytes();
        let pool_bytes = p.len * size;
        let scale = if pool_bytes == 0 {
            0.0
        } else {
            band / pool_bytes as f64
        };
        let y_of = |bytes: usize| bottom - bytes as f64 * scale;
        let top = bottom - band;
        let _ = writeln!(s, "<g class=\"pool\" data-dtype=\"{}\">", p.dtype);
        // The band's frame and its label.
        let _ = writeln!(
            s,
            "<path d=\"M{LEFT:.2},{top:.2}H{:.2}V{bottom:.2}H{LEFT:.2}Z\" fill=\"#f7f7f7\" \
             stroke=\"#999\"/>",
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\">{} pool</text>",
            LEFT - 6.0,
            (top + bottom) / 2.0 + 4.0,
            xml_escape(p.dtype.name())
        );
        // Offsets at the band's ends, when the band leaves room for them.
        if band >= 60.0 {
            for (y, label) in [
                (top + 10.0, format!("{pool_bytes} B")),
                (bottom, "0".into()),
            ] {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.2}\" y=\"{y:.2}\" text-anchor=\"end\" fill=\"#555\">{label}</text>",
                    LEFT - 6.0,
                );
            }
        }
        // The pool's largest buffer is labelled even when it has no room inside.
        let largest = plan
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| plan.placements[&b.value].dtype == p.dtype)
            .max_by_key(|(i, b)| (plan.placements[&b.value].len, std::cmp::Reverse(*i)))
            .map(|(i, _)| i);
        for (i, b) in plan.buffers.iter().enumerate() {
            let pl = plan.placements[&b.value];
            if pl.dtype != p.dtype {
                continue;
            }
            let (off, bytes) = (pl.offset * size, pl.len * size);
            let x = LEFT + b.first as f64 * step_w;
            let w = (b.last - b.first + 1) as f64 * step_w;
            let y = y_of(off + bytes);
            let h = y_of(off) - y;
            let name = &b.name(graph);
            let _ = writeln!(
                s,
                "<rect class=\"buffer\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" \
                 height=\"{h:.2}\" fill=\"{}\" stroke=\"#333\" stroke-width=\"0.5\">\
                 <title>{}: {bytes} B ({} x {}) at offset {off} B, steps {}..={}</title></rect>",
                PALETTE[i % PALETTE.len()],
                xml_escape(name),
                pl.len,
                p.dtype,
                b.first,
                b.last
            );
            // Inside: the value's name and its size, on two lines when the rectangle is
            // tall enough, else on one with the name cut to the room the size leaves, else
            // the size alone.
            let size_text = short_size(bytes);
            let size_len = size_text.chars().count();
            let room = ((w - 6.0) / (LABEL * 0.6)).floor().max(0.0) as usize;
            let name_text = |room: usize| shorten(&printable(name), room);
            let inside = if h >= 2.0 * LABEL + 8.0 && room >= 6 {
                Some(vec![name_text(room), size_text.clone()])
            } else if h < LABEL + 2.0 {
                None
            } else if room >= size_len + 7 {
                Some(vec![format!(
                    "{} {size_text}",
                    name_text(room - size_len - 1)
                )])
            } else if room >= size_len {
                Some(vec![size_text.clone()])
            } else {
                None
            };
            match inside {
                Some(lines) => {
                    // Centred vertically, one line every 1.2 font sizes.
                    let first = y + h / 2.0 + LABEL * 0.35 - (lines.len() - 1) as f64 * LABEL * 0.6;
                    let _ = write!(
                        labels,
                        "<text class=\"label\" x=\"{:.2}\" y=\"{first:.2}\" font-size=\"{LABEL}\">",
                        x + 3.0
                    );
                    for (k, line) in lines.iter().enumerate() {
                        let _ = write!(
                            labels,
                            "<tspan x=\"{:.2}\" dy=\"{}\">{}</tspan>",
                            x + 3.0,
                            if k == 0 { 0.0 } else { LABEL * 1.2 },
                            xml_escape(line)
                        );
                    }
                    labels.push_str("</text>\n");
                }
                None if largest == Some(i) => {
                    // Above the rectangle (below it when it touches the band's top), on a
                    // white halo so it reads over whatever it crosses.
                    let ty = if y - 4.0 - LABEL > top {
                        y - 4.0
                    } else {
                        y + h + LABEL + 2.0
                    };
                    let text = format!("{} {size_text}", shorten(&printable(name), 24));
                    let anchor_end = x + text_width(text.chars().count(), LABEL) > LEFT + plot_w;
                    let _ = writeln!(
                        labels,
                        "<text class=\"label\" x=\"{:.2}\" y=\"{ty:.2}\" font-size=\"{LABEL}\" \
                         text-anchor=\"{}\" stroke=\"#fff\" stroke-width=\"3\" \
                         paint-order=\"stroke\">{}</text>",
                        if anchor_end { x + w } else { x },
                        if anchor_end { "end" } else { "start" },
                        xml_escape(&text)
                    );
                }
                None => {}
            }
        }
        let lb = y_of(p.lower_bound * size);
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT:.2}\" y1=\"{lb:.2}\" x2=\"{:.2}\" y2=\"{lb:.2}\" stroke=\"#c00\" \
             stroke-width=\"1.5\" stroke-dasharray=\"6 4\"><title>lower bound of the {} pool: \
             {} B</title></line>",
            LEFT + plot_w,
            p.dtype,
            p.lower_bound * size
        );
        let _ = writeln!(
            labels,
            "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\" fill=\"#c00\" stroke=\"#fff\" \
             stroke-width=\"3\" paint-order=\"stroke\">lower bound {} B</text>",
            LEFT + plot_w - 4.0,
            lb - 4.0,
            p.lower_bound * size
        );
        let _ = writeln!(s, "</g>");
        bottom = top - GAP;
    }
    s.push_str(&labels);

    // The peak: a line through the step where the most bytes are live, named above the plot.
    if let Some((step, bytes)) = peak {
        let x = LEFT + (step as f64 + 0.5) * step_w;
        let node = graph.node(plan.schedule[step]);
        let text = format!(
            "peak: {bytes} B live at step {step} ({} {})",
            node.op.name(),
            shorten(&printable(&node.name), 40)
        );
        let anchor_end = x + text_width(text.chars().count(), TEXT) > width - 10.0;
        let _ = writeln!(
            s,
            "<g class=\"peak\"><line x1=\"{x:.2}\" y1=\"{:.2}\" x2=\"{x:.2}\" y2=\"{axis:.2}\" \
             stroke=\"#1f4fbf\" stroke-width=\"1.5\" stroke-dasharray=\"2 3\"/>\
             <path d=\"M{:.2},{:.2}h12l-6,8z\" fill=\"#1f4fbf\"/>\
             <text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"{}\" fill=\"#1f4fbf\">{}</text></g>",
            TOP - 12.0,
            x - 6.0,
            TOP - 12.0,
            TOP - 16.0,
            if anchor_end { "end" } else { "start" },
            xml_escape(&text)
        );
    }

    // The step axis: each step's number, op and node, written downwards; every few steps
    // when they are too narrow for a line of text each.
    let every = ((STEP_LABEL + 2.0) / step_w).ceil().max(1.0) as usize;
    for k in (0..plan.schedule.len()).step_by(every) {
        let x = LEFT + (k as f64 + 0.5) * step_w + STEP_LABEL * 0.35;
        let y = axis + 6.0;
        let _ = writeln!(
            s,
            "<text class=\"step\" x=\"{x:.2}\" y=\"{y:.2}\" font-size=\"{STEP_LABEL}\" \
             text-anchor=\"end\" transform=\"rotate(-90 {x:.2} {y:.2})\" fill=\"#333\">{}</text>",
            xml_escape(&step_name(k))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\">schedule step (0..{})</text>",
        LEFT + plot_w / 2.0,
        height - 10.0,
        plan.schedule.len()
    );
    s.push_str("</svg>\n");
    s
}

/// Version of `kiln inspect --json`'s shape; bumped when a field changes meaning or goes.
pub const JSON_SCHEMA_VERSION: u32 = 2;

/// The kernel program as `kiln inspect --json` carries it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProgramJson {
    pub schema_version: u32,
    pub target: String,
    pub steps: Vec<kiln_codegen::program::Step>,
    pub statics: Vec<kiln_codegen::program::Static>,
    /// Library kernels the steps call, with those they depend on.
    pub kernels: Vec<String>,
    /// Math routines the kernels and element functions call.
    pub math: Vec<String>,
    pub weight_bytes: usize,
    pub macs: u64,
}

pub fn program_json(p: &kiln_codegen::Program) -> ProgramJson {
    ProgramJson {
        schema_version: kiln_codegen::program::PROGRAM_SCHEMA_VERSION,
        target: p.target.to_string(),
        steps: p.steps.clone(),
        statics: p.statics.clone(),
        kernels: p.library.kernel_names(),
        math: p.library.math_names(),
        weight_bytes: p.weight_bytes(),
        macs: p.macs(),
    }
}

/// `s` cut to at most `max` characters in the middle, keeping the head and the longer,
/// distinguishing tail (`TFLITE2ONNX_…Conv2D;model/conv2d_1/Conv2D1`); both ends snap to a
/// separator (`/ ; _ . : - ,` or a space) when one is near, so words stay whole.
pub fn shorten(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max || max < 5 {
        return s.to_string();
    }
    // The head: a third of the room, ending after a separator in its second half.
    let mut head = max / 3;
    if let Some(i) = (head / 2..head).rev().find(|&i| is_separator(chars[i])) {
        head = i + 1;
    }
    cut(&chars, head, max)
}

/// Where names are cut, when one is near: between words.
fn is_separator(c: char) -> bool {
    matches!(c, '/' | ';' | '_' | '.' | ':' | '-' | ',' | ' ')
}

/// `head` characters of `chars`, `…`, and as much of the end as `max` leaves room for,
/// starting after a separator in the first quarter of that room (`/ ; ,` or a space first).
fn cut(chars: &[char], head: usize, max: usize) -> String {
    let tail = max - head - 1;
    let first = chars.len() - tail;
    // After a path or list separator if there is one, else after any.
    let window = first..first + tail / 4;
    let start = window
        .clone()
        .find(|&j| matches!(chars[j - 1], '/' | ';' | ',' | ' '))
        .or_else(|| window.clone().find(|&j| is_separator(chars[j - 1])))
        .unwrap_or(first);
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[start..]);
    out
}

/// `names` shortened as [`shorten`] does, but kept apart: names whose short forms would
/// be the same keep, in their heads, the characters up to where they differ
/// (`model/conv2d_5…resource1`, `model/conv2d_8…resource1`), and a name no cut keeps apart
/// is shown whole.
pub fn shorten_distinct(names: &[String], max: usize) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut out: Vec<String> = names.iter().map(|n| shorten(n, max)).collect();
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, o) in out.iter().enumerate() {
        groups.entry(o.as_str()).or_default().push(i);
    }
    let mut fixes = Vec::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        for &i in members {
            let a: Vec<char> = names[i].chars().collect();
            // Characters shared with the closest other name of the group.
            let shared = members
                .iter()
                .filter(|&&j| j != i && names[j] != names[i])
                .map(|&j| {
                    a.iter()
                        .zip(names[j].chars())
                        .take_while(|(x, y)| **x == *y)
                        .count()
                })
                .max();
            let Some(shared) = shared else { continue };
            // The head runs to the end of the word where the name differs.
            let limit = max.saturating_sub(9);
            let mut head = shared + 1;
            while head < a.len() && head < limit && !is_separator(a[head]) {
                head += 1;
            }
            if head > limit || a.len() <= max {
                fixes.push((i, names[i].clone()));
                continue;
            }
            fixes.push((i, cut(&a, head, max)));
        }
    }
    for (i, short) in fixes {
        out[i] = short;
    }
    // Whatever still collides is shown whole.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for o in &out {
        *seen.entry(o.clone()).or_default() += 1;
    }
    for (i, o) in out.iter_mut().enumerate() {
        if seen[o.as_str()] > 1 && *o != names[i] {
            *o = names[i].clone();
        }
    }
    out
}

/// Where an operand lives, in a few words: `arena f32[4096..8192]`, `static CONV1_W`.
fn home_text(h: &kiln_codegen::program::Home) -> String {
    use kiln_codegen::program::Home;
    match h {
        Home::Input { ident } => format!("input {ident}"),
        Home::Output {
            ident,
            offset,
            len,
            whole,
        } => {
            if *whole {
                format!("output {ident}")
            } else {
                format!("output {ident}[{offset}..{}]", offset + len)
            }
        }
        Home::Static { name } => format!("static {name}"),
        Home::Arena { pool, offset, len } => {
            format!("arena {pool}[{offset}..{}]", offset + len)
        }
        Home::Empty => "empty".into(),
    }
}

/// `kiln inspect --kernels`: the kernel program, one step a block: step, kernel, layout,
/// the node and what was merged into it, its epilogue, operand regions and MACs.
pub fn kernels_text(p: &kiln_codegen::Program) -> String {
    use kiln_codegen::program::{Access, StepKind};
    let mut s = String::new();
    let _ = writeln!(s, "target: {}", p.target);
    for step in &p.steps {
        let _ = writeln!(
            s,
            "step {:>3}  {:<20} {:<9}  {} {:?} v{} -> {}   MACs {}",
            step.index,
            step.kernel_name(),
            step.layout,
            step.onnx_op,
            shorten(&step.node, 60),
            step.opset,
            step.outputs.join(", "),
            step.macs
        );
        for m in &step.merged {
            let _ = writeln!(
                s,
                "          + {} {:?} ({})",
                m.op,
                shorten(&m.name, 70),
                m.how
            );
        }
        if !step.epilogue.is_empty() {
            let e: Vec<String> = step.epilogue.iter().map(|e| e.to_string()).collect();
            let _ = writeln!(s, "          epilogue: {}", e.join(", "));
        }
        if let StepKind::Call { operands, .. } = &step.kind {
            for o in operands {
                let from = match (o.access, o.producer) {
                    (Access::Write, _) => "written".to_string(),
                    (Access::Read, Some(k)) => format!("from step {k}"),
                    (Access::Read, None) => "read".to_string(),
                };
                let _ = writeln!(
                    s,
                    "          {:<3} {:<28} {} ({from})",
                    o.local,
                    home_text(&o.home),
                    shorten(&o.value, 60)
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\nsteps: {}   MACs: {}   statics: {} ({})",
        p.steps.len(),
        p.macs(),
        p.statics.len(),
        human(p.weight_bytes())
    );
    let _ = writeln!(s, "kernels: {}", p.library.kernel_names().join(", "));
    let math = p.library.math_names();
    if !math.is_empty() {
        let _ = writeln!(s, "math: {}", math.join(", "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_the_middle_and_keeps_the_tail() {
        let name = "TFLITE2ONNX_FAF_model/activation_1/Relu;model/batch_normalization_1/\
                    FusedBatchNormV3;model/conv2d_2/Conv2D;model/conv2d_1/Conv2D1";
        for max in [5, 12, 20, 30, 44, 60] {
            let s = shorten(name, max);
            let n = s.chars().count();
            assert!(n <= max, "{max}: {s:?} has {n} characters");
            // At most the head, the ellipsis and a quarter of the tail's room are lost.
            assert!(n * 4 >= max * 3 - 4, "{max}: {s:?} wastes room");
            let (head, tail) = s.split_once('…').unwrap();
            assert!(
                name.starts_with(head) && name.ends_with(tail),
                "{max}: {s:?}"
            );
            assert!(tail.chars().count() > head.chars().count(), "{max}: {s:?}");
        }
        // The head ends after `_`; the tail starts after the `/` of `conv2d_2/`, not in
        // the word.
        assert_eq!(
            shorten(name, 44),
            "TFLITE2ONNX_…Conv2D;model/conv2d_1/Conv2D1"
        );
        // Without separators, the plain cut.
        assert_eq!(shorten("abcdefghijklmnopqrstuvwxyz", 10), "abc…uvwxyz");
        // Short names, and room too small for a cut, leave the name whole.
        assert_eq!(shorten("Identity", 8), "Identity");
        assert_eq!(shorten("Identity", 4), "Identity");
        // Characters, not bytes.
        assert_eq!(shorten("ääääääääää", 7), "ää…ääää");
    }

    #[test]
    fn shortened_names_stay_apart() {
        let names: Vec<String> = [
            "model/conv2d_5/BiasAdd;model/conv2d_5/Conv2D;model/conv2d_5/BiasAdd/ReadVariableOp/resource1",
            "model/conv2d_8/BiasAdd;model/conv2d_8/Conv2D;model/conv2d_8/BiasAdd/ReadVariableOp/resource1",
            "short",
            "short",
        ]
        .map(String::from)
        .into();
        let plain: Vec<String> = names.iter().map(|n| shorten(n, 40)).collect();
        assert_eq!(plain[0], plain[1], "the case this is for");
        let out = shorten_distinct(&names, 40);
        assert_eq!(out[0], "model/conv2d_5…ReadVariableOp/resource1");
        assert_eq!(out[1], "model/conv2d_8…ReadVariableOp/resource1");
        // Equal names stay equal.
        assert_eq!(out[2..], ["short", "short"]);
        for o in &out {
            assert!(o.chars().count() <= 40);
        }
        // A difference the head can reach, with a short tail left.
        let a = format!("{}x{}", "a".repeat(30), "b".repeat(30));
        let b = format!("{}y{}", "a".repeat(30), "b".repeat(30));
        let out = shorten_distinct(&[a, b], 40);
        assert_eq!(out[0], format!("{}x…{}", "a".repeat(30), "b".repeat(8)));
        // One past it: the names are shown whole.
        let a = format!("{}x{}", "a".repeat(35), "b".repeat(30));
        let b = format!("{}y{}", "a".repeat(35), "b".repeat(30));
        assert_eq!(shorten_distinct(&[a.clone(), b.clone()], 40), [a, b]);
    }

    #[test]
    fn names_print_on_one_line_as_they_are() {
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_eq!(printable("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(printable("ünïcödé"), "ünïcödé");
    }

    #[test]
    fn sizes_read_once_without_doubled_parentheses() {
        assert_eq!(human(310840), "310840 B (303.6 KiB)");
        assert_eq!(human_parts(310840), "310840 B, 303.6 KiB");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 20), "3145728 B (3.00 MiB)");
        assert_eq!(short_size(65536), "64 KiB");
        assert_eq!(short_size(1536), "1.5 KiB");
        assert_eq!(short_size(40), "40 B");
    }
}
