//! What the import table and the family files share: the row type, the node as an import
//! function sees it, and helpers for attributes and operands.

use crate::attrs::Attrs;
use crate::error::{FrontendError, NodeCtx};
use crate::onnx::NodeProto;
use crate::options::MAX_OPSET;
use kiln_ir::{Op, Tensor};
use std::ops::RangeInclusive;

/// Imports a node (see [`NodeIn`]).
pub(super) type ImportFn = fn(&NodeIn<'_>) -> Result<Imported, FrontendError>;

/// Refuses a use of a supported op that kiln cannot compile, saying why (see
/// `check_supported`).
pub(super) type CheckFn = fn(&Survey<'_>) -> Result<(), String>;

/// One row of the import table: an ai.onnx op, the opsets the row covers, and how to import
/// it. The rows of one op do not overlap and together cover every opset kiln knows.
pub(crate) struct OpEntry {
    pub name: &'static str,
    pub opsets: RangeInclusive<i64>,
    /// `None` for `Constant`, which the loader turns into a constant value itself.
    pub(super) import: Option<ImportFn>,
    /// Refusals checked before any import, so all of a model's unsupported nodes are listed
    /// at once; `None` when the op has none.
    pub(super) check: Option<CheckFn>,
}

/// Every opset kiln knows.
pub(super) const ALL: RangeInclusive<i64> = 1..=MAX_OPSET;

impl OpEntry {
    pub(super) const fn new(
        name: &'static str,
        opsets: RangeInclusive<i64>,
        import: ImportFn,
    ) -> Self {
        OpEntry {
            name,
            opsets,
            import: Some(import),
            check: None,
        }
    }

    /// A row for an op the loader handles before import.
    pub(super) const fn by_loader(name: &'static str, opsets: RangeInclusive<i64>) -> Self {
        OpEntry {
            name,
            opsets,
            import: None,
            check: None,
        }
    }

    pub(super) const fn with_check(self, check: CheckFn) -> Self {
        OpEntry {
            check: Some(check),
            ..self
        }
    }
}

/// What `check_supported` knows of a node before any import.
pub(super) struct Survey<'a> {
    pub ctx: &'a NodeCtx,
    pub a: Attrs<'a>,
    /// Outputs up to the last named one.
    pub n_outputs: usize,
    /// The ONNX element type code of each input, where the model declares it.
    pub input_types: &'a [Option<i32>],
}

impl Survey<'_> {
    /// An integer attribute; one of another type is left for import to report.
    pub(super) fn int(&self, name: &str) -> Option<i64> {
        self.a.int(name).ok().flatten()
    }
}

/// The check of the ops that had legacy broadcasting before opset 7.
pub(super) fn legacy_broadcast(s: &Survey<'_>) -> Result<(), String> {
    if s.ctx.opset < 7 && s.int("broadcast").is_some_and(|v| v != 0) && s.a.has("axis") {
        return Err(
            "legacy broadcasting with an `axis` attribute (opset < 7); re-export the \
                    model with opset 7 or newer"
                .into(),
        );
    }
    Ok(())
}

/// An imported node: its op, plus a constant input the old form of the op kept as an
/// attribute (Reshape's `shape` before opset 5).
pub(crate) struct Imported {
    pub op: Op,
    pub const_input: Option<(usize, Tensor)>,
    /// `Some(k)`: the node keeps only its first `k` inputs; the op's attributes hold the
    /// (constant) rest (Pad's `pads`, `constant_value` and `axes`).
    pub keep_inputs: Option<usize>,
}

impl From<Op> for Imported {
    fn from(op: Op) -> Self {
        Imported {
            op,
            const_input: None,
            keep_inputs: None,
        }
    }
}

impl Imported {
    /// `op`, whose node keeps input 0 only: the other operands are in its attributes.
    pub(super) fn one_input(op: Op) -> Self {
        Imported {
            op,
            const_input: None,
            keep_inputs: Some(1),
        }
    }
}

/// A node as an import function sees it.
pub(super) struct NodeIn<'a> {
    pub node: &'a NodeProto,
    pub ctx: &'a NodeCtx,
    pub a: Attrs<'a>,
    /// Input positions up to the last non-omitted input.
    pub n_inputs: usize,
    /// The value of each input that is a constant (for operands the op takes as attributes).
    pub consts: &'a [Option<&'a Tensor>],
}

impl<'a> NodeIn<'a> {
    pub(super) fn opset(&self) -> i64 {
        self.ctx.opset
    }

    /// Checks the input count: the first `min` positions must be present, and at most `max`
    /// counted (see [`NodeIn::n_inputs`]).
    pub(super) fn arity(&self, min: usize, max: usize) -> Result<(), FrontendError> {
        let ctx = self.ctx;
        if self.n_inputs > max {
            return Err(ctx.error(format!(
                "has {} inputs but {} takes at most {max} at this opset",
                self.n_inputs, ctx.op
            )));
        }
        for i in 0..min {
            if self.node.input.get(i).is_none_or(|s| s.is_empty()) {
                return Err(ctx.error(format!(
                    "required input {i} is missing ({} needs at least {min} inputs)",
                    ctx.op
                )));
            }
        }
        Ok(())
    }

    /// Whether the node names input `slot`.
    pub(super) fn has_input(&self, slot: usize) -> bool {
        self.node.input.get(slot).is_some_and(|s| !s.is_empty())
    }

    /// Input `slot` when it is a constant: `Ok(None)` when the node omits it, an error
    /// saying that kiln needs `needs` at compile time when it is only known at run time.
    pub(super) fn const_operand(
        &self,
        slot: usize,
        what: &str,
        needs: &str,
    ) -> Result<Option<&'a Tensor>, FrontendError> {
        if !self.has_input(slot) {
            return Ok(None);
        }
        match self.consts.get(slot).copied().flatten() {
            Some(t) => Ok(Some(t)),
            None => Err(self.ctx.error(format!(
                "input {slot} ({what}) is only known at run time, but kiln needs {needs} at \
                 compile time: make it an initializer or a Constant node"
            ))),
        }
    }

    /// A constant 1-D integer operand that decides the output shape.
    pub(super) fn shape_ints(
        &self,
        slot: usize,
        what: &str,
        needs: &str,
    ) -> Result<Option<Vec<i64>>, FrontendError> {
        match self.const_operand(slot, what, needs)? {
            None => Ok(None),
            Some(t) if t.shape.len() <= 1 => t.as_i64_vec().map(Some).ok_or_else(|| {
                self.ctx.error(format!(
                    "input {slot} ({what}) must be an integer tensor, but it is {}; the model \
                     is malformed",
                    t.ty()
                ))
            }),
            Some(t) => Err(self.ctx.error(format!(
                "input {slot} ({what}) must be 1-D, but it is {}; the model is malformed",
                t.ty()
            ))),
        }
    }
}

/// An op without attributes that takes `min` to `max` inputs.
pub(super) fn plain(
    n: &NodeIn<'_>,
    min: usize,
    max: usize,
    op: Op,
) -> Result<Imported, FrontendError> {
    n.arity(min, max)?;
    Ok(op.into())
}

/// A string attribute parsed by `parse`, `default` when absent; an unknown value is an
/// error listing the accepted ones.
pub(super) fn choice<T>(
    a: &Attrs<'_>,
    name: &str,
    default: T,
    accepted: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, FrontendError> {
    match a.string(name)? {
        None => Ok(default),
        Some(s) => parse(&s).ok_or_else(|| {
            a.ctx
                .attr(name, format!("is {s:?}; it must be one of {accepted}"))
        }),
    }
}
