//! Data movement that reads its input through an affine view: every output element is
//! `x[base + sum(coord[d] * strides[d])]` for a row-major walk over a (possibly finer)
//! shape. Slice (1, 10, 11, 13: `starts`/`ends`/`axes` attributes before 10, constant
//! inputs with `steps` from 10), Split (1, 2, 11, 13, 18: `split` an attribute before 13,
//! a constant input from 13, `num_outputs` from 18), Expand (8, 13), Tile (6, 13),
//! DepthToSpace (1, 11, 13: `mode` DCR/CRD from 11) and SpaceToDepth (1, 13).
//! Specs: https://onnx.ai/onnx/operators/onnx__Slice.html, .../onnx__Split.html,
//! .../onnx__Expand.html, .../onnx__Tile.html, .../onnx__DepthToSpace.html,
//! .../onnx__SpaceToDepth.html
//!
//! [`View`] is the one description the reference semantics and the generated code share,
//! so they cannot disagree on which element goes where.

use super::common::{gather, infer_on, output, strides_of};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{TensorType, broadcast_shapes, normalize_axis};

/// Output element `i` (row-major over `shape`) is input element
/// `base + sum(coord[d] * strides[d])`. `shape` may split output axes (Tile, DepthToSpace),
/// but its product is the output's element count.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub base: usize,
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
}

impl View {
    /// The input index of every output element, in order.
    pub fn indices(&self) -> Vec<usize> {
        let n: usize = self.shape.iter().product();
        let mut idx = Vec::with_capacity(n);
        if n == 0 {
            return idx;
        }
        let mut coord = vec![0usize; self.shape.len()];
        let mut at = self.base as isize;
        for _ in 0..n {
            idx.push(at as usize);
            for d in (0..self.shape.len()).rev() {
                coord[d] += 1;
                at += self.strides[d];
                if coord[d] < self.shape[d] {
                    break;
                }
                at -= self.strides[d] * coord[d] as isize;
                coord[d] = 0;
            }
        }
        idx
    }

    /// Drops unit axes and merges axes that walk the input contiguously, keeping at least
    /// one axis.
    pub fn simplified(&self) -> View {
        let mut shape: Vec<usize> = Vec::new();
        let mut strides: Vec<isize> = Vec::new();
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            if d == 1 {
                continue;
            }
            match (shape.last_mut(), strides.last_mut()) {
                (Some(pd), Some(ps)) if *ps == s * d as isize => {
                    *pd *= d;
                    *ps = s;
                }
                _ => {
                    shape.push(d);
                    strides.push(s);
                }
            }
        }
        if shape.is_empty() {
            shape.push(1);
            strides.push(0);
        }
        View {
            base: self.base,
            shape,
            strides,
        }
    }

    /// Whether the view reads the input in order from `base`, one element after another.
    pub fn is_contiguous(&self) -> bool {
        let v = self.simplified();
        v.shape.len() == 1 && (v.strides[0] == 1 || v.shape[0] == 1)
    }
}

fn row_major(shape: &[usize]) -> Vec<isize> {
    strides_of(shape).into_iter().map(|s| s as isize).collect()
}

// ---------------------------------------------------------------------------------------
// Slice

/// Slice with its operands resolved: per listed axis, start, end and step as the model gives
/// them (negative values count from the end; ends beyond the axis are clamped).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SliceAttrs {
    pub starts: Vec<i64>,
    pub ends: Vec<i64>,
    /// `None`: axes 0, 1, ... in order.
    pub axes: Option<Vec<i64>>,
    /// `None`: all 1.
    pub steps: Option<Vec<i64>>,
}

/// The first index, step and length of a slice of an axis of size `dim` (numpy rules, as
/// the ONNX reference implementation applies them).
pub fn slice_axis(
    dim: usize,
    start: i64,
    end: i64,
    step: i64,
) -> Result<(i64, i64, usize), String> {
    if step == 0 {
        return Err("a step is 0; steps must be non-zero".into());
    }
    let d = dim as i64;
    let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
    let (start, end) = (norm(start), norm(end));
    let (start, end) = if step > 0 {
        (start.clamp(0, d), end.clamp(0, d))
    } else {
        (start.clamp(-1, d - 1), end.clamp(-1, d - 1))
    };
    let len = if step > 0 {
        if end > start {
            (end - start - 1) / step + 1
        } else {
            0
        }
    } else if start > end {
        (start - end - 1) / (-step) + 1
    } else {
        0
    };
    Ok((start, step, len as usize))
}

