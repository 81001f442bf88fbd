//! Element functions of the gather, quant, reduce and rnn families as Rust closures, and
//! the builtins of the gather family (statements on slices the kernel library has no
//! function for). The lowering checked the types and registered the math routines.

use crate::kernels::MathFn;
use crate::literal;
use crate::program::{ElemFn, OutTable};
use kiln_ir::ops::ReduceKind;
use kiln_ir::ops::gather::Reduction;
use kiln_ir::ops::rnn::RnnActivation;
use kiln_ir::{DType, TensorData};

/// The index into a table of 256 entries of the 8-bit value `v` of type `from`. An i8's
/// bits with the sign flipped count from -128 at 0: every index is a u8, so the lookup
/// needs no bounds check.
fn table_index(from: DType) -> &'static str {
    if from == DType::I8 {
        "(v as u8 ^ 0x80) as usize"
    } else {
        "v as usize"
    }
}

/// Closure `inner` (of `params`, called with `args`), its 8-bit result of type `dtype`
/// then looked up in `table` (an IntLut fused into an integer kernel's requantization).
fn then_table(
    inner: &str,
    params: &str,
    args: &str,
    table: &OutTable,
    dtype: DType,
) -> Result<String, String> {
    let yt = literal::elem(dtype)?;
    let (tt, cast) = match (table.words, dtype) {
        (false, _) => (yt, String::new()),
        (true, DType::I8) => ("i32", format!(" as {yt}")),
        (true, _) => ("u32", format!(" as {yt}")),
    };
    let list: Vec<String> = table.entries.iter().map(i32::to_string).collect();
    Ok(format!(
        "{{ const TABLE: [{tt}; 256] = [{}]; let f = {inner}; move |{params}| {{ let v = f({args}); TABLE[{}]{cast} }} }}",
        list.join(", "),
        table_index(dtype)
    ))
}

