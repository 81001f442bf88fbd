//! Lowering of the rnn family.

use super::prelude::*;
use crate::program::{Arg, ElemFn};

/// A recurrent activation on `dtype`, after registering the math routines it calls.
pub(super) fn rnn_activation(
    cx: &mut NodeCx,
    act: RnnActivation,
    dtype: DType,
) -> Result<ElemFn, String> {
    literal::elem(dtype)?;
    let math = match act {
        RnnActivation::Sigmoid => Some(MathFn::Sigmoid),
        RnnActivation::Tanh | RnnActivation::ScaledTanh { .. } => Some(MathFn::Tanh),
        RnnActivation::Elu { .. } => Some(MathFn::Exp),
        _ => None,
    };
    if let Some(f) = math {
        cx.kernels.use_math(f, dtype)?;
    }
    Ok(ElemFn::RnnAct { act, dtype })
}

/// RNN, GRU, LSTM: one kernel call over the whole sequence, with its states and gates in a
/// scratch array on the stack.
pub(super) fn rnn(cx: &mut NodeCx, a: &RnnAttrs) -> Result<(), String> {
    use kiln_ir::ops::rnn::{Direction, RnnKind, dims, layout};
    let x = cx.in_ty(0, "X")?;
    let dtype = x.dtype;
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!(
            "{} needs f32 or f64 tensors, got {dtype}",
            a.kind.name()
        ));
    }
    let infer_inputs: Vec<Option<kiln_ir::ops::InferInput>> = (0..cx.node.op_inputs().len())
        .map(|s| {
            cx.has_input(s)
                .then(|| cx.in_ty(s, "operand").ok())
                .flatten()
                .map(|ty| kiln_ir::ops::InferInput { ty, value: None })
        })
        .collect();
    let d = dims(a, &infer_inputs)?;
    let l = layout(a, &d);
    let g = a.kind.gates();
    let scratch = (3 + g) * d.hidden;
    if scratch > 1 << 20 {
        return Err(format!(
            "hidden_size {} needs {scratch} elements of stack scratch; kiln allows 2^20",
            d.hidden
        ));
    }
    cx.use_kernel(Kernel::Rnn, dtype)?;
    let mut acts = Vec::new();
    for &act in &a.activations {
        acts.push(Arg::Fn(rnn_activation(cx, act, dtype)?));
    }
    let b = cx.arg_opt(3)?;
    let lens = cx.arg_opt(4)?;
    let h0 = cx.arg_opt(5)?;
    let (c0, p) = if a.kind == RnnKind::Lstm {
        (cx.arg_opt(6)?, cx.arg_opt(7)?)
    } else {
        (Arg::Opt(None), Arg::Opt(None))
    };
    let (xs, ws, rs) = (cx.arg_in(0)?, cx.arg_in(1)?, cx.arg_in(2)?);
    let (y, yh, yc) = (cx.arg_opt_out(0)?, cx.arg_opt_out(1)?, cx.arg_opt_out(2)?);
    let clip = Arg::Maybe(a.clip.map(|c| Box::new(Arg::Scalar(dtype, c as f64))));
    let kind = match a.kind {
        RnnKind::Rnn => 0,
        RnnKind::Gru => 1,
        RnnKind::Lstm => 2,
    };
    let inputs = Arg::Struct {
        name: "RnnInputs",
        by_ref: false,
        fields: vec![
            ("x", xs),
            ("w", ws),
            ("r", rs),
            ("b", b),
            ("lens", lens),
            ("h0", h0),
            ("c0", c0),
            ("p", p),
        ],
    };
    let outputs = Arg::Struct {
        name: "RnnOutputs",
        by_ref: false,
        fields: vec![("y", y), ("yh", yh), ("yc", yc)],
    };
    let params = Arg::Struct {
        name: "RnnParams",
        by_ref: true,
        fields: vec![
            ("kind", Arg::Usize(kind)),
            ("seq", Arg::Usize(d.seq)),
            ("batch", Arg::Usize(d.batch)),
            ("input", Arg::Usize(d.input)),
            ("hidden", Arg::Usize(d.hidden)),
            ("dirs", Arg::Usize(d.dirs)),
            ("reverse", Arg::Bool(a.direction == Direction::Reverse)),
            ("x_strides", Arg::Array(vec![l.x.0, l.x.1])),
            ("y_strides", Arg::Array(vec![l.y.0, l.y.1, l.y.2])),
            ("state_strides", Arg::Array(vec![l.state.0, l.state.1])),
            ("input_forget", Arg::Bool(a.input_forget)),
            ("linear_before_reset", Arg::Bool(a.linear_before_reset)),
        ],
    };
    // The states and gates in a scratch array on the stack.
    let args = vec![
        inputs,
        outputs,
        Arg::Scratch(dtype, scratch),
        params,
        Arg::Scalar(dtype, 1.0),
        clip,
        Arg::List(acts),
    ];
    cx.call(Some(Kernel::Rnn), "rnn", args);
    Ok(())
}
