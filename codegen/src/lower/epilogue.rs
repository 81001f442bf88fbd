//! Lowering of the epilogue family.

use super::prelude::*;

/// The epilogue argument of a kernel call: a closure that applies the node's epilogue to a
/// finished run of outputs starting at flat offset `at` (a no-op without one). Reads the
/// epilogue's extra inputs.
pub(super) fn epilogue(cx: &mut NodeCx, dtype: DType) -> Result<String, String> {
    if cx.node.epilogue.is_empty() {
        return Ok("|_, _| {}".into());
    }
    let (body, uses_index) = epilogue_steps(cx, dtype)?;
    let elem = literal::elem(dtype)?;
    Ok(if uses_index {
        format!(
            "|at: usize, ys: &mut [{elem}]| {{ for (e, o) in ys.iter_mut().enumerate() {{ let i = at + e; let v = *o; {body} *o = v; }} }}"
        )
    } else {
        format!(
            "|_: usize, ys: &mut [{elem}]| {{ for o in ys.iter_mut() {{ let v = *o; {body} *o = v; }} }}"
        )
    })
}

/// `f`, an element closure of `arity` (1 or 2) arguments, followed by the node's epilogue
/// in the same closure: a fused elementwise chain runs as one loop. `f` unchanged without
/// an epilogue.
pub(super) fn with_epilogue(
    cx: &mut NodeCx,
    f: String,
    arity: usize,
    dtype: DType,
) -> Result<String, String> {
    if cx.node.epilogue.is_empty() {
        return Ok(f);
    }
    let (body, uses_index) = epilogue_steps(cx, dtype)?;
    if uses_index {
        return Err("a residual Add cannot follow an elementwise op in one loop".into());
    }
    Ok(if arity == 1 {
        format!("|x| {{ let v = ({f})(x); {body} v }}")
    } else {
        format!("|a, b| {{ let v = ({f})(a, b); {body} v }}")
    })
}

/// The statements that apply the node's epilogue to `v` (with `i` the flat index, when the
/// second result says it is used).
pub(super) fn epilogue_steps(cx: &mut NodeCx, dtype: DType) -> Result<(String, bool), String> {
    use kiln_ir::ops::Epilogue;
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!("fused epilogues need f32 or f64, not {dtype}"));
    }
    let mut steps = Vec::new();
    let mut uses_index = false;
    for e in &cx.node.epilogue {
        steps.push(match e {
            // `v < 0` rather than max: NaN stays NaN, as in the reference.
            Epilogue::Relu => {
                let z = literal::zero(dtype);
                format!("let v = if v < {z} {{ {z} }} else {{ v }};")
            }
            Epilogue::Clip { min, max } => {
                let mut s = String::new();
                if min.is_finite() {
                    let lo = literal::from_f64(dtype, *min)?;
                    s.push_str(&format!("let v = if v < {lo} {{ {lo} }} else {{ v }}; "));
                }
                if max.is_finite() {
                    let hi = literal::from_f64(dtype, *max)?;
                    s.push_str(&format!("let v = if v > {hi} {{ {hi} }} else {{ v }};"));
                }
                s.trim_end().to_string()
            }
            Epilogue::Sigmoid => {
                let f = cx.kernels.use_math(MathFn::Sigmoid, dtype)?;
                format!("let v = {f}(v);")
            }
            Epilogue::Tanh => {
                let f = cx.kernels.use_math(MathFn::Tanh, dtype)?;
                format!("let v = {f}(v);")
            }
            Epilogue::Silu => {
                let f = cx.kernels.use_math(MathFn::Sigmoid, dtype)?;
                format!("let v = v * {f}(v);")
            }
            Epilogue::Act(a) => format!("let v = ({})(v);", activation_fn(cx, *a, dtype)?),
            Epilogue::Add { slot } => {
                uses_index = true;
                let r = cx.read(*slot)?;
                format!("let v = v + {r}[i];")
            }
        });
    }
    Ok((steps.join(" "), uses_index))
}
