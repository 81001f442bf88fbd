//! BatchNormalization in inference mode (opsets 9, 14, 15):
//! `Y = (X - mean) / sqrt(var + epsilon) * scale + B`, per channel (axis 1).
//! `training_mode = 1` is refused at import.

use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::TensorType;

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormAttrs {
    pub epsilon: f32,
}

pub(crate) fn infer(
    _a: &BatchNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    let c = x.shape[1];
    for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
        let t = input(inputs, i, what)?.ty;
        if t.shape != [c] {
            return Err(format!("{what} {t} must have shape [{c}]"));
        }
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval(a: &BatchNormAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let _ = (a, tensor(inputs, 0, "X")?);
    Err("reference BatchNormalization is not written yet".into())
}
