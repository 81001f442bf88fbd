//! Human-readable reports: the per-node table and memory plan of `kiln inspect`.

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
        "arena: {}   lower bound: {}   planner: {}",
        human(plan.arena_bytes()),
        human(plan.lower_bound_bytes()),
        plan.algorithm
    );
    for p in &plan.pools {
        let _ = writeln!(
            s,
            "  pool {}: {} elements ({}), lower bound {} elements",
            p.dtype,
            p.len,
            human(p.len * p.dtype.size_bytes()),
            p.lower_bound
        );
    }
    s
}

/// The memory plan, one buffer a line: value, size, offset, first and last step.
pub fn plan_text(graph: &Graph, plan: &MemoryPlan) -> String {
    let mut s = String::from(
        "value                                     pool  offset      elements    steps\n",
    );
    for b in &plan.buffers {
        let p = plan.placements[&b.value];
        let name: String = graph.value(b.value).name.chars().take(40).collect();
        let _ = writeln!(
            s,
            "{name:<40}  {:<4}  {:>10}  {:>10}  {}..={}",
            p.dtype, p.offset, p.len, b.first, b.last
        );
    }
    s
}
