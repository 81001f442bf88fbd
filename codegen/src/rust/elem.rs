//! Element functions as Rust closures, and fused epilogues as the statements that apply
//! them. The lowering chose each function and checked its types; this spells it.

use crate::kernels::MathFn;
use crate::literal;
use crate::program::{ElemFn, EpilogueSteps};
use kiln_ir::DType;
use kiln_ir::ops::{
    Activation, BinaryOp, CompareOp, Epilogue, LogicalOp, PredicateOp, UnaryOp, VariadicOp,
};

/// `f` as a closure.
pub(super) fn closure(f: &ElemFn) -> Result<String, String> {
    match f {
        ElemFn::Binary { op, dtype, swapped } => binary_fn(*op, *dtype, *swapped),
        ElemFn::Unary { op, dtype } => {
            unary_fn(*op, *dtype)?.ok_or_else(|| "the identity has no function".to_string())
        }
        ElemFn::Activation { act, dtype } => activation_fn(*act, *dtype),
        ElemFn::Softplus { dtype } => softplus_fn(*dtype),
        ElemFn::Then {
            f,
            arity,
            dtype,
            epilogue,
        } => {
            let f = closure(f)?;
            let body = epilogue_body(*dtype, epilogue, &[])?;
            Ok(if *arity == 1 {
                format!("|x| {{ let v = ({f})(x); {body} v }}")
            } else {
                format!("|a, b| {{ let v = ({f})(a, b); {body} v }}")
            })
        }
        // Elementwise (variadic, PRelu, Mod, BitShift, Pow), logical, cast and LpPool.
        ElemFn::Compare { op, .. } => Ok(format!("|p, q| p {} q", compare_sym(*op))),
        ElemFn::Logical { op } => {
            let sym = match op {
                LogicalOp::And => "&",
                LogicalOp::Or => "|",
                LogicalOp::Xor => "^",
            };
            Ok(format!("|p: bool, q: bool| p {sym} q"))
        }
        ElemFn::Not => Ok("|v: bool| !v".into()),
        ElemFn::Predicate { op, dtype } => predicate_fn(*op, *dtype),
        ElemFn::Variadic { op, dtype } => variadic_fn(*op, *dtype),
        ElemFn::Left { dtype } => {
            let t = literal::elem(*dtype)?;
            Ok(format!("|p: {t}, _: {t}| p"))
        }
        ElemFn::DivBy { dtype, divisor } => {
            let t = literal::elem(*dtype)?;
            Ok(format!(
                "|v: {t}| v / {}",
                literal::from_f64(*dtype, *divisor)?
            ))
        }
        ElemFn::PRelu { dtype } => prelu_fn(*dtype),
        ElemFn::Mod { fmod, dtype } => mod_fn(*fmod, *dtype),
        ElemFn::BitShift { left, dtype } => {
            let t = literal::elem(*dtype)?;
            let bits = dtype.size_bytes() * 8;
            let sym = if *left { "<<" } else { ">>" };
            Ok(format!(
                "|p: {t}, q: {t}| if q >= {bits} {{ 0 }} else {{ p {sym} q }}"
            ))
        }
        ElemFn::Pow { base, exp } => pow_fn(*base, *exp),
        ElemFn::PowConst { dtype, exp } => pow_const_fn(*dtype, *exp),
        ElemFn::LpPower { p, dtype } => {
            let t = literal::elem(*dtype)?;
            let zero = literal::from_f64(*dtype, 0.0)?;
            let abs = format!("if v < {zero} {{ -v }} else {{ v }}");
            Ok(if *p == 1 {
                format!("|v: {t}| {abs}")
            } else {
                let pow = MathFn::Pow.name(*dtype);
                let p = literal::from_f64(*dtype, *p as f64)?;
                format!("|v: {t}| {pow}({abs}, {p})")
            })
        }
        ElemFn::LpRoot { p, dtype } => {
            let t = literal::elem(*dtype)?;
            Ok(if *p == 1 {
                format!("|s: {t}| s")
            } else {
                let pow = MathFn::Pow.name(*dtype);
                let inv = literal::from_f64(*dtype, 1.0 / *p as f64)?;
                format!("|s: {t}| {pow}(s, {inv})")
            })
        }
        ElemFn::Cast { from, to } => cast_fn(*from, *to),
        // Gather, quant, reduce and rnn families.
        other => super::elem_data::closure(other)?
            .ok_or_else(|| format!("no Rust spelling yet for {other:?}")),
    }
}

