//! `fuse-int-tables`: elementwise integer ops of one 8-bit tensor become one lookup table,
//! and a table after an IntConv or IntGemm runs in its requantization.
//!
//! An 8-bit tensor has 256 values, so any function of it alone is a table: an IntLut of an
//! IntLut is one IntLut; an IntAdd or IntMul whose two operands are each `x`, an IntLut of
//! `x` or a one-element constant (SiLU as QDQ exports it: `Mul(x, Sigmoid(x))`; HardSwish in
//! parts and the scalar affine steps around it, as PP-LCNet's are) is an IntLut of `x`. The composed
//! table is the same integer arithmetic done at compile time, so the results are
//! bit-identical to the ops run one after the other. Then an IntLut that is the only
//! reader of an IntConv's or IntGemm's output (same 8-bit type) moves into that op's
//! `table`, so the activation never makes its own pass over memory (on ddddocr_det's int8
//! form the SiLUs' Sigmoid and Mul steps took 29% of the time).

use crate::rewrite::{absorb, record_merge, replace_inputs, sole_consumer};
use kiln_ir::ops::qint::{IntLutAttrs, IntOp, qrange, through};
use kiln_ir::{DType, Graph, NodeId, Op, ValueId};

/// The table of IntLut node `n`, if it is one.
fn lut_of(g: &Graph, n: NodeId) -> Option<&IntLutAttrs> {
    match &g.node(n).op {
        Op::Int(IntOp::Lut(a)) => Some(a),
        _ => None,
    }
}

/// An 8-bit type's values in the order of a table's entries, from its minimum.
fn values(d: DType) -> Option<Vec<i32>> {
    let (lo, hi) = qrange(d).ok()?;
    Some((lo..=hi).collect())
}

/// An operand of a binary node as a function of one 8-bit tensor.
enum Operand {
    /// `table[x - min]` (`x` itself: the identity), and the IntLut computing it, to remove.
    Of(ValueId, Vec<i32>, Option<NodeId>),
    /// A constant of one element (it broadcasts over any shape).
    Const(i32),
}

/// Operand `v` of a binary node `b`: an IntLut's output read only by `b` is its input with
/// its table; a one-element 8-bit constant is that value; any other 8-bit tensor is itself.
fn as_function(g: &Graph, b: NodeId, v: ValueId) -> Option<Operand> {
    let val = g.value(v);
    if let Some(t) = val.const_tensor() {
        let [q] = t.data.to_f64_vec()[..] else {
            return None;
        };
        values(val.ty.dtype)?;
        return Some(Operand::Const(q as i32));
    }
    if let Some(p) = g.producer(v)
        && let Some(a) = lut_of(g, p)
        && sole_consumer(g, v) == Some(b)
        && g.node(p).epilogue.is_empty()
    {
        let x = g.node(p).inputs.first().copied().flatten()?;
        return Some(Operand::Of(x, a.table.clone(), Some(p)));
    }
    Some(Operand::Of(v, values(val.ty.dtype)?, None))
}

/// IntLut of IntLut, and IntAdd / IntMul of two functions of the same tensor, into one
/// IntLut. Returns a line per rewrite.
fn compose(g: &mut Graph, out: &mut Vec<String>) {
    let mut changed = true;
    while changed {
        changed = false;
        let ids: Vec<NodeId> = g.node_ids().collect();
        for n in ids {
            if !g.contains_node(n) || !g.node(n).epilogue.is_empty() {
                continue;
            }
            let node = g.node(n);
            let [y] = node.outputs[..] else {
                continue;
            };
            let rewritten = match &node.op {
                Op::Int(IntOp::Lut(outer)) => {
                    let Some(Some(v)) = node.inputs.first().copied() else {
                        continue;
                    };
                    let Some(Operand::Of(x, inner, Some(p))) = as_function(g, n, v) else {
                        continue;
                    };
                    let dtype = g.value(v).ty.dtype;
                    let table = inner
                        .iter()
                        .map(|&q| through(Some(&outer.table), dtype, q))
                        .collect();
                    (x, table, vec![p], outer.out)
                }
                Op::Int(IntOp::Binary(b)) => {
                    let [Some(va), Some(vb)] = node.inputs[..] else {
                        continue;
                    };
                    let (Some(fa), Some(fb)) = (as_function(g, n, va), as_function(g, n, vb))
                    else {
                        continue;
                    };
                    let (x, table, gone) = match (fa, fb) {
                        (Operand::Of(xa, ta, pa), Operand::Of(xb, tb, pb)) if xa == xb => {
                            let t = ta.iter().zip(&tb).map(|(&a, &c)| b.apply(a, c)).collect();
                            (xa, t, pa.into_iter().chain(pb).collect::<Vec<_>>())
                        }
                        (Operand::Of(x, t, p), Operand::Const(c)) => (
                            x,
                            t.iter().map(|&a| b.apply(a, c)).collect(),
                            p.into_iter().collect(),
                        ),
                        (Operand::Const(c), Operand::Of(x, t, p)) => (
                            x,
                            t.iter().map(|&a| b.apply(c, a)).collect(),
                            p.into_iter().collect(),
                        ),
                        _ => continue,
                    };
                    // Only where the table maps x element by element to the output: x has
                    // the output's shape (a constant operand has one element).
                    if g.value(x).ty.shape != g.value(y).ty.shape {
                        continue;
                    }
                    (x, table, gone, g.value(y).ty.dtype)
                }
                _ => continue,
            };
            let (x, table, gone, to) = rewritten;
            let label = format!(
                "{} {:?} and {} into one table",
                g.node(n).op.name(),
                g.node(n).name,
                gone.iter()
                    .map(|&p| format!("IntLut {:?}", g.node(p).name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            g.node_mut(n).op = Op::Int(IntOp::Lut(IntLutAttrs { table, out: to }));
            replace_inputs(g, n, &[Some(x)]);
            for p in gone {
                if g.contains_node(p) {
                    record_merge(g, n, p, "fused");
                    g.remove_node(p);
                }
            }
            out.push(label);
            changed = true;
        }
    }
}

/// An IntLut reading only an IntConv's or IntGemm's output (of the table's own type) into
/// that op's `table`.
fn into_requant(g: &mut Graph, out: &mut Vec<String>) {
    let ids: Vec<NodeId> = g.node_ids().collect();
    for p in ids {
        if !g.contains_node(p) {
            continue;
        }
        let node = g.node(p);
        let [y] = node.outputs[..] else {
            continue;
        };
        if !matches!(node.op, Op::Int(IntOp::Conv(_) | IntOp::Gemm(_))) {
            continue;
        }
        let Some(c) = sole_consumer(g, y) else {
            continue;
        };
        let Some(lut) = lut_of(g, c) else { continue };
        if lut.out != g.value(y).ty.dtype || !g.node(c).epilogue.is_empty() {
            continue;
        }
        let table = lut.table.clone();
        let slot = match &mut g.node_mut(p).op {
            Op::Int(IntOp::Conv(a)) => &mut a.table,
            Op::Int(IntOp::Gemm(a)) => &mut a.table,
            _ => continue,
        };
        // One table per op: the composition above leaves at most one IntLut after it.
        if slot.is_some() {
            continue;
        }
        *slot = Some(table);
        let label = format!(
            "IntLut {:?} into the requantization of {:?}",
            g.node(c).name,
            g.node(p).name
        );
        absorb(g, p, c, "fused");
        out.push(label);
    }
}

/// The pass: tables composed, then moved into the requantization before them.
pub fn fuse_int_tables(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    compose(g, &mut out);
    into_requant(g, &mut out);
    Ok(out)
}