/// The view a Slice takes of an input of shape `x`.
pub fn slice_view(a: &SliceAttrs, x: &[usize]) -> Result<View, String> {
    let n = a.starts.len();
    if a.ends.len() != n {
        return Err(format!(
            "starts has {n} entries but ends has {}; they must match",
            a.ends.len()
        ));
    }
    let axes: Vec<i64> = a.axes.clone().unwrap_or_else(|| (0..n as i64).collect());
    let steps: Vec<i64> = a.steps.clone().unwrap_or_else(|| vec![1; n]);
    if axes.len() != n || steps.len() != n {
        return Err(format!(
            "starts, ends, axes and steps must have the same length, but they have {n}, {}, {} \
             and {}",
            a.ends.len(),
            axes.len(),
            steps.len()
        ));
    }
    let rs = row_major(x);
    let mut shape = x.to_vec();
    let mut strides = rs.clone();
    let mut base = 0isize;
    let mut seen = vec![false; x.len()];
    for i in 0..n {
        let ax = normalize_axis(axes[i], x.len())
            .ok_or_else(|| format!("axis {} is out of range for rank {}", axes[i], x.len()))?;
        if std::mem::replace(&mut seen[ax], true) {
            return Err(format!("axis {} is listed twice in axes {axes:?}", axes[i]));
        }
        let (start, step, len) = slice_axis(x[ax], a.starts[i], a.ends[i], steps[i])?;
        shape[ax] = len;
        strides[ax] = rs[ax] * step as isize;
        if len > 0 {
            base += start as isize * rs[ax];
        }
    }
    if shape.contains(&0) {
        base = 0;
    }
    Ok(View {
        base: base as usize,
        shape,
        strides,
    })
}

pub(crate) fn infer_slice(
    a: &SliceAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let v = slice_view(a, &x.shape)?;
    Ok(vec![TensorType::new(x.dtype, v.shape)])
}

/// Evaluates an op whose outputs are views of input 0.
fn eval_views(
    inputs: &[Option<&Tensor>],
    types: Vec<TensorType>,
    views: Vec<View>,
) -> Result<Vec<Tensor>, String> {
    let x = tensor(inputs, 0, "input")?;
    types
        .iter()
        .zip(views)
        .map(|(ty, v)| output(ty, gather(&x.data, &v.indices())))
        .collect()
}

pub(crate) fn eval_slice(
    a: &SliceAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, |ii| infer_slice(a, ii))?;
    let x = tensor(inputs, 0, "data")?;
    let v = slice_view(a, &x.shape)?;
    eval_views(inputs, types, vec![v])
}

// ---------------------------------------------------------------------------------------
// Split

#[derive(Clone, Debug, PartialEq)]
pub struct SplitAttrs {
    pub axis: i64,
    /// The part sizes; `None`: equal parts, one per output (the last smaller when
    /// `uneven`, opset 18's `num_outputs`).
    pub split: Option<Vec<i64>>,
    pub outputs: usize,
    pub uneven: bool,
}

/// The sizes of the parts along the split axis of size `dim`.
pub fn split_sizes(a: &SplitAttrs, dim: usize) -> Result<Vec<usize>, String> {
    match &a.split {
        Some(s) => {
            if s.len() != a.outputs {
                return Err(format!(
                    "split {s:?} has {} entries but the node has {} outputs",
                    s.len(),
                    a.outputs
                ));
            }
            let sizes: Vec<usize> = s
                .iter()
                .map(|&v| {
                    usize::try_from(v).map_err(|_| format!("split {s:?} has a negative size"))
                })
                .collect::<Result<_, _>>()?;
            if sizes.iter().sum::<usize>() != dim {
                return Err(format!(
                    "split {s:?} adds up to {} but the axis has {dim} elements",
                    sizes.iter().sum::<usize>()
                ));
            }
            Ok(sizes)
        }
        None => {
            let n = a.outputs;
            if n == 0 {
                return Err("the node has no outputs".into());
            }
            if a.uneven {
                let part = dim.div_ceil(n);
                Ok((0..n)
                    .map(|i| part.min(dim.saturating_sub(i * part)))
                    .collect())
            } else if dim.is_multiple_of(n) {
                Ok(vec![dim / n; n])
            } else {
                Err(format!(
                    "the axis has {dim} elements, which do not split into {n} equal parts"
                ))
            }
        }
    }
}