/// ReLU of `v` on `dtype`. On f32 and f64 the kept value is `v.abs()`, not `v`: with a
/// select between `v` and zero, stored back where `v` was read, LLVM 22 stores only the
/// lanes that change, by masked stores (`VMASKMOVPS`), microcoded on AMD cores
/// (llvm/llvm-project#213195): MobileNet v1's ReLU epilogues took more time than its
/// depthwise convolutions' arithmetic on a Zen 3 core (one of them 8.8 of 19.7 us). The
/// results are the select's but for the sign of zero and of NaN: -0.0 becomes +0.0 (which
/// `max(0, x)` may also give), NaN stays NaN.
fn relu_of(dtype: DType, v: &str) -> String {
    let z = literal::zero(dtype);
    match dtype {
        DType::F32 | DType::F64 => format!("if {v} < {z} {{ {z} }} else {{ {v}.abs() }}"),
        _ => format!("if {v} < {z} {{ {z} }} else {{ {v} }}"),
    }
}

/// The block epilogue of an anchor kernel: a closure that applies `e` to a finished run of
/// outputs starting at flat offset `at` (a no-op when empty).
pub(super) fn epilogue(dtype: DType, e: &EpilogueSteps) -> Result<String, String> {
    if e.is_empty() {
        return Ok("|_, _| {}".into());
    }
    let body = epilogue_body(dtype, &e.steps, &e.operands)?;
    let elem = literal::elem(dtype)?;
    Ok(if e.uses_index() {
        // Each residual operand's run, taken with `get` (in bounds by construction) so the
        // loop indexes it without a panic path.
        let mut locals: Vec<&String> = e.operands.iter().flatten().collect();
        locals.sort();
        locals.dedup();
        let runs: String = locals
            .iter()
            .map(|r| format!("let Some({r}) = {r}.get(at..at + ys.len()) else {{ return }}; "))
            .collect();
        // Each operand's element beside the output's, by zip: indexed (`get(i)`), the
        // loops were vectorised with masked loads and a bounds compare an element.
        let (mut pat, mut iter) = ("o".to_string(), "ys.iter_mut()".to_string());
        for r in &locals {
            pat = format!("({pat}, &{r})");
            iter = format!("{iter}.zip({r})");
        }
        format!(
            "|at: usize, ys: &mut [{elem}]| {{ {runs}for {pat} in {iter} {{ let v = *o; {body} *o = v; }} }}"
        )
    } else {
        format!(
            "|_: usize, ys: &mut [{elem}]| {{ for o in ys.iter_mut() {{ let v = *o; {body} *o = v; }} }}"
        )
    })
}

/// The statements that apply `steps` to `v` (a residual Add reads its operand's element,
/// which [`epilogue`]'s loop binds under the operand's name).
fn epilogue_body(
    dtype: DType,
    steps: &[Epilogue],
    operands: &[Option<String>],
) -> Result<String, String> {
    let mut out = Vec::new();
    for (k, e) in steps.iter().enumerate() {
        out.push(match e {
            // `v < 0` rather than max: NaN stays NaN, as in the reference.
            Epilogue::Relu => format!("let v = {};", relu_of(dtype, "v")),
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
            Epilogue::Sigmoid => format!("let v = {}(v);", MathFn::Sigmoid.name(dtype)),
            Epilogue::Tanh => format!("let v = {}(v);", MathFn::Tanh.name(dtype)),
            Epilogue::Silu if dtype == DType::F32 => {
                format!("let v = {}(v);", MathFn::Silu.name(dtype))
            }
            Epilogue::Silu => format!("let v = v * {}(v);", MathFn::Sigmoid.name(dtype)),
            Epilogue::Act(a) => format!("let v = ({})(v);", activation_fn(*a, dtype)?),
            Epilogue::HardSwishParts { add, min, max, div } => {
                // A multiply by the reciprocal, not the exporter's division: the divider
                // is one slow unit, and a division an output was 4% of PP-OCRv4's time
                // (its depthwise convolutions do 9-25 MACs an output). Within an ulp of
                // the division (exact when `div` is a power of two).
                let (a, d) = (
                    literal::from_f64(dtype, *add)?,
                    literal::from_f64(dtype, 1.0 / *div)?,
                );
                let mut s = format!("let t = v + {a}; ");
                if min.is_finite() {
                    let lo = literal::from_f64(dtype, *min)?;
                    s.push_str(&format!("let t = if t < {lo} {{ {lo} }} else {{ t }}; "));
                }
                if max.is_finite() {
                    let hi = literal::from_f64(dtype, *max)?;
                    s.push_str(&format!("let t = if t > {hi} {{ {hi} }} else {{ t }}; "));
                }
                s.push_str(&format!("let v = v * t * {d};"));
                s
            }
            Epilogue::Scale { by } => format!("let v = v * {};", literal::from_f64(dtype, *by)?),
            Epilogue::Shift { by } => format!("let v = v + {};", literal::from_f64(dtype, *by)?),
            Epilogue::Add { .. } => {
                let r = operands
                    .get(k)
                    .cloned()
                    .flatten()
                    .ok_or("a residual Add without its operand")?;
                format!("let v = v + {r};")
            }
        });
    }
    Ok(out.join(" "))
}

