//! Resize (ONNX opsets 10, 11, 13, 18, 19) and Upsample (opsets 7, 9): nearest, linear and
//! cubic interpolation, every coordinate transformation mode, antialiasing, `axes` and
//! `keep_aspect_ratio_policy`. Spec: https://onnx.ai/onnx/operators/onnx__Resize.html
//!
//! The operands that decide the output shape (`roi`, `scales`, `sizes`) are folded into the
//! attributes on import, so the op has one input. Interpolation is separable: [`plan`] gives,
//! per axis, the input positions and weights of every output position, which both the
//! reference semantics (applied axis by axis in f64, as onnx/reference/ops/op_resize.py
//! does) and the generated kernel (a sum over the product of the axes' taps) use.

use super::common::{floats, from_f64s, gather, infer_on, output};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::{DType, TensorType, normalize_axis};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeMode {
    Nearest,
    Linear,
    Cubic,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordMode {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    /// Opset 11 only: `(x + 0.5) / scale`.
    TfHalfPixelForNn,
    TfCropAndResize,
}

impl CoordMode {
    pub fn parse(s: &str) -> Option<CoordMode> {
        Some(match s {
            "half_pixel" => CoordMode::HalfPixel,
            "half_pixel_symmetric" => CoordMode::HalfPixelSymmetric,
            "pytorch_half_pixel" => CoordMode::PytorchHalfPixel,
            "align_corners" => CoordMode::AlignCorners,
            "asymmetric" => CoordMode::Asymmetric,
            "tf_half_pixel_for_nn" => CoordMode::TfHalfPixelForNn,
            "tf_crop_and_resize" => CoordMode::TfCropAndResize,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

impl NearestMode {
    pub fn parse(s: &str) -> Option<NearestMode> {
        Some(match s {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AspectPolicy {
    Stretch,
    NotLarger,
    NotSmaller,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResizeAttrs {
    pub mode: ResizeMode,
    pub coord: CoordMode,
    pub nearest: NearestMode,
    pub cubic_a: f64,
    pub exclude_outside: bool,
    pub extrapolation: f64,
    pub antialias: bool,
    pub policy: AspectPolicy,
    /// The axes `scales`, `sizes` and `roi` refer to (all axes when `None`).
    pub axes: Option<Vec<i64>>,
    /// `[starts..., ends...]` over `axes`; only `tf_crop_and_resize` reads it.
    pub roi: Option<Vec<f64>>,
    pub scales: Option<Vec<f64>>,
    pub sizes: Option<Vec<i64>>,
}

impl Default for ResizeAttrs {
    fn default() -> Self {
        ResizeAttrs {
            mode: ResizeMode::Nearest,
            coord: CoordMode::HalfPixel,
            nearest: NearestMode::RoundPreferFloor,
            cubic_a: -0.75,
            exclude_outside: false,
            extrapolation: 0.0,
            antialias: false,
            policy: AspectPolicy::Stretch,
            axes: None,
            roi: None,
            scales: None,
            sizes: None,
        }
    }
}

/// One axis of a resize: each output position reads `taps` input positions (`index`, with
/// `weight`, `taps` entries per output position), or is `outside` the input (then the
/// output is the extrapolation value). `taps == 0`: the axis is unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct ResizeAxis {
    pub input: usize,
    pub output: usize,
    pub taps: usize,
    pub index: Vec<usize>,
    pub weight: Vec<f64>,
    pub outside: Vec<bool>,
}

impl ResizeAxis {
    pub fn is_identity(&self) -> bool {
        self.taps == 0
    }
}

/// Largest output extent of one axis and the most taps per output position kiln accepts
/// (a bound on what a corrupt scale can make the compiler allocate).
const MAX_AXIS: usize = 1 << 24;
const MAX_TAPS: usize = 1 << 12;

/// Per-axis scale factors and output sizes, as the reference computes them.
fn scales_and_sizes(a: &ResizeAttrs, shape: &[usize]) -> Result<(Vec<f64>, Vec<usize>), String> {
    let r = shape.len();
    let axes: Vec<usize> = match &a.axes {
        None => (0..r).collect(),
        Some(ax) => {
            let mut out = Vec::new();
            for &d in ax {
                let n = normalize_axis(d, r)
                    .ok_or_else(|| format!("axis {d} is out of range for rank {r}"))?;
                if out.contains(&n) {
                    return Err(format!("axes {ax:?} repeat axis {d}"));
                }
                out.push(n);
            }
            out
        }
    };
    let in_f = |d: usize| shape[d] as f64;
    let mut scales = vec![1.0f64; r];
    let mut sizes = shape.to_vec();
    match (&a.scales, &a.sizes) {
        (Some(_), Some(_)) => return Err("scales and sizes are both given; pass one".into()),
        (None, None) => return Err("neither scales nor sizes is given; pass one".into()),
        (Some(s), None) => {
            if s.len() != axes.len() {
                return Err(format!(
                    "scales has {} values but {} axes are resized",
                    s.len(),
                    axes.len()
                ));
            }
            for (&d, &v) in axes.iter().zip(s) {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("scale {v} must be a positive number"));
                }
                let o = (v * in_f(d)).floor();
                if !(o >= 1.0 && o <= MAX_AXIS as f64) {
                    return Err(format!(
                        "scale {v} makes axis {d} of size {} {o} long; it must be 1 to {MAX_AXIS}",
                        shape[d]
                    ));
                }
                scales[d] = v;
                sizes[d] = o as usize;
            }
        }
        (None, Some(s)) => {
            if s.len() != axes.len() {
                return Err(format!(
                    "sizes has {} values but {} axes are resized",
                    s.len(),
                    axes.len()
                ));
            }
            for (&d, &v) in axes.iter().zip(s) {
                if !(1..=MAX_AXIS as i64).contains(&v) {
                    return Err(format!("size {v} must be between 1 and {MAX_AXIS}"));
                }
                if shape[d] == 0 {
                    return Err(format!("axis {d} is empty and cannot be resized"));
                }
                sizes[d] = v as usize;
                scales[d] = v as f64 / in_f(d);
            }
            if a.policy != AspectPolicy::Stretch {
                let it = axes.iter().map(|&d| scales[d]);
                let scale = if a.policy == AspectPolicy::NotLarger {
                    it.fold(f64::INFINITY, f64::min)
                } else {
                    it.fold(0.0, f64::max)
                };
                for &d in &axes {
                    scales[d] = scale;
                    // Round half up, as the reference does.
                    let o = (scale * in_f(d) + 0.5).floor();
                    if !(o >= 1.0 && o <= MAX_AXIS as f64) {
                        return Err(format!("the kept aspect ratio makes axis {d} {o} long"));
                    }
                    sizes[d] = o as usize;
                }
            }
        }
    }
    Ok((scales, sizes))
}

/// The full-rank roi `[starts..., ends...]` (0 and 1 on axes not listed).
fn full_roi(a: &ResizeAttrs, r: usize) -> Result<Option<Vec<f64>>, String> {
    let Some(roi) = a.roi.as_ref().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let axes: Vec<usize> = match &a.axes {
        None => (0..r).collect(),
        Some(ax) => ax
            .iter()
            .map(|&d| normalize_axis(d, r).unwrap_or(0))
            .collect(),
    };
    if roi.len() != 2 * axes.len() {
        return Err(format!(
            "roi has {} values but {} axes are resized (it needs a start and an end per axis)",
            roi.len(),
            axes.len()
        ));
    }
    let mut full = vec![0.0; r];
    full.extend(std::iter::repeat_n(1.0, r));
    let n = axes.len();
    for (i, &d) in axes.iter().enumerate() {
        full[d] = roi[i];
        full[r + d] = roi[n + i];
    }
    Ok(Some(full))
}

/// The interpolation coefficients for one output position (`ratio` in (0, 1]).
fn coeffs(a: &ResizeAttrs, ratio: f64, scale: f64) -> Vec<f64> {
    let aa = a.cubic_a;
    match (a.mode, a.antialias && scale < 1.0) {
        (ResizeMode::Nearest, _) => {
            let upper = if ratio == 1.0 {
                true
            } else {
                match a.nearest {
                    NearestMode::RoundPreferFloor => ratio > 0.5,
                    NearestMode::RoundPreferCeil => ratio >= 0.5,
                    NearestMode::Floor => false,
                    NearestMode::Ceil => true,
                }
            };
            if upper {
                vec![0.0, 1.0]
            } else {
                vec![1.0, 0.0]
            }
        }
        (ResizeMode::Linear, false) => vec![1.0 - ratio, ratio],
        (ResizeMode::Cubic, false) => {
            let r1 = 1.0 - ratio;
            vec![
                ((aa * (ratio + 1.0) - 5.0 * aa) * (ratio + 1.0) + 8.0 * aa) * (ratio + 1.0)
                    - 4.0 * aa,
                ((aa + 2.0) * ratio - (aa + 3.0)) * ratio * ratio + 1.0,
                ((aa + 2.0) * r1 - (aa + 3.0)) * r1 * r1 + 1.0,
                ((aa * (r1 + 1.0) - 5.0 * aa) * (r1 + 1.0) + 8.0 * aa) * (r1 + 1.0) - 4.0 * aa,
            ]
        }
        (ResizeMode::Linear, true) => {
            let start = (-1.0 / scale).floor() as i64 + 1;
            let footprint = 2 - 2 * start;
            let c: Vec<f64> = (start..start + footprint)
                .map(|i| (1.0 - ((i as f64 - ratio) * scale).abs()).clamp(0.0, 1.0))
                .collect();
            let s: f64 = c.iter().sum();
            c.into_iter().map(|v| v / s).collect()
        }
        (ResizeMode::Cubic, true) => {
            let f = |x: f64| {
                let x = x.abs();
                let (x2, x3) = (x * x, x * x * x);
                if x <= 1.0 {
                    (aa + 2.0) * x3 - (aa + 3.0) * x2 + 1.0
                } else if x < 2.0 {
                    aa * x3 - 5.0 * aa * x2 + 8.0 * aa * x - 4.0 * aa
                } else {
                    0.0
                }
            };
            let start = (-2.0 / scale).floor() as i64 + 1;
            let c: Vec<f64> = (start..2 - start)
                .map(|i| f(scale * (i as f64 - ratio)))
                .collect();
            let s: f64 = c.iter().sum();
            c.into_iter().map(|v| v / s).collect()
        }
    }
}

/// The source coordinate of output position `y` along one axis, and whether it falls
/// outside the input (tf_crop_and_resize only).
fn source_coord(
    a: &ResizeAttrs,
    y: f64,
    scale: f64,
    in_w: usize,
    out_w_int: usize,
    roi: (f64, f64),
) -> (f64, bool) {
    let in_f = in_w as f64;
    let out_w = scale * in_f;
    match a.coord {
        CoordMode::AlignCorners if out_w == 1.0 => (0.0, false),
        CoordMode::AlignCorners => (y * (in_f - 1.0) / (out_w - 1.0), false),
        CoordMode::Asymmetric => (y / scale, false),
        CoordMode::TfHalfPixelForNn => ((y + 0.5) / scale, false),
        CoordMode::TfCropAndResize => {
            let x = if out_w == 1.0 {
                (roi.1 - roi.0) * (in_f - 1.0) / 2.0
            } else {
                y * (roi.1 - roi.0) * (in_f - 1.0) / (out_w - 1.0)
            } + roi.0 * (in_f - 1.0);
            (x, x < 0.0 || x > in_f - 1.0)
        }
        CoordMode::PytorchHalfPixel if out_w == 1.0 => (-0.5, false),
        CoordMode::PytorchHalfPixel | CoordMode::HalfPixel => ((y + 0.5) / scale - 0.5, false),
        CoordMode::HalfPixelSymmetric => {
            let adjustment = out_w_int as f64 / out_w;
            let offset = in_f / 2.0 * (1.0 - adjustment);
            (offset + (y + 0.5) / scale - 0.5, false)
        }
    }
}

/// Per axis of an input of `shape`, where each output position reads from.
pub fn plan(a: &ResizeAttrs, shape: &[usize]) -> Result<Vec<ResizeAxis>, String> {
    if a.mode == ResizeMode::Nearest && a.antialias {
        return Err("antialias is not defined for mode nearest".into());
    }
    let r = shape.len();
    let (scales, sizes) = scales_and_sizes(a, shape)?;
    let roi = full_roi(a, r)?;
    if a.coord == CoordMode::TfCropAndResize && roi.is_none() {
        return Err("coordinate_transformation_mode tf_crop_and_resize needs roi".into());
    }
    let mut axes = Vec::with_capacity(r);
    for d in 0..r {
        let (in_w, out_w, scale) = (shape[d], sizes[d], scales[d]);
        let axis_roi = roi.as_ref().map_or((0.0, 1.0), |v| (v[d], v[r + d]));
        let trivial_roi = roi.is_none()
            || a.coord != CoordMode::TfCropAndResize
            || (axis_roi.0 == 0.0 && axis_roi.1 == 1.0);
        if scale == 1.0 && out_w == in_w && trivial_roi {
            axes.push(ResizeAxis {
                input: in_w,
                output: out_w,
                taps: 0,
                index: Vec::new(),
                weight: Vec::new(),
                outside: Vec::new(),
            });
            continue;
        }
        if in_w == 0 {
            return Err(format!("axis {d} is empty and cannot be resized"));
        }
        let mut ax = ResizeAxis {
            input: in_w,
            output: out_w,
            taps: 0,
            index: Vec::new(),
            weight: Vec::new(),
            outside: Vec::with_capacity(out_w),
        };
        for y in 0..out_w {
            let (x, outside) = source_coord(a, y as f64, scale, in_w, out_w, axis_roi);
            if !x.is_finite() {
                return Err(format!("output position {y} of axis {d} maps to {x}"));
            }
            let xi = x.floor();
            let ratio = if x == xi { 1.0 } else { x - xi };
            let mut c = coeffs(a, ratio, scale);
            let n = c.len();
            if n == 0 || n > MAX_TAPS {
                return Err(format!(
                    "scale {scale} needs {n} taps per output position; kiln takes at most \
                     {MAX_TAPS}"
                ));
            }
            let pad = n.div_ceil(2) as f64;
            let xp = x + pad;
            let p = xp.floor();
            let frac = xp - p;
            let n2 = (n / 2) as f64;
            let off = if n.is_multiple_of(2) {
                if frac == 0.0 { -n2 } else { -n2 + 1.0 }
            } else {
                let base = -(((n - 1) / 2) as f64);
                if frac <= 0.5 { base } else { base + 1.0 }
            };
            let start = p + off - pad;
            if a.exclude_outside {
                for (k, w) in c.iter_mut().enumerate() {
                    let i = start + k as f64;
                    if i < 0.0 || i >= in_w as f64 {
                        *w = 0.0;
                    }
                }
                let s: f64 = c.iter().sum();
                let s = if s == 0.0 { 1.0 } else { s };
                c.iter_mut().for_each(|w| *w /= s);
            }
            let hi = (in_w - 1) as f64;
            let idx = (0..n).map(|k| (start + k as f64).clamp(0.0, hi) as usize);
            if a.mode == ResizeMode::Nearest {
                // One of the two weights is 1: keep only that tap.
                let k = usize::from(c[1] != 0.0);
                ax.index.push(idx.clone().nth(k).unwrap_or(0));
                ax.weight.push(1.0);
                ax.taps = 1;
            } else {
                ax.index.extend(idx);
                ax.weight.extend(&c);
                if ax.taps != 0 && ax.taps != n {
                    return Err(format!("axis {d} has a varying tap count"));
                }
                ax.taps = n;
            }
            ax.outside.push(outside);
        }
        axes.push(ax);
    }
    Ok(axes)
}

pub(crate) fn infer(
    a: &ResizeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "X")?.ty;
    if x.rank() == 0 {
        return Err(format!("X must have rank ≥ 1, got {x}"));
    }
    if x.dtype == DType::Bool {
        return Err(format!("Resize is not defined for bool tensors, got X {x}"));
    }
    if a.mode != ResizeMode::Nearest && !x.dtype.is_float() {
        return Err(format!(
            "kiln interpolates (mode linear or cubic) floating-point tensors only, got X {x}"
        ));
    }
    let axes = plan(a, &x.shape)?;
    let shape = axes.iter().map(|ax| ax.output).collect::<Vec<_>>();
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval(a: &ResizeAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "X")?;
    let axes = plan(a, &x.shape)?;
    if a.mode == ResizeMode::Nearest && !axes.iter().any(|ax| ax.outside.contains(&true)) {
        // A gather: exact for every element type.
        let idx = nearest_index(&axes);
        return Ok(vec![output(&ty, gather(&x.data, &idx))?]);
    }
    // Axis by axis in f64, as the reference does.
    let mut shape = x.shape.clone();
    let mut v = floats(x, "X")?;
    for (d, ax) in axes.iter().enumerate() {
        if ax.is_identity() {
            continue;
        }
        let outer: usize = shape[..d].iter().product();
        let inner: usize = shape[d + 1..].iter().product();
        let mut out = vec![0.0; outer * ax.output * inner];
        for o in 0..outer {
            for y in 0..ax.output {
                let dst = &mut out[(o * ax.output + y) * inner..][..inner];
                if ax.outside[y] {
                    dst.fill(a.extrapolation);
                    continue;
                }
                for k in 0..ax.taps {
                    let (i, w) = (ax.index[y * ax.taps + k], ax.weight[y * ax.taps + k]);
                    let src = &v[(o * ax.input + i) * inner..][..inner];
                    for (t, s) in dst.iter_mut().zip(src) {
                        *t += w * s;
                    }
                }
            }
        }
        shape[d] = ax.output;
        v = out;
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, v)?)?])
}

/// The flat input index of every output element of a nearest resize.
fn nearest_index(axes: &[ResizeAxis]) -> Vec<usize> {
    let mut idx = vec![0usize];
    for ax in axes {
        let mut next = Vec::with_capacity(idx.len() * ax.output);
        for &base in &idx {
            for y in 0..ax.output {
                let i = if ax.is_identity() { y } else { ax.index[y] };
                next.push(base * ax.input + i);
            }
        }
        idx = next;
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, run1};

    fn resize(a: ResizeAttrs) -> Op {
        Op::Resize(a)
    }

    #[test]
    fn nearest_integer_upsample_repeats() {
        let x = f32s(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let a = ResizeAttrs {
            coord: CoordMode::Asymmetric,
            nearest: NearestMode::Floor,
            scales: Some(vec![1.0, 1.0, 2.0, 2.0]),
            ..Default::default()
        };
        let y = run1(&resize(a), &[&x]);
        assert_eq!(y.shape, vec![1, 1, 4, 4]);
        #[rustfmt::skip]
        let want = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0];
        assert_close(&as_f32(&y), &want);
    }

    #[test]
    fn linear_align_corners_hits_the_ends() {
        let x = f32s(&[1, 3], &[0.0, 10.0, 40.0]);
        let a = ResizeAttrs {
            mode: ResizeMode::Linear,
            coord: CoordMode::AlignCorners,
            sizes: Some(vec![1, 5]),
            ..Default::default()
        };
        let y = run1(&resize(a), &[&x]);
        assert_close(&as_f32(&y), &[0.0, 5.0, 10.0, 25.0, 40.0]);
    }

    #[test]
    fn bad_attributes_are_errors() {
        let shape = [1, 1, 2, 2];
        let both = ResizeAttrs {
            scales: Some(vec![1.0; 4]),
            sizes: Some(vec![1; 4]),
            ..Default::default()
        };
        assert!(plan(&both, &shape).is_err());
        let neg = ResizeAttrs {
            scales: Some(vec![1.0, 1.0, -2.0, 2.0]),
            ..Default::default()
        };
        assert!(plan(&neg, &shape).is_err());
        let huge = ResizeAttrs {
            scales: Some(vec![1.0, 1.0, 1e30, 2.0]),
            ..Default::default()
        };
        assert!(plan(&huge, &shape).is_err());
        let short = ResizeAttrs {
            scales: Some(vec![2.0]),
            ..Default::default()
        };
        assert!(plan(&short, &shape).is_err());
    }
}