/// `f` as a closure, if it is one of these families' functions.
pub(super) fn closure(f: &ElemFn) -> Result<Option<String>, String> {
    Ok(Some(match f {
        ElemFn::Reduce { kind, dtype } => reduce_fn(*kind, *dtype)?,
        ElemFn::ArgReduce { max, last, dtype } => arg_reduce_fn(*max, *last, *dtype)?,
        ElemFn::Combine { reduction, dtype } => combine_fn(*reduction, *dtype)?,
        ElemFn::ToIndex { dtype } => format!("|v: {}| v as i64", literal::elem(*dtype)?),
        ElemFn::RnnAct { act, dtype } => rnn_act_fn(*act, *dtype)?,
        ElemFn::IntSum { channel: true } => "|c: i32, _m: usize| c".into(),
        ElemFn::IntSum { channel: false } => "|c: i32| c".into(),
        ElemFn::Requantize { .. } => requantize_fn(f)?,
        ElemFn::FixedRequant {
            table: Some(table),
            channel,
            dtype,
            ..
        } => {
            let mut plain = f.clone();
            if let ElemFn::FixedRequant { table, .. } = &mut plain {
                *table = None;
            }
            let inner = closure(&plain)?.ok_or("a requantization closure")?;
            let (params, args) = if *channel {
                ("c: i32, m: usize", "c, m")
            } else {
                ("c: i32", "c")
            };
            then_table(&inner, params, args, table, *dtype)?
        }
        ElemFn::IntOut {
            table: Some(table),
            dtype,
            ..
        } => {
            let mut plain = f.clone();
            if let ElemFn::IntOut { table, .. } = &mut plain {
                *table = None;
            }
            let inner = closure(&plain)?.ok_or("an output closure")?;
            then_table(&inner, "v: i64", "v", table, *dtype)?
        }
        ElemFn::FixedRequant {
            fpu: true,
            dsp,
            channel,
            bias,
            sum_fits: _,
            mult,
            shift,
            zero,
            lo,
            hi,
            dtype,
            table: None,
        } => {
            let yt = literal::elem(*dtype)?;
            let b = bias
                .as_ref()
                .map_or_else(String::new, |b| format!("{b}.get(m).map_or(0, |&v| v)"));
            let b = if b.is_empty() { "0".to_string() } else { b };
            // mult (24 bits) times a power of two: exact in f32 (as the lowering made it).
            let factor = |mult: i32, shift: u32| {
                format!(
                    "{:?}f32",
                    kiln_ir::ops::qint::Requant { mult, shift }.real() as f32
                )
            };
            let m = if bias.is_some() { "m" } else { "_m" };
            let requant = if *dsp { "requant_dsp" } else { "requant_f32" };
            if let ([m1], [s1], false) = (mult.as_slice(), shift.as_slice(), channel) {
                format!(
                    "|c: i32| {requant}(c, {b}, {}, {zero}, {lo}, {hi}) as {yt}",
                    factor(*m1, *s1)
                )
            } else if let ([m1], [s1]) = (mult.as_slice(), shift.as_slice()) {
                format!(
                    "|c: i32, {m}: usize| {requant}(c, {b}, {}, {zero}, {lo}, {hi}) as {yt}",
                    factor(*m1, *s1)
                )
            } else {
                let n = mult.len();
                let list: Vec<String> = mult
                    .iter()
                    .zip(shift)
                    .map(|(&m, &s)| factor(m, s))
                    .collect();
                // A static, not a const: clippy's large_const_arrays, and a const array
                // may be copied where it is read.
                format!(
                    "{{ static FACTOR: [f32; {n}] = [{}]; \
                     move |c: i32, m: usize| {requant}(c, {b}, FACTOR.get(m).copied().unwrap_or(0.0), \
                     {zero}, {lo}, {hi}) as {yt} }}",
                    list.join(", ")
                )
            }
        }
        ElemFn::FixedRequant {
            fpu: false,
            dsp: _,
            channel,
            bias,
            sum_fits: _,
            mult,
            shift,
            zero,
            lo,
            hi,
            dtype,
            table: None,
        } => {
            let yt = literal::elem(*dtype)?;
            // The bias added to the sum in i64 (`requant` takes one accumulator).
            let b = bias.as_ref().map_or_else(String::new, |b| {
                format!(" + {b}.get(m).map_or(0, |&v| v as i64)")
            });
            if let ([m1], [s1], false) = (mult.as_slice(), shift.as_slice(), channel) {
                format!("|c: i32| requant(c as i64{b}, {m1}, {s1}, {zero}, {lo}, {hi}) as {yt}")
            } else if let ([m1], [s1]) = (mult.as_slice(), shift.as_slice()) {
                let m = if bias.is_some() { "m" } else { "_m" };
                format!(
                    "|c: i32, {m}: usize| requant(c as i64{b}, {m1}, {s1}, {zero}, {lo}, {hi}) as {yt}"
                )
            } else {
                let n = mult.len();
                let list = |v: Vec<String>| v.join(", ");
                format!(
                    "{{ const MULT: [i32; {n}] = [{}]; const SHIFT: [u32; {n}] = [{}]; \
                     move |c: i32, m: usize| requant(c as i64{b}, MULT.get(m).copied().unwrap_or(0), \
                     SHIFT.get(m).copied().unwrap_or(0), {zero}, {lo}, {hi}) as {yt} }}",
                    list(mult.iter().map(i32::to_string).collect()),
                    list(shift.iter().map(u32::to_string).collect()),
                )
            }
        }
        ElemFn::IntBinary {
            add,
            a_zero,
            b_zero,
            ma,
            mb,
            shift,
            zero,
            lo,
            hi,
            a,
            b,
            to,
        } => {
            let (at, bt, yt) = (literal::elem(*a)?, literal::elem(*b)?, literal::elem(*to)?);
            // No `- 0` or `+ 0` (clippy's identity_op in a user's crate).
            let less = |v: &str, z: i32| {
                if z == 0 {
                    format!("({v} as i64)")
                } else {
                    format!("({v} as i64 - {z})")
                }
            };
            let (xa, yb) = (less("x", *a_zero), less("y", *b_zero));
            let p = if *add {
                format!("{xa} * {ma} + {yb} * {mb}")
            } else {
                format!("{xa} * {yb} * {ma}")
            };
            let sum = if *zero == 0 {
                format!("shift_round({p}, {shift})")
            } else {
                format!("(shift_round({p}, {shift}) + {zero})")
            };
            format!("|x: {at}, y: {bt}| {sum}.clamp({lo}, {hi}) as {yt}")
        }
        ElemFn::IntOut {
            zero,
            lo,
            hi,
            dtype,
            table: None,
        } => {
            // No `+ 0` (clippy's identity_op in a user's crate).
            let v = if *zero == 0 {
                "v".to_string()
            } else {
                format!("(v + {zero})")
            };
            format!(
                "|v: i64| {v}.clamp({lo}, {hi}) as {}",
                literal::elem(*dtype)?
            )
        }
        ElemFn::Table { table, from, to } => {
            let (xt, yt) = (literal::elem(*from)?, literal::elem(*to)?);
            let index = table_index(*from);
            let list: Vec<String> = table.iter().map(i32::to_string).collect();
            format!(
                "{{ const TABLE: [{yt}; 256] = [{}]; move |v: {xt}| TABLE[{index}] }}",
                list.join(", ")
            )
        }
        ElemFn::Quantize {
            scale,
            scale_dtype,
            zero,
            lo,
            hi,
            from,
            to,
            ..
        } => {
            let (xt, yt) = (literal::elem(*from)?, literal::elem(*to)?);
            // Conversions to f32 only where the type is not f32 already (clippy's
            // unnecessary_cast in a user's crate).
            let v = f32_of("v", *from);
            let s = f32_of(&format!("{scale}[k]"), *scale_dtype);
            let z = zero
                .as_ref()
                .map_or_else(|| "0.0".to_string(), |z| format!("{z}[k] as f32"));
            if matches!(to, DType::U8 | DType::I8) {
                // Branch-free, so a per-tensor QuantizeLinear vectorises (see `quantize_8`).
                format!(
                    "|v: {xt}, k: usize| quantize_8(round_even_f32({v} / {s}) + {z}, \
                     {lo:?}, {hi:?}) as {yt}"
                )
            } else {
                // NaN clamps to NaN, which `as` turns into 0, as the reference semantics do.
                format!(
                    "|v: {xt}, k: usize| (round_even_f32({v} / {s}) + {z})\
                     .clamp({lo:?}, {hi:?}) as {yt}"
                )
            }
        }
        ElemFn::Dequantize {
            scale,
            scale_dtype,
            zero,
            from,
            to,
        } => {
            let (xt, yt) = (literal::elem(*from)?, literal::elem(*to)?);
            // The integer difference is exact; then one f32 product.
            let z = zero
                .as_ref()
                .map_or_else(String::new, |z| format!(" - {z}[k] as i64"));
            let s = f32_of(&format!("{scale}[k]"), *scale_dtype);
            let product = format!("(v as i64{z}) as f32 * {s}");
            if *to == DType::F32 {
                format!("|v: {xt}, k: usize| {product}")
            } else {
                format!("|v: {xt}, k: usize| ({product}) as {yt}")
            }
        }
        _ => return Ok(None),
    }))
}