/// The element function of a binary op: IEEE for floats; for integers wrapping, and
/// division truncating toward zero with x / 0 defined as 0. `swapped`: the closure takes
/// the right operand first (for an in-place kernel overwriting the right operand).
fn binary_fn(op: BinaryOp, dtype: DType, swapped: bool) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    if dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", op.name()));
    }
    let (first, second) = if swapped { ("q", "p") } else { ("p", "q") };
    Ok(if dtype.is_float() {
        let sym = match op {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::BitwiseAnd | BinaryOp::BitwiseOr | BinaryOp::BitwiseXor => {
                return Err(format!("{} needs integer tensors, got {dtype}", op.name()));
            }
        };
        format!("|{first}, {second}| p {sym} q")
    } else {
        let f = match op {
            BinaryOp::Add => "p.wrapping_add(q)",
            BinaryOp::Sub => "p.wrapping_sub(q)",
            BinaryOp::Mul => "p.wrapping_mul(q)",
            BinaryOp::Div => "if q == 0 { 0 } else { p.wrapping_div(q) }",
            BinaryOp::BitwiseAnd => "p & q",
            BinaryOp::BitwiseOr => "p | q",
            BinaryOp::BitwiseXor => "p ^ q",
        };
        format!("|{first}: {t}, {second}: {t}| {f}")
    })
}

/// The element function of a unary op on `dtype`; `None` for the identity (Relu of
/// unsigned values, which are never negative).
fn unary_fn(op: UnaryOp, dtype: DType) -> Result<Option<String>, String> {
    Ok(Some(match op {
        UnaryOp::Relu if dtype == DType::Bool => {
            return Err("Relu is not defined for bool tensors".into());
        }
        UnaryOp::Relu if dtype.is_int() && !dtype.is_signed() => return Ok(None),
        // `v < 0` rather than max: NaN stays NaN, as in the reference.
        UnaryOp::Relu => format!("|v| {}", relu_of(dtype, "v")),
        UnaryOp::Sigmoid => MathFn::Sigmoid.name(dtype),
        UnaryOp::Tanh => MathFn::Tanh.name(dtype),
        UnaryOp::Sqrt => MathFn::Sqrt.name(dtype),
        UnaryOp::Erf => MathFn::Erf.name(dtype),
        UnaryOp::Abs if dtype.is_int() && !dtype.is_signed() => return Ok(None),
        UnaryOp::Abs if dtype.is_int() => {
            format!("|v: {}| v.wrapping_abs()", literal::elem(dtype)?)
        }
        UnaryOp::Neg if dtype.is_int() => {
            format!("|v: {}| v.wrapping_neg()", literal::elem(dtype)?)
        }
        UnaryOp::Sign if dtype.is_int() && !dtype.is_signed() => {
            format!(
                "|v: {}| if v > 0 {{ 1 }} else {{ 0 }}",
                literal::elem(dtype)?
            )
        }
        UnaryOp::Sign if dtype.is_int() => format!("|v: {}| v.signum()", literal::elem(dtype)?),
        UnaryOp::BitwiseNot if dtype.is_int() => format!("|v: {}| !v", literal::elem(dtype)?),
        _ => float_unary_fn(op, dtype)?,
    }))
}

