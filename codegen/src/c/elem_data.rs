//! The quantization families' element functions in C (`Fns::data_fn`): requantization,
//! the integer binary ops, QuantizeLinear and DequantizeLinear, and the fused lookup
//! tables. Unlike the other element functions they read operands (scales, zero points,
//! biases) through their context, and on a core with a single-precision FPU they take the
//! `VCVTR` paths of `templates/c/math/requant.c` and `round_even_f32.c`.

use super::elem::{FnRef, Fns};
use super::lit::{self, ctype, unsupported};
use crate::program::{ElemFn, OutTable};
use kiln_ir::DType;

impl Fns {
    /// The quantization families' functions, which read operands (scales, zero points,
    /// biases) through their context; `None` for other functions. `dtype_of` gives an
    /// operand's element type.
    pub(super) fn data_fn(
        &mut self,
        f: &ElemFn,
        dtype_of: &dyn Fn(&str) -> Result<DType, String>,
    ) -> Result<Option<FnRef>, String> {
        let mut ctx: Vec<String> = Vec::new();
        let mut body = String::new();
        // Binds operand `local` as `name` from the context.
        let mut bind = |local: &str, name: &str, body: &mut String| -> Result<(), String> {
            let t = ctype(dtype_of(local)?)?;
            body.push_str(&format!(
                "    const {t} *{name} = (const {t} *)c[{}];\n",
                ctx.len()
            ));
            ctx.push(local.to_string());
            Ok(())
        };
        let (ret, params) = match f {
            ElemFn::FixedRequant {
                fpu,
                dsp: _,
                channel,
                bias,
                sum_fits,
                mult,
                shift,
                zero,
                lo,
                hi,
                dtype,
                table,
            } => {
                let yt = ctype(*dtype)?;
                self.helper("requant");
                if let Some(b) = bias {
                    bind(b, "bias", &mut body)?;
                }
                let mut tables = String::new();
                let (m, s) = if let ([m1], [s1]) = (mult.as_slice(), shift.as_slice()) {
                    (m1.to_string(), format!("{s1}u"))
                } else {
                    let list = |v: Vec<String>| v.join(", ");
                    tables = format!(
                        "    static const int32_t mult[{}] = {{ {} }};\n    static const unsigned shift[{}] = {{ {} }};\n",
                        mult.len(),
                        list(mult.iter().map(|v| v.to_string()).collect()),
                        shift.len(),
                        list(shift.iter().map(|v| format!("{v}u")).collect()),
                    );
                    ("mult[m]".to_string(), "shift[m]".to_string())
                };
                let acc = if bias.is_some() {
                    "(int64_t)acc + bias[m]"
                } else {
                    "(int64_t)acc"
                };
                let value = format!("({yt})requant({acc}, {m}, {s}, {zero}, {lo}, {hi})");
                let general = tables + &through_table(yt, *dtype, &value, table.as_ref())?;
                match requant_factors(mult, shift).filter(|_| *fpu) {
                    Some(factors) => {
                        // On a single-precision FPU (`KILN_VFP_REQUANT`, decided by the
                        // compiler) the factors as f32 constants: see `requant_f`.
                        let b = if bias.is_some() { "bias[m]" } else { "0" };
                        let f = match factors.as_slice() {
                            [one] => one.clone(),
                            _ => String::from("factor[m]"),
                        };
                        let table_decl = if factors.len() > 1 {
                            format!(
                                "    static const float factor[{}] = {{ {} }};\n",
                                factors.len(),
                                factors.join(", ")
                            )
                        } else {
                            String::new()
                        };
                        let fast = if *sum_fits {
                            let sum = if bias.is_some() {
                                "acc + bias[m]"
                            } else {
                                "acc"
                            };
                            format!("({yt})requant_f_sum({sum}, {f}, {zero}, {lo}, {hi})")
                        } else {
                            format!("({yt})requant_f(acc, {b}, {f}, {zero}, {lo}, {hi})")
                        };
                        body.push_str(&format!(
                            "#if defined(KILN_VFP_REQUANT)\n{table_decl}{}#else\n{general}#endif\n",
                            through_table(yt, *dtype, &fast, table.as_ref())?
                        ));
                    }
                    None => body.push_str(&general),
                }
                let uses_m = body.contains("[m]");
                if *channel && !uses_m {
                    body.insert_str(0, "    (void)m;\n");
                }
                let params = if *channel {
                    "int32_t acc, size_t m".to_string()
                } else {
                    "int32_t acc".to_string()
                };
                (yt.to_string(), params)
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
                let (at, bt, yt) = (ctype(*a)?, ctype(*b)?, ctype(*to)?);
                self.helper("shift_round");
                let p = if *add {
                    format!(
                        "((int64_t)x - {a_zero}) * INT64_C({ma}) + ((int64_t)y - {b_zero}) * INT64_C({mb})"
                    )
                } else {
                    format!("((int64_t)x - {a_zero}) * ((int64_t)y - {b_zero}) * INT64_C({ma})")
                };
                body.push_str(&format!(
                    "    int64_t v = shift_round({p}, {shift}u) + {zero};\n    return ({yt})(v < {lo} ? {lo} : (v > {hi} ? {hi} : v));\n"
                ));
                (yt.to_string(), format!("{at} x, {bt} y"))
            }
            ElemFn::IntOut {
                zero,
                lo,
                hi,
                dtype,
                table,
            } => {
                let yt = ctype(*dtype)?;
                body.push_str(&format!("    v += {zero};\n"));
                let value = format!("({yt})(v < {lo} ? {lo} : (v > {hi} ? {hi} : v))");
                body.push_str(&through_table(yt, *dtype, &value, table.as_ref())?);
                (yt.to_string(), "int64_t v".to_string())
            }
            ElemFn::Table { table, from, to } => {
                let (xt, yt) = (ctype(*from)?, ctype(*to)?);
                let (decl, index) = table_decl(yt, *from, "v", table)?;
                body.push_str(&format!("{decl}    return table[{index}];\n"));
                (yt.to_string(), format!("{xt} v"))
            }
            ElemFn::Quantize {
                scale,
                zero,
                zero_is_zero,
                lo,
                hi,
                from,
                to,
                ..
            } => {
                let (xt, yt) = (ctype(*from)?, ctype(*to)?);
                self.helper("round_even_f32");
                bind(scale, "scale", &mut body)?;
                let z = match zero {
                    Some(z) => {
                        bind(z, "zero", &mut body)?;
                        "(float)zero[k]"
                    }
                    None => "0.0f",
                };
                let (lo_f, hi_f) = (lit::f32_lit(*lo as f32)?, lit::f32_lit(*hi as f32)?);
                // NaN gives 0, as the reference semantics' cast does (and C's is undefined).
                let general = format!(
                    "    float r = round_even_f32((float)v / (float)scale[k]) + {z};\n    if (r != r) {{\n        return 0;\n    }}\n    return ({yt})(r < {lo_f} ? {lo_f} : (r > {hi_f} ? {hi_f} : r));\n"
                );
                // On a single-precision FPU, for f32 to 8- and 16-bit integers (whose bounds
                // less a zero point fit in 32 bits): the quotient rounded by VCVTR, then
                // clamped and offset in integers (MobileNet's input QuantizeLinear on a
                // Cortex-M4: 32 instructions an element before).
                let narrow = matches!(to, DType::U8 | DType::I8 | DType::U16 | DType::I16);
                if *from == DType::F32 && narrow && *zero_is_zero {
                    // Zero points of 0: VCVTR gives 0 for NaN, the reference's result, and
                    // the clamp, as two statements, is one USAT or SSAT (gcc 12 makes the one
                    // conditional expression branches): MobileNet's input on a Cortex-M4 takes
                    // 8 instructions an element, 17 with the NaN test and the offset.
                    let unused = if zero.is_some() {
                        "    (void)zero;\n"
                    } else {
                        ""
                    };
                    body.push_str(&format!(
                        "#if defined(KILN_VFP_ROUND)\n    int32_t r = round_even_vfp((float)v / (float)scale[k]);\n{unused}    r = r < {lo} ? {lo} : r;\n    r = r > {hi} ? {hi} : r;\n    return ({yt})r;\n#else\n{general}#endif\n"
                    ));
                } else if *from == DType::F32 && narrow {
                    let zi = if zero.is_some() {
                        "(int32_t)zero[k]"
                    } else {
                        "0"
                    };
                    body.push_str(&format!(
                        "#if defined(KILN_VFP_ROUND)\n    float q = (float)v / (float)scale[k];\n    int32_t r, z = {zi};\n    if (q != q) {{\n        return 0;\n    }}\n    r = round_even_vfp(q);\n    return ({yt})(r < {lo} - z ? {lo} : (r > {hi} - z ? {hi} : r + z));\n#else\n{general}#endif\n"
                    ));
                } else {
                    body.push_str(&general);
                }
                (yt.to_string(), format!("{xt} v, size_t k"))
            }
            ElemFn::Dequantize {
                scale,
                zero,
                from,
                to,
                ..
            } => {
                let (xt, yt) = (ctype(*from)?, ctype(*to)?);
                bind(scale, "scale", &mut body)?;
                let z = match zero {
                    Some(z) => {
                        bind(z, "zero", &mut body)?;
                        " - (int64_t)zero[k]"
                    }
                    None => "",
                };
                body.push_str(&format!(
                    "    return ({yt})((float)((int64_t)v{z}) * (float)scale[k]);\n"
                ));
                (yt.to_string(), format!("{xt} v, size_t k"))
            }
            _ => return Ok(None),
        };
        if ctx.is_empty() {
            body.insert_str(0, "    (void)c;\n");
        }
        let name = self.define(&ret, &params, &body);
        let ctx = if ctx.is_empty() {
            "NULL".to_string()
        } else {
            format!("(const void *const[]){{ {} }}", ctx.join(", "))
        };
        Ok(Some(FnRef { name, ctx }))
    }
}

