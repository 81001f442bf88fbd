//! BatchNormalization (opsets 9, 14, 15): `Y = (X - mean) / sqrt(var + epsilon) * scale + B`,
//! per channel (axis 1). In inference mode mean and var are the inputs. In training mode
//! (opset ≥ 14, `training_mode = 1`) they are the batch's own per-channel mean and biased
//! variance over every axis but 1, and the optional outputs 1 and 2 are the updated running
//! statistics `input_mean * momentum + mean * (1 - momentum)` (the same for var).
//! Spec: https://onnx.ai/onnx/operators/onnx__BatchNormalization.html
//!
//! Reference semantics on float types (opset 15 lets scale/B and mean/var have their own
//! float types), any rank ≥ 2, computed in f64.
//!
//! LayerNormalization (opset 17): over the axes from `axis` on, `Y = (X - mean) /
//! sqrt(var + epsilon) * Scale + B` with the biased variance; Scale and B broadcast to X's
//! shape (as in the spec's function body, where they are a Mul and an Add). Outputs 1 and 2
//! (optional) are each row's Mean and InvStdDev `1 / sqrt(var + epsilon)`, of shape
//! `X.shape[..axis]` followed by 1s; they have X's element type (the import refuses a
//! `stash_type` that differs from it when they are used).
//! Spec: https://onnx.ai/onnx/operators/onnx__LayerNormalization.html
//! Reference semantics on floats, computed in f64 (so `stash_type` does not matter).

use super::common::{broadcast_index, floats, from_f64s, infer_on, output};
use super::{InferInput, float_input, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, normalize_axis};

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormAttrs {
    pub epsilon: f32,
    /// `Some(momentum)` in training mode: normalise with the batch's statistics and
    /// output the updated running mean and variance.
    pub training_momentum: Option<f32>,
}

pub(crate) fn infer(
    a: &BatchNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    if !x.dtype.is_float() {
        return Err(format!(
            "BatchNormalization is defined for floating-point tensors, got {x}"
        ));
    }
    let c = x.shape[1];
    for (i, what) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
        let t = input(inputs, i, what)?.ty;
        if t.shape != [c] {
            return Err(format!("{what} {t} must have shape [{c}]"));
        }
        if !t.dtype.is_float() {
            return Err(format!("{what} must be a floating-point tensor, got {t}"));
        }
    }
    let mut out = vec![x.clone()];
    if a.training_momentum.is_some() {
        // running_mean and running_var, typed like input_mean and input_var.
        out.push(input(inputs, 3, "input_mean")?.ty.clone());
        out.push(input(inputs, 4, "input_var")?.ty.clone());
    }
    Ok(out)
}

pub(crate) fn eval(a: &BatchNormAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    let param = |i: usize, what: &str| floats(tensor(inputs, i, what)?, what);
    let (scale, bias) = (param(1, "scale")?, param(2, "B")?);
    let (mut mean, mut var) = (param(3, "input_mean")?, param(4, "input_var")?);
    let channels = ty.shape[1];
    let inner: usize = ty.shape[2..].iter().product();
    let mut running = Vec::new();
    if let Some(momentum) = a.training_momentum {
        // The batch's statistics per channel, over every axis but 1 (biased variance).
        // An empty batch gives NaN statistics, as numpy's mean of nothing and the kernel do.
        let count = (x.len() / channels.max(1)) as f64;
        let channel_of = |i: usize| (i / inner.max(1)) % channels.max(1);
        let mut batch_mean = vec![0.0; channels];
        for (i, &v) in x.iter().enumerate() {
            batch_mean[channel_of(i)] += v;
        }
        batch_mean.iter_mut().for_each(|m| *m /= count);
        let mut batch_var = vec![0.0; channels];
        for (i, &v) in x.iter().enumerate() {
            let d = v - batch_mean[channel_of(i)];
            batch_var[channel_of(i)] += d * d;
        }
        batch_var.iter_mut().for_each(|v| *v /= count);
        let m = momentum as f64;
        for (stat, batch, k) in [(&mean, &batch_mean, 3), (&var, &batch_var, 4)] {
            let r: Vec<f64> = stat
                .iter()
                .zip(batch)
                .map(|(&s, &b)| s * m + b * (1.0 - m))
                .collect();
            let t = tensor(inputs, k, "running statistic")?;
            running.push(Tensor::new(t.shape.clone(), from_f64s(t.dtype(), r)?)?);
        }
        (mean, var) = (batch_mean, batch_var);
    }
    // Per channel, y = x * k + (B - mean * k) with k = scale / sqrt(var + eps) would round
    // differently; keep the spec's form.
    let eps = a.epsilon as f64;
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = (i / inner.max(1)) % channels.max(1);
            (v - mean[c]) / (var[c] + eps).sqrt() * scale[c] + bias[c]
        })
        .collect();
    let mut out = vec![output(&ty, from_f64s(ty.dtype, y)?)?];
    out.extend(running);
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormAttrs {
    /// The first normalised axis (negative counts from the end).
    pub axis: i64,
    pub epsilon: f32,
}

