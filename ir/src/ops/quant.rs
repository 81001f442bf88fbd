//! Linear quantisation: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, with
//! per-tensor, per-axis and blocked scales. The arithmetic is f32, as in ONNX's reference:
//! `q = saturate(round_half_even(x / scale) + zero_point)`, `x = (q - zero_point) * scale`.

use super::common::{from_f64s, infer_on, output};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{DType, TensorType};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuantAttrs {
    /// The axis of per-axis and blocked scales (negative counts from the end).
    pub axis: i64,
    /// Elements per scale along `axis` (blocked quantisation); 0 otherwise.
    pub block_size: usize,
    /// QuantizeLinear's output type when there is no zero point (`output_dtype`, default
    /// u8); DequantizeLinear ignores it.
    pub output_dtype: Option<DType>,
}

/// Where an op reads the scale and zero point of its quantized operands and output. Only
/// the ops that carry explicit scales are listed; ConvInteger and MatMulInteger have zero
/// points alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuantSlots {
    /// `(operand, scale, zero point)` input slots, one triple per quantized input.
    pub inputs: &'static [(usize, usize, usize)],
    /// `(scale, zero point)` input slots of output 0's parameters, when it is quantized.
    pub output: Option<(usize, usize)>,
}

pub fn quant_slots(op: &super::Op) -> QuantSlots {
    use super::Op;
    match op {
        Op::QuantizeLinear(_) => QuantSlots {
            inputs: &[],
            output: Some((1, 2)),
        },
        Op::DequantizeLinear(_) => QuantSlots {
            inputs: &[(0, 1, 2)],
            output: None,
        },
        Op::QLinearConv(_) | Op::QLinearMatMul => QuantSlots {
            inputs: &[(0, 1, 2), (3, 4, 5)],
            output: Some((6, 7)),
        },
        _ => QuantSlots::default(),
    }
}

/// How elements map to their scale: element `(o, a, i)` of an `outer × axis × inner` view
/// of X uses scale number `o * strides[0] + (a / block) * strides[1] + i * strides[2]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantGeometry {
    pub outer: usize,
    pub axis: usize,
    pub inner: usize,
    pub block: usize,
    pub strides: [usize; 3],
}

impl QuantGeometry {
    pub fn scale_index(&self, flat: usize) -> usize {
        let i = flat % self.inner;
        let a = (flat / self.inner) % self.axis;
        let o = flat / (self.inner * self.axis);
        o * self.strides[0] + (a / self.block) * self.strides[1] + i * self.strides[2]
    }
}

/// The geometry of X of shape `x` with scales of shape `s`: one scale (per tensor), a 1-D
/// scale along `axis` (per axis), or with `block_size`, scales of X's rank holding one
/// value per block of `block_size` elements along `axis`.
pub fn geometry(x: &[usize], s: &[usize], a: &QuantAttrs) -> Result<QuantGeometry, String> {
    let numel = |v: &[usize]| v.iter().product::<usize>();
    let rank = x.len() as i64;
    let axis_at = || -> Result<usize, String> {
        let ax = if a.axis < 0 { a.axis + rank } else { a.axis };
        if !(0..rank).contains(&ax) {
            return Err(format!(
                "axis {} is out of range for X of rank {rank}",
                a.axis
            ));
        }
        Ok(ax as usize)
    };
    if a.block_size == 0 && numel(s) == 1 && s.len() <= 1 {
        return Ok(QuantGeometry {
            outer: 1,
            axis: 1,
            inner: numel(x).max(1),
            block: 1,
            strides: [0, 0, 0],
        });
    }
    let ax = axis_at()?;
    let (outer, n, inner) = (numel(&x[..ax]), x[ax], numel(&x[ax + 1..]));
    if a.block_size == 0 {
        if s != [n] {
            return Err(format!(
                "the scale has shape {s:?}; per-axis quantisation along axis {ax} needs [{n}] \
                 (or a single value for per-tensor)"
            ));
        }
        return Ok(QuantGeometry {
            outer,
            axis: n,
            inner,
            block: 1,
            strides: [0, 1, 0],
        });
    }
    let blocks = n.div_ceil(a.block_size);
    let mut want = x.to_vec();
    want[ax] = blocks;
    if s != want.as_slice() {
        return Err(format!(
            "the scale has shape {s:?}; blocks of {} along axis {ax} of X {x:?} need {want:?}",
            a.block_size
        ));
    }
    Ok(QuantGeometry {
        outer,
        axis: n,
        inner,
        block: a.block_size,
        strides: [blocks * inner, inner, 1],
    })
}

