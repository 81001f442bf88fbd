//! Lowering of the rnn family.

use super::prelude::*;

/// A recurrent activation as a function of `dtype` (a function name or a closure without
/// captures, both of which coerce to `fn(T) -> T`).
pub(super) fn rnn_activation(
    cx: &mut NodeCx,
    act: RnnActivation,
    dtype: DType,
) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let lit = |v: f32| literal::from_f64(dtype, v as f64);
    let (zero, one) = (lit(0.0)?, lit(1.0)?);
    Ok(match act {
        RnnActivation::Sigmoid => cx.kernels.use_math(MathFn::Sigmoid, dtype)?,
        RnnActivation::Tanh => cx.kernels.use_math(MathFn::Tanh, dtype)?,
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
            let f = cx.kernels.use_math(MathFn::Tanh, dtype)?;
            format!("|v: {t}| {} * {f}({} * v)", lit(alpha)?, lit(beta)?)
        }
        RnnActivation::HardSigmoid { alpha, beta } => format!(
            "|v: {t}| {{ let s = {} * v + {}; if s < {zero} {{ {zero} }} else if s > {one} {{ {one} }} else {{ s }} }}",
            lit(alpha)?,
            lit(beta)?
        ),
        RnnActivation::Elu { alpha } => {
            let f = cx.kernels.use_math(MathFn::Exp, dtype)?;
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
    let elem = literal::elem(dtype)?;
    let mut acts = Vec::new();
    for &act in &a.activations {
        acts.push(rnn_activation(cx, act, dtype)?);
    }
    let opt_in = |cx: &mut NodeCx, slot: usize| -> Result<String, String> {
        Ok(if cx.has_input(slot) {
            format!("Some({})", cx.read(slot)?)
        } else {
            "None".into()
        })
    };
    let b = opt_in(cx, 3)?;
    let lens = opt_in(cx, 4)?;
    let h0 = opt_in(cx, 5)?;
    let (c0, p) = if a.kind == RnnKind::Lstm {
        (opt_in(cx, 6)?, opt_in(cx, 7)?)
    } else {
        ("None".into(), "None".into())
    };
    let (xs, ws, rs) = (cx.read(0)?, cx.read(1)?, cx.read(2)?);
    let mut outs = Vec::new();
    for slot in 0..3 {
        outs.push(optional_write(cx, slot)?);
    }
    let zero = literal::zero(dtype);
    let one = literal::from_f64(dtype, 1.0)?;
    let clip = match a.clip {
        Some(c) => format!("Some({})", literal::from_f64(dtype, c as f64)?),
        None => "None".into(),
    };
    let kind = match a.kind {
        RnnKind::Rnn => 0,
        RnnKind::Gru => 1,
        RnnKind::Lstm => 2,
    };
    let body = &mut cx.body;
    body.open("{");
    body.line(format!("let mut scratch = [{zero}; {scratch}];"));
    body.line(format!(
        "let acts: [fn({elem}) -> {elem}; {}] = [{}];",
        acts.len(),
        acts.join(", ")
    ));
    body.open("let inputs = RnnInputs {");
    body.line(format!("x: {xs},"));
    body.line(format!("w: {ws},"));
    body.line(format!("r: {rs},"));
    body.line(format!("b: {b},"));
    body.line(format!("lens: {lens},"));
    body.line(format!("h0: {h0},"));
    body.line(format!("c0: {c0},"));
    body.line(format!("p: {p},"));
    body.close("};");
    body.line(format!(
        "let outputs = RnnOutputs {{ y: {}, yh: {}, yc: {} }};",
        outs[0], outs[1], outs[2]
    ));
    body.open("let params = RnnParams {");
    body.line(format!("kind: {kind},"));
    body.line(format!("seq: {},", d.seq));
    body.line(format!("batch: {},", d.batch));
    body.line(format!("input: {},", d.input));
    body.line(format!("hidden: {},", d.hidden));
    body.line(format!("dirs: {},", d.dirs));
    body.line(format!("reverse: {},", a.direction == Direction::Reverse));
    body.line(format!("x_strides: [{}, {}],", l.x.0, l.x.1));
    body.line(format!("y_strides: [{}, {}, {}],", l.y.0, l.y.1, l.y.2));
    body.line(format!("state_strides: [{}, {}],", l.state.0, l.state.1));
    body.line(format!("input_forget: {},", a.input_forget));
    body.line(format!("linear_before_reset: {},", a.linear_before_reset));
    body.close("};");
    body.line(format!(
        "rnn(inputs, outputs, &mut scratch, &params, {one}, {clip}, &acts);"
    ));
    body.close("}");
    Ok(())
}