/// The element function of a float-only unary op (or Abs, Neg, Sign on floats).
fn float_unary_fn(op: UnaryOp, dtype: DType) -> Result<String, String> {
    let (t, int, limit, sign) = match dtype {
        DType::F32 => ("f32", "i32", "8388608.0", "0x8000_0000"),
        DType::F64 => ("f64", "i64", "4503599627370496.0", "0x8000_0000_0000_0000"),
        other => {
            literal::elem(other)?;
            return Err(format!(
                "{} needs f32 or f64 tensors, got {other}",
                op.name()
            ));
        }
    };
    // Floor, Ceil and Round from the truncated value (exact below 2^23 or 2^52, from where
    // every float is an integer; NaN and infinities pass through); the result keeps the
    // input's sign, so -0.5 gives -0.0 as in numpy.
    let rounding = |adjust: &str| {
        format!(
            "|v: {t}| if !(v > -{limit} && v < {limit}) {{ v }} else {{ let t = v as {int} as {t}; \
             let r = {adjust}; {t}::from_bits(r.to_bits() | (v.to_bits() & {sign})) }}"
        )
    };
    Ok(match op {
        UnaryOp::Abs => {
            format!("|v: {t}| {t}::from_bits(v.to_bits() & !{sign})")
        }
        UnaryOp::Neg => format!("|v: {t}| -v"),
        UnaryOp::Exp => MathFn::Exp.name(dtype),
        UnaryOp::Log => MathFn::Log.name(dtype),
        UnaryOp::Sin => MathFn::Sin.name(dtype),
        UnaryOp::Cos => MathFn::Cos.name(dtype),
        UnaryOp::Tan
        | UnaryOp::Atan
        | UnaryOp::Asin
        | UnaryOp::Acos
        | UnaryOp::Sinh
        | UnaryOp::Cosh
        | UnaryOp::Asinh
        | UnaryOp::Acosh
        | UnaryOp::Atanh => {
            let f = composed_f64(op)?;
            if dtype == DType::F64 {
                f
            } else {
                format!("|v: f32| ({f})(v as f64) as f32")
            }
        }
        UnaryOp::Reciprocal => format!("|v: {t}| 1.0 / v"),
        UnaryOp::Sign => {
            format!("|v: {t}| if v > 0.0 {{ 1.0 }} else if v < 0.0 {{ -1.0 }} else {{ v }}")
        }
        UnaryOp::Floor => rounding("if t > v { t - 1.0 } else { t }"),
        UnaryOp::Ceil => rounding("if t < v { t + 1.0 } else { t }"),
        // Ties to even: the difference from the truncation is exact.
        UnaryOp::Round => rounding(&format!(
            "{{ let d = v - t; let odd = (t as {int}) % 2 != 0; \
             if d > 0.5 || (d == 0.5 && odd) {{ t + 1.0 }} else if d < -0.5 || (d == -0.5 && odd) {{ t - 1.0 }} else {{ t }} }}"
        )),
        other => {
            return Err(format!(
                "internal error: {} is no float unary op",
                other.name()
            ));
        }
    })
}

