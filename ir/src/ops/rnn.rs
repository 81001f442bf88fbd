//! RNN, GRU and LSTM (ONNX opsets 7, 14, 22): forward, reverse and bidirectional, with the
//! optional bias, sequence lengths, initial states and (LSTM) peepholes, outputs Y, Y_h and
//! (LSTM) Y_c, both layouts, the activation attributes, clip, input_forget and
//! linear_before_reset. Specs: https://onnx.ai/onnx/operators/onnx__LSTM.html (and GRU, RNN).
//!
//! Inputs: X, W, R, B?, sequence_lens?, initial_h?, initial_c? (LSTM), P? (LSTM).
//! Steps past a batch entry's sequence length leave zeros in Y and keep its state, as
//! onnxruntime does. The reference computes in f64 and rounds once.

use super::common::{floats, from_f64s, infer_on, optional_floats, output};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RnnKind {
    Rnn,
    Gru,
    Lstm,
}

impl RnnKind {
    /// Gates per direction: the row blocks of W and R.
    pub fn gates(self) -> usize {
        match self {
            RnnKind::Rnn => 1,
            RnnKind::Gru => 3,
            RnnKind::Lstm => 4,
        }
    }

    /// Activation functions per direction (f; f, g; f, g, h).
    pub fn activations(self) -> usize {
        match self {
            RnnKind::Rnn => 1,
            RnnKind::Gru => 2,
            RnnKind::Lstm => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RnnKind::Rnn => "RNN",
            RnnKind::Gru => "GRU",
            RnnKind::Lstm => "LSTM",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Reverse,
    Bidirectional,
}

impl Direction {
    pub fn count(self) -> usize {
        if self == Direction::Bidirectional {
            2
        } else {
            1
        }
    }
}

/// The activation functions the recurrent ops accept (with their parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RnnActivation {
    Relu,
    Tanh,
    Sigmoid,
    Affine { alpha: f32, beta: f32 },
    LeakyRelu { alpha: f32 },
    ThresholdedRelu { alpha: f32 },
    ScaledTanh { alpha: f32, beta: f32 },
    HardSigmoid { alpha: f32, beta: f32 },
    Elu { alpha: f32 },
    Softsign,
}

impl RnnActivation {
    pub fn apply(self, x: f64) -> f64 {
        match self {
            RnnActivation::Relu => x.max(0.0),
            RnnActivation::Tanh => x.tanh(),
            RnnActivation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            RnnActivation::Affine { alpha, beta } => alpha as f64 * x + beta as f64,
            RnnActivation::LeakyRelu { alpha } => {
                if x < 0.0 {
                    alpha as f64 * x
                } else {
                    x
                }
            }
            RnnActivation::ThresholdedRelu { alpha } => {
                if x > alpha as f64 {
                    x
                } else {
                    0.0
                }
            }
            RnnActivation::ScaledTanh { alpha, beta } => alpha as f64 * (beta as f64 * x).tanh(),
            RnnActivation::HardSigmoid { alpha, beta } => {
                (alpha as f64 * x + beta as f64).clamp(0.0, 1.0)
            }
            RnnActivation::Elu { alpha } => {
                if x < 0.0 {
                    alpha as f64 * (x.exp() - 1.0)
                } else {
                    x
                }
            }
            RnnActivation::Softsign => x / (1.0 + x.abs()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RnnAttrs {
    pub kind: RnnKind,
    pub direction: Direction,
    pub hidden_size: usize,
    /// `kind.activations()` per direction, forward first.
    pub activations: Vec<RnnActivation>,
    /// Gate pre-activations are clipped to `[-clip, clip]`.
    pub clip: Option<f32>,
    /// LSTM: the forget gate is `1 - input gate`.
    pub input_forget: bool,
    /// GRU: apply the reset gate after the recurrent product.
    pub linear_before_reset: bool,
    /// `layout = 1`: batch-major X, Y, states.
    pub batch_first: bool,
}

impl RnnAttrs {
    /// The default activations of `kind` for `direction`.
    pub fn default_activations(kind: RnnKind, direction: Direction) -> Vec<RnnActivation> {
        let one: &[RnnActivation] = match kind {
            RnnKind::Rnn => &[RnnActivation::Tanh],
            RnnKind::Gru => &[RnnActivation::Sigmoid, RnnActivation::Tanh],
            RnnKind::Lstm => &[
                RnnActivation::Sigmoid,
                RnnActivation::Tanh,
                RnnActivation::Tanh,
            ],
        };
        one.repeat(direction.count())
    }
}

/// The sizes of one recurrent node: sequence, batch, input, hidden, directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RnnDims {
    pub seq: usize,
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    pub dirs: usize,
}

/// Checks the inputs and returns the sizes.
pub fn dims(a: &RnnAttrs, inputs: &[Option<InferInput>]) -> Result<RnnDims, String> {
    let x = input(inputs, 0, "X")?.ty;
    let w = input(inputs, 1, "W")?.ty;
    let r = input(inputs, 2, "R")?.ty;
    let name = a.kind.name();
    if !x.dtype.is_float() {
        return Err(format!(
            "{name} is defined for floating-point tensors, got X {x}"
        ));
    }
    if x.rank() != 3 {
        return Err(format!("X must have rank 3, got {x}"));
    }
    let (seq, batch) = if a.batch_first {
        (x.shape[1], x.shape[0])
    } else {
        (x.shape[0], x.shape[1])
    };
    let (dirs, h, g) = (a.direction.count(), a.hidden_size, a.kind.gates());
    let d = RnnDims {
        seq,
        batch,
        input: x.shape[2],
        hidden: h,
        dirs,
    };
    if h == 0 {
        return Err("hidden_size must be positive".into());
    }
    if a.activations.len() != a.kind.activations() * dirs {
        return Err(format!(
            "{} activations given; {name} needs {} per direction",
            a.activations.len(),
            a.kind.activations()
        ));
    }
    let gh = g.checked_mul(h).ok_or("hidden_size is too large")?;
    let want = |slot: usize, what: &str, shape: Vec<usize>| -> Result<(), String> {
        match inputs.get(slot).copied().flatten() {
            None => Ok(()),
            Some(t) if t.ty.shape == shape && t.ty.dtype == x.dtype => Ok(()),
            Some(t) => Err(format!(
                "{what} is {}, but X {x}, hidden_size {h} and direction {:?} need {}{shape:?}",
                t.ty, a.direction, x.dtype
            )),
        }
    };
    if w.shape != [dirs, gh, d.input] || w.dtype != x.dtype {
        want(1, "W", vec![dirs, gh, d.input])?;
    }
    if r.shape != [dirs, gh, h] || r.dtype != x.dtype {
        want(2, "R", vec![dirs, gh, h])?;
    }
    want(3, "B", vec![dirs, 2 * gh])?;
    let state = if a.batch_first {
        vec![batch, dirs, h]
    } else {
        vec![dirs, batch, h]
    };
    want(5, "initial_h", state.clone())?;
    if a.kind == RnnKind::Lstm {
        want(6, "initial_c", state)?;
        want(7, "P", vec![dirs, 3 * h])?;
    } else if inputs.len() > 6 && inputs[6..].iter().any(Option::is_some) {
        return Err(format!("{name} takes at most 6 inputs"));
    }
    if let Some(l) = inputs.get(4).copied().flatten()
        && (l.ty.shape != [batch] || l.ty.dtype != DType::I32)
    {
        return Err(format!(
            "sequence_lens is {}, but must be int32[{batch}]",
            l.ty
        ));
    }
    Ok(d)
}

pub(crate) fn infer(
    a: &RnnAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let d = dims(a, inputs)?;
    let dtype = input(inputs, 0, "X")?.ty.dtype;
    let (y, state) = if a.batch_first {
        (
            vec![d.batch, d.seq, d.dirs, d.hidden],
            vec![d.batch, d.dirs, d.hidden],
        )
    } else {
        (
            vec![d.seq, d.dirs, d.batch, d.hidden],
            vec![d.dirs, d.batch, d.hidden],
        )
    };
    let mut out = vec![
        TensorType::new(dtype, y),
        TensorType::new(dtype, state.clone()),
    ];
    if a.kind == RnnKind::Lstm {
        out.push(TensorType::new(dtype, state));
    }
    Ok(out)
}

/// Element offsets of the layouts: X at (t, b), Y at (t, dir, b), a state at (dir, b).
#[derive(Clone, Copy, Debug)]
pub struct RnnLayout {
    pub x: (usize, usize),
    pub y: (usize, usize, usize),
    pub state: (usize, usize),
}

pub fn layout(a: &RnnAttrs, d: &RnnDims) -> RnnLayout {
    let h = d.hidden;
    if a.batch_first {
        RnnLayout {
            x: (d.input, d.seq * d.input),
            y: (d.dirs * h, h, d.seq * d.dirs * h),
            state: (h, d.dirs * h),
        }
    } else {
        RnnLayout {
            x: (d.batch * d.input, d.input),
            y: (d.dirs * d.batch * h, d.batch * h, h),
            state: (d.batch * h, h),
        }
    }
}

#[allow(clippy::needless_range_loop)]
pub(crate) fn eval(a: &RnnAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let mut dims_of = None;
    let tys = infer_on(inputs, |ii| {
        dims_of = Some(dims(a, ii)?);
        infer(a, ii)
    })?;
    let d = dims_of.ok_or("the sizes were not inferred")?;
    let l = layout(a, &d);
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    let w = floats(tensor(inputs, 1, "W")?, "W")?;
    let r = floats(tensor(inputs, 2, "R")?, "R")?;
    let b = optional_floats(inputs, 3, "B")?;
    let lens: Option<Vec<i64>> = inputs
        .get(4)
        .copied()
        .flatten()
        .and_then(|t| t.as_i64_vec());
    let h0 = optional_floats(inputs, 5, "initial_h")?;
    let c0 = if a.kind == RnnKind::Lstm {
        optional_floats(inputs, 6, "initial_c")?
    } else {
        None
    };
    let p = if a.kind == RnnKind::Lstm {
        optional_floats(inputs, 7, "P")?
    } else {
        None
    };
    let (h, g, ni) = (d.hidden, a.kind.gates(), d.input);
    let na = a.kind.activations();
    let mut y = vec![0.0; d.seq * d.dirs * d.batch * h];
    let mut yh = vec![0.0; d.dirs * d.batch * h];
    let mut yc = vec![0.0; d.dirs * d.batch * h];
    let clip = |v: f64| match a.clip {
        Some(c) => v.clamp(-(c as f64), c as f64),
        None => v,
    };
    for dir in 0..d.dirs {
        let reverse = dir == 1 || a.direction == Direction::Reverse;
        let acts = &a.activations[dir * na..][..na];
        let wd = &w[dir * g * h * ni..][..g * h * ni];
        let rd = &r[dir * g * h * h..][..g * h * h];
        let bias = |k: usize| b.as_ref().map_or(0.0, |b| b[dir * 2 * g * h + k]);
        let rbias = |k: usize| b.as_ref().map_or(0.0, |b| b[dir * 2 * g * h + g * h + k]);
        let peep = |k: usize| p.as_ref().map_or(0.0, |p| p[dir * 3 * h + k]);
        for bi in 0..d.batch {
            let len = lens
                .as_ref()
                .map_or(d.seq, |v| v[bi].clamp(0, d.seq as i64) as usize);
            let so = dir * l.state.0 + bi * l.state.1;
            let mut hs: Vec<f64> = h0.as_ref().map_or(vec![0.0; h], |v| v[so..so + h].to_vec());
            let mut cs: Vec<f64> = c0.as_ref().map_or(vec![0.0; h], |v| v[so..so + h].to_vec());
            for step in 0..len {
                let t = if reverse { len - 1 - step } else { step };
                let xt = &x[t * l.x.0 + bi * l.x.1..][..ni];
                let dot = |m: &[f64], row: usize, v: &[f64]| -> f64 {
                    let n = v.len();
                    m[row * n..][..n].iter().zip(v).map(|(p, q)| p * q).sum()
                };
                let pre = |row: usize, hv: &[f64]| {
                    dot(wd, row, xt) + dot(rd, row, hv) + bias(row) + rbias(row)
                };
                let mut hn = vec![0.0; h];
                match a.kind {
                    RnnKind::Rnn => {
                        for (j, v) in hn.iter_mut().enumerate() {
                            *v = acts[0].apply(clip(pre(j, &hs)));
                        }
                    }
                    RnnKind::Gru => {
                        // Gate order z, r, h.
                        let z: Vec<f64> =
                            (0..h).map(|j| acts[0].apply(clip(pre(j, &hs)))).collect();
                        let rg: Vec<f64> = (0..h)
                            .map(|j| acts[0].apply(clip(pre(h + j, &hs))))
                            .collect();
                        let rh: Vec<f64> = rg.iter().zip(&hs).map(|(p, q)| p * q).collect();
                        for j in 0..h {
                            let row = 2 * h + j;
                            let xpart = dot(wd, row, xt) + bias(row);
                            let hpart = if a.linear_before_reset {
                                rg[j] * (dot(rd, row, &hs) + rbias(row))
                            } else {
                                dot(rd, row, &rh) + rbias(row)
                            };
                            let n = acts[1].apply(clip(xpart + hpart));
                            hn[j] = (1.0 - z[j]) * n + z[j] * hs[j];
                        }
                    }
                    RnnKind::Lstm => {
                        // Gate order i, o, f, c; peepholes i, o, f.
                        for j in 0..h {
                            let i = acts[0].apply(clip(pre(j, &hs) + peep(j) * cs[j]));
                            let f = if a.input_forget {
                                1.0 - i
                            } else {
                                acts[0].apply(clip(pre(2 * h + j, &hs) + peep(2 * h + j) * cs[j]))
                            };
                            let c = acts[1].apply(clip(pre(3 * h + j, &hs)));
                            let cn = f * cs[j] + i * c;
                            let o = acts[0].apply(clip(pre(h + j, &hs) + peep(h + j) * cn));
                            hn[j] = o * acts[2].apply(cn);
                            // The new cell state is only read through `cn` this step.
                            yc[so + j] = cn;
                        }
                        cs.copy_from_slice(&yc[so..so + h]);
                    }
                }
                hs = hn;
                y[t * l.y.0 + dir * l.y.1 + bi * l.y.2..][..h].copy_from_slice(&hs);
            }
            yh[so..so + h].copy_from_slice(&hs);
            yc[so..so + h].copy_from_slice(&cs);
        }
    }
    let mut outs = vec![
        output(&tys[0], from_f64s(tys[0].dtype, y)?)?,
        output(&tys[1], from_f64s(tys[1].dtype, yh)?)?,
    ];
    if a.kind == RnnKind::Lstm {
        outs.push(output(&tys[2], from_f64s(tys[2].dtype, yc)?)?);
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, f32s, run};

    fn attrs(kind: RnnKind, direction: Direction, hidden: usize) -> RnnAttrs {
        RnnAttrs {
            kind,
            direction,
            hidden_size: hidden,
            activations: RnnAttrs::default_activations(kind, direction),
            clip: None,
            input_forget: false,
            linear_before_reset: false,
            batch_first: false,
        }
    }

    // A one-unit RNN with identity weights (Affine activation 1*x+0) sums its inputs:
    // forward, Y[t] = x0 + ... + xt; reverse, Y[t] = xt + ... + x_{n-1}.
    #[test]
    fn affine_rnn_accumulates_in_both_directions() {
        let mut a = attrs(RnnKind::Rnn, Direction::Bidirectional, 1);
        a.activations = vec![
            RnnActivation::Affine {
                alpha: 1.0,
                beta: 0.0
            };
            2
        ];
        let x = f32s(&[3, 1, 1], &[1.0, 2.0, 4.0]);
        let w = f32s(&[2, 1, 1], &[1.0, 1.0]);
        let r = f32s(&[2, 1, 1], &[1.0, 1.0]);
        let out = run(&Op::Rnn(a), &[Some(&x), Some(&w), Some(&r)]).unwrap();
        assert_eq!(out[0].shape, vec![3, 2, 1, 1]);
        assert_eq!(as_f32(&out[0]), vec![1.0, 7.0, 3.0, 6.0, 7.0, 4.0]);
        assert_eq!(as_f32(&out[1]), vec![7.0, 7.0]);
    }

    // sequence_lens: steps past an entry's length leave zeros in Y and keep its state.
    #[test]
    fn sequence_lens_stop_early() {
        let mut a = attrs(RnnKind::Rnn, Direction::Forward, 1);
        a.activations = vec![RnnActivation::Affine {
            alpha: 1.0,
            beta: 0.0,
        }];
        let x = f32s(&[2, 2, 1], &[1.0, 10.0, 2.0, 20.0]);
        let w = f32s(&[1, 1, 1], &[1.0]);
        let r = f32s(&[1, 1, 1], &[1.0]);
        let lens = Tensor::new(vec![2], crate::tensor::TensorData::I32(vec![2, 1])).unwrap();
        let out = run(
            &Op::Rnn(a),
            &[Some(&x), Some(&w), Some(&r), None, Some(&lens)],
        )
        .unwrap();
        assert_eq!(as_f32(&out[0]), vec![1.0, 10.0, 3.0, 0.0]);
        assert_eq!(as_f32(&out[1]), vec![3.0, 10.0]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let a = attrs(RnnKind::Lstm, Direction::Forward, 2);
        let x = f32s(&[1, 1, 3], &[0.0; 3]);
        let w = f32s(&[1, 8, 2], &[0.0; 16]);
        let r = f32s(&[1, 8, 2], &[0.0; 16]);
        assert!(run(&Op::Rnn(a), &[Some(&x), Some(&w), Some(&r)]).is_err());
    }
}
