//! Fused epilogues: the node's epilogue list as a kernel argument, with the math routines
//! its steps need recorded and the operands of its residual Adds bound.

use super::prelude::*;
use crate::program::{Arg, ElemFn, EpilogueSteps};
use kiln_ir::ops::Epilogue;

/// The epilogue argument of an anchor kernel's call (empty without one).
pub(super) fn epilogue(cx: &mut NodeCx, dtype: DType) -> Result<Arg, String> {
    let steps = cx.node.epilogue.clone();
    let operands = if steps.is_empty() {
        Vec::new()
    } else {
        epilogue_operands(cx, dtype, &steps)?
    };
    Ok(Arg::Epilogue(dtype, EpilogueSteps { steps, operands }))
}

/// `f`, an element function of `arity` (1 or 2) arguments, followed by the node's epilogue
/// in the same function: a fused elementwise chain runs as one loop. `f` unchanged without
/// an epilogue.
pub(super) fn with_epilogue(
    cx: &mut NodeCx,
    f: ElemFn,
    arity: usize,
    dtype: DType,
) -> Result<ElemFn, String> {
    let steps = cx.node.epilogue.clone();
    if steps.is_empty() {
        return Ok(f);
    }
    let operands = epilogue_operands(cx, dtype, &steps)?;
    if operands.iter().any(Option::is_some) {
        return Err("a residual Add cannot follow an elementwise op in one loop".into());
    }
    Ok(ElemFn::Then {
        f: Box::new(f),
        arity,
        dtype,
        epilogue: steps,
    })
}

/// Checks the steps' element type, records their math routines and binds the operand of
/// each residual Add (`None` for the other steps).
fn epilogue_operands(
    cx: &mut NodeCx,
    dtype: DType,
    steps: &[Epilogue],
) -> Result<Vec<Option<String>>, String> {
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!("fused epilogues need f32 or f64, not {dtype}"));
    }
    let mut operands = Vec::new();
    for e in steps {
        operands.push(match e {
            Epilogue::Relu => None,
            Epilogue::Clip { min, max } => {
                for v in [min, max] {
                    if v.is_finite() {
                        literal::from_f64(dtype, *v)?;
                    }
                }
                None
            }
            Epilogue::Silu if dtype == DType::F32 => {
                cx.kernels.use_math(MathFn::Silu, dtype)?;
                None
            }
            Epilogue::Sigmoid | Epilogue::Silu => {
                cx.kernels.use_math(MathFn::Sigmoid, dtype)?;
                None
            }
            Epilogue::Tanh => {
                cx.kernels.use_math(MathFn::Tanh, dtype)?;
                None
            }
            Epilogue::Act(a) => {
                activation_fn(cx, *a, dtype)?;
                None
            }
            Epilogue::HardSwishParts { add, min, max, div } => {
                for v in [add, min, max, div] {
                    if v.is_finite() {
                        literal::from_f64(dtype, *v)?;
                    }
                }
                None
            }
            Epilogue::Scale { by } | Epilogue::Shift { by } => {
                literal::from_f64(dtype, *by)?;
                None
            }
            Epilogue::Add { slot } => Some(cx.read(*slot)?),
        });
    }
    Ok(operands)
}
