//! kiln's integer ops: what the quantize pass (`passes/src/quantize.rs`) turns a QDQ
//! pattern (DequantizeLinear → float op → QuantizeLinear) into. They read and write the
//! quantized integers themselves, with every scale folded at compile time into fixed-point
//! multipliers, so their semantics are exact integer arithmetic (no floating point: they run
//! on FPU-less cores) and the generated kernels equal these reference semantics bit for
//! bit. Against the float QDQ graph they differ only where the float result lies within
//! rounding error of a half step (a tie), which the pass's tests measure.

use super::common::{broadcast_index, infer_on, output};
use super::quant::int_range;
use super::{ConvAttrs, InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType, broadcast_shapes};

/// A positive f32 factor as `mult / 2^shift`, `mult` its 24-bit significand. `apply`
/// computes what onnxruntime's fused kernels compute in f32,
/// `round_half_even(f32(f32(acc) · factor))`, in integer arithmetic alone: the result
/// equals theirs bit for bit, on cores without an FPU too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Requant {
    pub mult: i32,
    pub shift: u32,
}

/// The largest shift kept: `f32(acc) * mult` is below 2^55 for every i32 `acc`, so shifted
/// by more than 56 it rounds to 0.
const MAX_SHIFT: u32 = 56;

impl Requant {
    /// The exact form of the f32 `factor` (> 0, normal). Factors of 2^24 or more (an
    /// output scale that much finer than the inputs') are refused: such a model keeps that
    /// op in float. A factor too small to move any i32 sum by half a step is 0.
    pub fn from_f32(factor: f32) -> Result<Requant, String> {
        // Zero or below 2^-126 (a scale underflowed to a subnormal, e.g. a weight channel
        // of subnormal values): every i32 sum times it rounds to 0.
        if factor == 0.0 || factor.is_subnormal() && factor > 0.0 {
            return Ok(Requant { mult: 0, shift: 0 });
        }
        if !(factor.is_normal() && factor > 0.0) {
            return Err(format!(
                "the scale ratio {factor:e} is not a positive normal number"
            ));
        }
        let bits = factor.to_bits();
        let mult = ((bits & 0x7f_ffff) | 0x80_0000) as i32;
        // factor = mult * 2^(e - 127 - 23).
        let shift = 150 - ((bits >> 23) & 0xff) as i32;
        if shift < 0 {
            return Err(format!(
                "the scale ratio {factor:e} is 2^24 or more; kiln's integer kernels take smaller ones"
            ));
        }
        if shift as u32 > MAX_SHIFT {
            // |f32(acc) * factor| < 2^55 * 2^-57 = 1/4 for every i32 sum: always 0.
            return Ok(Requant { mult: 0, shift: 0 });
        }
        Ok(Requant {
            mult,
            shift: shift as u32,
        })
    }

    /// The factor it stands for.
    pub fn real(self) -> f64 {
        f64::from(self.mult) / 2f64.powi(self.shift as i32)
    }

    /// `round_half_even(f32(f32(acc) * factor))`, exactly, for any i32 `acc`.
    pub fn apply(self, acc: i64) -> i64 {
        shift_round(
            round_to_f32(round_to_f32(acc) * i64::from(self.mult)),
            self.shift,
        )
    }
}

/// `v` rounded to 24 significant bits (half to even): the integer an f32 holds for it.
pub fn round_to_f32(v: i64) -> i64 {
    let mag = v.unsigned_abs();
    let bits = 64 - mag.leading_zeros();
    if bits <= 24 {
        return v;
    }
    let d = bits - 24;
    let r = shift_round(mag as i64, d) << d;
    if v < 0 { -r } else { r }
}

/// A positive real as `m / 2^shift` with `m` in `[2^30, 2^31)` (IntAdd and IntMul).
fn fixed31(real: f64) -> Result<(i64, u32), String> {
    if !(real.is_finite() && real > 0.0) {
        return Err(format!("the scale ratio {real} is not a positive number"));
    }
    let e = real.log2().floor() as i32 + 1;
    let mut shift = 31 - e;
    let mut m = (real / 2f64.powi(e) * 2f64.powi(31)).round() as i64;
    if m == 1 << 31 {
        m >>= 1;
        shift -= 1;
    }
    if !(0..=MAX_SHIFT as i32).contains(&shift) {
        return Err(format!(
            "the scale ratio {real:e} is out of the integer kernels' range"
        ));
    }
    Ok((m, shift as u32))
}

