//! Element functions and fused epilogues as C functions. C has no closures: each function
//! the program passes becomes a `static` function taking a `kiln_ctx` (the pointers to the
//! step operands it reads, e.g. a residual Add's input) and the elements; the kernel
//! receives it as a function pointer with its context.

use super::lit::{self, ctype, unsupported};
use crate::kernels::MathFn;
use crate::program::{ElemFn, EpilogueSteps};
use kiln_ir::DType;
use kiln_ir::ops::rnn::RnnActivation;
use kiln_ir::ops::{Activation, BinaryOp, Epilogue, UnaryOp};
use std::collections::HashMap;

/// The functions a program's calls pass, each defined once (identical definitions shared).
#[derive(Default)]
pub(super) struct Fns {
    pub(super) defs: Vec<String>,
    by_text: HashMap<String, String>,
    /// Math routines the definitions call, as `exp_f32`.
    pub(super) math: Vec<String>,
}

/// A function reference and the context expression its caller passes.
pub(super) struct FnRef {
    pub(super) name: String,
    pub(super) ctx: String,
}

impl Fns {
    /// Defines a function `static RET NAME(kiln_ctx c, PARAMS) { BODY }` (or reuses an
    /// identical one) and returns its name.
    fn define(&mut self, ret: &str, params: &str, body: &str) -> String {
        let key = format!("{ret}|{params}|{body}");
        if let Some(n) = self.by_text.get(&key) {
            return n.clone();
        }
        let name = format!("kiln_fn{}", self.defs.len());
        self.defs.push(format!(
            "static {ret} {name}(kiln_ctx c, {params})\n{{\n{body}}}\n"
        ));
        self.by_text.insert(key, name.clone());
        name
    }

    fn math(&mut self, f: MathFn, dtype: DType) -> Result<String, String> {
        if dtype != DType::F32
            || !matches!(
                f,
                MathFn::Exp | MathFn::Sigmoid | MathFn::Tanh | MathFn::Sqrt
            )
        {
            return Err(unsupported(&f.name(dtype)));
        }
        let name = f.name(dtype);
        if !self.math.contains(&name) {
            self.math.push(name.clone());
        }
        Ok(name)
    }

    /// `f` as a function and the context its caller passes (`NULL`: none).
    pub(super) fn elem(&mut self, f: &ElemFn) -> Result<FnRef, String> {
        let (ret, params, expr) = self.expr(f)?;
        let body = format!("    (void)c;\n    return {expr};\n");
        Ok(FnRef {
            name: self.define(&ret, &params, &body),
            ctx: "NULL".into(),
        })
    }