/// One view per output of a Split of an input of shape `x`.
pub fn split_views(a: &SplitAttrs, x: &[usize]) -> Result<Vec<View>, String> {
    let axis = normalize_axis(a.axis, x.len())
        .ok_or_else(|| format!("axis {} is out of range for rank {}", a.axis, x.len()))?;
    let sizes = split_sizes(a, x[axis])?;
    let rs = row_major(x);
    let mut at = 0usize;
    Ok(sizes
        .into_iter()
        .map(|len| {
            let mut shape = x.to_vec();
            shape[axis] = len;
            let base = if shape.contains(&0) {
                0
            } else {
                at * rs[axis] as usize
            };
            at += len;
            View {
                base,
                shape,
                strides: rs.clone(),
            }
        })
        .collect())
}

pub(crate) fn infer_split(
    a: &SplitAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    Ok(split_views(a, &x.shape)?
        .into_iter()
        .map(|v| TensorType::new(x.dtype, v.shape))
        .collect())
}

pub(crate) fn eval_split(
    a: &SplitAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, |ii| infer_split(a, ii))?;
    let x = tensor(inputs, 0, "input")?;
    eval_views(inputs, types, split_views(a, &x.shape)?)
}

// ---------------------------------------------------------------------------------------
// Expand and Tile

#[derive(Clone, Debug, PartialEq)]
pub struct ExpandAttrs {
    pub shape: Vec<i64>,
}

pub fn expand_view(a: &ExpandAttrs, x: &[usize]) -> Result<View, String> {
    let want: Vec<usize> = a
        .shape
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("shape {:?} has a negative dimension", a.shape))
        })
        .collect::<Result<_, _>>()?;
    let out = broadcast_shapes(x, &want)
        .ok_or_else(|| format!("the input shape {x:?} does not broadcast with shape {want:?}"))?;
    let rs = row_major(x);
    let lead = out.len() - x.len();
    let strides = (0..out.len())
        .map(|i| {
            if i < lead || x[i - lead] == 1 {
                0
            } else {
                rs[i - lead]
            }
        })
        .collect();
    Ok(View {
        base: 0,
        shape: out,
        strides,
    })
}

pub(crate) fn infer_expand(
    a: &ExpandAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    Ok(vec![TensorType::new(
        x.dtype,
        expand_view(a, &x.shape)?.shape,
    )])
}

pub(crate) fn eval_expand(
    a: &ExpandAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, |ii| infer_expand(a, ii))?;
    let x = tensor(inputs, 0, "input")?;
    eval_views(inputs, types, vec![expand_view(a, &x.shape)?])
}

#[derive(Clone, Debug, PartialEq)]
pub struct TileAttrs {
    pub repeats: Vec<i64>,
}

/// Tile as a view over `[r0, d0, r1, d1, ...]`: the repeat axes have stride 0.
pub fn tile_view(a: &TileAttrs, x: &[usize]) -> Result<View, String> {
    if a.repeats.len() != x.len() {
        return Err(format!(
            "repeats {:?} has {} entries but the input has rank {}",
            a.repeats,
            a.repeats.len(),
            x.len()
        ));
    }
    let rs = row_major(x);
    let mut shape = Vec::with_capacity(2 * x.len());
    let mut strides = Vec::with_capacity(2 * x.len());
    for (i, &r) in a.repeats.iter().enumerate() {
        let r = usize::try_from(r)
            .map_err(|_| format!("repeats {:?} has a negative entry", a.repeats))?;
        shape.extend([r, x[i]]);
        strides.extend([0, rs[i]]);
    }
    Ok(View {
        base: 0,
        shape,
        strides,
    })
}

pub(crate) fn infer_tile(
    a: &TileAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    tile_view(a, &x.shape)?;
    let shape: Vec<usize> = x
        .shape
        .iter()
        .zip(&a.repeats)
        .map(|(&d, &r)| d.checked_mul(r as usize).ok_or("the tiled shape overflows"))
        .collect::<Result<_, _>>()?;
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_tile(a: &TileAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, |ii| infer_tile(a, ii))?;
    let x = tensor(inputs, 0, "input")?;
    eval_views(inputs, types, vec![tile_view(a, &x.shape)?])
}

// ---------------------------------------------------------------------------------------
// DepthToSpace and SpaceToDepth