/// Round half to even in f32 (`np.rint`).
pub fn round_half_even(v: f32) -> f32 {
    // Exact: every f32 is an f64, and so is every whole f64 near an f32.
    round_half_even_f64(f64::from(v)) as f32
}

/// The integer range of a quantised type.
pub fn int_range(d: DType) -> Option<(f64, f64)> {
    Some(match d {
        DType::U8 => (0.0, 255.0),
        DType::I8 => (-128.0, 127.0),
        DType::U16 => (0.0, 65535.0),
        DType::I16 => (-32768.0, 32767.0),
        DType::I32 => (i32::MIN as f64, i32::MAX as f64),
        _ => return None,
    })
}

fn check_zero_point(
    s: &TensorType,
    zp: Option<InferInput>,
    what: &str,
) -> Result<Option<DType>, String> {
    let Some(zp) = zp else { return Ok(None) };
    if zp.ty.shape != s.shape && !(zp.ty.numel() == 1 && s.numel() == 1) {
        return Err(format!(
            "{what} has shape {:?} but the scale has {:?}; they must match",
            zp.ty.shape, s.shape
        ));
    }
    Ok(Some(zp.ty.dtype))
}

pub(crate) fn infer_quantize(
    a: &QuantAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "x")?.ty;
    let s = input(inputs, 1, "y_scale")?.ty;
    if !matches!(x.dtype, DType::F32 | DType::F16 | DType::BF16 | DType::I32) {
        return Err(format!("x must be a float or int32 tensor, got {x}"));
    }
    if !s.dtype.is_float() {
        return Err(format!("y_scale must be a float tensor, got {s}"));
    }
    geometry(&x.shape, &s.shape, a)?;
    let to = check_zero_point(s, inputs.get(2).copied().flatten(), "y_zero_point")?
        .or(a.output_dtype)
        .unwrap_or(DType::U8);
    if int_range(to).is_none() || to == DType::I32 {
        return Err(format!("cannot quantise to {to}"));
    }
    Ok(vec![TensorType::new(to, x.shape.clone())])
}

pub(crate) fn infer_dequantize(
    a: &QuantAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "x")?.ty;
    let s = input(inputs, 1, "x_scale")?.ty;
    if int_range(x.dtype).is_none() {
        return Err(format!(
            "x must be an 8-, 16- or 32-bit integer tensor, got {x}"
        ));
    }
    if !s.dtype.is_float() {
        return Err(format!("x_scale must be a float tensor, got {s}"));
    }
    geometry(&x.shape, &s.shape, a)?;
    if let Some(z) = check_zero_point(s, inputs.get(2).copied().flatten(), "x_zero_point")?
        && z != x.dtype
    {
        return Err(format!("x_zero_point is {z} but x is {}", x.dtype));
    }
    Ok(vec![TensorType::new(s.dtype, x.shape.clone())])
}

pub(crate) fn infer_dynamic(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "x")?.ty;
    if x.dtype != DType::F32 {
        return Err(format!("x must be an f32 tensor, got {x}"));
    }
    Ok(vec![
        TensorType::new(DType::U8, x.shape.clone()),
        TensorType::new(DType::F32, vec![]),
        TensorType::new(DType::U8, vec![]),
    ])
}

fn as_f32s(t: &Tensor) -> Vec<f32> {
    t.data.to_f64_vec().into_iter().map(|v| v as f32).collect()
}

/// `round_half_even(v / scale) + zero_point`, saturated to `to`, in f32.
pub fn quantize_one(v: f32, scale: f32, zp: f32, to: DType) -> f64 {
    let (lo, hi) = int_range(to).unwrap_or((0.0, 255.0));
    let q = round_half_even(v / scale) + zp;
    // NaN saturates to 0, as a float-to-integer `as` conversion does.
    if q.is_nan() {
        0.0
    } else {
        (q as f64).clamp(lo, hi)
    }
}