    /// `f` as (return type, parameters, the returned expression over `v` or `p`, `q`).
    fn expr(&mut self, f: &ElemFn) -> Result<(String, String, String), String> {
        let unary = |t: &str, e: String| (t.to_string(), format!("{t} v"), e);
        Ok(match f {
            ElemFn::Binary { op, dtype, swapped } => {
                let t = ctype(*dtype)?;
                let params = if *swapped {
                    format!("{t} q, {t} p")
                } else {
                    format!("{t} p, {t} q")
                };
                (t.to_string(), params, binary(*op, *dtype)?)
            }
            ElemFn::Unary { op, dtype } => {
                let t = ctype(*dtype)?;
                unary(t, self.unary(*op, *dtype)?)
            }
            ElemFn::Activation { act, dtype } => {
                let t = ctype(*dtype)?;
                let stmt = activation(*act, *dtype)?;
                let name = self.define(
                    t,
                    &format!("{t} v"),
                    &format!("    (void)c;\n    {stmt}\n    return v;\n"),
                );
                unary(t, format!("{name}(c, v)"))
            }
            ElemFn::PowConst { dtype, exp } => {
                let t = ctype(*dtype)?;
                let e = *exp;
                let expr = if e == 1.0 {
                    "v".to_string()
                } else if e == 0.0 {
                    lit::scalar(*dtype, 1.0)?
                } else if e == 2.0 {
                    "v * v".to_string()
                } else if e == 3.0 {
                    "v * v * v".to_string()
                } else if e == -1.0 {
                    format!("{} / v", lit::scalar(*dtype, 1.0)?)
                } else {
                    return Err(unsupported(&format!("Pow by {e}")));
                };
                unary(t, expr)
            }
            ElemFn::Then {
                f,
                arity,
                dtype,
                epilogue,
            } => {
                let t = ctype(*dtype)?;
                let inner = self.elem(f)?.name;
                let body = self.steps(*dtype, epilogue, &[])?;
                let (params, call) = if *arity == 1 {
                    (format!("{t} v"), format!("{inner}(c, v)"))
                } else {
                    (format!("{t} a, {t} b"), format!("{inner}(c, a, b)"))
                };
                let name = self.define(
                    t,
                    &params,
                    &format!("    {t} v = {call};\n{body}    return v;\n"),
                );
                let args = if *arity == 1 { "v" } else { "p, q" };
                let params = if *arity == 1 {
                    format!("{t} v")
                } else {
                    format!("{t} p, {t} q")
                };
                (t.to_string(), params, format!("{name}(c, {args})"))
            }
            ElemFn::RnnAct { act, dtype } => {
                let t = ctype(*dtype)?;
                let l = |v: f32| lit::scalar(*dtype, v as f64);
                let z = l(0.0)?;
                let e = match act {
                    RnnActivation::Sigmoid => {
                        format!("{}(v)", self.math(MathFn::Sigmoid, *dtype)?)
                    }
                    RnnActivation::Tanh => format!("{}(v)", self.math(MathFn::Tanh, *dtype)?),
                    RnnActivation::Relu => format!("v < {z} ? {z} : v"),
                    RnnActivation::Affine { alpha, beta } => {
                        format!("{} * v + {}", l(*alpha)?, l(*beta)?)
                    }
                    RnnActivation::LeakyRelu { alpha } => {
                        format!("v < {z} ? {} * v : v", l(*alpha)?)
                    }
                    other => return Err(unsupported(&format!("recurrent activation {other:?}"))),
                };
                unary(t, e)
            }
            other => {
                let kind = format!("{other:?}");
                let kind = kind
                    .split([' ', '{', '('])
                    .next()
                    .unwrap_or("?")
                    .to_string();
                return Err(unsupported(&format!("element function {kind}")));
            }
        })
    }

    fn unary(&mut self, op: UnaryOp, dtype: DType) -> Result<String, String> {
        let float = matches!(dtype, DType::F32 | DType::F64);
        let z = lit::scalar(dtype, 0.0)?;
        Ok(match op {
            // `v < 0` rather than max: NaN stays NaN, as in the reference.
            UnaryOp::Relu if float || dtype.is_signed() => format!("v < {z} ? {z} : v"),
            UnaryOp::Sigmoid => format!("{}(v)", self.math(MathFn::Sigmoid, dtype)?),
            UnaryOp::Tanh => format!("{}(v)", self.math(MathFn::Tanh, dtype)?),
            UnaryOp::Sqrt => format!("{}(v)", self.math(MathFn::Sqrt, dtype)?),
            UnaryOp::Exp => format!("{}(v)", self.math(MathFn::Exp, dtype)?),
            UnaryOp::Neg if float => "-v".into(),
            UnaryOp::Reciprocal if float => format!("{} / v", lit::scalar(dtype, 1.0)?),
            other => return Err(unsupported(&format!("{} on {dtype}", other.name()))),
        })
    }

