//! Indexed data movement: Gather (1, 11, 13), GatherElements (11, 13), GatherND (11, 12:
//! `batch_dims`, 13), ScatterND (11, 13, 16: `reduction`, 18: max/min), ScatterElements
//! (11, 13, 16, 18), OneHot (9, 11). Indices may be known only at run time; negative
//! indices count from the end, and an index out of range is an error here (the generated
//! code leaves such elements as described at each kernel).
//! Specs: https://onnx.ai/onnx/operators/onnx__Gather.html, .../onnx__GatherElements.html,
//! .../onnx__GatherND.html, .../onnx__ScatterND.html, .../onnx__ScatterElements.html,
//! .../onnx__OneHot.html

use super::common::{Arith, Elem, elems, gather, infer_on, numeric_dispatch, output, strides_of};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct GatherAttrs {
    pub axis: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GatherNdAttrs {
    pub batch_dims: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Add,
    Mul,
    Max,
    Min,
}

impl Reduction {
    pub fn parse(s: &str) -> Option<Reduction> {
        Some(match s {
            "none" => Reduction::None,
            "add" => Reduction::Add,
            "mul" => Reduction::Mul,
            "max" => Reduction::Max,
            "min" => Reduction::Min,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScatterAttrs {
    /// ScatterElements' axis (unused by ScatterND).
    pub axis: i64,
    pub reduction: Reduction,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OneHotAttrs {
    pub axis: i64,
}

fn index_ty(t: &TensorType, what: &str) -> Result<(), String> {
    if matches!(t.dtype, crate::types::DType::I32 | crate::types::DType::I64) {
        Ok(())
    } else {
        Err(format!("{what} must be int32 or int64, but it is {t}"))
    }
}

/// The indices as i64.
fn indices(t: &Tensor) -> Result<Vec<i64>, String> {
    match &t.data {
        TensorData::I64(v) => Ok(v.clone()),
        TensorData::I32(v) => Ok(v.iter().map(|&x| x as i64).collect()),
        _ => Err(format!(
            "indices must be int32 or int64, but they are {}",
            t.ty()
        )),
    }
}

/// Index `i` into an axis of size `d`, negative counting from the end.
fn wrap(i: i64, d: usize, what: &str) -> Result<usize, String> {
    let j = if i < 0 { i + d as i64 } else { i };
    if (0..d as i64).contains(&j) {
        Ok(j as usize)
    } else {
        Err(format!(
            "{what} index {i} is out of range for an axis of size {d}"
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Gather

pub(crate) fn infer_gather(
    a: &GatherAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let i = input(inputs, 1, "indices")?.ty;
    index_ty(i, "indices")?;
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let mut shape = x.shape[..axis].to_vec();
    shape.extend(&i.shape);
    shape.extend(&x.shape[axis + 1..]);
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_gather(
    a: &GatherAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_gather(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let idx = indices(tensor(inputs, 1, "indices")?)?;
    let axis = normalize_axis(a.axis, x.shape.len()).ok_or("axis out of range")?;
    let outer: usize = x.shape[..axis].iter().product();
    let d = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let idx: Vec<usize> = idx
        .iter()
        .map(|&i| wrap(i, d, "a Gather"))
        .collect::<Result<_, _>>()?;
    let mut at = Vec::with_capacity(ty.numel());
    for o in 0..outer {
        for &j in &idx {
            at.extend((0..inner).map(|k| (o * d + j) * inner + k));
        }
    }
    Ok(vec![output(&ty, gather(&x.data, &at))?])
}

// ---------------------------------------------------------------------------------------
// GatherElements

pub(crate) fn infer_gather_elements(
    a: &GatherAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let i = input(inputs, 1, "indices")?.ty;
    index_ty(i, "indices")?;
    normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    if i.rank() != x.rank() {
        return Err(format!("indices {i} must have the rank of data {x}"));
    }
    Ok(vec![TensorType::new(x.dtype, i.shape.clone())])
}

/// For each element of `shape` (row-major), the flat index into `x` that replaces the
/// coordinate on `axis` by the index: GatherElements' and ScatterElements' addressing.
fn element_targets(
    x: &[usize],
    shape: &[usize],
    axis: usize,
    idx: &[i64],
    what: &str,
) -> Result<Vec<usize>, String> {
    let xs = strides_of(x);
    let mut coord = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(idx.len());
    for (f, &i) in idx.iter().enumerate() {
        super::common::unravel(f, shape, &mut coord);
        let j = wrap(i, x[axis], what)?;
        let mut at = 0;
        for d in 0..shape.len() {
            let c = if d == axis { j } else { coord[d] };
            if c >= x[d] {
                return Err(format!(
                    "{what}: indices shape {shape:?} exceeds data shape {x:?}"
                ));
            }
            at += c * xs[d];
        }
        out.push(at);
    }
    Ok(out)
}

pub(crate) fn eval_gather_elements(
    a: &GatherAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_gather_elements(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let it = tensor(inputs, 1, "indices")?;
    let axis = normalize_axis(a.axis, x.shape.len()).ok_or("axis out of range")?;
    let at = element_targets(&x.shape, &it.shape, axis, &indices(it)?, "GatherElements")?;
    Ok(vec![output(&ty, gather(&x.data, &at))?])
}

// ---------------------------------------------------------------------------------------
// GatherND and ScatterND

/// GatherND's geometry: (batch count, index tuples per batch, tuple length m, slice size).
fn nd_geometry(x: &[usize], i: &[usize], b: usize) -> Result<(usize, usize, usize, usize), String> {
    let q = i.len();
    if q < 1 || b >= q.min(x.len() + 1) || b > x.len() {
        return Err(format!(
            "batch_dims {b} must be less than the ranks of data {x:?} and indices {i:?}"
        ));
    }
    if x[..b] != i[..b] {
        return Err(format!(
            "the first {b} (batch) dimensions of data {x:?} and indices {i:?} must match"
        ));
    }
    let m = i[q - 1];
    if m < 1 || b + m > x.len() {
        return Err(format!(
            "index tuples have {m} entries; with batch_dims {b} data of rank {} takes 1 to {}",
            x.len(),
            x.len() - b
        ));
    }
    let batches: usize = x[..b].iter().product();
    let per: usize = i[b..q - 1].iter().product();
    let slice: usize = x[b + m..].iter().product();
    Ok((batches, per, m, slice))
}

/// The flat start in `x` of the slice each index tuple names.
fn nd_starts(
    x: &[usize],
    b: usize,
    m: usize,
    batches: usize,
    per: usize,
    idx: &[i64],
) -> Result<Vec<usize>, String> {
    let xs = strides_of(x);
    let batch_stride: usize = x[b..].iter().product();
    let mut out = Vec::with_capacity(batches * per);
    for bi in 0..batches {
        for p in 0..per {
            let tuple = &idx[(bi * per + p) * m..][..m];
            let mut at = bi * batch_stride;
            for (k, &v) in tuple.iter().enumerate() {
                at += wrap(v, x[b + k], "an ND")? * xs[b + k];
            }
            out.push(at);
        }
    }
    Ok(out)
}

pub(crate) fn infer_gather_nd(
    a: &GatherNdAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let i = input(inputs, 1, "indices")?.ty;
    if i.dtype != crate::types::DType::I64 {
        return Err(format!("indices must be int64, but they are {i}"));
    }
    let (_, _, m, _) = nd_geometry(&x.shape, &i.shape, a.batch_dims)?;
    let mut shape = i.shape[..i.rank() - 1].to_vec();
    shape.extend(&x.shape[a.batch_dims + m..]);
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_gather_nd(
    a: &GatherNdAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_gather_nd(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let it = tensor(inputs, 1, "indices")?;
    let (batches, per, m, slice) = nd_geometry(&x.shape, &it.shape, a.batch_dims)?;
    let starts = nd_starts(&x.shape, a.batch_dims, m, batches, per, &indices(it)?)?;
    let at: Vec<usize> = starts.iter().flat_map(|&s| s..s + slice).collect();
    Ok(vec![output(&ty, gather(&x.data, &at))?])
}

/// Writes `updates[k]` into `out[targets[k]]` in order, combined by `r`.
fn scatter(
    out: &mut TensorData,
    updates: &TensorData,
    targets: &[usize],
    r: Reduction,
) -> Result<(), String> {
    fn go<T: Arith>(out: &mut [T], up: &[T], targets: &[usize], r: Reduction) {
        for (&t, &u) in targets.iter().zip(up) {
            let o = out[t];
            out[t] = match r {
                Reduction::None => u,
                Reduction::Add => o.add(u),
                Reduction::Mul => o.mul(u),
                // numpy's maximum/minimum: NaN wins.
                Reduction::Max => {
                    if o.partial_cmp(&u).is_none() {
                        if o.partial_cmp(&o).is_none() { o } else { u }
                    } else if u > o {
                        u
                    } else {
                        o
                    }
                }
                Reduction::Min => {
                    if o.partial_cmp(&u).is_none() {
                        if o.partial_cmp(&o).is_none() { o } else { u }
                    } else if u < o {
                        u
                    } else {
                        o
                    }
                }
            };
        }
    }
    let dtype = out.dtype();
    if updates.dtype() != dtype {
        return Err(format!(
            "updates are {} but data is {dtype}",
            updates.dtype()
        ));
    }
    let u = Tensor::new(vec![updates.len()], updates.clone())?;
    let o = Tensor::new(vec![out.len()], out.clone())?;
    *out = numeric_dispatch!(dtype, T => {
        let mut v: Vec<T> = elems::<T>(&o, "data")?.into_owned();
        go(&mut v, &elems::<T>(&u, "updates")?, targets, r);
        <T as Elem>::wrap(v)
    }, bool => {
        let (TensorData::Bool(o), TensorData::Bool(up)) = (&*out, updates) else {
            return Err("bool data mismatch".into());
        };
        let mut v = o.clone();
        for (&t, &x) in targets.iter().zip(up) {
            v[t] = match r {
                Reduction::None => x,
                Reduction::Add | Reduction::Max => v[t] | x,
                Reduction::Mul | Reduction::Min => v[t] & x,
            };
        }
        TensorData::Bool(v)
    });
    Ok(())
}

pub(crate) fn infer_scatter_nd(inputs: &[Option<InferInput>]) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let i = input(inputs, 1, "indices")?.ty;
    let u = input(inputs, 2, "updates")?.ty;
    if i.dtype != crate::types::DType::I64 {
        return Err(format!("indices must be int64, but they are {i}"));
    }
    let (_, _, m, _) = nd_geometry(&x.shape, &i.shape, 0)?;
    let mut want = i.shape[..i.rank() - 1].to_vec();
    want.extend(&x.shape[m..]);
    if u.shape != want || u.dtype != x.dtype {
        return Err(format!(
            "updates {u} must be {} with shape {want:?}",
            x.dtype
        ));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_scatter_nd(
    a: &ScatterAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, infer_scatter_nd)?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let it = tensor(inputs, 1, "indices")?;
    let u = tensor(inputs, 2, "updates")?;
    let (batches, per, m, slice) = nd_geometry(&x.shape, &it.shape, 0)?;
    let starts = nd_starts(&x.shape, 0, m, batches, per, &indices(it)?)?;
    let targets: Vec<usize> = starts.iter().flat_map(|&s| s..s + slice).collect();
    let mut data = x.data.clone();
    scatter(&mut data, &u.data, &targets, a.reduction)?;
    Ok(vec![output(&ty, data)?])
}

pub(crate) fn infer_scatter_elements(
    a: &ScatterAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let i = input(inputs, 1, "indices")?.ty;
    let u = input(inputs, 2, "updates")?.ty;
    index_ty(i, "indices")?;
    normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    if i.rank() != x.rank() || u.shape != i.shape || u.dtype != x.dtype {
        return Err(format!(
            "indices {i} and updates {u} must have one shape, of the rank of data {x}"
        ));
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_scatter_elements(
    a: &ScatterAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_scatter_elements(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let it = tensor(inputs, 1, "indices")?;
    let u = tensor(inputs, 2, "updates")?;
    let axis = normalize_axis(a.axis, x.shape.len()).ok_or("axis out of range")?;
    let targets = element_targets(&x.shape, &it.shape, axis, &indices(it)?, "ScatterElements")?;
    let mut data = x.data.clone();
    scatter(&mut data, &u.data, &targets, a.reduction)?;
    Ok(vec![output(&ty, data)?])
}

// ---------------------------------------------------------------------------------------
// OneHot

/// OneHot's depth: a constant scalar of any numeric type (floats truncated).
pub fn one_hot_depth(i: InferInput) -> Result<usize, String> {
    let t = i.value.ok_or(
        "the `depth` operand is only known at run time; kiln needs it as a constant (an \
         initializer or Constant node) because it decides the output shape",
    )?;
    if t.numel() != 1 {
        return Err(format!("depth must hold one value, but it is {}", t.ty()));
    }
    let d = t.data.to_f64_vec()[0].trunc();
    if !(1.0..=(1u64 << 31) as f64).contains(&d) {
        return Err(format!("depth {d} must be at least 1"));
    }
    Ok(d as usize)
}

pub(crate) fn infer_one_hot(
    a: &OneHotAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let i = input(inputs, 0, "indices")?.ty;
    let depth = one_hot_depth(input(inputs, 1, "depth")?)?;
    let v = input(inputs, 2, "values")?.ty;
    if v.numel() != 2 {
        return Err(format!("values must hold [off, on], but it is {v}"));
    }
    if i.dtype == crate::types::DType::Bool {
        return Err(format!("indices must be numeric, but they are {i}"));
    }
    let axis = normalize_axis(a.axis, i.rank() + 1)
        .ok_or_else(|| format!("axis {} is out of range for indices {i}", a.axis))?;
    let mut shape = i.shape.clone();
    shape.insert(axis, depth);
    Ok(vec![TensorType::new(v.dtype, shape)])
}

pub(crate) fn eval_one_hot(
    a: &OneHotAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_one_hot(a, ii))?.remove(0);
    let it = tensor(inputs, 0, "indices")?;
    let v = tensor(inputs, 2, "values")?;
    let axis = normalize_axis(a.axis, ty.rank()).ok_or("axis out of range")?;
    let depth = ty.shape[axis];
    let outer: usize = ty.shape[..axis].iter().product();
    let inner: usize = ty.shape[axis + 1..].iter().product();
    // Indices are truncated toward zero (floats) and may count from the end.
    let idx: Vec<f64> = it.data.to_f64_vec();
    let mut pick = vec![0usize; ty.numel()];
    for o in 0..outer {
        for k in 0..inner {
            let mut j = idx[o * inner + k].trunc();
            if j < 0.0 {
                j += depth as f64;
            }
            if (0.0..depth as f64).contains(&j) {
                pick[(o * depth + j as usize) * inner + k] = 1;
            }
        }
    }
    Ok(vec![output(&ty, gather(&v.data, &pick))?])
}
