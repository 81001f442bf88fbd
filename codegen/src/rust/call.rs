//! Kernel calls as Rust: `func(args...);`, parameter structs on their own lines.

use super::{elem, elem_data};
use crate::literal;
use crate::program::{Arg, Call};
use crate::writer::Writer;

/// Writes `c` as one statement.
pub(super) fn print(w: &mut Writer, c: &Call) -> Result<(), String> {
    // A builtin: the kernel library has no `copy`, slices do.
    if c.func == "copy" {
        let [
            x @ (Arg::Operand(_) | Arg::Range { .. } | Arg::Data(_)),
            y @ (Arg::Operand(_) | Arg::Range { .. }),
        ] = &c.args[..]
        else {
            return Err("copy takes a source and a destination operand".into());
        };
        // A source range is borrowed; a destination one is indexed in place.
        let src = match x {
            Arg::Range { .. } => format!("&{}", inline(x)?),
            _ => inline(x)?,
        };
        w.line(format!("{}.copy_from_slice({src});", inline(y)?));
        return Ok(());
    }
    // Builtins of the gather family.
    if let Some(line) = builtin(c)? {
        w.line(line);
        return Ok(());
    }
    // Builtin `fill` (Dropout's mask, EyeLike, ConstantOfShape), a slice method too.
    if c.func == "fill" {
        let [y @ Arg::Operand(_), v] = &c.args[..] else {
            return Err("fill takes a destination operand and a value".into());
        };
        w.line(format!("{}.fill({});", inline(y)?, inline(v)?));
        return Ok(());
    }
    let multi = c.args.iter().any(|a| matches!(a, Arg::Struct { .. }));
    if !multi {
        let args: Vec<String> = c.args.iter().map(inline).collect::<Result<_, _>>()?;
        w.line(format!("{}({});", c.func, args.join(", ")));
        return Ok(());
    }
    // Arguments before the first struct on the opening line, each struct's fields below
    // it, the arguments between two structs on the line that closes one and opens the
    // next, the rest on the closing line.
    let mut pending = Vec::new();
    let mut opened = false;
    for a in &c.args {
        let Arg::Struct {
            name,
            by_ref,
            fields,
        } = a
        else {
            pending.push(inline(a)?);
            continue;
        };
        let amp = if *by_ref { "&" } else { "" };
        pending.push(format!("{amp}{name} {{"));
        let head = pending.join(", ");
        if opened {
            w.reopen(format!("}}, {head}"));
        } else {
            w.open(format!("{}({head}", c.func));
            opened = true;
        }
        struct_fields(w, fields)?;
        pending.clear();
    }
    let rest: String = pending.iter().map(|t| format!(", {t}")).collect();
    w.close(format!("}}{rest});"));
    Ok(())
}

fn struct_fields(w: &mut Writer, fields: &[(&'static str, Arg)]) -> Result<(), String> {
    for (k, v) in fields {
        match v {
            Arg::Struct {
                name,
                by_ref,
                fields,
            } => {
                let amp = if *by_ref { "&" } else { "" };
                w.open(format!("{k}: {amp}{name} {{"));
                struct_fields(w, fields)?;
                w.close("},");
            }
            _ => w.line(format!("{k}: {},", inline(v)?)),
        }
    }
    Ok(())
}

/// One argument on one line.
pub(super) fn inline(a: &Arg) -> Result<String, String> {
    Ok(match a {
        Arg::Operand(local) => local.clone(),
        Arg::Opt(Some(local)) => format!("Some({local})"),
        Arg::Opt(None) => "None".into(),
        Arg::Usize(v) => v.to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::Scalar(dtype, v) => literal::from_f64(*dtype, *v)?,
        Arg::Sizes(v) => format!("&{}", literal::usizes(v)),
        Arg::Array(v) => literal::usizes(v),
        Arg::Ints(v) => {
            let items: Vec<String> = v.iter().map(i64::to_string).collect();
            format!("[{}]", items.join(", "))
        }
        Arg::Tuple(v) => {
            let items: Vec<String> = v.iter().map(inline).collect::<Result<_, _>>()?;
            format!("({})", items.join(", "))
        }
        Arg::List(v) => {
            let items: Vec<String> = v.iter().map(inline).collect::<Result<_, _>>()?;
            format!("&[{}]", items.join(", "))
        }
        Arg::Struct {
            name,
            by_ref,
            fields,
        } => {
            let amp = if *by_ref { "&" } else { "" };
            let items: Vec<String> = fields
                .iter()
                .map(|(k, v)| Ok(format!("{k}: {}", inline(v)?)))
                .collect::<Result<_, String>>()?;
            format!("{amp}{name} {{ {} }}", items.join(", "))
        }
        Arg::Fn(f) => elem::closure(f)?,
        Arg::Epilogue(dtype, steps) => elem::epilogue(*dtype, steps)?,
        Arg::Math(f, dtype) => f.name(*dtype),
        Arg::ZeroSlice(dtype) => format!("&[0{}]", literal::elem(*dtype)?),
        // Elementwise, logical, view, pad, einsum families.
        Arg::Maybe(Some(a)) => format!("Some({})", inline(a)?),
        Arg::Maybe(None) => "None".into(),
        Arg::First(local) => format!("{local}.first().copied()"),
        Arg::Int(v) => v.to_string(),
        Arg::Items(v) => {
            let items: Vec<String> = v.iter().map(inline).collect::<Result<_, _>>()?;
            format!("[{}]", items.join(", "))
        }
        Arg::Range { local, start, len } => {
            if *start == 0 {
                format!("{local}[..{len}]")
            } else {
                format!("{local}[{start}..{}]", start + len)
            }
        }
        // Gather, norm, quant, reduce, resize, rnn families.
        Arg::Data(d) => {
            let items: Vec<String> = (0..d.len()).map(|i| literal::element(d, i)).collect();
            format!("&[{}]", items.join(", "))
        }
        Arg::Const(d) => elem_data::first(d)?,
        Arg::Scratch(dtype, len) | Arg::Workspace(dtype, len) => {
            format!("&mut [{}; {len}]", literal::zero(*dtype))
        }
    })
}

/// A builtin of the gather family as one statement, if `c` is one: `set_strided` (ones on
/// a diagonal) and `range` (an arithmetic sequence).
fn builtin(c: &Call) -> Result<Option<String>, String> {
    Ok(Some(match (c.func, &c.args[..]) {
        (
            "set_strided",
            [
                Arg::Operand(y),
                Arg::Usize(start),
                Arg::Usize(step),
                Arg::Usize(count),
                v,
            ],
        ) => {
            let v = inline(v)?;
            format!("for f in ({start}..).step_by({step}).take({count}) {{ {y}[f] = {v}; }}")
        }
        ("range", [Arg::Operand(y), Arg::Const(start), Arg::Const(delta)]) => {
            let dtype = start.dtype();
            let t = literal::elem(dtype)?;
            let (s, d) = (elem_data::first(start)?, elem_data::first(delta)?);
            let f = if dtype.is_float() {
                format!("{s} + (i as {t}) * {d}")
            } else {
                format!("{t}::wrapping_add({s}, (i as {t}).wrapping_mul({d}))")
            };
            format!("for (i, o) in {y}.iter_mut().enumerate() {{ *o = {f}; }}")
        }
        ("set_strided" | "range", _) => {
            return Err(format!(
                "builtin {} with arguments it does not take",
                c.func
            ));
        }
        _ => return Ok(None),
    }))
}