/// `(outer, len)`: the rows of a LayerNormalization of `x` at `axis` and their length.
pub fn layer_norm_rows(a: &LayerNormAttrs, x: &TensorType) -> Result<(usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    Ok((
        x.shape[..axis].iter().product(),
        x.shape[axis..].iter().product(),
    ))
}

pub(crate) fn infer_layer_norm(
    a: &LayerNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "LayerNormalization is defined for floating-point tensors, got {x}"
        ));
    }
    layer_norm_rows(a, x)?;
    for (i, what) in [(1, "Scale"), (2, "B")] {
        let Some(t) = inputs.get(i).copied().flatten() else {
            if i == 1 {
                return Err("required input 1 (Scale) is missing".into());
            }
            continue;
        };
        let t = t.ty;
        if t.dtype != x.dtype {
            return Err(format!("{what} {t} must have the element type of X {x}"));
        }
        // Unidirectional broadcasting to X.
        let fits = t.rank() <= x.rank()
            && t.shape
                .iter()
                .rev()
                .zip(x.shape.iter().rev())
                .all(|(&s, &n)| s == n || s == 1);
        if !fits {
            return Err(format!("{what} {t} does not broadcast to X {x}"));
        }
    }
    // The statistics: one per row, the normalised axes kept as 1.
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let stats: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .map(|(d, &n)| if d < axis { n } else { 1 })
        .collect();
    let stats = TensorType::new(x.dtype, stats);
    Ok(vec![x.clone(), stats.clone(), stats])
}

pub(crate) fn eval_layer_norm(
    a: &LayerNormAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let tys = infer_on(inputs, |ii| infer_layer_norm(a, ii))?;
    let ty = &tys[0];
    let (outer, len) = layer_norm_rows(a, ty)?;
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    // Scale and B spread over X.
    let spread = |i: usize, what: &str, none: f64| -> Result<Vec<f64>, String> {
        match inputs.get(i).copied().flatten() {
            Some(t) => {
                let v = floats(t, what)?;
                Ok(broadcast_index(&t.shape, &ty.shape)
                    .into_iter()
                    .map(|k| v[k])
                    .collect())
            }
            None => Ok(vec![none; x.len()]),
        }
    };
    let (scale, bias) = (spread(1, "Scale", 1.0)?, spread(2, "B", 0.0)?);
    let mut y = Vec::with_capacity(x.len());
    let eps = a.epsilon as f64;
    let (mut means, mut inv_stds) = (Vec::with_capacity(outer), Vec::with_capacity(outer));
    for r in 0..outer {
        let row = &x[r * len..(r + 1) * len];
        let mean = row.iter().sum::<f64>() / len as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / len as f64;
        let den = (var + eps).sqrt();
        means.push(mean);
        inv_stds.push(1.0 / den);
        y.extend(row.iter().enumerate().map(|(j, v)| {
            let k = r * len + j;
            (v - mean) / den * scale[k] + bias[k]
        }));
    }
    Ok(vec![
        output(ty, from_f64s(ty.dtype, y)?)?,
        output(&tys[1], from_f64s(ty.dtype, means)?)?,
        output(&tys[2], from_f64s(ty.dtype, inv_stds)?)?,
    ])
}