pub(crate) fn eval_quantize(
    a: &QuantAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_quantize(a, ii))?.remove(0);
    let (x, s) = (tensor(inputs, 0, "x")?, tensor(inputs, 1, "y_scale")?);
    let g = geometry(&x.shape, &s.shape, a)?;
    let (xv, sv) = (as_f32s(x), as_f32s(s));
    let zv = inputs
        .get(2)
        .copied()
        .flatten()
        .map_or_else(|| vec![0.0; sv.len()], as_f32s);
    let q: Vec<f64> = (0..xv.len())
        .map(|e| {
            let k = g.scale_index(e);
            quantize_one(xv[e], sv[k], zv[k], ty.dtype)
        })
        .collect();
    Ok(vec![output(&ty, data_of(ty.dtype, q)?)?])
}

pub(crate) fn eval_dequantize(
    a: &QuantAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_dequantize(a, ii))?.remove(0);
    let (x, s) = (tensor(inputs, 0, "x")?, tensor(inputs, 1, "x_scale")?);
    let g = geometry(&x.shape, &s.shape, a)?;
    let (xv, sv) = (x.data.to_f64_vec(), as_f32s(s));
    let zv = inputs
        .get(2)
        .copied()
        .flatten()
        .map_or_else(|| vec![0.0; sv.len()], |z| z.data.to_f64_vec());
    // The integer difference is exact; then one f32 product.
    let y: Vec<f64> = (0..xv.len())
        .map(|e| {
            let k = g.scale_index(e);
            f64::from(((xv[e] - zv[k]) as f32) * sv[k])
        })
        .collect();
    Ok(vec![output(&ty, data_of(ty.dtype, y)?)?])
}

/// DynamicQuantizeLinear's scale and zero point for `x`: the range [min(x, 0), max(x, 0)]
/// mapped onto [0, 255].
pub fn dynamic_params(x: &[f32]) -> (f32, f32) {
    let (lo, hi) = x
        .iter()
        .fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let scale = (hi - lo) / 255.0;
    let zp = if scale == 0.0 {
        0.0
    } else {
        round_half_even((0.0 - lo / scale).clamp(0.0, 255.0))
    };
    (scale, zp)
}

pub(crate) fn eval_dynamic(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let tys = infer_on(inputs, infer_dynamic)?;
    let xv = as_f32s(tensor(inputs, 0, "x")?);
    let (scale, zp) = dynamic_params(&xv);
    let y: Vec<f64> = xv
        .iter()
        .map(|&v| {
            if scale == 0.0 {
                f64::from(zp)
            } else {
                quantize_one(v, scale, zp, DType::U8)
            }
        })
        .collect();
    Ok(vec![
        output(&tys[0], data_of(DType::U8, y)?)?,
        output(&tys[1], TensorData::F32(vec![scale]))?,
        output(&tys[2], TensorData::U8(vec![zp as u8]))?,
    ])
}

/// Values already in `dtype`'s range (integers, or floats to round) as its storage.
fn data_of(dtype: DType, v: Vec<f64>) -> Result<TensorData, String> {
    Ok(match dtype {
        DType::U8 => TensorData::U8(v.into_iter().map(|x| x as u8).collect()),
        DType::I8 => TensorData::I8(v.into_iter().map(|x| x as i8).collect()),
        DType::U16 => TensorData::U16(v.into_iter().map(|x| x as u16).collect()),
        DType::I16 => TensorData::I16(v.into_iter().map(|x| x as i16).collect()),
        other => from_f64s(other, v)?,
    })
}

/// The shapes of an integer matrix product `A [batch.., M, K] × B [K, N]` or
/// `B [batch.., K, N]` with A's batch axes: `(batch, M, K, N, B is batched)`.
pub fn int_matmul_dims(
    a: &[usize],
    b: &[usize],
) -> Result<(usize, usize, usize, usize, bool), String> {
    if a.len() < 2 || b.len() < 2 {
        return Err(format!(
            "A {a:?} and B {b:?} must be matrices or stacks of matrices (rank ≥ 2)"
        ));
    }
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    if k != k2 {
        return Err(format!("A {a:?} has {k} columns but B {b:?} has {k2} rows"));
    }
    let batch: usize = a[..a.len() - 2].iter().product();
    let batched = b.len() > 2;
    if batched && a[..a.len() - 2] != b[..b.len() - 2] {
        return Err(format!(
            "the batch axes of A {a:?} and B {b:?} differ; kiln multiplies equal stacks, or a \
             stack by one matrix"
        ));
    }
    Ok((batch, m, k, n, batched))
}