/// `round_half_even(p / 2^s)` on integers.
pub fn shift_round(p: i64, s: u32) -> i64 {
    if s == 0 {
        return p;
    }
    let q = p >> s;
    let r = p - (q << s);
    let half = 1i64 << (s - 1);
    q + i64::from(r + (q & 1) > half)
}

/// The output's zero point and the range its values are clamped to (the output type's
/// range, narrowed by a fused Relu or Clip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QOut {
    pub dtype: DType,
    pub zero: i32,
    pub lo: i32,
    pub hi: i32,
}

impl QOut {
    /// The full range of `dtype` (u8 or i8) with zero point `zero`.
    pub fn new(dtype: DType, zero: i32) -> Result<QOut, String> {
        let (lo, hi) = qrange(dtype)?;
        Ok(QOut {
            dtype,
            zero,
            lo,
            hi,
        })
    }

    /// `zero + v`, clamped.
    pub fn put(&self, v: i64) -> i32 {
        (v + i64::from(self.zero)).clamp(i64::from(self.lo), i64::from(self.hi)) as i32
    }
}

/// The range of the 8-bit types the integer ops take.
pub fn qrange(d: DType) -> Result<(i32, i32), String> {
    match d {
        DType::U8 | DType::I8 => {
            let (lo, hi) = int_range(d).unwrap_or((0.0, 255.0));
            Ok((lo as i32, hi as i32))
        }
        other => Err(format!("kiln's integer kernels take u8 or i8, not {other}")),
    }
}

/// IntConv: `y = out.put(requant[c].apply(bias[c] + Σ (x - x_zero) · w))` per output
/// channel `c`, with Conv's geometry. Inputs: x (u8/i8), w (i8, zero point 0: symmetric
/// weights), bias (i32, optional). Padding reads `x_zero`, a real zero. With a `table`
/// (an IntLut fused by `fuse-int-tables`), each output is then `table[y - min(out type)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct IntConvAttrs {
    pub conv: ConvAttrs,
    pub x_zero: i32,
    /// One factor (per tensor) or one per output channel: `x_scale · w_scale / y_scale`.
    pub requant: Vec<Requant>,
    pub out: QOut,
    /// 256 entries of the output type, applied after `out` (see the struct's docs).
    pub table: Option<Vec<i32>>,
}

/// IntGemm: `y[.., j] = out.put(requant[j].apply(bias[j] + Σ_k (a[.., k] - a_zero) · b[k,
/// j]))`. Inputs: A (u8/i8, [.., K]), B (i8, [K, N], zero point 0), bias (i32 `[N]`,
/// optional). A `table` maps each output as IntConv's does.
#[derive(Clone, Debug, PartialEq)]
pub struct IntGemmAttrs {
    pub a_zero: i32,
    pub requant: Vec<Requant>,
    pub out: QOut,
    pub table: Option<Vec<i32>>,
}

/// A table (IntLut's, or one fused into IntConv or IntGemm) has one entry per value of its
/// 8-bit input type.
fn table_len(table: Option<&[i32]>) -> Result<(), String> {
    match table {
        Some(t) if t.len() != 256 => Err(format!("a table of {} entries; 256 needed", t.len())),
        _ => Ok(()),
    }
}

/// `v` (a value of the 8-bit type `dtype`) through `table` (256 entries from the type's
/// minimum), or `v` itself without one.
pub fn through(table: Option<&[i32]>, dtype: DType, v: i32) -> i32 {
    match table {
        Some(t) => {
            let base = qrange(dtype).map_or(0, |r| r.0);
            t.get((v - base) as usize).copied().unwrap_or(v)
        }
        None => v,
    }
}