/// InstanceNormalization (opsets 1, 6, 22) and GroupNormalization (18, 21): the channels of
/// each batch item split into `num_groups` groups (instance: one channel each), each group
/// normalised with its own mean and biased variance over its channels and spatial axes,
/// then scaled and shifted per channel (`scale`, `B` of shape [C]; GroupNormalization 18 has
/// them per group, shape [num_groups], which kiln accepts too).
/// Spec: https://onnx.ai/onnx/operators/onnx__GroupNormalization.html,
/// https://onnx.ai/onnx/operators/onnx__InstanceNormalization.html
#[derive(Clone, Debug, PartialEq)]
pub struct GroupNormAttrs {
    /// InstanceNormalization: one group per channel (`num_groups` is ignored).
    pub instance: bool,
    pub num_groups: usize,
    pub epsilon: f32,
}

impl GroupNormAttrs {
    pub fn name(&self) -> &'static str {
        if self.instance {
            "InstanceNormalization"
        } else {
            "GroupNormalization"
        }
    }
}

/// `(groups, len, spatial, channels)` of a group normalisation of `x`: `groups` rows (batch
/// items times groups) of `len` elements, `spatial` elements per channel.
pub fn group_norm_layout(
    a: &GroupNormAttrs,
    x: &TensorType,
) -> Result<(usize, usize, usize, usize), String> {
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2 (N, C, ...), got {x}"));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let spatial: usize = x.shape[2..].iter().product();
    let g = if a.instance { c } else { a.num_groups };
    if g == 0 || c % g != 0 {
        return Err(format!(
            "num_groups {g} must be at least 1 and divide the {c} channels of X {x}"
        ));
    }
    Ok((n * g, c / g * spatial, spatial, c))
}

pub(crate) fn infer_group_norm(
    a: &GroupNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = float_input(inputs, 0, "X", a.name())?;
    let (_, _, _, c) = group_norm_layout(a, x)?;
    let g = if a.instance { c } else { a.num_groups };
    for (i, what) in [(1, "scale"), (2, "B")] {
        let t = input(inputs, i, what)?.ty;
        if t.dtype != x.dtype {
            return Err(format!("{what} {t} must have the element type of X {x}"));
        }
        if t.shape != [c] && t.shape != [g] {
            return Err(format!(
                "{what} {t} must have shape [{c}] (one per channel) or [{g}] (one per group)"
            ));
        }
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_group_norm(
    a: &GroupNormAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_group_norm(a, ii))?.remove(0);
    let (rows, len, spatial, channels) = group_norm_layout(a, &ty)?;
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    let scale = floats(tensor(inputs, 1, "scale")?, "scale")?;
    let bias = floats(tensor(inputs, 2, "B")?, "B")?;
    let per = channels / scale.len().max(1);
    let eps = a.epsilon as f64;
    let mut y = Vec::with_capacity(x.len());
    for r in 0..rows {
        let row = &x[r * len..(r + 1) * len];
        let mean = row.iter().sum::<f64>() / len as f64;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / len as f64;
        let den = (var + eps).sqrt();
        y.extend(row.iter().enumerate().map(|(j, v)| {
            let s = ((r * len + j) / spatial.max(1)) % channels / per.max(1);
            (v - mean) / den * scale[s] + bias[s]
        }));
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

/// LpNormalization (opsets 1, 22): `x / ||x||_p` along `axis` (default -1), p = 1 or 2
/// (default 2). A zero norm gives 0 (ONNX's reference does so; the spec says nothing). The
/// reference sums `x^p` without the absolute value, which for p = 1 is not a norm; kiln
/// follows the spec's L1 norm there (no node test covers p = 1).
/// Spec: https://onnx.ai/onnx/operators/onnx__LpNormalization.html
#[derive(Clone, Debug, PartialEq)]
pub struct LpNormAttrs {
    pub axis: i64,
    /// 1 or 2.
    pub p: u8,
}

/// `(outer, len, inner)` of an LpNormalization of `x`.
pub fn lp_norm_layout(a: &LpNormAttrs, x: &TensorType) -> Result<(usize, usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    if a.p != 1 && a.p != 2 {
        return Err(format!("p is {}; it must be 1 or 2", a.p));
    }
    Ok((
        x.shape[..axis].iter().product(),
        x.shape[axis],
        x.shape[axis + 1..].iter().product(),
    ))
}

pub(crate) fn infer_lp_norm(
    a: &LpNormAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "LpNormalization is defined for floating-point tensors, got {x}"
        ));
    }
    lp_norm_layout(a, x)?;
    Ok(vec![x.clone()])
}

