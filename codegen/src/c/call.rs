//! Kernel calls as C statements, by the spelling rules in `mod.rs`.

use super::Lib;
use super::lit::{self, ctype, unsupported};
use crate::program::{Arg, Call, ElemFn, Operand};
use crate::writer::Writer;
use kiln_ir::TensorData;
use std::collections::BTreeMap;

type Ops<'a> = BTreeMap<&'a str, &'a Operand>;

/// Writes `c` as C statements.
pub(super) fn print(w: &mut Writer, c: &Call, ops: &Ops, lib: &mut Lib) -> Result<(), String> {
    if c.func == "copy" {
        let [x, y] = &c.args[..] else {
            return Err("copy takes a source and a destination operand".into());
        };
        let (src, _) = pointer(x, ops)?;
        let (dst, len) = pointer(y, ops)?;
        w.open("{");
        w.line("size_t i;");
        w.line(format!(
            "for (i = 0; i < {len}; i++) {{ {dst}[i] = {src}[i]; }}"
        ));
        w.close("}");
        return Ok(());
    }
    if c.func == "fill" {
        let [y @ Arg::Operand(_), v] = &c.args[..] else {
            return Err("fill takes a destination operand and a value".into());
        };
        let (dst, len) = pointer(y, ops)?;
        let v = inline(v, ops, lib, w)?;
        w.open("{");
        w.line("size_t i;");
        w.line(format!("for (i = 0; i < {len}; i++) {{ {dst}[i] = {v}; }}"));
        w.close("}");
        return Ok(());
    }
    // The odometers of these kernels keep KILN_MAX_RANK indices.
    if ODOMETERS.contains(&c.func) && c.args.iter().any(too_deep) {
        return Err(unsupported(&format!(
            "{} over more than {MAX_RANK} axes",
            c.func
        )));
    }
    let mut types = Vec::new();
    for a in &c.args {
        if let Arg::Operand(l) | Arg::Opt(Some(l)) | Arg::Range { local: l, .. } = a {
            types.push(operand(l, ops)?.dtype);
        }
    }
    let name = lib.kernel(c.func, &types)?;
    let mut args = Vec::new();
    for a in &c.args {
        args.push(inline(a, ops, lib, w)?);
    }
    w.line(format!("{name}({});", args.join(", ")));
    Ok(())
}

/// The kernels that walk an odometer over a shape argument, and its largest rank.
const ODOMETERS: &[&str] = &[
    "broadcast",
    "broadcast_in_place",
    "transpose",
    "strided",
    "reduce_mean",
    "reduce",
    "matmul",
    "pad",
];
const MAX_RANK: usize = 16;

/// Whether `a` holds a sequence longer than [`MAX_RANK`].
fn too_deep(a: &Arg) -> bool {
    match a {
        Arg::Sizes(v) | Arg::Array(v) => v.len() > MAX_RANK,
        Arg::List(v) => v.len() > MAX_RANK,
        Arg::Struct { fields, .. } => fields.iter().any(|(_, f)| too_deep(f)),
        _ => false,
    }
}

fn operand<'a>(local: &str, ops: &Ops<'a>) -> Result<&'a Operand, String> {
    ops.get(local)
        .copied()
        .ok_or_else(|| format!("no operand {local}"))
}

/// A source or destination of a builtin copy: its pointer expression and length.
fn pointer(a: &Arg, ops: &Ops) -> Result<(String, usize), String> {
    Ok(match a {
        Arg::Operand(l) => (l.clone(), operand(l, ops)?.len),
        Arg::Range { local, start, len } => (format!("({local} + {start})"), *len),
        Arg::Data(d) => (data(d)?, d.len()),
        other => return Err(unsupported(&format!("copy from {}", kind(other)))),
    })
}

/// Constant elements as a compound literal.
fn data(d: &TensorData) -> Result<String, String> {
    let t = ctype(d.dtype())?;
    let items: Vec<String> = (0..d.len())
        .map(|i| lit::element(d, i))
        .collect::<Result<_, _>>()?;
    if items.is_empty() {
        return Ok(format!("(const {t}[]){{ 0 }}"));
    }
    Ok(format!("(const {t}[]){{ {} }}", items.join(", ")))
}

/// An exact integer: beyond the 32-bit range as a 64-bit constant.
fn int(v: i128) -> Result<String, String> {
    if let Ok(v) = i32::try_from(v)
        && v > i32::MIN
    {
        return Ok(v.to_string());
    }
    match i64::try_from(v) {
        Ok(v) if v > i64::MIN => Ok(format!("INT64_C({v})")),
        _ => Err(unsupported(&format!("the integer {v}"))),
    }
}