/// Tan, Atan, Asin, Acos, Sinh, Cosh, Asinh, Acosh and Atanh as f64 closures composed from
/// the f64 routines (f32 values go through them and are rounded once), each within a few
/// ulp: asin x = atan(x / sqrt((1 - x)(1 + x))), acos x = 2 atan(sqrt((1 - x) / (1 + x)))
/// (NaN outside [-1, 1], where the root is NaN; ±1 give infinities atan takes); the odd
/// functions on |x| with the sign put back (so -0 stays -0); `ln(1 + u)` as
/// `ln(w) u / (w - 1)` with `w = 1 + u` (exact to rounding even where `u` is tiny); sinh
/// below 1 by its Taylor series (no cancellation), and sinh, cosh from 700 on as
/// `(e^(x/2) / 2) e^(x/2)` (no overflow before the result's).
fn composed_f64(op: UnaryOp) -> Result<String, String> {
    let (exp, log, sqrt) = (
        MathFn::Exp.name(DType::F64),
        MathFn::Log.name(DType::F64),
        MathFn::Sqrt.name(DType::F64),
    );
    let log1p = |u: &str| {
        format!(
            "{{ let u = {u}; let w = 1.0 + u; if w == 1.0 {{ u }} else {{ {log}(w) * u / (w - 1.0) }} }}"
        )
    };
    let odd = |body: String| {
        format!(
            "|v: f64| {{ let a = if v < 0.0 {{ -v }} else {{ v }}; let r = {body}; \
             f64::from_bits(r.to_bits() | (v.to_bits() & 0x8000_0000_0000_0000)) }}"
        )
    };
    let big = format!("{{ let t = {exp}(0.5 * a); (0.5 * t) * t }}");
    // Beyond 2^28, 1 + x^2 is x^2 and ln(2x) = ln(x) + ln(2).
    let ln2 = "core::f64::consts::LN_2";
    let atan = MathFn::Atan.name(DType::F64);
    Ok(match op {
        UnaryOp::Atan => atan,
        UnaryOp::Asin => format!("|v: f64| {atan}(v / {sqrt}((1.0 - v) * (1.0 + v)))"),
        UnaryOp::Acos => format!("|v: f64| 2.0 * {atan}({sqrt}((1.0 - v) / (1.0 + v)))"),
        UnaryOp::Tan => format!(
            "|v: f64| {}(v) / {}(v)",
            MathFn::Sin.name(DType::F64),
            MathFn::Cos.name(DType::F64)
        ),
        UnaryOp::Sinh => odd(format!(
            "if a < 1.0 {{ let z = a * a; a * (1.0 + z / 6.0 * (1.0 + z / 20.0 * (1.0 + z / 42.0 \
             * (1.0 + z / 72.0 * (1.0 + z / 110.0 * (1.0 + z / 156.0 * (1.0 + z / 210.0 \
             * (1.0 + z / 272.0)))))))) }} else if a > 700.0 {big} \
             else {{ let e = {exp}(a); 0.5 * e - 0.5 / e }}"
        )),
        UnaryOp::Cosh => format!(
            "|v: f64| {{ let a = if v < 0.0 {{ -v }} else {{ v }}; \
             if a > 700.0 {big} else {{ let e = {exp}(a); 0.5 * e + 0.5 / e }} }}"
        ),
        UnaryOp::Asinh => odd(format!(
            "if a > 268435456.0 {{ {log}(a) + {ln2} }} else {{ {} }}",
            log1p(&format!("a + a * a / (1.0 + {sqrt}(1.0 + a * a))"))
        )),
        UnaryOp::Acosh => format!(
            "|v: f64| if !(v >= 1.0) {{ f64::NAN }} else if v > 268435456.0 {{ {log}(v) + {ln2} }} \
             else {{ let t = v - 1.0; {} }}",
            log1p(&format!("t + {sqrt}(t * (2.0 + t))"))
        ),
        UnaryOp::Atanh => odd(format!(
            "if !(a <= 1.0) {{ f64::NAN }} else if a == 1.0 {{ f64::INFINITY }} \
             else {{ 0.5 * {} }}",
            log1p("2.0 * a / (1.0 - a)")
        )),
        other => {
            return Err(format!(
                "internal error: {} is not composed in f64",
                other.name()
            ));
        }
    })
}