pub(crate) fn eval_lp_norm(
    a: &LpNormAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_lp_norm(a, ii))?.remove(0);
    let (outer, len, inner) = lp_norm_layout(a, &ty)?;
    let mut v = floats(tensor(inputs, 0, "input")?, "input")?;
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let norm = if a.p == 1 {
                (0..len).map(|j| v[at(j)].abs()).sum::<f64>()
            } else {
                (0..len).map(|j| v[at(j)] * v[at(j)]).sum::<f64>().sqrt()
            };
            for j in 0..len {
                v[at(j)] = if norm == 0.0 { 0.0 } else { v[at(j)] / norm };
            }
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, v)?)?])
}

/// LRN (opsets 1, 13): local response normalisation across channels, `y = x / (bias +
/// alpha / size * sum of x^2 over the channels c - floor((size - 1) / 2) ..= c +
/// ceil((size - 1) / 2) that exist)^beta`, on X of shape [N, C, ...].
/// Spec: https://onnx.ai/onnx/operators/onnx__LRN.html
#[derive(Clone, Debug, PartialEq)]
pub struct LrnAttrs {
    pub alpha: f32,
    pub beta: f32,
    pub bias: f32,
    /// At least 1.
    pub size: usize,
}

pub(crate) fn infer_lrn(
    a: &LrnAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "LRN is defined for floating-point tensors, got {x}"
        ));
    }
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2 (N, C, ...), got {x}"));
    }
    if a.size == 0 {
        return Err("size is 0; it must be at least 1".into());
    }
    Ok(vec![x.clone()])
}