fn sizes(v: &[usize]) -> String {
    if v.is_empty() {
        return "(const size_t[]){ 0 }, 0".into();
    }
    let items: Vec<String> = v.iter().map(usize::to_string).collect();
    format!("(const size_t[]){{ {} }}, {}", items.join(", "), v.len())
}

/// The variant's name, for messages.
fn kind(a: &Arg) -> String {
    let k = format!("{a:?}");
    k.split([' ', '(', '{']).next().unwrap_or("?").to_string()
}

/// One argument as C (one or more comma-separated parameters). Scratch arrays are declared
/// on `w` before the call.
fn inline(a: &Arg, ops: &Ops, lib: &mut Lib, w: &mut Writer) -> Result<String, String> {
    Ok(match a {
        Arg::Operand(l) => format!("{l}, {}", operand(l, ops)?.len),
        Arg::Opt(Some(l)) => format!("{l}, {}", operand(l, ops)?.len),
        Arg::Opt(None) => "NULL, 0".into(),
        Arg::Range { local, start, len } => format!("{local} + {start}, {len}"),
        Arg::Usize(v) => v.to_string(),
        Arg::Bool(b) => u8::from(*b).to_string(),
        Arg::Int(v) => int(*v)?,
        Arg::Scalar(dtype, v) => lit::scalar(*dtype, *v)?,
        Arg::Const(d) if d.len() == 1 => lit::element(d, 0)?,
        Arg::Sizes(v) | Arg::Array(v) => sizes(v),
        Arg::Tuple(v) | Arg::List(v) if v.iter().all(|a| matches!(a, Arg::Usize(_))) => {
            let v: Vec<usize> = v
                .iter()
                .filter_map(|a| match a {
                    Arg::Usize(u) => Some(*u),
                    _ => None,
                })
                .collect();
            sizes(&v)
        }
        // Signed strides (`isize` in the Rust library).
        Arg::List(v) if v.iter().all(|a| matches!(a, Arg::Int(_))) => {
            let items: Vec<String> = v
                .iter()
                .map(|a| inline(a, ops, lib, w))
                .collect::<Result<_, _>>()?;
            let items = if items.is_empty() {
                "0".to_string()
            } else {
                items.join(", ")
            };
            format!("(const ptrdiff_t[]){{ {items} }}, {}", v.len())
        }
        // Constants of one element type (Resize's tap weights); none: a null pointer.
        Arg::List(v) if v.is_empty() => "NULL, 0".into(),
        Arg::List(v) if v.iter().all(|a| matches!(a, Arg::Scalar(..))) => {
            let mut t = "float";
            let mut items = Vec::new();
            for a in v {
                if let Arg::Scalar(dtype, x) = a {
                    t = ctype(*dtype)?;
                    items.push(lit::scalar(*dtype, *x)?);
                }
            }
            format!("(const {t}[]){{ {} }}, {}", items.join(", "), v.len())
        }
        // Functions of one element, context-free (the recurrent ops' activations).
        Arg::List(v) if v.iter().all(|a| matches!(a, Arg::Fn(_))) => {
            let mut names = Vec::new();
            let mut dtype = None;
            for a in v {
                let Arg::Fn(f) = a else { continue };
                let ElemFn::RnnAct { dtype: d, .. } = f else {
                    return Err(unsupported(
                        "a list of element functions other than activations",
                    ));
                };
                dtype = Some(*d);
                let r = lib.fns.elem(f)?;
                names.push(r.name);
            }
            let t = dtype.map_or("f32", |d| d.name());
            format!(
                "(const kiln_fn1_{t}[]){{ {} }}, {}",
                names.join(", "),
                v.len()
            )
        }
        // Integer tables (IntSoftmax's exponentials).
        Arg::Items(v) if !v.is_empty() && v.iter().all(|a| matches!(a, Arg::Int(_))) => {
            let items: Vec<String> = v
                .iter()
                .map(|a| match a {
                    Arg::Int(i) => int(*i),
                    _ => Ok(String::new()),
                })
                .collect::<Result<_, _>>()?;
            format!("(const int64_t[]){{ {} }}, {}", items.join(", "), v.len())
        }
        Arg::Items(v) => {
            let items: Vec<String> = v
                .iter()
                .map(|a| inline(a, ops, lib, w))
                .collect::<Result<_, _>>()?;
            items.join(", ")
        }
        Arg::Maybe(Some(a)) => format!("1, {}", inline(a, ops, lib, w)?),
        Arg::Maybe(None) => "0, 0".into(),
        // A math routine passed as a function (`float (*)(float)`).
        Arg::Math(f, dtype) => {
            let name = f.name(*dtype);
            if !matches!(
                name.as_str(),
                "exp_f32" | "log_f32" | "sqrt_f32" | "tanh_f32" | "sigmoid_f32"
            ) {
                return Err(unsupported(&format!("math routine {name}")));
            }
            name
        }
        // An optional run-time scalar: its flag and value.
        Arg::First(l) => {
            if operand(l, ops)?.len > 0 {
                format!("1, {l}[0]")
            } else {
                "0, 0".into()
            }
        }
        Arg::Data(d) => format!("{}, {}", data(d)?, d.len()),
        Arg::Struct {
            name,
            by_ref,
            fields,
        } => {
            let init = fields_init(fields, ops)?;
            if *by_ref {
                format!("&(const {name}){{ {init} }}")
            } else {
                format!("({name}){{ {init} }}")
            }
        }
        Arg::Fn(f) => {
            let dtype_of = |l: &str| operand(l, ops).map(|o| o.dtype);
            let r = match lib.fns.data_fn(f, &dtype_of)? {
                Some(r) => r,
                None => lib.fns.elem(f)?,
            };
            format!("{}, {}", r.name, r.ctx)
        }
        Arg::Epilogue(dtype, steps) => {
            let r = lib.fns.epilogue(*dtype, steps)?;
            format!("{}, {}", r.name, r.ctx)
        }
        Arg::Scratch(dtype, len) | Arg::Workspace(dtype, len) => {
            let t = ctype(*dtype)?;
            let n = format!("kiln_scratch{}", lib.scratch);
            lib.scratch += 1;
            // A workspace is written by its kernel before it is read: no initializer.
            let init = if matches!(a, Arg::Scratch(..)) {
                " = { 0 }"
            } else {
                ""
            };
            w.line(format!("{t} {n}[{}]{init};", (*len).max(1)));
            format!("{n}, {len}")
        }
        other => return Err(unsupported(&format!("argument {}", kind(other)))),
    })
}

