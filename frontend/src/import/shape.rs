//! Data movement (`kiln_ir::ops::shape`): Reshape, Flatten, Transpose, Concat, Squeeze,
//! Unsqueeze, Dropout (in inference) and Identity.

use super::common::{ALL, Imported, NodeIn, OpEntry, plain};
use crate::error::FrontendError;
use crate::options::MAX_OPSET;
use kiln_ir::ops::{
    ConcatAttrs, FlattenAttrs, ReshapeAttrs, SqueezeAttrs, TransposeAttrs, UnsqueezeAttrs,
};
use kiln_ir::{Op, Tensor, TensorData};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Reshape", 1..=4, reshape_v1),
    OpEntry::new("Reshape", 5..=MAX_OPSET, reshape),
    OpEntry::new("Flatten", ALL, flatten),
    OpEntry::new("Transpose", ALL, transpose),
    OpEntry::new("Concat", ALL, concat),
    // `axes` is an attribute before opset 13 and an (optional) input from 13 on.
    OpEntry::new("Squeeze", 1..=12, squeeze_v1),
    OpEntry::new("Squeeze", 13..=MAX_OPSET, |n| {
        plain(n, 1, 2, Op::Squeeze(SqueezeAttrs::default()))
    }),
    OpEntry::new("Unsqueeze", 1..=12, unsqueeze_v1),
    OpEntry::new("Unsqueeze", 13..=MAX_OPSET, |n| {
        plain(n, 2, 2, Op::Unsqueeze(UnsqueezeAttrs::default()))
    }),
    // ratio (an attribute before opset 12, an input after) does not matter in inference;
    // training_mode (12+) is checked by shape inference.
    OpEntry::new("Dropout", ALL, |n| plain(n, 1, 3, Op::Dropout)),
    OpEntry::new("Identity", ALL, |n| plain(n, 1, 1, Op::Identity)),
];

/// Before opset 5 the target shape is an attribute; it becomes the constant input.
fn reshape_v1(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let shape = n.a.ints("shape")?.ok_or_else(|| {
        n.ctx.attr(
            "shape",
            "is required before opset 5 but missing; the model is malformed",
        )
    })?;
    let t = Tensor::new(vec![shape.len()], TensorData::I64(shape))
        .map_err(|e| n.ctx.attr("shape", e))?;
    Ok(Imported {
        op: Op::Reshape(ReshapeAttrs::default()),
        const_input: Some((1, t)),
        keep_inputs: None,
    })
}

fn reshape(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 2)?;
    Ok(Op::Reshape(ReshapeAttrs {
        allowzero: n.a.flag("allowzero", false)?,
    })
    .into())
}

fn flatten(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Flatten(FlattenAttrs {
        axis: n.a.int_or("axis", 1)?,
    })
    .into())
}

fn transpose(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Transpose(TransposeAttrs {
        perm: n.a.ints("perm")?,
    })
    .into())
}

fn concat(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, usize::MAX)?;
    // `axis` has been required since opset 4; before, it defaulted to 1.
    let axis = match n.a.int("axis")? {
        Some(v) => v,
        None if n.opset() < 4 => 1,
        None => {
            return Err(n
                .ctx
                .attr("axis", "is required but missing; the model is malformed"));
        }
    };
    Ok(Op::Concat(ConcatAttrs { axis }).into())
}

fn squeeze_v1(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    Ok(Op::Squeeze(SqueezeAttrs {
        axes: n.a.ints("axes")?,
    })
    .into())
}

fn unsqueeze_v1(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let axes =
        n.a.ints("axes")?
            .ok_or_else(|| n.ctx.attr("axes", "is required but missing"))?;
    Ok(Op::Unsqueeze(UnsqueezeAttrs { axes: Some(axes) }).into())
}