pub(crate) fn eval_lrn(a: &LrnAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_lrn(a, ii))?.remove(0);
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    let (items, channels) = (ty.shape[0], ty.shape[1]);
    let spatial: usize = ty.shape[2..].iter().product();
    let (before, after) = ((a.size - 1) / 2, a.size / 2);
    let scale = a.alpha as f64 / a.size as f64;
    let mut y = vec![0.0; x.len()];
    for n in 0..items {
        for c in 0..channels {
            let (lo, hi) = (c.saturating_sub(before), (c + after).min(channels - 1));
            for s in 0..spatial {
                let sq: f64 = (lo..=hi)
                    .map(|k| x[(n * channels + k) * spatial + s].powi(2))
                    .sum();
                let at = (n * channels + c) * spatial + s;
                y[at] = x[at] / (a.bias as f64 + scale * sq).powf(a.beta as f64);
            }
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

/// MeanVarianceNormalization (opsets 9, 13): over `axes` (default [0, 2, 3]), `(X - mean) /
/// (sqrt(mean(X^2) - mean^2) + 1e-9)`, as the spec's function body computes it.
/// Spec: https://onnx.ai/onnx/operators/onnx__MeanVarianceNormalization.html
#[derive(Clone, Debug, PartialEq)]
pub struct MvnAttrs {
    pub axes: Vec<i64>,
}

/// The epsilon the spec's function body adds to the standard deviation.
pub const MVN_EPSILON: f64 = 1e-9;

/// The normalised axes (ascending) of an MVN of `x`.
pub fn mvn_axes(a: &MvnAttrs, x: &TensorType) -> Result<Vec<usize>, String> {
    let mut axes = Vec::with_capacity(a.axes.len());
    for &ax in &a.axes {
        let d = normalize_axis(ax, x.rank())
            .ok_or_else(|| format!("axis {ax} is out of range for {x}"))?;
        if axes.contains(&d) {
            return Err(format!("axis {ax} is listed twice in {:?}", a.axes));
        }
        axes.push(d);
    }
    axes.sort_unstable();
    Ok(axes)
}

pub(crate) fn infer_mvn(
    a: &MvnAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if !x.dtype.is_float() {
        return Err(format!(
            "MeanVarianceNormalization is defined for floating-point tensors, got {x}"
        ));
    }
    mvn_axes(a, x)?;
    Ok(vec![x.clone()])
}

pub(crate) fn eval_mvn(a: &MvnAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_mvn(a, ii))?.remove(0);
    let axes = mvn_axes(a, &ty)?;
    let x = floats(tensor(inputs, 0, "X")?, "X")?;
    let mut y = vec![0.0; x.len()];
    for g in super::reduce::groups(&ty.shape, &axes) {
        let n = g.len() as f64;
        let mean = g.iter().map(|&i| x[i]).sum::<f64>() / n;
        let sq = g.iter().map(|&i| x[i] * x[i]).sum::<f64>() / n;
        let den = (sq - mean * mean).sqrt() + MVN_EPSILON;
        for &i in &g {
            y[i] = (x[i] - mean) / den;
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::tensor::TensorData;

    #[test]
    fn layer_norm_normalises_each_row() {
        let ln = |axis| Op::LayerNormalization(LayerNormAttrs { axis, epsilon: 0.0 });
        let x = f32s(&[2, 4], &[1.0, 2.0, 3.0, 4.0, -2.0, 0.0, 2.0, 4.0]);
        let ones = f32s(&[4], &[1.0; 4]);
        let y = run1(&ln(-1), &[&x, &ones]);
        // Row 1: mean 2.5, variance 1.25.
        let k = 1.0 / 1.25f64.sqrt();
        let r1: Vec<f32> = [-1.5, -0.5, 0.5, 1.5]
            .iter()
            .map(|v| (v * k) as f32)
            .collect();
        assert_close(&as_f32(&y)[..4], &r1);
        // Row 2 is row 1 times 2 shifted: the same normalised values.
        assert_close(&as_f32(&y)[4..], &r1);
        // Scale and bias per feature; a scalar scale broadcasts.
        let s = f32s(&[4], &[1.0, 2.0, 3.0, 4.0]);
        let b = f32s(&[1, 4], &[0.5; 4]);
        let y = run1(&ln(1), &[&x, &s, &b]);
        let want: Vec<f32> = r1
            .iter()
            .zip([1.0, 2.0, 3.0, 4.0])
            .map(|(v, g)| v * g + 0.5)
            .collect();
        assert_close(&as_f32(&y)[..4], &want);
        // axis 0: the whole tensor is one row.
        let two = f32s(&[], &[2.0]);
        let y = run1(&ln(0), &[&x, &two]);
        let all: f64 = 14.0 / 8.0;
        let v0 = as_f32(&x)[0] as f64 - all;
        let var = as_f32(&x)
            .iter()
            .map(|&v| (v as f64 - all).powi(2))
            .sum::<f64>()
            / 8.0;
        assert!((as_f32(&y)[0] as f64 - 2.0 * v0 / var.sqrt()).abs() < 1e-5);
    }

    #[test]
    fn group_and_instance_norm() {
        let gn = |instance, num_groups| {
            Op::GroupNormalization(GroupNormAttrs {
                instance,
                num_groups,
                epsilon: 0.0,
            })
        };
        // N = 1, C = 4, spatial 2: groups of two channels.
        let x = f32s(&[1, 4, 2], &[1.0, 3.0, 5.0, 7.0, 0.0, 0.0, 2.0, -2.0]);
        let s = f32s(&[4], &[1.0, 2.0, 1.0, 1.0]);
        let b = f32s(&[4], &[0.0, 0.0, 0.0, 10.0]);
        let y = as_f32(&run1(&gn(false, 2), &[&x, &s, &b]));
        // Group 0: {1, 3, 5, 7}, mean 4, variance 5; group 1: {0, 0, 2, -2}, mean 0, var 2.
        let k = 1.0 / 5f32.sqrt();
        let m = 1.0 / 2f32.sqrt();
        assert_close(
            &y,
            &[
                -3.0 * k,
                -k,
                2.0 * k,
                6.0 * k,
                0.0,
                0.0,
                2.0 * m + 10.0,
                -2.0 * m + 10.0,
            ],
        );
        // Instance: each channel alone (channel 2 is constant: 0 / 0 without epsilon).
        let y = as_f32(&run1(&gn(true, 0), &[&x, &s, &b]));
        assert_close(&y[..4], &[-1.0, 1.0, -2.0, 2.0]);
        assert!(y[4].is_nan() && y[5].is_nan());
        assert_close(&y[6..], &[11.0, 9.0]);
        // Per-group scale (opset 18) and a group count that does not divide C.
        let s2 = f32s(&[2], &[1.0, 1.0]);
        let b2 = f32s(&[2], &[0.0, 0.0]);
        assert!(run(&gn(false, 2), &[Some(&x), Some(&s2), Some(&b2)]).is_ok());
        assert!(run(&gn(false, 3), &[Some(&x), Some(&s), Some(&b)]).is_err());
        assert!(run(&gn(false, 4), &[Some(&x), Some(&s2), Some(&b2)]).is_err());
    }

    #[test]
    fn lp_norm_and_lrn() {
        let lp = |axis, p| Op::LpNormalization(LpNormAttrs { axis, p });
        let x = f32s(&[2, 2], &[3.0, -4.0, 1.0, 1.0]);
        assert_close(
            &as_f32(&run1(&lp(-1, 2), &[&x])),
            &[0.6, -0.8, 0.5f32.sqrt(), 0.5f32.sqrt()],
        );
        assert_close(&as_f32(&run1(&lp(0, 1), &[&x])), &[0.75, -0.8, 0.25, 0.2]);
        assert!(run(&lp(0, 3), &[Some(&x)]).is_err());
        let zeros = f32s(&[2], &[0.0, 0.0]);
        assert_eq!(as_f32(&run1(&lp(0, 2), &[&zeros])), [0.0, 0.0]);
        // LRN with size 2 on 3 channels: channel c sums c and c + 1 (when it exists).
        let lrn = Op::Lrn(LrnAttrs {
            alpha: 2.0,
            beta: 0.5,
            bias: 1.0,
            size: 2,
        });
        let x = f32s(&[1, 3, 1], &[1.0, 2.0, 3.0]);
        let want: Vec<f32> = [(1.0, 5.0), (2.0, 13.0), (3.0, 9.0)]
            .iter()
            .map(|&(v, sq): &(f32, f32)| v / (1.0 + sq).sqrt())
            .collect();
        assert_close(&as_f32(&run1(&lrn, &[&x])), &want);
    }

    #[test]
    fn mvn_normalises_over_the_axes() {
        let mvn = |axes| Op::MeanVarianceNormalization(MvnAttrs { axes });
        // Axes [0, 2] of [2, 2, 2]: channel 0 is {0, 1, 4, 5}, channel 1 {2, 3, 6, 7}.
        let x = iota(&[2, 2, 2]);
        let y = as_f32(&run1(&mvn(vec![0, 2]), &[&x]));
        // Mean 2.5, variance 4.25 for channel 0.
        let s = 4.25f32.sqrt();
        assert_close(&y[..2], &[-2.5 / s, -1.5 / s]);
        assert_close(&y[4..6], &[1.5 / s, 2.5 / s]);
        assert!(run(&mvn(vec![0, 3]), &[Some(&x)]).is_err());
    }

    #[test]
    fn layer_norm_errors() {
        let ln = Op::LayerNormalization(LayerNormAttrs {
            axis: 2,
            epsilon: 1e-5,
        });
        let x = iota(&[2, 3]);
        let s = f32s(&[3], &[1.0; 3]);
        assert!(run(&ln, &[Some(&x), Some(&s)]).is_err());
        let ln = Op::LayerNormalization(LayerNormAttrs {
            axis: -1,
            epsilon: 1e-5,
        });
        assert!(run(&ln, &[Some(&x)]).is_err());
        assert!(run(&ln, &[Some(&x), Some(&f32s(&[2], &[1.0; 2]))]).is_err());
        assert!(run(&ln, &[Some(&x), Some(&f32s(&[1, 2, 3], &[1.0; 6]))]).is_err());
    }

    fn bn(epsilon: f32) -> Op {
        Op::BatchNormalization(BatchNormAttrs {
            epsilon,
            training_momentum: None,
        })
    }

    #[test]
    fn spec_example() {
        // test_batchnorm_example's formula on a hand-sized input.
        let x = f32s(&[1, 2, 1, 3], &[-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        let s = f32s(&[2], &[1.0, 1.5]);
        let b = f32s(&[2], &[0.0, 1.0]);
        let mean = f32s(&[2], &[0.0, 3.0]);
        let var = f32s(&[2], &[1.0, 1.5]);
        let y = run1(&bn(1e-5), &[&x, &s, &b, &mean, &var]);
        let k0 = 1.0 / (1.0f64 + 1e-5).sqrt();
        let k1 = 1.5 / (1.5f64 + 1e-5).sqrt();
        let want: Vec<f32> = [-k0, 0.0, k0, -k1 + 1.0, 1.0, k1 + 1.0]
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_close(&as_f32(&y), &want);
    }

    #[test]
    fn training_mode_uses_the_batch_statistics() {
        // Two batch items of two channels with planes of two: channel 0 holds 1, 2, 5, 6
        // (mean 3.5, biased variance 4.25), channel 1 holds 3, 4, 7, 8 (mean 5.5, 4.25).
        let x = f32s(&[2, 2, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let s = f32s(&[2], &[1.0, 2.0]);
        let b = f32s(&[2], &[0.0, 1.0]);
        let mean = f32s(&[2], &[1.0, -1.0]);
        let var = f32s(&[2], &[2.0, 3.0]);
        let op = Op::BatchNormalization(BatchNormAttrs {
            epsilon: 0.0,
            training_momentum: Some(0.75),
        });
        let out = run(
            &op,
            &[Some(&x), Some(&s), Some(&b), Some(&mean), Some(&var)],
        )
        .unwrap();
        assert_eq!(out.len(), 3);
        let sd = 4.25f64.sqrt();
        let want: Vec<f32> = [1.0, 2.0, 5.0, 6.0]
            .iter()
            .map(|&v| ((v - 3.5) / sd) as f32)
            .collect();
        let y = as_f32(&out[0]);
        assert_close(&[y[0], y[1], y[4], y[5]], &want);
        let want1: Vec<f32> = [3.0, 4.0, 7.0, 8.0]
            .iter()
            .map(|&v| ((v - 5.5) / sd * 2.0 + 1.0) as f32)
            .collect();
        assert_close(&[y[2], y[3], y[6], y[7]], &want1);
        // running = input * momentum + batch * (1 - momentum)
        assert_close(
            &as_f32(&out[1]),
            &[1.0 * 0.75 + 3.5 * 0.25, -0.75 + 5.5 * 0.25],
        );
        assert_close(
            &as_f32(&out[2]),
            &[2.0 * 0.75 + 4.25 * 0.25, 3.0 * 0.75 + 4.25 * 0.25],
        );
    }

    #[test]
    fn unit_statistics_are_the_identity_at_any_rank() {
        for shape in [vec![2, 3], vec![2, 3, 4], vec![1, 3, 2, 2, 2]] {
            let x = iota(&shape);
            let ones = f32s(&[3], &[1.0; 3]);
            let zeros = f32s(&[3], &[0.0; 3]);
            let y = run1(&bn(0.0), &[&x, &ones, &zeros, &zeros, &ones]);
            assert_eq!(y, x);
        }
    }

    #[test]
    fn wrong_shapes_and_types_are_errors() {
        let x = iota(&[2, 3]);
        let p = f32s(&[2], &[1.0; 2]);
        assert!(
            run(
                &bn(1e-5),
                &[Some(&x), Some(&p), Some(&p), Some(&p), Some(&p)]
            )
            .is_err()
        );
        let xi = Tensor::new(vec![1, 1], TensorData::I32(vec![1])).unwrap();
        let q = f32s(&[1], &[1.0]);
        assert!(
            run(
                &bn(1e-5),
                &[Some(&xi), Some(&q), Some(&q), Some(&q), Some(&q)]
            )
            .is_err()
        );
        assert!(run(&bn(1e-5), &[Some(&x)]).is_err());
    }
}