/// The element function of LeakyRelu, HardSigmoid or HardSwish on `dtype` (f32 or f64;
/// the parameters are rounded to it, as the ONNX reference computes in the tensor's type).
fn activation_fn(a: Activation, dtype: DType) -> Result<String, String> {
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!(
            "{} needs f32 or f64 tensors, got {dtype}",
            a.name()
        ));
    }
    let lit = |v: f64| literal::from_f64(dtype, v);
    let (zero, one) = (lit(0.0)?, lit(1.0)?);
    let t = literal::elem(dtype)?;
    // Clamped to [0, 1]; NaN passes through, as in the reference.
    let hard = |t: &str| {
        format!("if {t} < {zero} {{ {zero} }} else if {t} > {one} {{ {one} }} else {{ {t} }}")
    };
    Ok(match a {
        Activation::LeakyRelu { alpha } => {
            let al = lit(alpha as f64)?;
            format!("|v| if v < {zero} {{ {al} * v }} else {{ v }}")
        }
        Activation::HardSigmoid { alpha, beta } => {
            let (al, be) = (lit(alpha as f64)?, lit(beta as f64)?);
            format!("|v| {{ let t = {al} * v + {be}; {} }}", hard("t"))
        }
        Activation::HardSwish => {
            let (sixth, half) = (lit(1.0 / 6.0)?, lit(0.5)?);
            format!(
                "|v| {{ let t = v * {sixth} + {half}; v * ({}) }}",
                hard("t")
            )
        }
        // As the spec writes it; where erf(x / sqrt 2) is near -1 the absolute error stays
        // within |x| ulp(1) / 2.
        Activation::Gelu { tanh: false } => {
            let erf = MathFn::Erf.name(dtype);
            let half = lit(0.5)?;
            format!("|v| {half} * v * ({one} + {erf}(v * core::{t}::consts::FRAC_1_SQRT_2))")
        }
        Activation::Gelu { tanh: true } => {
            let tanh = MathFn::Tanh.name(dtype);
            let half = lit(0.5)?;
            let k = lit((2.0 / std::f64::consts::PI).sqrt())?;
            let c = lit(0.044715)?;
            format!("|v| {half} * v * ({one} + {tanh}({k} * (v + {c} * v * v * v)))")
        }
        Activation::Elu { alpha } => {
            let exp = MathFn::Exp.name(dtype);
            let al = lit(alpha as f64)?;
            format!("|v: {t}| if v < {zero} {{ {al} * ({exp}(v) - {one}) }} else {{ v }}")
        }
        Activation::Selu { alpha, gamma } => {
            let exp = MathFn::Exp.name(dtype);
            let (al, ga) = (lit(alpha as f64)?, lit(gamma as f64)?);
            format!("|v: {t}| {ga} * if v > {zero} {{ v }} else {{ {al} * ({exp}(v) - {one}) }}")
        }
        Activation::Celu { alpha } => {
            let exp = MathFn::Exp.name(dtype);
            let al = lit(alpha as f64)?;
            format!(
                "|v: {t}| if v > {zero} {{ v }} else {{ let t = {al} * ({exp}(v / {al}) - {one}); \
                 if t > {zero} {{ {zero} }} else {{ t }} }}"
            )
        }
        Activation::ThresholdedRelu { alpha } => {
            let al = lit(alpha as f64)?;
            format!("|v: {t}| if v > {al} {{ v }} else {{ {zero} }}")
        }
        Activation::Softplus => softplus_fn(dtype)?,
        Activation::Softsign => {
            format!("|v: {t}| v / ({one} + if v < {zero} {{ -v }} else {{ v }})")
        }
        Activation::Mish => {
            let sp = softplus_fn(dtype)?;
            let tanh = MathFn::Tanh.name(dtype);
            format!("|v: {t}| v * {tanh}(({sp})(v))")
        }
        // NaN gives 0, as in the reference.
        Activation::Shrink { lambd, bias } => {
            let (l, b) = (lambd as f64, lit(bias as f64)?);
            let (lo, hi) = (lit(-l)?, lit(l)?);
            format!(
                "|v: {t}| if v < {lo} {{ v + {b} }} else if v > {hi} {{ v - {b} }} else {{ {zero} }}"
            )
        }
        Activation::Swish { alpha } => {
            let sigmoid = MathFn::Sigmoid.name(dtype);
            let al = lit(alpha as f64)?;
            format!("|v: {t}| v * {sigmoid}({al} * v)")
        }
    })
}

/// `ln(1 + e^v)` as `max(v, 0) + ln(1 + e^-|v|)`, the logarithm of `1 + e` taken as
/// `ln(u) e / (u - 1)` with `u = 1 + e` (exact to rounding even where `e` is tiny).
fn softplus_fn(dtype: DType) -> Result<String, String> {
    let exp = MathFn::Exp.name(dtype);
    let log = MathFn::Log.name(dtype);
    let t = literal::elem(dtype)?;
    Ok(format!(
        "|v: {t}| {{ let e = {exp}(if v > 0.0 {{ -v }} else {{ v }}); let u = 1.0 + e; \
         let l = if u == 1.0 {{ e }} else {{ {log}(u) * e / (u - 1.0) }}; \
         (if v > 0.0 {{ v }} else {{ 0.0 }}) + l }}"
    ))
}

// Elementwise (variadic, PRelu, Mod, Pow), logical and cast element functions.

fn compare_sym(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Equal => "==",
        CompareOp::Less => "<",
        CompareOp::LessOrEqual => "<=",
        CompareOp::Greater => ">",
        CompareOp::GreaterOrEqual => ">=",
    }
}