/// A zero point of a matrix product operand: one value, or one per row of A (`rows`) or
/// per column of B.
fn check_mm_zero_point(
    zp: Option<InferInput>,
    of: &TensorType,
    len: usize,
    what: &str,
) -> Result<(), String> {
    let Some(zp) = zp else { return Ok(()) };
    if zp.ty.dtype != of.dtype {
        return Err(format!(
            "{what} is {} but its operand is {}",
            zp.ty.dtype, of.dtype
        ));
    }
    if zp.ty.numel() != 1 && zp.ty.shape != [len] {
        return Err(format!(
            "{what} has shape {:?}; kiln takes one value or one per row (A) or column (B), [{len}]",
            zp.ty.shape
        ));
    }
    Ok(())
}

fn int_operands(inputs: &[Option<InferInput>], slots: [usize; 4]) -> Result<Vec<usize>, String> {
    let a = input(inputs, slots[0], "A")?.ty;
    let b = input(inputs, slots[1], "B")?.ty;
    for t in [a, b] {
        if !matches!(t.dtype, DType::U8 | DType::I8) {
            return Err(format!("the operands must be u8 or i8 tensors, got {t}"));
        }
    }
    let (_, m, _, n, _) = int_matmul_dims(&a.shape, &b.shape)?;
    check_mm_zero_point(
        inputs.get(slots[2]).copied().flatten(),
        a,
        m,
        "A's zero point",
    )?;
    check_mm_zero_point(
        inputs.get(slots[3]).copied().flatten(),
        b,
        n,
        "B's zero point",
    )?;
    let mut shape = a.shape[..a.shape.len() - 1].to_vec();
    shape.push(n);
    Ok(shape)
}

pub(crate) fn infer_matmul_integer(
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let shape = int_operands(inputs, [0, 1, 2, 3])?;
    Ok(vec![TensorType::new(DType::I32, shape)])
}

/// QLinearMatMul's inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
/// y_zero_point; the scales are single values.
pub(crate) fn infer_qlinear_matmul(
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let shape = int_operands(inputs, [0, 3, 2, 5])?;
    let mut scale_type = None;
    for (slot, what) in [(1, "a_scale"), (4, "b_scale"), (6, "y_scale")] {
        let s = input(inputs, slot, what)?.ty;
        if !matches!(s.dtype, DType::F32 | DType::F16) || s.numel() != 1 {
            return Err(format!("{what} must be one f32 or f16 value, got {s}"));
        }
        if scale_type.is_some_and(|t| t != s.dtype) {
            return Err("the scales must have one element type".into());
        }
        scale_type = Some(s.dtype);
    }
    let z = input(inputs, 7, "y_zero_point")?.ty;
    if !matches!(z.dtype, DType::U8 | DType::I8) || z.numel() != 1 {
        return Err(format!("y_zero_point must be one u8 or i8 value, got {z}"));
    }
    Ok(vec![TensorType::new(z.dtype, shape)])
}

/// `(A - a_zp) × (B - b_zp)` with exact integer accumulation.
fn int_matmul(
    a: &Tensor,
    b: &Tensor,
    azp: Option<&Tensor>,
    bzp: Option<&Tensor>,
) -> Result<Vec<i64>, String> {
    let (batch, m, k, n, batched) = int_matmul_dims(&a.shape, &b.shape)?;
    let (av, bv) = (a.data.to_f64_vec(), b.data.to_f64_vec());
    let zp = |z: Option<&Tensor>, i: usize| -> i64 {
        z.map_or(0, |z| {
            let v = z.data.to_f64_vec();
            v[if v.len() == 1 { 0 } else { i }] as i64
        })
    };
    let mut y = vec![0i64; batch * m * n];
    for p in 0..batch {
        let (ao, bo) = (p * m * k, if batched { p * k * n } else { 0 });
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0i64;
                for t in 0..k {
                    acc += (av[ao + i * k + t] as i64 - zp(azp, i))
                        * (bv[bo + t * n + j] as i64 - zp(bzp, j));
                }
                y[(p * m + i) * n + j] = acc;
            }
        }
    }
    Ok(y)
}

pub(crate) fn eval_matmul_integer(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_matmul_integer)?.remove(0);
    let arg = |i: usize| inputs.get(i).copied().flatten();
    let y = int_matmul(
        tensor(inputs, 0, "A")?,
        tensor(inputs, 1, "B")?,
        arg(2),
        arg(3),
    )?;
    Ok(vec![output(
        &ty,
        TensorData::I32(y.into_iter().map(|v| v as i32).collect()),
    )?])
}