/// The statements returning `value` (of the 8-bit type `dtype`, C type `yt`), through
/// `table` (256 entries from the type's minimum) where there is one. Its entries are bytes
/// in C whatever its `words` (GCC forms no gathers from them).
fn through_table(
    yt: &str,
    dtype: DType,
    value: &str,
    table: Option<&OutTable>,
) -> Result<String, String> {
    let Some(OutTable { entries, .. }) = table else {
        return Ok(format!("    return {value};\n"));
    };
    let (decl, index) = table_decl(yt, dtype, "q", entries)?;
    Ok(format!(
        "{decl}    {yt} q = {value};\n    return table[{index}];\n"
    ))
}

/// The declaration of `table` (entries of C type `yt`, one per value of the 8-bit type
/// `from` from its minimum) and the index into it of `var`, a value of `from`.
fn table_decl(yt: &str, from: DType, var: &str, table: &[i32]) -> Result<(String, String), String> {
    let index = match from {
        DType::I8 => format!("(uint8_t)((uint8_t){var} ^ 0x80u)"),
        DType::U8 => var.to_string(),
        other => return Err(unsupported(&format!("a lookup table of {other}"))),
    };
    let list: Vec<String> = table.iter().map(i32::to_string).collect();
    let decl = format!(
        "    static const {yt} table[{}] = {{ {} }};\n",
        table.len(),
        list.join(", ")
    );
    Ok((decl, index))
}

