//! Softmax. Opsets 1 and 11 coerce the input to 2-D at `axis` (default 1) and normalise over
//! the flattened trailing block; opset 13 normalises along `axis` alone (default -1).
//! Spec: https://onnx.ai/onnx/operators/onnx__Softmax.html

use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct SoftmaxAttrs {
    pub axis: i64,
    /// Opset < 13: normalise over all axes from `axis` on (the 2-D coercion).
    pub coerce_2d: bool,
}

pub(crate) fn infer(
    a: &SoftmaxAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "Softmax is defined for floating-point tensors, got {x}"
        ));
    }
    normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    Ok(vec![x.clone()])
}

pub(crate) fn eval(a: &SoftmaxAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "input")?);
    Err("reference Softmax is not written yet".into())
}