/// The per-group closure of a reduction of `kind` on `dtype` elements.
fn reduce_fn(kind: ReduceKind, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let float = dtype.is_float();
    let (zero, one) = (format!("0{t}"), format!("1{t}"));
    if dtype == DType::Bool {
        return match kind {
            ReduceKind::Max => Ok("|g| g.fold(false, |a, v| a | v)".into()),
            ReduceKind::Min => Ok("|g| g.fold(true, |a, v| a & v)".into()),
            _ => Err(format!("{} is not defined for bool tensors", kind.name())),
        };
    }
    let add = |a: &str, b: &str| {
        if float {
            format!("{a} + {b}")
        } else {
            format!("{a}.wrapping_add({b})")
        }
    };
    let mul = |a: &str, b: &str| {
        if float {
            format!("{a} * {b}")
        } else {
            format!("{a}.wrapping_mul({b})")
        }
    };
    let sum_of = |v: &str| format!("g.fold({zero}, |a, v| {})", add("a", v));
    Ok(match kind {
        ReduceKind::Sum => format!("|g| {}", sum_of("v")),
        ReduceKind::Prod => format!("|g| g.fold({one}, |a, v| {})", mul("a", "v")),
        ReduceKind::SumSquare => format!("|g| {}", sum_of(&mul("v", "v"))),
        ReduceKind::L1 => {
            let abs = if float {
                format!("(if v < {zero} {{ -v }} else {{ v }})")
            } else if dtype.is_signed() {
                "v.wrapping_abs()".into()
            } else {
                "v".into()
            };
            format!("|g| {}", sum_of(&abs))
        }
        ReduceKind::Max | ReduceKind::Min => {
            let (cmp, init) = match (kind == ReduceKind::Max, float) {
                (true, true) => (">", format!("{t}::NEG_INFINITY")),
                (false, true) => ("<", format!("{t}::INFINITY")),
                (true, false) => (">", format!("{t}::MIN")),
                (false, false) => ("<", format!("{t}::MAX")),
            };
            // NaN propagates, as in numpy.
            let nan = if float { " || v.is_nan()" } else { "" };
            format!("|g| g.fold({init}, |a, v| if v {cmp} a{nan} {{ v }} else {{ a }})")
        }
        ReduceKind::L2 => {
            let sqrt = MathFn::Sqrt.name(dtype);
            format!("|g| {sqrt}({})", sum_of("v * v"))
        }
        ReduceKind::LogSum => {
            let ln = MathFn::Log.name(dtype);
            format!("|g| {ln}({})", sum_of("v"))
        }
        ReduceKind::LogSumExp => {
            // The largest finite element is subtracted first (ONNX's reference does too).
            let (ln, exp) = (MathFn::Log.name(dtype), MathFn::Exp.name(dtype));
            format!(
                "|g| {{ let m = g.clone().fold({t}::NEG_INFINITY, |a, v| if v > a && v.is_finite() {{ v }} else {{ a }}); \
                 let m = if m == {t}::NEG_INFINITY {{ {zero} }} else {{ m }}; \
                 {ln}({}) + m }}",
                sum_of(&format!("{exp}(v - m)"))
            )
        }
        ReduceKind::Mean => return Err("ReduceMean has its own kernel".into()),
    })
}