/// Which binary op an IntBinary computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntBinaryKind {
    /// `out.put(shift_round((a - za) · ma + (b - zb) · mb, shift))`: `ma / 2^shift =
    /// a_scale / y_scale`, `mb / 2^shift = b_scale / y_scale`.
    Add,
    /// `out.put(shift_round((a - za) · (b - zb) · ma, shift))`: `ma / 2^shift = a_scale ·
    /// b_scale / y_scale`; `mb` is unused (0).
    Mul,
}

/// IntAdd / IntMul of two quantized tensors (numpy broadcasting).
#[derive(Clone, Debug, PartialEq)]
pub struct IntBinaryAttrs {
    pub kind: IntBinaryKind,
    pub a_zero: i32,
    pub b_zero: i32,
    pub ma: i64,
    pub mb: i64,
    pub shift: u32,
    pub out: QOut,
}

impl IntBinaryAttrs {
    /// The attributes for `a_scale`, `b_scale`, `y_scale`: a common shift that puts the
    /// larger multiplier in `[2^30, 2^31)`.
    pub fn new(
        kind: IntBinaryKind,
        [a_zero, b_zero]: [i32; 2],
        [sa, sb, sy]: [f64; 3],
        out: QOut,
    ) -> Result<IntBinaryAttrs, String> {
        let (ra, rb) = match kind {
            IntBinaryKind::Add => (sa / sy, sb / sy),
            IntBinaryKind::Mul => (sa * sb / sy, 0.0),
        };
        let (_, shift) = fixed31(ra.max(rb))?;
        let scale = 2f64.powi(shift as i32);
        Ok(IntBinaryAttrs {
            kind,
            a_zero,
            b_zero,
            ma: (ra * scale).round() as i64,
            mb: (rb * scale).round() as i64,
            shift,
            out,
        })
    }

    pub fn apply(&self, a: i32, b: i32) -> i32 {
        let (da, db) = (i64::from(a - self.a_zero), i64::from(b - self.b_zero));
        let p = match self.kind {
            IntBinaryKind::Add => da * self.ma + db * self.mb,
            IntBinaryKind::Mul => da * db * self.ma,
        };
        self.out.put(shift_round(p, self.shift))
    }
}

/// IntLut: `y = table[x - min(x's type)]`, one entry per value of the 8-bit input type:
/// any function of one quantized value (Sigmoid, HardSwish, a Div by a constant, a change
/// of scale...) tabulated at compile time.
#[derive(Clone, Debug, PartialEq)]
pub struct IntLutAttrs {
    pub table: Vec<i32>,
    pub out: DType,
}

/// IntAvgPool: the mean of each `kernel` window (stride `strides`, no padding, every
/// window full) of an NCHW (or NCW, height 1) tensor: `y = out.put(requant.apply(Σ (x -
/// x_zero)))`, `requant` = `x_scale / (y_scale * count)`. GlobalAveragePool is the window
/// of the whole map.
#[derive(Clone, Debug, PartialEq)]
pub struct IntPoolAttrs {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub x_zero: i32,
    pub requant: Requant,
    pub out: QOut,
}

/// IntMatMul of two quantized tensors: `y = out.put(requant.apply(Σ_k (a - a_zero) · (b -
/// b_zero)))`, A `[batch.., M, K]`, B `[K, N]` or `[batch.., K, N]`.
#[derive(Clone, Debug, PartialEq)]
pub struct IntMatMulAttrs {
    pub a_zero: i32,
    pub b_zero: i32,
    pub requant: Requant,
    pub out: QOut,
}

/// IntSoftmax over contiguous rows of `row` elements: with `d = max(row) - x` (0..=255),
/// `y = out.put(round(table[d] * recip / (Σ_row table[d'] * 2^16)))` in integers, where
/// `table[d] = round(2^24 · exp(-d · x_scale))` and `recip = round(2^16 / y_scale)`.
#[derive(Clone, Debug, PartialEq)]
pub struct IntSoftmaxAttrs {
    pub row: usize,
    pub table: Vec<u32>,
    pub recip: u64,
    pub out: QOut,
}

