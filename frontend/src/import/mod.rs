//! Per-op import: ONNX attributes -> the IR's typed attribute structs, with every
//! opset-dependent default resolved here so that the IR attributes are final.
//!
//! Import is table-driven. Each family file, named after its `kiln_ir::ops` family, lists
//! its ops in `OPS`: one [`OpEntry`] per op and range of opsets, with the function that
//! imports it. The supported-op list and the unsupported-op message are derived from these
//! rows, so adding an op is one row and one function in its family file.

mod cast;
mod common;
mod conv;
mod cumsum;
mod einsum;
mod elementwise;
mod gather;
mod gemm;
mod generate;
mod logical;
mod norm;
mod pad;
mod pool;
mod quant;
mod reduce;
mod resize;
mod rnn;
mod shape;
mod softmax;
mod topk;
mod view;
mod window;

use crate::attrs::Attrs;
use crate::error::{FrontendError, NodeCtx, UnsupportedList};
use crate::onnx::NodeProto;
use common::{Imported, NodeIn, OpEntry, Survey};
use kiln_ir::Tensor;
use std::fmt;
use std::sync::LazyLock;

/// Every family's rows: the import table.
static TABLE: &[&[OpEntry]] = &[
    cast::OPS,
    conv::OPS,
    cumsum::OPS,
    einsum::OPS,
    elementwise::OPS,
    gather::OPS,
    gemm::OPS,
    generate::OPS,
    logical::OPS,
    norm::OPS,
    pad::OPS,
    pool::OPS,
    quant::OPS,
    reduce::OPS,
    resize::OPS,
    rnn::OPS,
    shape::OPS,
    softmax::OPS,
    topk::OPS,
    view::OPS,
];

/// Every row of the import table.
pub(crate) fn rows() -> impl Iterator<Item = &'static OpEntry> {
    TABLE.iter().flat_map(|family| family.iter())
}

/// The row for `op_type` at `opset`.
fn find(op_type: &str, opset: i64) -> Option<&'static OpEntry> {
    rows().find(|e| e.name == op_type && e.opsets.contains(&opset))
}

/// The ai.onnx operators kiln imports: the import table's op names, sorted (byte order) and
/// without repeats (quoted in the unsupported-op message).
pub static SUPPORTED_OPS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names: Vec<&'static str> = rows().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    names
});

// Here rather than in error.rs because the message lists the table's ops; error.rs thereby
// needs nothing from this module.
impl fmt::Display for UnsupportedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        // A per-op summary first: models with hundreds of such nodes have only a few kinds.
        let mut by_op: std::collections::BTreeMap<String, usize> = Default::default();
        for u in self.0 {
            let key = if u.domain == "ai.onnx" {
                u.op_type.clone()
            } else {
                format!("{}.{}", u.domain, u.op_type)
            };
            *by_op.entry(key).or_default() += 1;
        }
        let summary: Vec<String> = by_op.iter().map(|(op, k)| format!("{k} {op}")).collect();
        writeln!(
            f,
            "the model has {n} node{} that kiln cannot compile ({}):",
            if n == 1 { "" } else { "s" },
            summary.join(", ")
        )?;
        for u in self.0 {
            writeln!(f, "  {u}")?;
        }
        write!(
            f,
            "kiln supports these ai.onnx operators: {}. Export the model for inference with \
             only these operators (a lower opset or onnxsim can remove some others), or ask for \
             the missing ones to be added to kiln.",
            SUPPORTED_OPS.join(", ")
        )
    }
}

/// Whether kiln can import this default-domain node: `Err(None)` for an unknown op,
/// `Err(Some(reason))` for a known op used in a way kiln does not support. Attribute type
/// errors are left for [`import`], which reports them precisely. `input_types` holds the
/// ONNX element type code of each input, where the model declares it.
pub(crate) fn check_supported(
    node: &NodeProto,
    ctx: &NodeCtx,
    n_outputs: usize,
    input_types: &[Option<i32>],
) -> Result<(), Option<String>> {
    let Some(entry) = find(node.op_type(), ctx.opset) else {
        return Err(None);
    };
    let Some(check) = entry.check else {
        return Ok(());
    };
    check(&Survey {
        ctx,
        a: Attrs::new(ctx, &node.attribute),
        n_outputs,
        input_types,
    })
    .map_err(Some)
}

/// Imports a supported default-domain node other than `Constant` (the loader turns those
/// into constant values). `n_inputs` counts input positions up to the last non-omitted
/// input; `consts` holds the value of each input that is a constant (for operands the op
/// takes as attributes).
pub(crate) fn import(
    node: &NodeProto,
    ctx: &NodeCtx,
    n_inputs: usize,
    consts: &[Option<&Tensor>],
) -> Result<Imported, FrontendError> {
    match find(node.op_type(), ctx.opset).and_then(|e| e.import) {
        Some(import) => import(&NodeIn {
            node,
            ctx,
            a: Attrs::new(ctx, &node.attribute),
            n_inputs,
            consts,
        }),
        // check_supported ran on every node before import, so only listed ops get here.
        None => Err(ctx.error(format!("kiln cannot import {}", node.op_type()))),
    }
}