/// ArgMax/ArgMin over a group: tracks the position of the best element.
fn arg_reduce_fn(max: bool, last: bool, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let cmp = match (max, last) {
        (true, false) => ">",
        (true, true) => ">=",
        (false, false) => "<",
        (false, true) => "<=",
    };
    let better = match (dtype.is_float(), last) {
        (false, _) => format!("v {cmp} b"),
        (true, false) => format!("!b.is_nan() && (v.is_nan() || v {cmp} b)"),
        (true, true) => format!("v.is_nan() || (!b.is_nan() && v {cmp} b)"),
    };
    Ok(format!(
        "|g| {{ let (mut best, mut b) = (0i64, 0{t}); for (j, v) in g.enumerate() {{ \
         if j == 0 || {better} {{ best = j as i64; b = v; }} }} best }}"
    ))
}

/// The element function combining old and new values of a scatter.
fn combine_fn(r: Reduction, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let body = match (r, dtype) {
        (Reduction::None, _) => "q",
        (Reduction::Add | Reduction::Max, DType::Bool) => "p | q",
        (Reduction::Mul | Reduction::Min, DType::Bool) => "p & q",
        (Reduction::Add, d) if d.is_float() => "p + q",
        (Reduction::Mul, d) if d.is_float() => "p * q",
        (Reduction::Add, _) => "p.wrapping_add(q)",
        (Reduction::Mul, _) => "p.wrapping_mul(q)",
        // numpy's maximum and minimum: a NaN on either side wins.
        (Reduction::Max, _) => "if p != p { p } else if q != q || q > p { q } else { p }",
        (Reduction::Min, _) => "if p != p { p } else if q != q || q < p { q } else { p }",
    };
    let p = if r == Reduction::None { "_" } else { "p" };
    Ok(format!("|{p}: {t}, q: {t}| {body}"))
}

