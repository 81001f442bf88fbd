//! RNN, GRU and LSTM (`kiln_ir::ops::rnn`).

use super::common::{ALL, Imported, NodeIn, OpEntry, choice};
use crate::error::FrontendError;
use kiln_ir::Op;
use kiln_ir::ops::rnn::{Direction, RnnActivation, RnnAttrs, RnnKind};

pub(super) const OPS: &[OpEntry] = &[
    OpEntry::new("RNN", ALL, |n| recurrent(n, RnnKind::Rnn)),
    OpEntry::new("GRU", ALL, |n| recurrent(n, RnnKind::Gru)),
    OpEntry::new("LSTM", ALL, |n| recurrent(n, RnnKind::Lstm)),
];

/// RNN, GRU and LSTM (opsets 7, 14, 22; `layout` from 14). Opsets before 7 had
/// `output_sequence`, which only said whether Y is computed; kiln always computes it.
fn recurrent(n: &NodeIn<'_>, kind: RnnKind) -> Result<Imported, FrontendError> {
    let (ctx, a) = (n.ctx, &n.a);
    n.arity(3, if kind == RnnKind::Lstm { 8 } else { 6 })?;
    let direction = choice(
        a,
        "direction",
        Direction::Forward,
        "forward, reverse, bidirectional",
        |s| match s {
            "forward" => Some(Direction::Forward),
            "reverse" => Some(Direction::Reverse),
            "bidirectional" => Some(Direction::Bidirectional),
            _ => None,
        },
    )?;
    let hidden = a.int("hidden_size")?.ok_or_else(|| {
        ctx.attr(
            "hidden_size",
            "is missing; kiln needs it (re-export the model with hidden_size set)",
        )
    })?;
    let hidden_size = usize::try_from(hidden)
        .ok()
        .filter(|&h| (1..=i32::MAX as usize).contains(&h))
        .ok_or_else(|| {
            ctx.attr(
                "hidden_size",
                format!("is {hidden}; it must be between 1 and {}", i32::MAX),
            )
        })?;
    let activations = match a.get("activations") {
        None => RnnAttrs::default_activations(kind, direction),
        Some(_) => {
            let names = a.strings("activations")?;
            let alphas = a.floats("activation_alpha")?.unwrap_or_default();
            let betas = a.floats("activation_beta")?.unwrap_or_default();
            let want = kind.activations() * direction.count();
            if names.len() != want {
                return Err(ctx.attr(
                    "activations",
                    format!(
                        "lists {} functions; {} {:?} needs {want}",
                        names.len(),
                        kind.name(),
                        direction
                    ),
                ));
            }
            // Parameters are consumed in order by the functions that take them, with the
            // defaults of the corresponding ONNX operators when the lists run out.
            let (mut ai, mut bi) = (alphas.iter(), betas.iter());
            let mut alpha = |d: f32| ai.next().copied().unwrap_or(d);
            let mut beta = |d: f32| bi.next().copied().unwrap_or(d);
            let mut acts = Vec::with_capacity(want);
            for name in &names {
                acts.push(match name.to_ascii_lowercase().as_str() {
                    "relu" => RnnActivation::Relu,
                    "tanh" => RnnActivation::Tanh,
                    "sigmoid" => RnnActivation::Sigmoid,
                    "softsign" => RnnActivation::Softsign,
                    "affine" => RnnActivation::Affine {
                        alpha: alpha(1.0),
                        beta: beta(0.0),
                    },
                    "leakyrelu" => RnnActivation::LeakyRelu { alpha: alpha(0.01) },
                    "thresholdedrelu" => RnnActivation::ThresholdedRelu { alpha: alpha(1.0) },
                    "scaledtanh" => RnnActivation::ScaledTanh {
                        alpha: alpha(1.0),
                        beta: beta(1.0),
                    },
                    "hardsigmoid" => RnnActivation::HardSigmoid {
                        alpha: alpha(0.2),
                        beta: beta(0.5),
                    },
                    "elu" => RnnActivation::Elu { alpha: alpha(1.0) },
                    other => {
                        return Err(ctx.attr(
                            "activations",
                            format!(
                                "names {other:?}, which kiln does not support (it has Relu, \
                                 Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, \
                                 ScaledTanh, HardSigmoid, Elu, Softsign)"
                            ),
                        ));
                    }
                });
            }
            acts
        }
    };
    let clip = match a.float("clip")? {
        None => None,
        Some(c) if c > 0.0 && !c.is_nan() => Some(c),
        Some(c) => return Err(ctx.attr("clip", format!("is {c}; it must be positive"))),
    };
    let layout = a.int_or("layout", 0)?;
    if !(0..=1).contains(&layout) || (layout == 1 && ctx.opset < 14) {
        return Err(ctx.attr(
            "layout",
            format!("is {layout}; it must be 0 or (from opset 14) 1"),
        ));
    }
    Ok(Op::Rnn(RnnAttrs {
        kind,
        direction,
        hidden_size,
        activations,
        clip,
        input_forget: kind == RnnKind::Lstm && a.flag("input_forget", false)?,
        linear_before_reset: kind == RnnKind::Gru && a.flag("linear_before_reset", false)?,
        batch_first: layout == 1,
    })
    .into())
}
