//! Size limits checked right after decoding, before any other work: a hostile model must
//! not make kiln spend unbounded time or memory, nor print a 100-MB name in an error.

use crate::error::FrontendError;
use crate::onnx::{GraphProto, ModelProto, NodeProto};
use crate::options::LoadOptions;
use kiln_ir::Limit;

/// Longest name accepted for a node, value, op type or domain. Real exporters stay far
/// below this; names this long only come from broken or hostile files.
pub const MAX_NAME_BYTES: usize = 4096;

/// Longest string attribute accepted (each string of a list, too). The string attributes
/// of ONNX ops are short enums (`auto_pad`, `mode`, ...).
pub const MAX_STRING_ATTRIBUTE_BYTES: usize = 64 * 1024;

/// The protobuf decoder refuses messages nested deeper than this (to protect its stack);
/// each subgraph level costs three (graph, node, attribute), so about 30 subgraph levels
/// decode at most, whatever [`LoadOptions::max_depth`] says.
pub(crate) const DECODER_RECURSION_LIMIT: usize = 100;

/// `name` shortened for a message: at most 80 characters, then the byte count.
fn short(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    if s.chars().count() <= 80 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(80).collect();
        format!("{head:?}... ({} bytes)", name.len())
    }
}

/// An op type for a message: plain when it looks like one, else quoted and shortened.
fn op(n: &NodeProto) -> String {
    let t = n.op_type();
    if !t.is_empty() && t.len() <= 80 && t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        t.to_string()
    } else {
        short(t.as_bytes())
    }
}

/// `node "conv1" (Conv)`, or `node #3 (Conv)` when the name is empty or is the problem.
fn node_label(index: usize, n: &NodeProto, use_name: bool) -> String {
    if use_name && !n.name().is_empty() {
        format!("node {} ({})", short(n.name().as_bytes()), op(n))
    } else {
        format!("node #{index} ({})", op(n))
    }
}

fn too_long(what: String, len: usize, limit: usize) -> Result<(), FrontendError> {
    Err(FrontendError::Limit(format!(
        "{what} is {len} bytes long, more than kiln accepts ({limit} bytes); the model is \
         corrupt or was made to attack tools that read it"
    )))
}

/// A graph to check: its subgraph depth, and for messages the main-graph (or function)
/// node it descends from and the node whose attribute holds it.
struct Pending<'a> {
    graph: &'a GraphProto,
    depth: usize,
    outer: String,
    holder: String,
}

/// Checks the node count, subgraph depth, name lengths and string-attribute sizes of a
/// decoded model against `opts`. Walks the graphs with an explicit stack, not recursion.
pub(crate) fn check(model: &ModelProto, opts: &LoadOptions) -> Result<(), FrontendError> {
    let mut nodes = 0usize;
    let mut stack: Vec<Pending<'_>> = Vec::new();
    if let Some(g) = &model.graph {
        stack.push(Pending {
            graph: g,
            depth: 0,
            outer: String::new(),
            holder: String::new(),
        });
    }
    for f in &model.functions {
        nodes = nodes.saturating_add(f.node.len());
        for (i, n) in f.node.iter().enumerate() {
            let outer = format!(
                "{} of function {}",
                node_label(i, n, true),
                short(f.name().as_bytes())
            );
            check_node(n, i, 0, &outer, &mut stack)?;
        }
    }
    while let Some(p) = stack.pop() {
        if p.depth > opts.max_depth {
            return Err(FrontendError::Limit(format!(
                "subgraphs are nested {} deep (inside {}, down to {}), more than the limit of \
                 {}; raise it with {} if the model is trusted",
                p.depth,
                p.outer,
                p.holder,
                opts.max_depth,
                opts.option_names.limit(Limit::Depth)
            )));
        }
        let g = p.graph;
        nodes = nodes.saturating_add(g.node.len());
        if nodes > opts.max_nodes {
            return Err(FrontendError::Limit(format!(
                "the model has more than {} nodes (counting subgraphs); raise the limit with {} \
                 if the model is trusted",
                opts.max_nodes,
                opts.option_names.limit(Limit::Nodes)
            )));
        }
        let values = g
            .input
            .iter()
            .chain(&g.output)
            .chain(&g.value_info)
            .map(|v| v.name())
            .chain(g.initializer.iter().map(|t| t.name()));
        for name in values {
            if name.len() > MAX_NAME_BYTES {
                let place = if p.depth == 0 {
                    String::new()
                } else {
                    format!(" in a subgraph of {}", p.holder)
                };
                return too_long(
                    format!("the value name {}{place}", short(name.as_bytes())),
                    name.len(),
                    MAX_NAME_BYTES,
                );
            }
        }
        for (i, n) in g.node.iter().enumerate() {
            let outer = if p.depth == 0 {
                node_label(i, n, true)
            } else {
                p.outer.clone()
            };
            check_node(n, i, p.depth, &outer, &mut stack)?;
        }
    }
    Ok(())
}

fn check_node<'a>(
    n: &'a NodeProto,
    index: usize,
    depth: usize,
    outer: &str,
    stack: &mut Vec<Pending<'a>>,
) -> Result<(), FrontendError> {
    if n.name().len() > MAX_NAME_BYTES {
        return too_long(
            format!(
                "the name of {} ({})",
                node_label(index, n, false),
                short(n.name().as_bytes())
            ),
            n.name().len(),
            MAX_NAME_BYTES,
        );
    }
    let label = node_label(index, n, true);
    if n.op_type().len() > MAX_NAME_BYTES || n.domain().len() > MAX_NAME_BYTES {
        return too_long(
            format!("the op type or domain of {label}"),
            n.op_type().len().max(n.domain().len()),
            MAX_NAME_BYTES,
        );
    }
    for name in n.input.iter().chain(&n.output) {
        if name.len() > MAX_NAME_BYTES {
            return too_long(
                format!("the value name {} used by {label}", short(name.as_bytes())),
                name.len(),
                MAX_NAME_BYTES,
            );
        }
    }
    for a in &n.attribute {
        if a.name().len() > MAX_NAME_BYTES {
            return too_long(
                format!("an attribute name of {label}"),
                a.name().len(),
                MAX_NAME_BYTES,
            );
        }
        for s in a.s.iter().chain(&a.strings) {
            if s.len() > MAX_STRING_ATTRIBUTE_BYTES {
                return too_long(
                    format!(
                        "string attribute {} of {label} (starting {})",
                        short(a.name().as_bytes()),
                        short(&s[..80.min(s.len())])
                    ),
                    s.len(),
                    MAX_STRING_ATTRIBUTE_BYTES,
                );
            }
        }
        for g in a.g.iter().chain(&a.graphs) {
            stack.push(Pending {
                graph: g,
                depth: depth + 1,
                outer: outer.to_string(),
                holder: format!("attribute {} of {label}", short(a.name().as_bytes())),
            });
        }
    }
    Ok(())
}