/// Round half to even in f64.
pub fn round_half_even_f64(v: f64) -> f64 {
    let r = v.round();
    if (r - v).abs() == 0.5 {
        2.0 * (v / 2.0).round()
    } else {
        r
    }
}

/// QLinearMatMul's requantisation factor `a_scale * b_scale / y_scale`, in the scales' own
/// precision (f16 rounds after each step, as numpy's float16 arithmetic does).
pub fn qlinear_multiplier(a: f32, b: f32, y: f32, dtype: DType) -> f32 {
    if dtype == DType::F16 {
        let r = |v: f32| half::f16::from_f32(v).to_f32();
        r(r(a * b) / y)
    } else {
        a * b / y
    }
}

pub(crate) fn eval_qlinear_matmul(inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_qlinear_matmul)?.remove(0);
    let arg = |i: usize| inputs.get(i).copied().flatten();
    let acc = int_matmul(
        tensor(inputs, 0, "a")?,
        tensor(inputs, 3, "b")?,
        arg(2),
        arg(5),
    )?;
    let one = |i: usize, what: &str| -> Result<f32, String> {
        Ok(tensor(inputs, i, what)?.data.to_f64_vec()[0] as f32)
    };
    let sdt = tensor(inputs, 1, "a_scale")?.dtype();
    let mul = qlinear_multiplier(
        one(1, "a_scale")?,
        one(4, "b_scale")?,
        one(6, "y_scale")?,
        sdt,
    );
    let zp = tensor(inputs, 7, "y_zero_point")?.data.to_f64_vec()[0];
    let (lo, hi) = int_range(ty.dtype).unwrap_or((0.0, 255.0));
    // numpy multiplies the int32 product by the scale in f64.
    let y: Vec<f64> = acc
        .into_iter()
        .map(|c| (round_half_even_f64(c as f64 * f64::from(mul)) + zp).clamp(lo, hi))
        .collect();
    Ok(vec![output(&ty, data_of(ty.dtype, y)?)?])
}

/// The shape of an integer convolution of X (slot `xs`) by W (slot `ws`), checked by Conv's
/// own inference on f64 stand-ins; the kernels handle 1-D and 2-D convolutions.
fn int_conv_shape(
    a: &super::ConvAttrs,
    inputs: &[Option<InferInput>],
    xs: usize,
    ws: usize,
) -> Result<Vec<usize>, String> {
    let (x, w) = (input(inputs, xs, "x")?.ty, input(inputs, ws, "w")?.ty);
    for t in [x, w] {
        if !matches!(t.dtype, DType::U8 | DType::I8) {
            return Err(format!("x and w must be u8 or i8 tensors, got {t}"));
        }
    }
    if !(3..=4).contains(&x.rank()) {
        return Err(format!(
            "kiln's integer convolution takes 1-D and 2-D images, got x {x}"
        ));
    }
    let as_f64 = |t: &TensorType| TensorType::new(DType::F64, t.shape.clone());
    let (xf, wf) = (as_f64(x), as_f64(w));
    let shape = super::conv::infer(
        a,
        &[
            Some(InferInput {
                ty: &xf,
                value: None,
            }),
            Some(InferInput {
                ty: &wf,
                value: None,
            }),
        ],
    )?
    .remove(0)
    .shape;
    Ok(shape)
}

/// A zero point or scale that is one value or one per output channel.
fn check_per_channel(t: Option<InferInput>, m: usize, what: &str) -> Result<(), String> {
    match t {
        Some(t) if t.ty.numel() != 1 && t.ty.shape != [m] => Err(format!(
            "{what} has shape {:?}; kiln takes one value or one per output channel, [{m}]",
            t.ty.shape
        )),
        _ => Ok(()),
    }
}

/// ConvInteger: x, w, x_zero_point?, w_zero_point?.
pub(crate) fn infer_conv_integer(
    a: &super::ConvAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let shape = int_conv_shape(a, inputs, 0, 1)?;
    let m = input(inputs, 1, "w")?.ty.shape[0];
    check_per_channel(inputs.get(2).copied().flatten(), 1, "x_zero_point")?;
    check_per_channel(inputs.get(3).copied().flatten(), m, "w_zero_point")?;
    Ok(vec![TensorType::new(DType::I32, shape)])
}

