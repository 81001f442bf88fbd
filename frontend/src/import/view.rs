//! Data movement through views (`kiln_ir::ops::view`): Slice, Split, Expand, Tile,
//! DepthToSpace and SpaceToDepth. Operands that decide the output shape (Slice's bounds,
//! Split's sizes, Expand's shape, Tile's repeats) must be constants and become attributes.

use super::common::{ALL, Imported, NodeIn, OpEntry};
use crate::error::FrontendError;
use crate::options::MAX_OPSET;
use kiln_ir::Op;
use kiln_ir::ops::{
    DepthToSpaceAttrs, ExpandAttrs, SliceAttrs, SpaceToDepthAttrs, SplitAttrs, TileAttrs,
};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Slice", 1..=9, slice_v1),
    OpEntry::new("Slice", 10..=MAX_OPSET, slice),
    OpEntry::new("Split", ALL, split),
    OpEntry::new("Expand", ALL, expand),
    OpEntry::new("Tile", ALL, tile),
    OpEntry::new("DepthToSpace", ALL, depth_to_space),
    OpEntry::new("SpaceToDepth", ALL, space_to_depth),
];

/// Before opset 10 the bounds are attributes.
fn slice_v1(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let need = |name: &str| {
        n.a.ints(name)?.ok_or_else(|| {
            n.ctx
                .attr(name, "is required but missing; the model is malformed")
        })
    };
    Ok(Op::Slice(SliceAttrs {
        starts: need("starts")?,
        ends: need("ends")?,
        axes: n.a.ints("axes")?,
        steps: None,
    })
    .into())
}

fn slice(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(3, 5)?;
    let needs = "the slice bounds (they decide the output shape)";
    let starts = n.shape_ints(1, "starts", needs)?.unwrap_or_default();
    let ends = n.shape_ints(2, "ends", needs)?.unwrap_or_default();
    let axes = n.shape_ints(3, "axes", "the sliced axes")?;
    let steps = n.shape_ints(4, "steps", "the steps (they decide the output shape)")?;
    Ok(Imported::one_input(Op::Slice(SliceAttrs {
        starts,
        ends,
        axes,
        steps,
    })))
}

/// `split` is an attribute before opset 13 (opset 1 also took it as input 1) and an input
/// from 13 on; `num_outputs` appears in 18.
fn split(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    let (a, ctx, opset) = (&n.a, n.ctx, n.opset());
    let outputs = trimmed_len(&n.node.output);
    let (split, uneven) = if opset < 13 {
        n.arity(1, if opset < 2 { 2 } else { 1 })?;
        let split = match a.ints("split")? {
            Some(s) => Some(s),
            None if opset < 2 => n.shape_ints(1, "split", "the part sizes")?,
            None => None,
        };
        (split, false)
    } else {
        n.arity(1, 2)?;
        let split = n.shape_ints(1, "split", "the part sizes (they decide the output shapes)")?;
        let num = if opset >= 18 {
            a.int("num_outputs")?
        } else {
            None
        };
        if let Some(k) = num
            && (split.is_some() || k != outputs as i64)
        {
            return Err(ctx.attr(
                "num_outputs",
                format!(
                    "is {k}, but the node has {outputs} outputs{}; the model is malformed",
                    if split.is_some() {
                        " and a split input"
                    } else {
                        ""
                    }
                ),
            ));
        }
        (split, num.is_some())
    };
    Ok(Imported::one_input(Op::Split(SplitAttrs {
        axis: a.int_or("axis", 0)?,
        split,
        outputs,
        uneven,
    })))
}

/// Outputs up to the last named one.
fn trimmed_len(names: &[String]) -> usize {
    names
        .iter()
        .rposition(|s| !s.is_empty())
        .map_or(0, |p| p + 1)
}

fn expand(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    let shape = n
        .shape_ints(1, "shape", "the target shape (it decides the output shape)")?
        .unwrap_or_default();
    Ok(Imported::one_input(Op::Expand(ExpandAttrs { shape })))
}

fn tile(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    let repeats = n
        .shape_ints(1, "repeats", "the repeats (they decide the output shape)")?
        .unwrap_or_default();
    Ok(Imported::one_input(Op::Tile(TileAttrs { repeats })))
}

fn depth_to_space(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let crd = match n.a.string("mode")?.as_deref() {
        None | Some("DCR") => false,
        Some("CRD") if n.opset() >= 11 => true,
        Some(m) => {
            return Err(n
                .ctx
                .attr("mode", format!("is {m:?}; it must be DCR or CRD")));
        }
    };
    Ok(Op::DepthToSpace(DepthToSpaceAttrs {
        blocksize: blocksize(n)?,
        crd,
    })
    .into())
}

fn space_to_depth(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::SpaceToDepth(SpaceToDepthAttrs {
        blocksize: blocksize(n)?,
    })
    .into())
}

/// DepthToSpace's and SpaceToDepth's `blocksize`.
fn blocksize(n: &NodeIn<'_>) -> Result<usize, FrontendError> {
    let b = n.a.int("blocksize")?.ok_or_else(|| {
        n.ctx.attr(
            "blocksize",
            "is required but missing; the model is malformed",
        )
    })?;
    usize::try_from(b)
        .ok()
        .filter(|&b| (1..=1 << 16).contains(&b))
        .ok_or_else(|| {
            n.ctx
                .attr("blocksize", format!("is {b}; it must be at least 1"))
        })
}