/// IsNaN or IsInf of an f32 or f64 value.
fn predicate_fn(op: PredicateOp, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    Ok(match op {
        PredicateOp::IsNaN => format!("|v: {t}| v.is_nan()"),
        PredicateOp::IsInf {
            negative: true,
            positive: true,
        } => format!("|v: {t}| v.is_infinite()"),
        PredicateOp::IsInf {
            negative: false,
            positive: true,
        } => format!("|v: {t}| v == {t}::INFINITY"),
        PredicateOp::IsInf {
            negative: true,
            positive: false,
        } => format!("|v: {t}| v == {t}::NEG_INFINITY"),
        PredicateOp::IsInf {
            negative: false,
            positive: false,
        } => format!("|_: {t}| false"),
    })
}

/// The fold of Max, Min, Sum or Mean (the lowering checked Sum and Mean are on floats).
fn variadic_fn(op: VariadicOp, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    Ok(match op {
        // NaN propagates, as in numpy's maximum and minimum.
        VariadicOp::Max | VariadicOp::Min => {
            let cmp = if op == VariadicOp::Max { ">" } else { "<" };
            let nan = if dtype.is_float() {
                " || p.is_nan()"
            } else {
                ""
            };
            format!("|p: {t}, q: {t}| if p {cmp} q{nan} {{ p }} else {{ q }}")
        }
        VariadicOp::Sum | VariadicOp::Mean => format!("|p: {t}, q: {t}| p + q"),
    })
}

/// PRelu on floats or signed integers (unsigned values are never negative: a copy).
fn prelu_fn(dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    Ok(if dtype.is_float() {
        "|p, q| if p < 0.0 { q * p } else { p }".to_string()
    } else {
        format!("|p: {t}, q: {t}| if p < 0 {{ p.wrapping_mul(q) }} else {{ p }}")
    })
}

/// Mod as the reference semantics define it (`kiln_ir::ops::elementwise::eval_mod`): floats
/// through `%` (C's fmod), NaN replaced by 0 unless `fmod`; integers truncated (`fmod`) or
/// floored (the sign of the divisor), a remainder by 0 being 0.
fn mod_fn(fmod: bool, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    Ok(if dtype.is_float() {
        if fmod {
            format!("|p: {t}, q: {t}| p % q")
        } else {
            format!("|p: {t}, q: {t}| {{ let r = p % q; if r.is_nan() {{ 0.0 }} else {{ r }} }}")
        }
    } else if fmod || !dtype.is_signed() {
        format!("|p: {t}, q: {t}| if q == 0 {{ 0 }} else {{ p.wrapping_rem(q) }}")
    } else {
        format!(
            "|p: {t}, q: {t}| if q == 0 {{ 0 }} else {{ let r = p.wrapping_rem(q); \
             if r != 0 && (r < 0) != (q < 0) {{ r + q }} else {{ r }} }}"
        )
    })
}

/// Pow on a base of `base` and an exponent of `exp` (the lowering checked the pair).
/// Integer powers wrap; a negative integer exponent gives the truncated `1 / x^n` (as the
/// reference semantics define it); the rest goes through `pow_f64`.
fn pow_fn(base: DType, exp: DType) -> Result<String, String> {
    let (t, e) = (literal::elem(base)?, literal::elem(exp)?);
    if base.is_float() && base == exp {
        return Ok(MathFn::Pow.name(base));
    }
    if base.is_float() || exp.is_float() {
        let f = MathFn::Pow.name(DType::F64);
        let x = if base == DType::F64 { "p" } else { "p as f64" };
        let y = if exp == DType::F64 { "q" } else { "q as f64" };
        let cast = if base == DType::F64 { "" } else { " as " };
        let to = if base == DType::F64 { "" } else { t };
        return Ok(format!("|p: {t}, q: {e}| {f}({x}, {y}){cast}{to}"));
    }
    let negative = if exp.is_signed() {
        "if q < 0 { return if p == 1 { 1 } else if p == -1 { if q % 2 == 0 { 1 } else { -1 } } else { 0 }; } "
    } else {
        ""
    };
    let n = if exp == DType::U64 { "q" } else { "q as u64" };
    Ok(format!(
        "|p: {t}, q: {e}| {{ {negative}let (mut b, mut n, mut r) = (p, {n}, 1); \
         while n > 0 {{ if n & 1 == 1 {{ r = {t}::wrapping_mul(r, b); }} b = b.wrapping_mul(b); n >>= 1; }} r }}"
    ))
}

