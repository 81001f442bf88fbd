//! Sliding-window attributes shared by the convolutions and the pooling ops
//! (`kiln_ir::ops::window`).

use crate::attrs::Attrs;
use crate::error::FrontendError;
use kiln_ir::ops::{AutoPad, WindowAttrs};

/// The window attributes; `pooling` ops require `kernel_shape` (convolutions can take it
/// from the weights).
pub(super) fn window(a: &Attrs<'_>, pooling: bool) -> Result<WindowAttrs, FrontendError> {
    let auto_pad = match a.string("auto_pad")? {
        None => AutoPad::NotSet,
        Some(s) => AutoPad::parse(&s).ok_or_else(|| {
            a.ctx.attr(
                "auto_pad",
                format!("is {s:?}; it must be NOTSET, SAME_UPPER, SAME_LOWER or VALID"),
            )
        })?,
    };
    let kernel_shape = a.sizes("kernel_shape")?;
    if pooling && kernel_shape.is_empty() {
        return Err(a.ctx.attr(
            "kernel_shape",
            "is required but missing; the model is malformed",
        ));
    }
    Ok(WindowAttrs {
        auto_pad,
        kernel_shape,
        strides: a.sizes("strides")?,
        dilations: a.sizes("dilations")?,
        pads: a.sizes("pads")?,
        ceil_mode: a.flag("ceil_mode", false)?,
    })
}
