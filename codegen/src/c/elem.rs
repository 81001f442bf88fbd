//! Element functions and fused epilogues as C functions. C has no closures: each function
//! the program passes becomes a `static` function taking a `kiln_ctx` (the pointers to the
//! step operands it reads, e.g. a residual Add's input) and the elements; the kernel
//! receives it as a function pointer with its context.

use super::lit::{self, ctype, unsupported};
use crate::kernels::MathFn;
use crate::program::{ElemFn, EpilogueSteps};
use kiln_ir::DType;
use kiln_ir::ops::rnn::RnnActivation;
use kiln_ir::ops::{
    Activation, BinaryOp, CompareOp, Epilogue, LogicalOp, PredicateOp, ReduceKind, UnaryOp,
    VariadicOp,
};
use std::collections::{BTreeSet, HashMap};

/// The functions a program's calls pass, each defined once (identical definitions shared).
#[derive(Default)]
pub(super) struct Fns {
    pub(super) defs: Vec<String>,
    by_text: HashMap<String, String>,
    /// Math routines the definitions call, as `exp_f32`.
    pub(super) math: Vec<String>,
    /// Integer helpers they call (`library::HELPERS`), with their dependencies.
    pub(super) helpers: BTreeSet<&'static str>,
}

/// A function reference and the context expression its caller passes.
pub(super) struct FnRef {
    pub(super) name: String,
    pub(super) ctx: String,
}

impl Fns {
    /// Defines a function `static RET NAME(kiln_ctx c, PARAMS) { BODY }` (or reuses an
    /// identical one) and returns its name.
    pub(super) fn define(&mut self, ret: &str, params: &str, body: &str) -> String {
        let key = format!("{ret}|{params}|{body}");
        if let Some(n) = self.by_text.get(&key) {
            return n.clone();
        }
        let name = format!("kiln_fn{}", self.defs.len());
        // `inline` on the FPU's requantization: without it GCC left the closure (its
        // fallback makes it larger) called through a pointer per output in the SMLAD
        // kernels (MobileNet v1 on a Cortex-M4: 2.79 instructions per MAC; 2.23 with it).
        // Not `always_inline`: GCC fails the build where such a function is called through
        // a pointer it cannot resolve (the pooling kernels).
        let linkage = if body.contains("requant_f") {
            "static inline"
        } else {
            "static"
        };
        self.defs.push(format!(
            "{linkage} {ret} {name}(kiln_ctx c, {params})\n{{\n{body}}}\n"
        ));
        self.by_text.insert(key, name.clone());
        name
    }

