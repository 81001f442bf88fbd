//! Epilogues: elementwise work fused into the op that produces a value (Conv, Gemm, MatMul,
//! pooling), applied to each output element as it is written, in list order. Fusion is
//! data: the IR records the list, the reference semantics apply it after the op, and the
//! emitters render it inside the kernel's store loop.

use crate::tensor::{Tensor, TensorData};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Epilogue {
    /// `y = max(y, 0)`.
    Relu,
    /// `y = min(max(y, min), max)` (NaN passes through, as in Clip).
    Clip { min: f64, max: f64 },
    /// `y = 1 / (1 + exp(-y))`.
    Sigmoid,
    /// `y = tanh(y)`.
    Tanh,
    /// `y = y * sigmoid(y)` (SiLU, also called Swish), as exported: `Mul(x, Sigmoid(x))`.
    Silu,
    /// LeakyRelu, HardSigmoid, HardSwish or Gelu.
    Act(super::Activation),
    /// `y = y * clip(y + add, min, max) / div`, each operation rounded to y's type as the
    /// unfused ops round: HardSwish as exporters write it in parts (`add` 3, `min` 0, `max`
    /// 6, `div` 6), `Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`. (The reference semantics
    /// divide; the generated code multiplies by `1 / div`, within an ulp of it.)
    HardSwishParts {
        add: f64,
        min: f64,
        max: f64,
        div: f64,
    },
    /// `y = y + r`, where `r` is the node input at `slot`, of y's exact type (a residual).
    Add { slot: usize },
    /// `y = y * by`, rounded to y's type: a Mul by a one-element constant (exporters write
    /// learnable scalar affine steps after activations this way, e.g. PP-LCNetV3).
    Scale { by: f64 },
    /// `y = y + by`, rounded to y's type: an Add of (or a Sub of, negated) a one-element
    /// constant.
    Shift { by: f64 },
}

impl fmt::Display for Epilogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Epilogue::Relu => write!(f, "relu"),
            Epilogue::Clip { min, max } => write!(f, "clip({min}, {max})"),
            Epilogue::Sigmoid => write!(f, "sigmoid"),
            Epilogue::Tanh => write!(f, "tanh"),
            Epilogue::Silu => write!(f, "silu"),
            Epilogue::Act(a) => write!(f, "{}", a.name().to_lowercase()),
            Epilogue::HardSwishParts { add, min, max, div } => {
                write!(f, "hardswish(x * clip(x + {add}, {min}, {max}) / {div})")
            }
            Epilogue::Add { slot } => write!(f, "add(in{slot})"),
            Epilogue::Scale { by } => write!(f, "mul({by})"),
            Epilogue::Shift { by } => write!(f, "add({by})"),
        }
    }
}

/// What a producer can carry as its epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpilogueHost {
    /// Every step, residual Adds included (the kernel knows each output's flat index):
    /// Conv, Gemm, MatMul and pooling.
    Any,
    /// The steps that need no index, composed into the element closure: elementwise ops.
    IndexFree,
}

/// Whether `op` can carry an epilogue, and which steps: [`super::Op::epilogue_host`].
pub fn host(op: &super::Op) -> Option<EpilogueHost> {
    op.epilogue_host()
}

/// The first node-input slot used by an epilogue: the op's own inputs come before it.
pub fn first_extra_slot(epilogue: &[Epilogue]) -> Option<usize> {
    epilogue
        .iter()
        .filter_map(|e| match e {
            Epilogue::Add { slot } => Some(*slot),
            _ => None,
        })
        .min()
}