    /// The block epilogue of an anchor kernel, `NULL` when empty.
    pub(super) fn epilogue(&mut self, dtype: DType, e: &EpilogueSteps) -> Result<FnRef, String> {
        if e.is_empty() {
            return Ok(FnRef {
                name: "NULL".into(),
                ctx: "NULL".into(),
            });
        }
        let t = ctype(dtype)?;
        // The residual operands, in the order of the context.
        let locals: Vec<String> = e.operands.iter().flatten().cloned().collect();
        let body = self.steps(dtype, &e.steps, &e.operands)?;
        let mut text = String::new();
        for (k, _) in locals.iter().enumerate() {
            text.push_str(&format!("    const {t} *r{k} = (const {t} *)c[{k}];\n"));
        }
        if locals.is_empty() {
            text.push_str("    (void)c;\n");
        }
        if !e.uses_index() {
            text.push_str("    (void)at;\n");
        }
        let index = if e.uses_index() {
            "        size_t i = at + e;\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "    size_t e;\n    for (e = 0; e < n; e++) {{\n{index}        {t} v = ys[e];\n{}        ys[e] = v;\n    }}\n",
            indent(&body)
        ));
        let name = self.define("void", &format!("size_t at, {t} *ys, size_t n"), &text);
        let ctx = if locals.is_empty() {
            "NULL".to_string()
        } else {
            format!("(const void *const[]){{ {} }}", locals.join(", "))
        };
        Ok(FnRef { name, ctx })
    }

    /// Statements applying `steps` to `v` (a residual Add reads `rK[i]`).
    fn steps(
        &mut self,
        dtype: DType,
        steps: &[Epilogue],
        operands: &[Option<String>],
    ) -> Result<String, String> {
        let mut out = String::new();
        let mut residual = 0;
        let z = lit::scalar(dtype, 0.0)?;
        for (k, e) in steps.iter().enumerate() {
            let s = match e {
                Epilogue::Relu => format!("if (v < {z}) {{ v = {z}; }}"),
                Epilogue::Clip { min, max } => {
                    let mut s = String::new();
                    if min.is_finite() {
                        let lo = lit::scalar(dtype, *min)?;
                        s.push_str(&format!("if (v < {lo}) {{ v = {lo}; }} "));
                    }
                    if max.is_finite() {
                        let hi = lit::scalar(dtype, *max)?;
                        s.push_str(&format!("if (v > {hi}) {{ v = {hi}; }}"));
                    }
                    s.trim_end().to_string()
                }
                Epilogue::Sigmoid => format!("v = {}(v);", self.math(MathFn::Sigmoid, dtype)?),
                Epilogue::Tanh => format!("v = {}(v);", self.math(MathFn::Tanh, dtype)?),
                Epilogue::Silu => format!("v = v * {}(v);", self.math(MathFn::Sigmoid, dtype)?),
                Epilogue::Act(a) => activation(*a, dtype)?,
                Epilogue::Add { .. } => {
                    if operands.get(k).cloned().flatten().is_none() {
                        return Err("a residual Add without its operand".into());
                    }
                    let s = format!("v = v + r{residual}[i];");
                    residual += 1;
                    s
                }
            };
            if !s.is_empty() {
                out.push_str(&format!("    {s}\n"));
            }
        }
        Ok(out)
    }
}

fn indent(body: &str) -> String {
    body.lines().map(|l| format!("    {l}\n")).collect()
}

/// A binary op: IEEE for floats; integers wrap (computed unsigned, where C defines
/// overflow), division truncates with `x / 0 = 0`.
fn binary(op: BinaryOp, dtype: DType) -> Result<String, String> {
    let sym = match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        other => return Err(unsupported(&format!("{} on {dtype}", other.name()))),
    };
    if matches!(dtype, DType::F32 | DType::F64) {
        return Ok(format!("p {sym} q"));
    }
    let t = ctype(dtype)?;
    let u = if dtype.size_bytes() == 8 {
        "uint64_t"
    } else {
        "uint32_t"
    };
    if dtype == DType::Bool {
        return Err(unsupported(&format!("{} on bool", op.name())));
    }
    Ok(match op {
        BinaryOp::Div if dtype.is_signed() => {
            format!("q == 0 ? 0 : (q == -1 ? ({t})(0u - ({u})p) : ({t})(p / q))")
        }
        BinaryOp::Div => format!("q == 0 ? 0 : ({t})(p / q)"),
        _ => format!("({t})(({u})p {sym} ({u})q)"),
    })
}

/// LeakyRelu, HardSigmoid and HardSwish as statements on `v` (f32 or f64).
fn activation(a: Activation, dtype: DType) -> Result<String, String> {
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(unsupported(&format!("{} on {dtype}", a.name())));
    }
    let l = |v: f64| lit::scalar(dtype, v);
    let (zero, one) = (l(0.0)?, l(1.0)?);
    let t = ctype(dtype)?;
    // Clamped to [0, 1]; NaN passes through, as in the reference.
    let hard = format!("t < {zero} ? {zero} : (t > {one} ? {one} : t)");
    Ok(match a {
        Activation::LeakyRelu { alpha } => {
            format!("if (v < {zero}) {{ v = {} * v; }}", l(alpha as f64)?)
        }
        Activation::HardSigmoid { alpha, beta } => format!(
            "{{ {t} t = {} * v + {}; v = {hard}; }}",
            l(alpha as f64)?,
            l(beta as f64)?
        ),
        Activation::HardSwish => format!(
            "{{ {t} t = v * {} + {}; v = v * ({hard}); }}",
            l(1.0 / 6.0)?,
            l(0.5)?
        ),
        other => return Err(unsupported(&format!("activation {}", other.name()))),
    })
}