    fn math(&mut self, f: MathFn, dtype: DType) -> Result<String, String> {
        if dtype != DType::F32
            || !matches!(
                f,
                MathFn::Exp
                    | MathFn::Sigmoid
                    | MathFn::Silu
                    | MathFn::Tanh
                    | MathFn::Sqrt
                    | MathFn::Log
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

    pub(super) fn helper(&mut self, name: &'static str) {
        for (n, _, deps) in super::library::HELPERS {
            if *n == name {
                self.helpers.insert(n);
                self.helpers.extend(deps.iter().copied());
            }
        }
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
                    (format!("{t} x"), format!("{inner}(c, x)"))
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
            ElemFn::Compare { op, dtype } => {
                let t = ctype(*dtype)?;
                let sym = match op {
                    CompareOp::Equal => "==",
                    CompareOp::Less => "<",
                    CompareOp::LessOrEqual => "<=",
                    CompareOp::Greater => ">",
                    CompareOp::GreaterOrEqual => ">=",
                };
                (
                    "_Bool".into(),
                    format!("{t} p, {t} q"),
                    format!("p {sym} q"),
                )
            }
            ElemFn::Logical { op } => {
                let sym = match op {
                    LogicalOp::And => "&",
                    LogicalOp::Or => "|",
                    LogicalOp::Xor => "^",
                };
                (
                    "_Bool".into(),
                    "_Bool p, _Bool q".into(),
                    format!("(_Bool)(p {sym} q)"),
                )
            }
            ElemFn::Not => unary("_Bool", "!v".into()),
            ElemFn::Predicate { op, dtype } => {
                let t = ctype(*dtype)?;
                let (inf, f) = match dtype {
                    DType::F32 => ("(1.0f / 0.0f)", ""),
                    DType::F64 => ("(1.0 / 0.0)", ""),
                    other => return Err(unsupported(&format!("{op:?} of {other}"))),
                };
                let _ = f;
                let e = match op {
                    PredicateOp::IsNaN => "v != v".to_string(),
                    PredicateOp::IsInf {
                        negative: true,
                        positive: true,
                    } => format!("v == {inf} || v == -{inf}"),
                    PredicateOp::IsInf {
                        negative: false,
                        positive: true,
                    } => format!("v == {inf}"),
                    PredicateOp::IsInf {
                        negative: true,
                        positive: false,
                    } => format!("v == -{inf}"),
                    PredicateOp::IsInf { .. } => "0 && v != v".to_string(),
                };
                ("_Bool".into(), format!("{t} v"), e)
            }
            ElemFn::Variadic { op, dtype } => {
                let t = ctype(*dtype)?;
                let float = matches!(dtype, DType::F32 | DType::F64);
                let e = match op {
                    // NaN propagates, as in numpy's maximum and minimum.
                    VariadicOp::Max | VariadicOp::Min => {
                        let cmp = if *op == VariadicOp::Max { ">" } else { "<" };
                        let nan = if float { " || p != p" } else { "" };
                        format!("(p {cmp} q{nan}) ? p : q")
                    }
                    VariadicOp::Sum | VariadicOp::Mean => binary(BinaryOp::Add, *dtype)?,
                };
                (t.to_string(), format!("{t} p, {t} q"), e)
            }
            ElemFn::Left { dtype } => {
                let t = ctype(*dtype)?;
                (
                    t.to_string(),
                    format!("{t} p, {t} q"),
                    "((void)q, p)".into(),
                )
            }
            ElemFn::DivBy { dtype, divisor } => {
                let t = ctype(*dtype)?;
                unary(t, format!("v / {}", lit::scalar(*dtype, *divisor)?))
            }
            ElemFn::PRelu { dtype } => {
                let t = ctype(*dtype)?;
                let e = if matches!(dtype, DType::F32 | DType::F64) {
                    "p < 0 ? q * p : p".to_string()
                } else {
                    format!("p < 0 ? {} : p", binary(BinaryOp::Mul, *dtype)?)
                };
                (t.to_string(), format!("{t} p, {t} q"), e)
            }
            ElemFn::Mod { fmod, dtype } if !matches!(dtype, DType::F32 | DType::F64) => {
                let t = ctype(*dtype)?;
                // p % -1 is 0, and the only case C leaves undefined (MIN % -1).
                let e = if !dtype.is_signed() {
                    format!("q == 0 ? 0 : ({t})(p % q)")
                } else if *fmod {
                    format!("q == 0 || q == -1 ? 0 : ({t})(p % q)")
                } else {
                    format!(
                        "q == 0 || q == -1 ? 0 : ({t})((p % q != 0 && ((p % q < 0) != (q < 0))) ? p % q + q : p % q)"
                    )
                };
                (t.to_string(), format!("{t} p, {t} q"), e)
            }
            ElemFn::BitShift { left, dtype } => {
                let t = ctype(*dtype)?;
                let bits = dtype.size_bytes() * 8;
                let u = if bits == 64 { "uint64_t" } else { "uint32_t" };
                let sym = if *left { "<<" } else { ">>" };
                (
                    t.to_string(),
                    format!("{t} p, {t} q"),
                    format!("q >= {bits} ? 0 : ({t})(({u})p {sym} q)"),
                )
            }
            ElemFn::Cast { from, to } => {
                let (t, u) = (ctype(*from)?, ctype(*to)?);
                (u.to_string(), format!("{t} v"), cast(*from, *to)?)
            }
            ElemFn::Reduce { kind, dtype } => {
                let t = ctype(*dtype)?;
                let body = self.reduce(*kind, *dtype)?;
                let name = self.define(t, &format!("kiln_group_{} g", dtype.name()), &body);
                (
                    t.to_string(),
                    format!("kiln_group_{} g", dtype.name()),
                    format!("{name}(c, g)"),
                )
            }
            ElemFn::ArgReduce { max, last, dtype } => {
                let t = ctype(*dtype)?;
                let cmp = match (max, last) {
                    (true, false) => ">",
                    (true, true) => ">=",
                    (false, false) => "<",
                    (false, true) => "<=",
                };
                let float = matches!(dtype, DType::F32 | DType::F64);
                let better = match (float, last) {
                    (false, _) => format!("v {cmp} b"),
                    (true, false) => format!("b == b && (v != v || v {cmp} b)"),
                    (true, true) => format!("v != v || (b == b && v {cmp} b)"),
                };
                let g = format!("kiln_group_{} g", dtype.name());
                let body = format!(
                    "    int64_t best = 0, j = 0;\n    {t} b = 0, v;\n    (void)c;\n    while (kiln_group_next_{}(&g, &v)) {{\n        if (j == 0 || ({better})) {{\n            best = j;\n            b = v;\n        }}\n        j++;\n    }}\n    return best;\n",
                    dtype.name()
                );
                let name = self.define("int64_t", &g, &body);
                ("int64_t".to_string(), g, format!("{name}(c, g)"))
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

    /// Floor, Ceil or Round (half to even) of a float, from the truncated value (exact
    /// below 2^23 or 2^52, from where every float is whole; NaN and the infinities pass
    /// through); the result keeps the input's sign, so -0.5 gives -0.0 as in numpy.
    fn rounding(&mut self, op: UnaryOp, dtype: DType) -> Result<String, String> {
        let (t, int, limit, sign, bits) = match dtype {
            DType::F32 => ("float", "int32_t", "8388608.0f", "0x80000000u", "f32"),
            _ => (
                "double",
                "int64_t",
                "4503599627370496.0",
                "0x8000000000000000u",
                "f64",
            ),
        };
        let one = lit::scalar(dtype, 1.0)?;
        let half = lit::scalar(dtype, 0.5)?;
        let adjust = match op {
            UnaryOp::Floor => format!("t > v ? t - {one} : t"),
            UnaryOp::Ceil => format!("t < v ? t + {one} : t"),
            _ => format!(
                "(d > {half} || (d == {half} && odd)) ? t + {one} : ((d < -{half} || (d == -{half} && odd)) ? t - {one} : t)"
            ),
        };
        let body = format!(
            "    {t} t, d, r;\n    int odd;\n    (void)c;\n    if (!(v > -{limit} && v < {limit})) {{\n        return v;\n    }}\n    t = ({t})({int})v;\n    d = v - t;\n    odd = ({int})t % 2 != 0;\n    (void)d;\n    (void)odd;\n    r = {adjust};\n    return kiln_{bits}_from_bits(kiln_{bits}_to_bits(r) | (kiln_{bits}_to_bits(v) & {sign}));\n"
        );
        Ok(self.define(t, &format!("{t} v"), &body))
    }

    /// The body of a reduction's group function over `g`.
    fn reduce(&mut self, kind: ReduceKind, dtype: DType) -> Result<String, String> {
        let t = ctype(dtype)?;
        let float = matches!(dtype, DType::F32 | DType::F64);
        if dtype == DType::Bool {
            let (init, op) = match kind {
                ReduceKind::Max => ("0", "|"),
                ReduceKind::Min => ("1", "&"),
                _ => return Err(format!("{} is not defined for bool tensors", kind.name())),
            };
            return Ok(format!(
                "    _Bool a = {init}, v;\n    (void)c;\n    while (kiln_group_next_bool(&g, &v)) {{\n        a = a {op} v;\n    }}\n    return a;\n"
            ));
        }
        let u = if dtype.size_bytes() == 8 {
            "uint64_t"
        } else {
            "uint32_t"
        };
        let add = |a: &str, b: &str| {
            if float {
                format!("{a} + {b}")
            } else {
                format!("({t})(({u}){a} + ({u})({b}))")
            }
        };
        let mul = |a: &str, b: &str| {
            if float {
                format!("{a} * {b}")
            } else {
                format!("({t})(({u}){a} * ({u}){b})")
            }
        };
        let zero = lit::scalar(dtype, 0.0)?;
        let one = lit::scalar(dtype, 1.0)?;
        let next = format!("kiln_group_next_{}(&g, &v)", dtype.name());
        let fold = |init: &str, step: String, result: &str| {
            format!(
                "    {t} a = {init}, v;\n    (void)c;\n    while ({next}) {{\n        a = {step};\n    }}\n    return {result};\n"
            )
        };
        Ok(match kind {
            ReduceKind::Sum => fold(&zero, add("a", "v"), "a"),
            ReduceKind::Prod => fold(&one, mul("a", "v"), "a"),
            ReduceKind::SumSquare => fold(&zero, add("a", &mul("v", "v")), "a"),
            ReduceKind::L1 => {
                let abs = if float {
                    format!("(v < {zero} ? -v : v)")
                } else if dtype.is_signed() {
                    format!("(v < 0 ? ({t})(0u - ({u})v) : v)")
                } else {
                    "v".into()
                };
                fold(&zero, add("a", &abs), "a")
            }
            ReduceKind::Max | ReduceKind::Min => {
                let max = kind == ReduceKind::Max;
                let cmp = if max { ">" } else { "<" };
                let init = match (max, dtype) {
                    (true, DType::F32) => "(-1.0f / 0.0f)".to_string(),
                    (false, DType::F32) => "(1.0f / 0.0f)".to_string(),
                    (true, DType::F64) => "(-1.0 / 0.0)".to_string(),
                    (false, DType::F64) => "(1.0 / 0.0)".to_string(),
                    (true, _) => lit::lowest(dtype)?,
                    (false, _) => highest(dtype)?,
                };
                // NaN propagates, as in numpy.
                let nan = if float { " || v != v" } else { "" };
                fold(&init, format!("(v {cmp} a{nan}) ? v : a"), "a")
            }
            ReduceKind::L2 => {
                let sqrt = self.math(MathFn::Sqrt, dtype)?;
                fold(&zero, add("a", "v * v"), &format!("{sqrt}(a)"))
            }
            ReduceKind::LogSum => {
                let ln = self.math(MathFn::Log, dtype)?;
                fold(&zero, add("a", "v"), &format!("{ln}(a)"))
            }
            // The largest finite element is subtracted first (ONNX's reference does too).
            ReduceKind::LogSumExp if dtype == DType::F32 => format!(
                "    kiln_group_f32 h = g;\n    float m = (-1.0f / 0.0f), a = 0.0f, v;\n    (void)c;\n    while (kiln_group_next_f32(&h, &v)) {{\n        if (v > m && v - v == 0.0f) {{\n            m = v;\n        }}\n    }}\n    if (m == (-1.0f / 0.0f)) {{\n        m = 0.0f;\n    }}\n    while ({next}) {{\n        a = a + exp_f32(v - m);\n    }}\n    return log_f32(a) + m;\n"
            ),
            other => {
                return Err(unsupported(&format!(
                    "reduction {} on {dtype}",
                    other.name()
                )));
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
            UnaryOp::Log => format!("{}(v)", self.math(MathFn::Log, dtype)?),
            UnaryOp::Neg if float => "-v".into(),
            UnaryOp::Abs if dtype == DType::F32 => {
                "kiln_f32_from_bits(kiln_f32_to_bits(v) & 0x7fffffffu)".into()
            }
            UnaryOp::Abs if dtype == DType::F64 => {
                "kiln_f64_from_bits(kiln_f64_to_bits(v) & 0x7fffffffffffffffu)".into()
            }
            UnaryOp::Abs | UnaryOp::Relu | UnaryOp::Sign
                if !float && !dtype.is_signed() && dtype != DType::Bool =>
            {
                if op == UnaryOp::Sign {
                    "v > 0 ? 1 : 0".into()
                } else {
                    "v".into()
                }
            }
            UnaryOp::Abs | UnaryOp::Neg if !float && dtype != DType::Bool => {
                let t = ctype(dtype)?;
                let u = if dtype.size_bytes() == 8 {
                    "uint64_t"
                } else {
                    "uint32_t"
                };
                let neg = format!("({t})(0u - ({u})v)");
                if op == UnaryOp::Neg {
                    neg
                } else {
                    format!("v < 0 ? {neg} : v")
                }
            }
            UnaryOp::Sign if float => format!(
                "v > {z} ? {} : (v < {z} ? {} : v)",
                lit::scalar(dtype, 1.0)?,
                lit::scalar(dtype, -1.0)?
            ),
            UnaryOp::Sign if dtype != DType::Bool => "(v > 0) - (v < 0)".into(),
            UnaryOp::BitwiseNot if !float && dtype != DType::Bool => {
                format!("({})~v", ctype(dtype)?)
            }
            UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round if float => {
                let name = self.rounding(op, dtype)?;
                format!("{name}(c, v)")
            }
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
                Epilogue::Silu if dtype == DType::F32 => {
                    format!("v = {}(v);", self.math(MathFn::Silu, dtype)?)
                }
                Epilogue::Silu => format!("v = v * {}(v);", self.math(MathFn::Sigmoid, dtype)?),
                Epilogue::Act(a) => activation(*a, dtype)?,
                Epilogue::HardSwishParts { add, min, max, div } => {
                    // By the reciprocal, as the Rust printer does (see there).
                    let (a, d) = (lit::scalar(dtype, *add)?, lit::scalar(dtype, 1.0 / *div)?);
                    let t = ctype(dtype)?;
                    let mut s = format!("{{ {t} t = v + {a}; ");
                    if min.is_finite() {
                        let lo = lit::scalar(dtype, *min)?;
                        s.push_str(&format!("if (t < {lo}) {{ t = {lo}; }} "));
                    }
                    if max.is_finite() {
                        let hi = lit::scalar(dtype, *max)?;
                        s.push_str(&format!("if (t > {hi}) {{ t = {hi}; }} "));
                    }
                    s.push_str(&format!("v = v * t * {d}; }}"));
                    s
                }
                Epilogue::Scale { by } => format!("v = v * {};", lit::scalar(dtype, *by)?),
                Epilogue::Shift { by } => format!("v = v + {};", lit::scalar(dtype, *by)?),
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

/// The largest value of an integer `dtype` (the identity of min).
fn highest(dtype: DType) -> Result<String, String> {
    Ok(match dtype {
        DType::I8 => "INT8_MAX",
        DType::I16 => "INT16_MAX",
        DType::I32 => "INT32_MAX",
        DType::I64 => "INT64_MAX",
        DType::U8 => "UINT8_MAX",
        DType::U16 => "UINT16_MAX",
        DType::U32 => "UINT32_MAX",
        DType::U64 => "UINT64_MAX",
        other => return Err(unsupported(&format!("the highest {other}"))),
    }
    .to_string())
}

/// `ln(1 + e^v)` of an f32 expression as `max(v, 0) + ln(1 + e^-|v|)`, the logarithm of
/// `1 + e` taken as `ln(u) e / (u - 1)` with `u = 1 + e` (as kiln's Rust spelling).
fn softplus(v: &str) -> String {
    format!(
        "(({v}) > 0.0f ? ({v}) : 0.0f) + kiln_softplus_tail(exp_f32(({v}) > 0.0f ? -({v}) : ({v})))"
    )
}

/// A Cast from `from` to `to` (different types), as the reference semantics define it:
/// float to integer gives x86-64's results (MIN when out of range or NaN), spelled out
/// because C leaves those conversions undefined.
fn cast(from: DType, to: DType) -> Result<String, String> {
    let float = |d: DType| matches!(d, DType::F32 | DType::F64);
    let u = ctype(to)?;
    if to == DType::Bool {
        return Ok("v != 0".into());
    }
    if from == DType::Bool || !float(from) || float(to) {
        return Ok(format!("({u})v"));
    }
    let two = |e: i32| lit::scalar(from, 2f64.powi(e));
    let x86_i32 = format!(
        "((v >= -{} && v < {}) ? (int32_t)v : INT32_MIN)",
        two(31)?,
        two(31)?
    );
    let x86_i64 = format!(
        "((v >= -{} && v < {}) ? (int64_t)v : INT64_MIN)",
        two(63)?,
        two(63)?
    );
    Ok(match to {
        DType::I32 => x86_i32,
        DType::I64 => x86_i64,
        DType::U32 => format!(
            "v < {} ? (uint32_t){x86_i32} : (v < {} ? (uint32_t)v : (v != v ? 0x80000000u : 0u))",
            two(31)?,
            two(32)?
        ),
        DType::U64 => format!(
            "v < {} ? (uint64_t){x86_i64} : (v < {} ? (uint64_t)v : (v != v ? UINT64_C(0x8000000000000000) : 0u))",
            two(63)?,
            two(64)?
        ),
        _ => format!("({u}){x86_i32}"),
    })
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
        _ if dtype != DType::F32 => {
            return Err(unsupported(&format!("{} on {dtype}", a.name())));
        }
        Activation::Elu { alpha } => format!(
            "if (v < {zero}) {{ v = {} * (exp_f32(v) - {one}); }}",
            l(alpha as f64)?
        ),
        Activation::Selu { alpha, gamma } => format!(
            "v = {} * (v > {zero} ? v : {} * (exp_f32(v) - {one}));",
            l(gamma as f64)?,
            l(alpha as f64)?
        ),
        Activation::Celu { alpha } => {
            let al = l(alpha as f64)?;
            format!(
                "if (!(v > {zero})) {{ {t} t = {al} * (exp_f32(v / {al}) - {one}); v = t > {zero} ? {zero} : t; }}"
            )
        }
        Activation::ThresholdedRelu { alpha } => {
            format!("if (!(v > {})) {{ v = {zero}; }}", l(alpha as f64)?)
        }
        Activation::Softsign => format!("v = v / ({one} + (v < {zero} ? -v : v));"),
        Activation::Softplus => format!("v = {};", softplus("v")),
        Activation::Mish => format!("v = v * tanh_f32({});", softplus("v")),
        Activation::Swish { alpha } => format!("v = v * sigmoid_f32({} * v);", l(alpha as f64)?),
        Activation::Gelu { tanh: true } => format!(
            "v = 0.5f * v * ({one} + tanh_f32({} * (v + {} * v * v * v)));",
            l((2.0 / std::f64::consts::PI).sqrt())?,
            l(0.044715)?
        ),
        other => return Err(unsupported(&format!("activation {}", other.name()))),
    })
}