impl IntSoftmaxAttrs {
    /// The attributes for rows of `row` elements quantized with `x_scale`, the output's
    /// `y_scale` and `out`.
    pub fn new(row: usize, x_scale: f32, y_scale: f32, out: QOut) -> Result<Self, String> {
        let recip = (65536.0 / f64::from(y_scale)).round();
        if !(recip >= 1.0 && recip < 2f64.powi(40)) || row == 0 || row > 1 << 20 {
            return Err(format!(
                "a softmax into steps of {y_scale:e} over rows of {row} is out of the integer \
                 kernel's range"
            ));
        }
        let table = (0..256)
            .map(|d| ((-f64::from(d) * f64::from(x_scale)).exp() * 16_777_216.0).round() as u32)
            .collect();
        Ok(IntSoftmaxAttrs {
            row,
            table,
            recip: recip as u64,
            out,
        })
    }

    /// One row of quantized values to the outputs.
    pub fn apply(&self, x: &[i32], y: &mut Vec<i32>) {
        let mx = x.iter().copied().max().unwrap_or(0);
        let sum: u64 = x
            .iter()
            .map(|&v| u64::from(self.table[(mx - v) as usize]))
            .sum();
        let den = u128::from(sum) << 16;
        for &v in x {
            let num = u128::from(self.table[(mx - v) as usize]) * u128::from(self.recip);
            // Half up: num / den rounded, den > 0 (the row's maximum contributes 2^24).
            let q = ((num << 1) + den) / (den << 1);
            y.push(self.out.put(q as i64));
        }
    }
}

/// The integer ops.
#[derive(Clone, Debug, PartialEq)]
pub enum IntOp {
    Conv(Box<IntConvAttrs>),
    Gemm(IntGemmAttrs),
    Binary(IntBinaryAttrs),
    Lut(IntLutAttrs),
    AvgPool(IntPoolAttrs),
    MatMul(IntMatMulAttrs),
    Softmax(IntSoftmaxAttrs),
}