/// A struct's designated initializers.
fn fields_init(fields: &[(&'static str, Arg)], ops: &Ops) -> Result<String, String> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.push(match v {
            Arg::Usize(u) => format!(".{k} = {u}"),
            Arg::Bool(b) => format!(".{k} = {}", u8::from(*b)),
            Arg::Array(v) | Arg::Sizes(v) => {
                let (p, n) = sizes(v)
                    .rsplit_once(", ")
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or_default();
                format!(".{k} = {p}, .{k}_len = {n}")
            }
            Arg::Tuple(v) if v.iter().all(|a| matches!(a, Arg::Usize(_))) => {
                let items: Vec<String> = v
                    .iter()
                    .filter_map(|a| match a {
                        Arg::Usize(u) => Some(u.to_string()),
                        _ => None,
                    })
                    .collect();
                format!(".{k} = {{ {} }}", items.join(", "))
            }
            Arg::Struct { fields, .. } => format!(".{k} = {{ {} }}", fields_init(fields, ops)?),
            Arg::Operand(l) | Arg::Opt(Some(l)) => {
                format!(".{k} = {l}, .{k}_len = {}", operand(l, ops)?.len)
            }
            Arg::Opt(None) => format!(".{k} = NULL, .{k}_len = 0"),
            // A fixed number of sequences: the pointers and their lengths.
            Arg::Items(items) => {
                let mut ptrs = Vec::new();
                let mut lens = Vec::new();
                for it in items {
                    let (p, n) = match it {
                        Arg::Sizes(v) if !v.is_empty() => {
                            let items: Vec<String> = v.iter().map(usize::to_string).collect();
                            (
                                format!("(const size_t[]){{ {} }}", items.join(", ")),
                                v.len(),
                            )
                        }
                        Arg::Sizes(_) | Arg::List(_) if is_empty(it) => ("NULL".to_string(), 0),
                        Arg::List(v) if v.iter().all(|a| matches!(a, Arg::Bool(_))) => {
                            let items: Vec<String> = v
                                .iter()
                                .map(|a| match a {
                                    Arg::Bool(b) => u8::from(*b).to_string(),
                                    _ => String::new(),
                                })
                                .collect();
                            (
                                format!("(const _Bool[]){{ {} }}", items.join(", ")),
                                v.len(),
                            )
                        }
                        other => {
                            return Err(unsupported(&format!("field {k} of {}", kind(other))));
                        }
                    };
                    ptrs.push(p);
                    lens.push(n.to_string());
                }
                format!(
                    ".{k} = {{ {} }}, .{k}_len = {{ {} }}",
                    ptrs.join(", "),
                    lens.join(", ")
                )
            }
            other => return Err(unsupported(&format!("field {k} of {}", kind(other)))),
        });
    }
    Ok(out.join(", "))
}

fn is_empty(a: &Arg) -> bool {
    match a {
        Arg::Sizes(v) => v.is_empty(),
        Arg::List(v) => v.is_empty(),
        _ => false,
    }
}