/// The arithmetic of the epilogue steps, rounded as the unfused ops round.
trait EpiFloat: Copy + PartialOrd {
    fn of(x: f64) -> Self;
    fn wide(self) -> f64;
    fn sigmoid(self) -> Self;
    fn tanh(self) -> Self;
    fn add(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
}

impl EpiFloat for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn wide(self) -> f64 {
        self as f64
    }
    fn sigmoid(self) -> Self {
        super::elementwise::sigmoid(self as f64) as f32
    }
    fn tanh(self) -> Self {
        (self as f64).tanh() as f32
    }
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn mul(self, o: Self) -> Self {
        self * o
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
}

impl EpiFloat for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn wide(self) -> f64 {
        self
    }
    fn sigmoid(self) -> Self {
        super::elementwise::sigmoid(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn mul(self, o: Self) -> Self {
        self * o
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
}

fn apply_f<T: EpiFloat>(
    y: &mut [T],
    epilogue: &[Epilogue],
    extra: &[Option<&[T]>],
) -> Result<(), String> {
    let zero = T::of(0.0);
    for (k, e) in epilogue.iter().enumerate() {
        match e {
            // `v < 0` rather than max: NaN stays NaN, as in Relu.
            Epilogue::Relu => y.iter_mut().for_each(|v| {
                if *v < zero {
                    *v = zero;
                }
            }),
            Epilogue::Clip { min, max } => {
                let (lo, hi) = (T::of(*min), T::of(*max));
                y.iter_mut().for_each(|v| {
                    if *v < lo {
                        *v = lo;
                    }
                    if *v > hi {
                        *v = hi;
                    }
                })
            }
            Epilogue::Sigmoid => y.iter_mut().for_each(|v| *v = v.sigmoid()),
            Epilogue::Tanh => y.iter_mut().for_each(|v| *v = v.tanh()),
            // Rounded as the unfused pair is: sigmoid to T, then the product in T.
            Epilogue::Silu => y.iter_mut().for_each(|v| *v = v.mul(v.sigmoid())),
            // As the unfused op: in f64, rounded once.
            Epilogue::Act(a) => y.iter_mut().for_each(|v| *v = T::of(a.apply(v.wide()))),
            Epilogue::HardSwishParts { add, min, max, div } => {
                let (a, lo, hi, d) = (T::of(*add), T::of(*min), T::of(*max), T::of(*div));
                y.iter_mut().for_each(|v| {
                    // As Clip: NaN passes through.
                    let mut t = v.add(a);
                    if t < lo {
                        t = lo;
                    }
                    if t > hi {
                        t = hi;
                    }
                    *v = v.mul(t).div(d);
                })
            }
            Epilogue::Scale { by } => {
                let by = T::of(*by);
                y.iter_mut().for_each(|v| *v = v.mul(by))
            }
            Epilogue::Shift { by } => {
                let by = T::of(*by);
                y.iter_mut().for_each(|v| *v = v.add(by))
            }
            Epilogue::Add { .. } => {
                let r = extra
                    .get(k)
                    .copied()
                    .flatten()
                    .ok_or("residual input missing or of another type")?;
                if r.len() != y.len() {
                    return Err("residual input has another shape than the output".into());
                }
                for (v, &r) in y.iter_mut().zip(r) {
                    *v = v.add(r);
                }
            }
        }
    }
    Ok(())
}

/// Applies `epilogue` to `y` (f32 or f64). `args` are all node inputs; `Add` reads its slot.
pub fn apply(
    epilogue: &[Epilogue],
    y: &mut Tensor,
    args: &[Option<&Tensor>],
) -> Result<(), String> {
    if epilogue.is_empty() {
        return Ok(());
    }
    let shape = y.shape.clone();
    let residual = |k: usize| -> Option<&Tensor> {
        match epilogue.get(k) {
            Some(Epilogue::Add { slot }) => args
                .get(*slot)
                .copied()
                .flatten()
                .filter(|t| t.shape == shape),
            _ => None,
        }
    };
    match &mut y.data {
        TensorData::F32(v) => {
            let extra: Vec<Option<&[f32]>> = (0..epilogue.len())
                .map(|k| match residual(k).map(|t| &t.data) {
                    Some(TensorData::F32(r)) => Some(r.as_slice()),
                    _ => None,
                })
                .collect();
            apply_f(v, epilogue, &extra)
        }
        TensorData::F64(v) => {
            let extra: Vec<Option<&[f64]>> = (0..epilogue.len())
                .map(|k| match residual(k).map(|t| &t.data) {
                    Some(TensorData::F64(r)) => Some(r.as_slice()),
                    _ => None,
                })
                .collect();
            apply_f(v, epilogue, &extra)
        }
        other => Err(format!(
            "epilogues apply to f32 and f64 outputs, not {}",
            other.dtype()
        )),
    }
}