impl IntOp {
    pub fn name(&self) -> &'static str {
        match self {
            IntOp::Conv(_) => "IntConv",
            IntOp::Gemm(_) => "IntGemm",
            IntOp::Binary(b) => match b.kind {
                IntBinaryKind::Add => "IntAdd",
                IntBinaryKind::Mul => "IntMul",
            },
            IntOp::Lut(_) => "IntLut",
            IntOp::AvgPool(_) => "IntAvgPool",
            IntOp::MatMul(_) => "IntMatMul",
            IntOp::Softmax(_) => "IntSoftmax",
        }
    }

    pub fn infer(&self, inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
        let q8 = |slot: usize, what: &str| -> Result<&TensorType, String> {
            let t = input(inputs, slot, what)?.ty;
            qrange(t.dtype).map_err(|e| format!("{what}: {e}"))?;
            Ok(t)
        };
        let weights = |slot: usize, what: &str| -> Result<&TensorType, String> {
            let t = input(inputs, slot, what)?.ty;
            if t.dtype != DType::I8 {
                return Err(format!("{what} must be i8, got {t}"));
            }
            Ok(t)
        };
        let bias = |n: usize| -> Result<(), String> {
            match inputs.get(2).copied().flatten() {
                Some(b) if b.ty.dtype != DType::I32 || b.ty.shape != [n] => {
                    Err(format!("the bias must be i32[{n}], got {}", b.ty))
                }
                _ => Ok(()),
            }
        };
        let per = |len: usize, n: usize| -> Result<(), String> {
            if len == 1 || len == n {
                Ok(())
            } else {
                Err(format!("{len} requantization factors for {n} channels"))
            }
        };
        match self {
            IntOp::Conv(a) => {
                let x = q8(0, "x")?;
                let w = weights(1, "w")?;
                let mut shape = super::conv::infer(
                    &a.conv,
                    &[
                        Some(InferInput {
                            ty: &TensorType::new(DType::F32, x.shape.clone()),
                            value: None,
                        }),
                        Some(InferInput {
                            ty: &TensorType::new(DType::F32, w.shape.clone()),
                            value: None,
                        }),
                    ],
                )?
                .remove(0)
                .shape;
                let m = w.shape[0];
                bias(m)?;
                per(a.requant.len(), m)?;
                table_len(a.table.as_deref())?;
                shape.shrink_to_fit();
                Ok(vec![TensorType::new(a.out.dtype, shape)])
            }
            IntOp::Gemm(a) => {
                let x = q8(0, "A")?;
                let b = weights(1, "B")?;
                let (Some(&k), [bk, n]) = (x.shape.last(), b.shape.as_slice()) else {
                    return Err(format!("A {x} and B {b} are not [.., K] and [K, N]"));
                };
                if k != *bk {
                    return Err(format!("A {x} and B {b} disagree on K"));
                }
                bias(*n)?;
                per(a.requant.len(), *n)?;
                table_len(a.table.as_deref())?;
                let mut shape = x.shape.clone();
                *shape.last_mut().expect("rank checked above") = *n;
                Ok(vec![TensorType::new(a.out.dtype, shape)])
            }
            IntOp::Binary(a) => {
                let (x, y) = (q8(0, "A")?, q8(1, "B")?);
                let shape = broadcast_shapes(&x.shape, &y.shape)
                    .ok_or_else(|| format!("shapes {x} and {y} do not broadcast"))?;
                Ok(vec![TensorType::new(a.out.dtype, shape)])
            }
            IntOp::Lut(a) => {
                let x = q8(0, "x")?;
                table_len(Some(&a.table))?;
                qrange(a.out)?;
                Ok(vec![TensorType::new(a.out, x.shape.clone())])
            }
            IntOp::AvgPool(a) => {
                let x = q8(0, "x")?;
                let (h, w) = match x.shape[..] {
                    [_, _, h, w] => (h, w),
                    [_, _, w] => (1, w),
                    _ => return Err(format!("X must be NCHW or NCW, got {x}")),
                };
                let [kh, kw] = a.kernel;
                let [sh, sw] = a.strides;
                if kh == 0 || kw == 0 || sh == 0 || sw == 0 || kh > h || kw > w {
                    return Err(format!(
                        "a {kh}x{kw} window at strides {sh}x{sw} does not fit X {x}"
                    ));
                }
                let mut shape = x.shape.clone();
                let r = shape.len();
                shape[r - 1] = (w - kw) / sw + 1;
                if r == 4 {
                    shape[2] = (h - kh) / sh + 1;
                }
                Ok(vec![TensorType::new(a.out.dtype, shape)])
            }
            IntOp::Softmax(a) => {
                let x = q8(0, "x")?;
                if a.table.len() != 256 || a.row == 0 || x.numel() % a.row != 0 {
                    return Err(format!("rows of {} do not divide X {x}", a.row));
                }
                Ok(vec![TensorType::new(a.out.dtype, x.shape.clone())])
            }
            IntOp::MatMul(a) => {
                let (x, y) = (q8(0, "A")?, q8(1, "B")?);
                let (_, _, _, n, _) = super::quant::int_matmul_dims(&x.shape, &y.shape)?;
                let mut shape = x.shape.clone();
                *shape.last_mut().expect("rank checked") = n;
                Ok(vec![TensorType::new(a.out.dtype, shape)])
            }
        }
    }

    pub fn eval(&self, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
        let ty = infer_on(inputs, |ii| self.infer(ii))?.remove(0);
        let ints = |slot: usize, what: &str| -> Result<Vec<i32>, String> {
            let t = tensor(inputs, slot, what)?;
            Ok(t.data.to_f64_vec().into_iter().map(|v| v as i32).collect())
        };
        let bias = |n: usize| -> Result<Vec<i64>, String> {
            Ok(match inputs.get(2).copied().flatten() {
                Some(b) => b.data.to_f64_vec().into_iter().map(|v| v as i64).collect(),
                None => vec![0; n],
            })
        };
        let y: Vec<i32> = match self {
            IntOp::Conv(a) => {
                let x = tensor(inputs, 0, "x")?;
                let centred: Vec<f64> = x
                    .data
                    .to_f64_vec()
                    .into_iter()
                    .map(|v| v - f64::from(a.x_zero))
                    .collect();
                let xc = Tensor::new(x.shape.clone(), TensorData::F64(centred))?;
                let w = tensor(inputs, 1, "w")?;
                let wf = Tensor::new(w.shape.clone(), TensorData::F64(w.data.to_f64_vec()))?;
                // Exact: the sums of integer products stay far below 2^53.
                let acc = super::conv::eval(&a.conv, &[Some(&xc), Some(&wf)])?.remove(0);
                let m = ty.shape[1];
                let plane: usize = ty.shape[2..].iter().product();
                let b = bias(m)?;
                acc.data
                    .to_f64_vec()
                    .into_iter()
                    .enumerate()
                    .map(|(e, s)| {
                        let c = (e / plane.max(1)) % m;
                        let r = a.requant[if a.requant.len() == 1 { 0 } else { c }];
                        through(
                            a.table.as_deref(),
                            a.out.dtype,
                            a.out.put(r.apply(s as i64 + b[c])),
                        )
                    })
                    .collect()
            }
            IntOp::Gemm(a) => {
                let x = ints(0, "A")?;
                let w = ints(1, "B")?;
                let n = ty.shape[ty.shape.len() - 1];
                let k = w.len() / n.max(1);
                let b = bias(n)?;
                (0..ty.numel())
                    .map(|e| {
                        let (row, j) = (e / n, e % n);
                        let s: i64 = (0..k)
                            .map(|t| i64::from(x[row * k + t] - a.a_zero) * i64::from(w[t * n + j]))
                            .sum();
                        let r = a.requant[if a.requant.len() == 1 { 0 } else { j }];
                        through(
                            a.table.as_deref(),
                            a.out.dtype,
                            a.out.put(r.apply(s + b[j])),
                        )
                    })
                    .collect()
            }
            IntOp::Binary(a) => {
                let (x, w) = (ints(0, "A")?, ints(1, "B")?);
                let (sa, sb) = (
                    &tensor(inputs, 0, "A")?.shape,
                    &tensor(inputs, 1, "B")?.shape,
                );
                let (ia, ib) = (
                    broadcast_index(sa, &ty.shape),
                    broadcast_index(sb, &ty.shape),
                );
                ia.iter()
                    .zip(&ib)
                    .map(|(&i, &j)| a.apply(x[i], w[j]))
                    .collect()
            }
            IntOp::Lut(a) => {
                let x = tensor(inputs, 0, "x")?;
                ints(0, "x")?
                    .into_iter()
                    .map(|v| through(Some(&a.table), x.dtype(), v))
                    .collect()
            }
            IntOp::AvgPool(a) => {
                let x = ints(0, "x")?;
                let xs = &tensor(inputs, 0, "x")?.shape;
                let (h, w) = if xs.len() == 4 {
                    (xs[2], xs[3])
                } else {
                    (1, xs[2])
                };
                let r = ty.shape.len();
                let (oh, ow) = (if r == 4 { ty.shape[2] } else { 1 }, ty.shape[r - 1]);
                let planes = xs[0] * xs[1];
                let mut y = Vec::with_capacity(planes * oh * ow);
                for p in 0..planes {
                    for i in 0..oh {
                        for j in 0..ow {
                            let mut s = 0i64;
                            for ki in 0..a.kernel[0] {
                                for kj in 0..a.kernel[1] {
                                    let v = x[(p * h + i * a.strides[0] + ki) * w
                                        + j * a.strides[1]
                                        + kj];
                                    s += i64::from(v - a.x_zero);
                                }
                            }
                            y.push(a.out.put(a.requant.apply(s)));
                        }
                    }
                }
                y
            }
            IntOp::Softmax(a) => {
                let x = ints(0, "x")?;
                let mut y = Vec::with_capacity(x.len());
                for row in x.chunks(a.row) {
                    a.apply(row, &mut y);
                }
                y
            }
            IntOp::MatMul(a) => {
                let (x, w) = (ints(0, "A")?, ints(1, "B")?);
                let (batch, m, k, n, batched) = super::quant::int_matmul_dims(
                    &tensor(inputs, 0, "A")?.shape,
                    &tensor(inputs, 1, "B")?.shape,
                )?;
                let mut y = Vec::with_capacity(batch * m * n);
                for p in 0..batch {
                    let (ao, bo) = (p * m * k, if batched { p * k * n } else { 0 });
                    for i in 0..m {
                        for j in 0..n {
                            let s: i64 = (0..k)
                                .map(|t| {
                                    i64::from(x[ao + i * k + t] - a.a_zero)
                                        * i64::from(w[bo + t * n + j] - a.b_zero)
                                })
                                .sum();
                            y.push(a.out.put(a.requant.apply(s)));
                        }
                    }
                }
                y
            }
        };
        let data = match ty.dtype {
            DType::U8 => TensorData::U8(y.into_iter().map(|v| v as u8).collect()),
            _ => TensorData::I8(y.into_iter().map(|v| v as i8).collect()),
        };
        Ok(vec![output(&ty, data)?])
    }

    /// Multiply-accumulates per run.
    pub fn macs(&self, inputs: &[Option<&TensorType>], outputs: &[&TensorType]) -> u64 {
        let out = outputs.first().map_or(0, |t| t.numel() as u64);
        let w = inputs.get(1).copied().flatten();
        match self {
            IntOp::Conv(_) => {
                out * w.map_or(0, |w| w.shape.iter().skip(1).product::<usize>() as u64)
            }
            IntOp::Gemm(_) => out * w.map_or(0, |w| w.shape[0] as u64),
            IntOp::MatMul(_) => {
                out * inputs
                    .first()
                    .copied()
                    .flatten()
                    .and_then(|t| t.shape.last())
                    .map_or(0, |&k| k as u64)
            }
            IntOp::AvgPool(_) => inputs
                .first()
                .copied()
                .flatten()
                .map_or(0, |t| t.numel() as u64),
            IntOp::Softmax(_) => out,
            IntOp::Binary(_) | IntOp::Lut(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requant_stands_for_its_factor() {
        for r in [1e-6f32, 0.0037, 0.5, 0.999_999_9, 1.0, 3.7, 1234.5] {
            let q = Requant::from_f32(r).unwrap();
            assert!((1 << 23..1 << 24).contains(&q.mult), "{r}: {q:?}");
            assert_eq!(q.real(), f64::from(r), "{r}: {q:?}");
        }
        for zero in [0.0, 9.3e-43] {
            let q = Requant::from_f32(zero).unwrap();
            assert_eq!(q.apply(i64::from(i32::MAX)), 0, "{zero:e}");
            assert_eq!(q.apply(i64::from(i32::MIN)), 0, "{zero:e}");
        }
        assert!(Requant::from_f32(-1.0).is_err());
        assert!(Requant::from_f32(f32::NAN).is_err());
        assert!(Requant::from_f32(2f32.powi(24)).is_err());
        let tiny = Requant::from_f32(1e-30).unwrap();
        assert_eq!(tiny.apply(i64::from(i32::MAX)), 0);
    }

    /// The integer requantization equals the f32 computation it stands for.
    #[test]
    fn requant_apply_is_the_f32_product_rounded() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            // Factors from about 2^-31 to 2^1.
            let f = f32::from_bits(0x3000_0000 + (next() % 0x1000_0000) as u32);
            let acc = (next() as i64 >> (next() % 40 + 24)) as i32;
            let r = Requant::from_f32(f).unwrap();
            let want = (acc as f32 * f).round_ties_even() as i64;
            assert_eq!(r.apply(i64::from(acc)), want, "{acc} * {f:e}");
        }
    }

    #[test]
    fn shift_round_is_round_half_even() {
        for p in -2000i64..2000 {
            for s in 0..6u32 {
                let want = crate::ops::quant::round_half_even_f64(p as f64 / f64::from(1u32 << s));
                assert_eq!(shift_round(p, s) as f64, want, "{p} >> {s}");
            }
        }
    }
}