/// QLinearConv: x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point,
/// B? (i32).
pub(crate) fn infer_qlinear_conv(
    a: &super::ConvAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let shape = int_conv_shape(a, inputs, 0, 3)?;
    let m = input(inputs, 3, "w")?.ty.shape[0];
    for (slot, what, len) in [
        (1, "x_scale", 1),
        (2, "x_zero_point", 1),
        (4, "w_scale", m),
        (5, "w_zero_point", m),
        (6, "y_scale", 1),
        (7, "y_zero_point", 1),
    ] {
        check_per_channel(Some(input(inputs, slot, what)?), len, what)?;
    }
    for slot in [1, 4, 6] {
        let s = input(inputs, slot, "scale")?.ty;
        if s.dtype != DType::F32 {
            return Err(format!("the scales must be f32, got {s}"));
        }
    }
    if let Some(b) = inputs.get(8).copied().flatten()
        && (b.ty.dtype != DType::I32 || b.ty.shape != [m])
    {
        return Err(format!("B must be i32[{m}], got {}", b.ty));
    }
    let z = input(inputs, 7, "y_zero_point")?.ty.dtype;
    if !matches!(z, DType::U8 | DType::I8) {
        return Err(format!("y_zero_point must be u8 or i8, got {z}"));
    }
    Ok(vec![TensorType::new(z, shape)])
}

/// `(x - x_zp) ⊛ (w - w_zp)`, exactly (through Conv's f64 reference: the sums of integer
/// products stay far below 2^53).
fn int_conv(
    a: &super::ConvAttrs,
    inputs: &[Option<&Tensor>],
    slots: [usize; 4],
) -> Result<Vec<f64>, String> {
    let centred = |slot: usize, zp: usize, per_channel: bool| -> Result<Tensor, String> {
        let t = tensor(inputs, slot, "operand")?;
        let z = inputs
            .get(zp)
            .copied()
            .flatten()
            .map(|z| z.data.to_f64_vec());
        let per = if per_channel {
            t.numel() / t.shape[0].max(1)
        } else {
            t.numel().max(1)
        };
        let v: Vec<f64> = t
            .data
            .to_f64_vec()
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let zv = z
                    .as_ref()
                    .map_or(0.0, |z| z[if z.len() == 1 { 0 } else { i / per }]);
                v - zv
            })
            .collect();
        Tensor::new(t.shape.clone(), TensorData::F64(v))
    };
    let x = centred(slots[0], slots[1], false)?;
    let w = centred(slots[2], slots[3], true)?;
    let y = super::conv::eval(a, &[Some(&x), Some(&w)])?.remove(0);
    Ok(y.data.to_f64_vec())
}

pub(crate) fn eval_conv_integer(
    a: &super::ConvAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_conv_integer(a, ii))?.remove(0);
    let y = int_conv(a, inputs, [0, 2, 1, 3])?;
    Ok(vec![output(
        &ty,
        TensorData::I32(y.into_iter().map(|v| v as i32).collect()),
    )?])
}

pub(crate) fn eval_qlinear_conv(
    a: &super::ConvAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_qlinear_conv(a, ii))?.remove(0);
    let acc = int_conv(a, inputs, [0, 2, 3, 5])?;
    let vals = |i: usize| -> Result<Vec<f32>, String> { Ok(as_f32s(tensor(inputs, i, "scale")?)) };
    let (xs, ws, ys) = (vals(1)?[0], vals(4)?, vals(6)?[0]);
    let zp = tensor(inputs, 7, "y_zero_point")?.data.to_f64_vec()[0];
    let bias = inputs
        .get(8)
        .copied()
        .flatten()
        .map(|b| b.data.to_f64_vec());
    let m = ty.shape[1];
    let plane: usize = ty.shape[2..].iter().product();
    let (lo, hi) = int_range(ty.dtype).unwrap_or((0.0, 255.0));
    let y: Vec<f64> = acc
        .into_iter()
        .enumerate()
        .map(|(e, c)| {
            let oc = (e / plane) % m;
            let c = c + bias.as_ref().map_or(0.0, |b| b[oc]);
            let mul = xs * ws[if ws.len() == 1 { 0 } else { oc }] / ys;
            (round_half_even_f64(c * f64::from(mul)) + zp).clamp(lo, hi)
        })
        .collect();
    Ok(vec![output(&ty, data_of(ty.dtype, y)?)?])
}
