//! Reports of `kiln inspect`: the per-node table and memory plan as text, the same as JSON
//! ([`plan_json`]) and the arena over time as an SVG picture ([`plan_svg`]).

use kiln_ir::{Graph, ValueKind};
use kiln_passes::MemoryPlan;
use std::fmt::Write as _;

/// One row of the per-node table.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeRow {
    pub name: String,
    pub op: String,
    pub opset: i64,
    pub output: String,
    /// Elements of constant inputs (weights).
    pub params: usize,
    pub macs: u64,
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
            let params = node
                .inputs
                .iter()
                .flatten()
                .filter(|&&v| matches!(graph.value(v).kind, ValueKind::Const(_)))
                .map(|&v| graph.value(v).ty.numel())
                .sum();
            NodeRow {
                name: node.name.clone(),
                op: node.op.name().to_string(),
                opset: node.opset,
                output: out_types
                    .first()
                    .map_or_else(String::new, |t| t.to_string()),
                params,
                macs: node.op.macs(&in_types, &out_types),
            }
        })
        .collect()
}

fn human(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{bytes} B ({:.2} MiB)", bytes as f64 / (1 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// The text `kiln inspect` prints.
pub fn inspect_text(graph: &Graph, plan: &MemoryPlan) -> String {
    let rows = node_rows(graph, plan);
    let mut s = String::new();
    let w_name = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    let _ = writeln!(
        s,
        "{:<w_name$}  {:<20}  {:<22}  {:>10}  {:>12}",
        "node", "op", "output", "params", "MACs"
    );
    for r in &rows {
        let name: String = r.name.chars().take(40).collect();
        let op = format!("{} v{}", r.op, r.opset);
        let _ = writeln!(
            s,
            "{name:<w_name$}  {op:<20}  {:<22}  {:>10}  {:>12}",
            r.output, r.params, r.macs
        );
    }
    let params: usize = graph
        .values()
        .filter_map(|(_, v)| v.const_tensor())
        .map(|t| t.numel())
        .sum();
    let weight_bytes: usize = graph
        .values()
        .filter_map(|(_, v)| v.const_tensor())
        .map(|t| t.ty().size_bytes())
        .sum();
    let macs: u64 = rows.iter().map(|r| r.macs).sum();
    let _ = writeln!(
        s,
        "\nnodes: {}   parameters: {params} ({})   MACs: {macs}",
        rows.len(),
        human(weight_bytes)
    );
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
            human(p.len * p.dtype.size_bytes()),
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
    let mut s = format!(
        "{:<40}  {:<4}  {:>10}  {:>10}  {:>10}  steps\n",
        "value", "pool", "offset", "elements", "bytes"
    );
    for b in &plan.buffers {
        let p = plan.placements[&b.value];
        let name: String = graph.value(b.value).name.chars().take(40).collect();
        let _ = writeln!(
            s,
            "{name:<40}  {:<4}  {:>10}  {:>10}  {:>10}  {}..={}",
            p.dtype,
            p.offset,
            p.len,
            p.len * p.dtype.size_bytes(),
            b.first,
            b.last
        );
    }
    s
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
                    value: graph.value(b.value).name.clone(),
                    dtype: p.dtype.to_string(),
                    elements: p.len,
                    bytes: p.len * size,
                    offset_elements: p.offset,
                    offset_bytes: p.offset * size,
                    first_step: b.first,
                    last_step: b.last,
                    producer: graph
                        .producer(b.value)
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

/// The arena over time as an SVG picture (`kiln inspect --svg`): x is the schedule step,
/// y the offset in bytes, one band per pool stacked bottom to top; one rectangle per
/// buffer (its lifetime by its bytes, with a tooltip), a dashed line at each pool's lower
/// bound, and the arena, lower-bound and greedy-by-size totals. Deterministic.
pub fn plan_svg(graph: &Graph, plan: &MemoryPlan) -> String {
    const LEFT: f64 = 110.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 56.0;
    const BOTTOM: f64 = 40.0;
    const PLOT_H: f64 = 480.0;
    const MIN_BAND: f64 = 24.0;
    const GAP: f64 = 8.0;
    const PALETTE: [&str; 10] = [
        "#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
        "#d9d9d9", "#bc80bd",
    ];
    let steps = plan.schedule.len().max(1);
    let step_w = (960.0 / steps as f64).clamp(2.0, 40.0);
    let plot_w = step_w * steps as f64;
    let arena = plan.arena_bytes().max(1);
    // Band height per pool: proportional to its bytes, but never too thin to see.
    let bands: Vec<f64> = plan
        .pools
        .iter()
        .map(|p| (PLOT_H * (p.len * p.dtype.size_bytes()) as f64 / arena as f64).max(MIN_BAND))
        .collect();
    let plot_h = bands.iter().sum::<f64>() + GAP * bands.len().saturating_sub(1) as f64;
    let plot_h = plot_h.max(MIN_BAND);
    let width = LEFT + plot_w + RIGHT;
    let height = TOP + plot_h + BOTTOM;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<title>{}: activation arena over time</title>",
        xml_escape(&graph.name)
    );
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"18\" font-size=\"13\">{}: arena {} B, lower bound {} B, \
         greedy by size {} B (planner: {})</text>",
        xml_escape(&graph.name),
        plan.arena_bytes(),
        plan.lower_bound_bytes(),
        plan.greedy_by_size_bytes(),
        xml_escape(plan.algorithm)
    );
    let _ = writeln!(
        s,
        "<text x=\"{LEFT}\" y=\"36\" fill=\"#555\">x: schedule step (0..{}), \
         y: offset in bytes within each pool; dashed: lower bound</text>",
        plan.schedule.len()
    );
    // Pools bottom to top: pool k's band ends at `bottom_k` (pixels).
    let mut bottom = TOP + plot_h;
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
            let _ = writeln!(
                s,
                "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" \
                 fill=\"{}\" stroke=\"#333\" stroke-width=\"0.5\">\
                 <title>{}: {bytes} B ({} x {}) at offset {off} B, steps {}..={}</title></rect>",
                PALETTE[i % PALETTE.len()],
                xml_escape(&graph.value(b.value).name),
                pl.len,
                p.dtype,
                b.first,
                b.last
            );
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
            s,
            "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\" fill=\"#c00\">lower bound {} B</text>",
            LEFT + plot_w - 4.0,
            lb - 4.0,
            p.lower_bound * size
        );
        let _ = writeln!(s, "</g>");
        bottom = top - GAP;
    }
    // Step axis: a tick label every few steps.
    let axis = TOP + plot_h;
    let every = (40.0 / step_w).ceil().max(1.0) as usize;
    for step in (0..=plan.schedule.len()).step_by(every) {
        let x = LEFT + step as f64 * step_w;
        let _ = writeln!(
            s,
            "<text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\" fill=\"#555\">{step}</text>",
            axis + 14.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\">schedule step</text>",
        LEFT + plot_w / 2.0,
        axis + 32.0
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

/// `s` cut to `max` characters in the middle, keeping the head and the distinguishing tail
/// (`TFLITE2ONNX_FAF_model/…/activation_4/Relu`).
pub fn shorten(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max || max < 5 {
        return s.to_string();
    }
    let head = max / 3;
    let tail = max - head - 1;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
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