#[derive(Clone, Debug, PartialEq)]
pub struct DepthToSpaceAttrs {
    pub blocksize: usize,
    /// CRD (column-row-depth) instead of the default DCR.
    pub crd: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpaceToDepthAttrs {
    pub blocksize: usize,
}

fn nchw(x: &[usize], b: usize) -> Result<[usize; 4], String> {
    let [n, c, h, w] = <[usize; 4]>::try_from(x)
        .map_err(|_| format!("the input must have rank 4 (N, C, H, W), but has shape {x:?}"))?;
    if b == 0 {
        return Err("blocksize must be at least 1".into());
    }
    Ok([n, c, h, w])
}

/// A reshape of `x` into `dims` followed by the transpose `perm`, as a view.
fn reshape_transpose(dims: &[usize], perm: &[usize]) -> View {
    let rs = row_major(dims);
    View {
        base: 0,
        shape: perm.iter().map(|&p| dims[p]).collect(),
        strides: perm.iter().map(|&p| rs[p]).collect(),
    }
}

pub fn depth_to_space_view(
    a: &DepthToSpaceAttrs,
    x: &[usize],
) -> Result<(View, Vec<usize>), String> {
    let b = a.blocksize;
    let [n, c, h, w] = nchw(x, b)?;
    if c % (b * b) != 0 {
        return Err(format!(
            "the input has {c} channels, which blocksize {b} does not divide into {b}x{b} blocks"
        ));
    }
    let c2 = c / (b * b);
    let v = if a.crd {
        reshape_transpose(&[n, c2, b, b, h, w], &[0, 1, 4, 2, 5, 3])
    } else {
        reshape_transpose(&[n, b, b, c2, h, w], &[0, 3, 4, 1, 5, 2])
    };
    Ok((v, vec![n, c2, h * b, w * b]))
}

pub fn space_to_depth_view(
    a: &SpaceToDepthAttrs,
    x: &[usize],
) -> Result<(View, Vec<usize>), String> {
    let b = a.blocksize;
    let [n, c, h, w] = nchw(x, b)?;
    if h % b != 0 || w % b != 0 {
        return Err(format!(
            "blocksize {b} does not divide the input's height {h} and width {w}"
        ));
    }
    let v = reshape_transpose(&[n, c, h / b, b, w / b, b], &[0, 3, 5, 1, 2, 4]);
    Ok((v, vec![n, c * b * b, h / b, w / b]))
}

pub(crate) fn infer_depth_to_space(
    a: &DepthToSpaceAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    Ok(vec![TensorType::new(
        x.dtype,
        depth_to_space_view(a, &x.shape)?.1,
    )])
}

pub(crate) fn infer_space_to_depth(
    a: &SpaceToDepthAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "input")?.ty;
    Ok(vec![TensorType::new(
        x.dtype,
        space_to_depth_view(a, &x.shape)?.1,
    )])
}

pub(crate) fn eval_depth_to_space(
    a: &DepthToSpaceAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, |ii| infer_depth_to_space(a, ii))?;
    let x = tensor(inputs, 0, "input")?;
    eval_views(inputs, types, vec![depth_to_space_view(a, &x.shape)?.0])
}

pub(crate) fn eval_space_to_depth(
    a: &SpaceToDepthAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let types = infer_on(inputs, |ii| infer_space_to_depth(a, ii))?;
    let x = tensor(inputs, 0, "input")?;
    eval_views(inputs, types, vec![space_to_depth_view(a, &x.shape)?.0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_axis_follows_numpy() {
        // x[1:3], x[::-1], x[-1:-4:-2], x[10:], x[3:1]
        assert_eq!(slice_axis(5, 1, 3, 1).unwrap(), (1, 1, 2));
        assert_eq!(slice_axis(5, -1, i64::MIN, -1).unwrap(), (4, -1, 5));
        assert_eq!(slice_axis(5, -1, -4, -2).unwrap(), (4, -2, 2));
        assert_eq!(slice_axis(5, 10, i64::MAX, 1).unwrap().2, 0);
        assert_eq!(slice_axis(5, 3, 1, 1).unwrap().2, 0);
        assert!(slice_axis(5, 0, 1, 0).is_err());
    }

    #[test]
    fn tile_repeats_blocks() {
        let v = tile_view(&TileAttrs { repeats: vec![2] }, &[3]).unwrap();
        assert_eq!(v.indices(), vec![0, 1, 2, 0, 1, 2]);
    }
}