/// Each channel's requantization factor `mult / 2^shift` as a C `float` literal, when every
/// one is a normal f32 exactly (`mult` of 24 bits, as kiln computes them) or 0 (a dead
/// channel's `mult`; `requant_f_wide` reads it as such): `requant_f`'s operands. `None`
/// otherwise (the closure keeps `requant`: MobileNet v1's closures with a dead channel took
/// it, five instructions more an output).
fn requant_factors(mult: &[i32], shift: &[u32]) -> Option<Vec<String>> {
    mult.iter()
        .zip(shift)
        .map(|(&m, &s)| {
            if m == 0 {
                return Some("0.0f".to_string());
            }
            let exact = f64::from(m) * (-f64::from(s)).exp2();
            let f = exact as f32;
            (m > 0 && f.is_normal() && f64::from(f) == exact)
                .then(|| super::lit::f32_lit(f).ok())
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `requant_factors` gives each factor as the f32 that is exactly `mult / 2^shift` (an
    /// identity checked in f64, where both sides are exact) or `None`; and `requant_f_wide`'s
    /// reading of `mult` and `shift` back from the f32's bits recovers them (kiln's `mult`
    /// has 24 bits).
    #[test]
    fn requant_factors_are_the_exact_f32s() {
        for m in [1 << 23, (1 << 24) - 1, 11_073_441, 8_388_609] {
            for s in [20u32, 31, 35, 40, 149, 150, 200] {
                let got = requant_factors(&[m], &[s]);
                let exact = f64::from(m) * (-f64::from(s)).exp2();
                let normal = (exact as f32).is_normal() && f64::from(exact as f32) == exact;
                let Some(lits) = got else {
                    assert!(!normal, "{m} / 2^{s} is a normal f32 but has no literal");
                    continue;
                };
                assert!(normal, "{m} / 2^{s} is not a normal f32 but got {lits:?}");
                let v: f32 = lits[0]
                    .trim_end_matches('f')
                    .parse()
                    .expect("a float literal");
                assert_eq!(f64::from(v), exact, "{m} / 2^{s}");
                let bits = v.to_bits();
                assert_eq!((bits & 0x7f_ffff) | 0x80_0000, m as u32);
                assert_eq!(150 - (bits >> 23), s);
            }
        }
        assert_eq!(requant_factors(&[0], &[31]), Some(vec!["0.0f".to_string()]));
        assert!(requant_factors(&[-11_073_441], &[31]).is_none());
        // One channel without an exact factor keeps the whole closure on `requant`.
        assert!(requant_factors(&[1 << 23, 1 << 23], &[31, 200]).is_none());
    }
}