/// Pow of a float by the constant `e`.
fn pow_const_fn(dtype: DType, e: f64) -> Result<String, String> {
    let lit = |v: f64| literal::from_f64(dtype, v);
    Ok(if e == 1.0 {
        "|v| v".to_string()
    } else if e == 0.0 {
        format!("|_| {}", lit(1.0)?)
    } else if e == 2.0 {
        "|v| v * v".to_string()
    } else if e == 3.0 {
        "|v| v * v * v".to_string()
    } else if e == -1.0 {
        format!("|v| {} / v", lit(1.0)?)
    } else if e == 0.5 || e == -0.5 {
        // pow(-inf, 0.5) is +inf and pow(-0, 0.5) is +0 where sqrt gives NaN and -0.
        let sqrt = MathFn::Sqrt.name(dtype);
        let (inf, zero) = (lit(f64::INFINITY)?, lit(0.0)?);
        let root = format!("if v == -{inf} {{ {inf} }} else {{ {sqrt}(v) + {zero} }}");
        if e > 0.0 {
            format!("|v| {root}")
        } else {
            format!("|v| {} / ({root})", lit(1.0)?)
        }
    } else {
        format!("|v| ({})(v, {})", pow_fn(dtype, dtype)?, lit(e)?)
    })
}

/// The element function of a Cast from `from` to `to` (different types). `as` where it
/// agrees with the reference semantics; float to integer spelled out, because `as`
/// saturates where the reference gives numpy's x86-64 results (`kiln_ir::ops::cast`).
fn cast_fn(from: DType, to: DType) -> Result<String, String> {
    let is_half = |d: DType| matches!(d, DType::F16 | DType::BF16);
    // The 16-bit floats go through f32 (exact from them; rounded once to them, from f64
    // straight to f16).
    if is_half(from) {
        let widen = if from == DType::F16 {
            "f16_to_f32"
        } else {
            "bf16_to_f32"
        };
        return Ok(match to {
            DType::F16 => "|v: u16| f64_to_f16(f64::from(bf16_to_f32(v)))".into(),
            DType::BF16 => format!("|v: u16| f32_to_bf16({widen}(v))"),
            _ => format!("|v: u16| ({})({widen}(v))", cast_fn(DType::F32, to)?),
        });
    }
    if is_half(to) {
        let t = literal::elem(from)?;
        let v = match from {
            DType::Bool => "u8::from(v)",
            _ => "v",
        };
        // To bf16 from f64 rounds twice (to f32, then bf16), as ONNX's reference does.
        return Ok(if to == DType::F16 {
            format!("|v: {t}| f64_to_f16({v} as f64)")
        } else {
            format!("|v: {t}| f32_to_bf16({v} as f32)")
        });
    }
    let (t, u) = (literal::elem(from)?, literal::elem(to)?);
    // Powers of two in the source type, written as `{:?}` writes them (the shortest digits
    // that read back exactly).
    let two = |e: i32| literal::from_f64(from, 2f64.powi(e));
    // x86-64's truncating conversions: MIN when out of range or NaN (`as` saturates, which
    // gives MIN below the range as well).
    let x86_i32 = format!("if v < {} {{ v as i32 }} else {{ i32::MIN }}", two(31)?);
    let x86_i64 = format!("if v < {} {{ v as i64 }} else {{ i64::MIN }}", two(63)?);
    let body = match to {
        DType::Bool if from.is_float() => "v != 0.0".to_string(),
        DType::Bool => "v != 0".to_string(),
        _ if from == DType::Bool => format!("{u}::from(v)"),
        _ if !from.is_float() || to.is_float() => format!("v as {u}"),
        DType::I32 => x86_i32,
        DType::I64 => x86_i64,
        // Below 2^31 the i32 result reinterpreted; then the truncation; from 2^32 on 0, and
        // NaN 2^31 (u64 alike with 2^63 and 2^64).
        DType::U32 => format!(
            "if v < {} {{ v as i32 as u32 }} else if v < {} {{ v as u32 }} \
             else if v.is_nan() {{ 0x8000_0000 }} else {{ 0 }}",
            two(31)?,
            two(32)?
        ),
        DType::U64 => format!(
            "if v < {} {{ v as i64 as u64 }} else if v < {} {{ v as u64 }} \
             else if v.is_nan() {{ 0x8000_0000_0000_0000 }} else {{ 0 }}",
            two(63)?,
            two(64)?
        ),
        // i8, i16, u8, u16: the i32 result, wrapped.
        _ => format!("({x86_i32}) as {u}"),
    };
    Ok(format!("|v: {t}| {body}"))
}
