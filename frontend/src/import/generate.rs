//! Ops whose result follows from shapes and constants (`kiln_ir::ops::generate`): Shape,
//! Size, EyeLike, ConstantOfShape, Range and Trilu; and Constant, which the loader turns
//! into a constant value.

use super::common::{ALL, Imported, NodeIn, OpEntry, plain};
use crate::error::FrontendError;
use crate::tensor::{TensorCtx, dtype_from_onnx, tensor_from_proto};
use kiln_ir::ops::{ConstantOfShapeAttrs, EyeLikeAttrs, ShapeAttrs, TriluAttrs};
use kiln_ir::{Op, Tensor, TensorData};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::by_loader("Constant", ALL),
    OpEntry::new("Shape", ALL, shape),
    OpEntry::new("Size", ALL, |n| plain(n, 1, 1, Op::Size)),
    OpEntry::new("EyeLike", ALL, eye_like),
    OpEntry::new("ConstantOfShape", ALL, constant_of_shape),
    OpEntry::new("Range", ALL, |n| plain(n, 3, 3, Op::Range)),
    OpEntry::new("Trilu", ALL, trilu),
];

fn shape(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let v15 = n.opset() >= 15;
    Ok(Op::Shape(ShapeAttrs {
        start: if v15 { n.a.int_or("start", 0)? } else { 0 },
        end: if v15 { n.a.int("end")? } else { None },
    })
    .into())
}

fn eye_like(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let dtype = match n.a.int("dtype")? {
        None => None,
        Some(code) => Some(
            i32::try_from(code)
                .ok()
                .and_then(dtype_from_onnx)
                .ok_or_else(|| {
                    n.ctx.attr(
                        "dtype",
                        format!("is {code}, which is no element type kiln has"),
                    )
                })?,
        ),
    };
    Ok(Op::EyeLike(EyeLikeAttrs {
        dtype,
        k: n.a.int_or("k", 0)?,
    })
    .into())
}

fn constant_of_shape(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 1)?;
    let value = match n.a.tensor("value")? {
        None => {
            Tensor::new(vec![1], TensorData::F32(vec![0.0])).map_err(|e| n.ctx.attr("value", e))?
        }
        Some(tp) => {
            let budget = std::cell::Cell::new(0);
            let tctx = TensorCtx {
                base_dir: None,
                max_elements: 1,
                external_budget: &budget,
                external_files: None,
                names: Default::default(),
            };
            tensor_from_proto(tp, "ConstantOfShape's value", tctx)?
        }
    };
    if value.numel() != 1 {
        return Err(n.ctx.attr(
            "value",
            format!("must hold one element, but it is {}", value.ty()),
        ));
    }
    Ok(Op::ConstantOfShape(ConstantOfShapeAttrs { value }).into())
}

/// The diagonal offset `k` must be a constant; it becomes an attribute.
fn trilu(n: &NodeIn<'_>) -> Result<Imported, FrontendError> {
    n.arity(1, 2)?;
    let k = match n.shape_ints(1, "k", "the diagonal offset k")? {
        None => 0,
        Some(v) => match v.as_slice() {
            [k] => *k,
            _ => {
                return Err(n.ctx.error(format!(
                    "input 1 (k) must hold one value, but it has {}; the model is malformed",
                    v.len()
                )));
            }
        },
    };
    Ok(Imported::one_input(Op::Trilu(TriluAttrs {
        upper: n.a.flag("upper", true)?,
        k,
    })))
}
