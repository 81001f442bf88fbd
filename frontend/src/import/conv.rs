//! Conv and ConvTranspose (`kiln_ir::ops::conv`).

use super::common::{ALL, Imported, NodeIn, OpEntry};
use super::window::window;
use crate::attrs::Attrs;
use crate::error::{FrontendError, NodeCtx};
use kiln_ir::Op;
use kiln_ir::ops::{ConvAttrs, ConvTransposeAttrs};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("Conv", ALL, conv),
    OpEntry::new("ConvTranspose", ALL, conv_transpose),
];

fn conv(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 3)?;
    Ok(Op::Conv(conv_attrs(n.ctx, &n.a)?).into())
}

fn conv_transpose(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(2, 3)?;
    let ConvAttrs { window: w, group } = conv_attrs(n.ctx, &n.a)?;
    Ok(Op::ConvTranspose(ConvTransposeAttrs {
        auto_pad: w.auto_pad,
        kernel_shape: w.kernel_shape,
        strides: w.strides,
        dilations: w.dilations,
        pads: w.pads,
        output_padding: n.a.sizes("output_padding")?,
        output_shape: n.a.sizes("output_shape")?,
        group,
    })
    .into())
}

/// Conv's attributes (shared by the convolutions): the window and `group`, bounded like the
/// window sizes so the IR's channel arithmetic cannot overflow.
pub(super) fn conv_attrs(ctx: &NodeCtx, a: &Attrs<'_>) -> Result<ConvAttrs, FrontendError> {
    let group = a.int_or("group", 1)?;
    let group = u32::try_from(group)
        .ok()
        .filter(|&g| (1..=i32::MAX as u32).contains(&g))
        .map(|g| g as usize)
        .ok_or_else(|| {
            ctx.attr(
                "group",
                format!("is {group}; it must be between 1 and {}", i32::MAX),
            )
        })?;
    Ok(ConvAttrs {
        window: window(a, false)?,
        group,
    })
}
