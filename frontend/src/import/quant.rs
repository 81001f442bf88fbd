//! Quantisation (`kiln_ir::ops::quant`): QuantizeLinear, DequantizeLinear,
//! DynamicQuantizeLinear and the integer convolutions and matrix products.

use super::common::{ALL, Imported, NodeIn, OpEntry, plain};
use super::conv::conv_attrs;
use crate::error::FrontendError;
use crate::tensor::dtype_from_onnx;
use kiln_ir::Op;
use kiln_ir::ops::QuantAttrs;

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("QuantizeLinear", ALL, |n| {
        Ok(Op::QuantizeLinear(quant_attrs(n)?).into())
    }),
    OpEntry::new("DequantizeLinear", ALL, |n| {
        Ok(Op::DequantizeLinear(quant_attrs(n)?).into())
    }),
    OpEntry::new("DynamicQuantizeLinear", ALL, |n| {
        plain(n, 1, 1, Op::DynamicQuantizeLinear)
    }),
    OpEntry::new("MatMulInteger", ALL, |n| plain(n, 2, 4, Op::MatMulInteger)),
    OpEntry::new("QLinearMatMul", ALL, |n| plain(n, 8, 8, Op::QLinearMatMul)),
    OpEntry::new("ConvInteger", ALL, conv_integer),
    OpEntry::new("QLinearConv", ALL, qlinear_conv),
];

/// The attributes of QuantizeLinear and DequantizeLinear.
fn quant_attrs(n: &NodeIn<'_>) -> Result<QuantAttrs, FrontendError> {
    let (a, ctx) = (&n.a, n.ctx);
    n.arity(2, 3)?;
    let block_size = a.int_or("block_size", 0)?;
    let block_size = usize::try_from(block_size)
        .ok()
        .filter(|&b| b <= i32::MAX as usize)
        .ok_or_else(|| ctx.attr("block_size", format!("is {block_size}; it must be ≥ 0")))?;
    let code = a.int_or("output_dtype", 0)?;
    let output_dtype = match code {
        0 => None,
        c => Some(
            i32::try_from(c)
                .ok()
                .and_then(dtype_from_onnx)
                .ok_or_else(|| {
                    ctx.attr(
                        "output_dtype",
                        format!("is {c}, which kiln cannot quantise to"),
                    )
                })?,
        ),
    };
    if a.int_or("precision", 0)? != 0 {
        return Err(ctx.attr(
            "precision",
            "is set; kiln divides in the input's precision only (leave it unset)",
        ));
    }
    // `saturate` only concerns float8 outputs, which check_supported refused.
    Ok(QuantAttrs {
        axis: a.int_or("axis", 1)?,
        block_size,
        output_dtype,
    })
}

fn conv_integer(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    let attrs = conv_attrs(n.ctx, &n.a)?;
    n.arity(2, 4)?;
    Ok(Op::ConvInteger(attrs).into())
}

fn qlinear_conv(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    let attrs = conv_attrs(n.ctx, &n.a)?;
    n.arity(8, 9)?;
    Ok(Op::QLinearConv(attrs).into())
}