/// A recurrent activation of `dtype`: a function name or a closure without captures, both
/// of which coerce to `fn(T) -> T`.
fn rnn_act_fn(act: RnnActivation, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let lit = |v: f32| literal::from_f64(dtype, v as f64);
    let (zero, one) = (lit(0.0)?, lit(1.0)?);
    Ok(match act {
        RnnActivation::Sigmoid => MathFn::Sigmoid.name(dtype),
        RnnActivation::Tanh => MathFn::Tanh.name(dtype),
        RnnActivation::Relu => format!("|v: {t}| if v < {zero} {{ {zero} }} else {{ v }}"),
        RnnActivation::Affine { alpha, beta } => {
            format!("|v: {t}| {} * v + {}", lit(alpha)?, lit(beta)?)
        }
        RnnActivation::LeakyRelu { alpha } => {
            format!(
                "|v: {t}| if v < {zero} {{ {} * v }} else {{ v }}",
                lit(alpha)?
            )
        }
        RnnActivation::ThresholdedRelu { alpha } => {
            format!("|v: {t}| if v > {} {{ v }} else {{ {zero} }}", lit(alpha)?)
        }
        RnnActivation::ScaledTanh { alpha, beta } => {
            let f = MathFn::Tanh.name(dtype);
            format!("|v: {t}| {} * {f}({} * v)", lit(alpha)?, lit(beta)?)
        }
        RnnActivation::HardSigmoid { alpha, beta } => format!(
            "|v: {t}| {{ let s = {} * v + {}; if s < {zero} {{ {zero} }} else if s > {one} {{ {one} }} else {{ s }} }}",
            lit(alpha)?,
            lit(beta)?
        ),
        RnnActivation::Elu { alpha } => {
            let f = MathFn::Exp.name(dtype);
            format!(
                "|v: {t}| if v < {zero} {{ {} * ({f}(v) - {one}) }} else {{ v }}",
                lit(alpha)?
            )
        }
        RnnActivation::Softsign => {
            format!("|v: {t}| v / ({one} + if v < {zero} {{ -v }} else {{ v }})")
        }
    })
}

/// QLinearConv's and QLinearMatMul's requantization (see [`ElemFn::Requantize`]).
fn requantize_fn(f: &ElemFn) -> Result<String, String> {
    let ElemFn::Requantize {
        x_scale: sx,
        w_scale: sw,
        y_scale: sy,
        y_zero: zy,
        bias,
        channel,
        half_scales,
        lo,
        hi,
        dtype,
    } = f
    else {
        return Err("not a requantization".into());
    };
    let yt = literal::elem(*dtype)?;
    if *channel {
        let bias = bias
            .as_ref()
            .map_or_else(String::new, |b| format!(" + {b}[m]"));
        return Ok(format!(
            "|c: i32, m: usize| {{ let mul = ({sx}[0] * {sw}[if {sw}.len() == 1 {{ 0 }} else {{ m }}] / {sy}[0]) as f64; \
             (round_even_f64((c{bias}) as f64 * mul) + {zy}[0] as f64).clamp({lo:?}, {hi:?}) as {yt} }}"
        ));
    }
    let mul = if *half_scales {
        // f16 arithmetic: each f32 result rounded to f16 (exact for * and /, as f32 has
        // more than twice f16's precision).
        format!(
            "{{ let r = |v: f32| f16_to_f32(f64_to_f16(v as f64)); \
             r(r(f16_to_f32({sx}[0]) * f16_to_f32({sw}[0])) / f16_to_f32({sy}[0])) as f64 }}"
        )
    } else {
        format!("({sx}[0] * {sw}[0] / {sy}[0]) as f64")
    };
    // The factor once, before the kernel runs; the closure takes it by value.
    Ok(format!(
        "{{ let mul: f64 = {mul}; \
         move |c: i32| (round_even_f64(c as f64 * mul) + {zy}[0] as f64).clamp({lo:?}, {hi:?}) as {yt} }}"
    ))
}

/// The one element of a constant as a literal.
pub(super) fn first(d: &TensorData) -> Result<String, String> {
    if d.is_empty() {
        return Err("a constant without elements".into());
    }
    Ok(literal::element(d, 0))
}

/// `e` (of element type `dtype`) as an f32 expression: `e` itself when it is one, else
/// `(e as f32)`.
fn f32_of(e: &str, dtype: DType) -> String {
    if dtype == DType::F32 {
        e.to_string()
    } else {
        format!("({e} as f32)")
    }
}
