//! Pad (ONNX opsets 1, 2, 11, 13, 18, 19, 21, 23, 24, 25): constant, reflect, edge and wrap
//! padding with numpy `np.pad` semantics; negative amounts crop.
//! Spec: https://onnx.ai/onnx/operators/onnx__Pad.html
//!
//! The frontend resolves the opset differences: `pads`, `axes` and `constant_value` are
//! attributes here whichever form the model used (they must be compile-time constants, as
//! the pad amounts decide the output shape). [`PadAttrs::geometry`] turns them into one
//! [`PadAxis`] per axis, which shape inference, the reference semantics, the emitter and the
//! Pad-into-Conv fold all use, so they cannot disagree.
//!
//! Along one axis, cropping (negative amounts) comes first, then padding of what is left:
//! output index `o` reads the kept input index `o - before` when that lies inside the kept
//! part, and otherwise, by mode, the constant (`constant`), the nearest kept element
//! (`edge`), the kept part mirrored about its first and last elements (`reflect`), or the
//! kept part repeated (`wrap`). Amounts larger than the axis repeat the mirroring or the
//! repetition, as numpy does. The reference semantics only move elements (and write the
//! constant), so they work for every element type.

use super::common::{Elem, elems, infer_on, numeric_dispatch, output};
use super::{InferInput, input, tensor};
use crate::tensor::{Tensor, TensorData};
use crate::types::{TensorType, normalize_axis};

/// How Pad fills the positions outside the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PadMode {
    /// A constant value.
    #[default]
    Constant,
    /// The input mirrored about its edge elements (the edge is not repeated).
    Reflect,
    /// The edge element repeated.
    Edge,
    /// The input repeated, as if the axis were a ring.
    Wrap,
}

impl PadMode {
    /// The ONNX `mode` string.
    pub fn parse(s: &str) -> Option<PadMode> {
        match s {
            "constant" => Some(PadMode::Constant),
            "reflect" => Some(PadMode::Reflect),
            "edge" => Some(PadMode::Edge),
            "wrap" => Some(PadMode::Wrap),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PadMode::Constant => "constant",
            PadMode::Reflect => "reflect",
            PadMode::Edge => "edge",
            PadMode::Wrap => "wrap",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PadAttrs {
    pub mode: PadMode,
    /// `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`: a begin and an end amount for each
    /// entry of `axes` (each axis when `axes` is `None`). Negative amounts crop.
    pub pads: Vec<i64>,
    /// The axes `pads` applies to (negative ones count from the back); `None`: all, in order.
    pub axes: Option<Vec<i64>>,
    /// The fill of constant mode, converted to the element type as attribute values are
    /// (integers truncate and saturate; bool is `value != 0`).
    pub value: f64,
}

/// What Pad does along one axis: of the `input` elements it keeps `len` from `start` (after
/// cropping), writes them at `before`, and fills the rest of the `output` positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PadAxis {
    pub input: usize,
    pub output: usize,
    /// Output positions before the kept elements (the positive begin amount).
    pub before: usize,
    /// First kept input element (the negative begin amount, cropped).
    pub start: usize,
    /// Kept input elements.
    pub len: usize,
}

impl PadAxis {
    /// Output positions after the kept elements (the positive end amount).
    pub fn after(&self) -> usize {
        self.output - self.before - self.len
    }

    /// Whether the axis is copied unchanged (no padding, no cropping).
    pub fn is_plain(&self) -> bool {
        self.before == 0 && self.start == 0 && self.len == self.output && self.len == self.input
    }

    /// The input index output index `o` reads under `mode`, or `None` where constant mode
    /// writes the constant.
    pub fn source(&self, o: usize, mode: PadMode) -> Option<usize> {
        let (len, before) = (self.len, self.before);
        if o >= before && o - before < len {
            return Some(self.start + o - before);
        }
        if mode == PadMode::Constant || len == 0 {
            return None;
        }
        // The position relative to the kept part, reduced into one period of the pattern.
        let reduce = |period: usize| {
            if o < before {
                (period - (before - o) % period) % period
            } else {
                (o - before) % period
            }
        };
        let k = match mode {
            PadMode::Edge => {
                if o < before {
                    0
                } else {
                    len - 1
                }
            }
            PadMode::Wrap => reduce(len),
            _ if len == 1 => 0,
            _ => {
                let period = 2 * (len - 1);
                let k = reduce(period);
                if k < len { k } else { period - k }
            }
        };
        Some(self.start + k)
    }
}

impl PadAttrs {
    /// The begin and end amount of each of `rank` axes.
    pub fn amounts(&self, rank: usize) -> Result<Vec<(i64, i64)>, String> {
        let axes: Vec<usize> = match &self.axes {
            None => (0..rank).collect(),
            Some(list) => {
                let mut seen = vec![false; rank];
                list.iter()
                    .map(|&a| {
                        let d = normalize_axis(a, rank).ok_or_else(|| {
                            format!("axis {a} in axes {list:?} is out of range for rank {rank}")
                        })?;
                        if std::mem::replace(&mut seen[d], true) {
                            return Err(format!("axes {list:?} names axis {d} twice"));
                        }
                        Ok(d)
                    })
                    .collect::<Result<_, String>>()?
            }
        };
        if self.pads.len() != 2 * axes.len() {
            let what = if self.axes.is_some() {
                format!("{} axes", axes.len())
            } else {
                format!("an input of rank {rank}")
            };
            return Err(format!(
                "pads {:?} has {} entries but {what} needs {} (a begin and an end amount per axis)",
                self.pads,
                self.pads.len(),
                2 * axes.len()
            ));
        }
        let mut out = vec![(0, 0); rank];
        for (i, &d) in axes.iter().enumerate() {
            out[d] = (self.pads[i], self.pads[axes.len() + i]);
        }
        Ok(out)
    }

    /// The padding of each axis of an input of shape `shape`.
    pub fn geometry(&self, shape: &[usize]) -> Result<Vec<PadAxis>, String> {
        let amounts = self.amounts(shape.len())?;
        shape
            .iter()
            .zip(amounts)
            .enumerate()
            .map(|(d, (&n, (b, e)))| {
                // i128: the amounts are arbitrary i64s from the model.
                let n_i = n as i128;
                let (crop_b, crop_e) = ((-(b as i128)).max(0), (-(e as i128)).max(0));
                let len = n_i - crop_b - crop_e;
                if len < 0 {
                    return Err(format!(
                        "pads crop {} elements from axis {d}, which has only {n}",
                        crop_b + crop_e
                    ));
                }
                let output = len + (b as i128).max(0) + (e as i128).max(0);
                let output = usize::try_from(output)
                    .ok()
                    .filter(|&o| o <= isize::MAX as usize)
                    .ok_or_else(|| {
                        format!("pads ({b}, {e}) make axis {d} too long ({output} elements)")
                    })?;
                let len = len as usize;
                if self.mode != PadMode::Constant && len == 0 && output > 0 {
                    return Err(format!(
                        "{} padding has no element to copy on axis {d} (the input has {n} and \
                         pads ({b}, {e}) crop them all); only constant padding can fill an \
                         empty axis",
                        self.mode.name()
                    ));
                }
                Ok(PadAxis {
                    input: n,
                    output,
                    before: b.max(0) as usize,
                    start: crop_b as usize,
                    len,
                })
            })
            .collect()
    }
}

pub(crate) fn infer(
    a: &PadAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let x = input(inputs, 0, "data")?.ty;
    let geo = a.geometry(&x.shape)?;
    Ok(vec![TensorType::new(
        x.dtype,
        geo.iter().map(|g| g.output).collect::<Vec<_>>(),
    )])
}

/// For every output element (row-major), the flat input index it reads, or `None` for the
/// constant.
fn source_index(geo: &[PadAxis], mode: PadMode) -> Vec<Option<usize>> {
    let shape: Vec<usize> = geo.iter().map(|g| g.output).collect();
    let n: usize = shape.iter().product();
    let mut strides = vec![1usize; geo.len()];
    for d in (0..geo.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * geo[d + 1].input;
    }
    let mut coord = vec![0usize; geo.len()];
    let mut idx = Vec::with_capacity(n);
    for _ in 0..n {
        let src = geo
            .iter()
            .zip(&coord)
            .zip(&strides)
            .try_fold(0usize, |acc, ((g, &o), &s)| {
                g.source(o, mode).map(|i| acc + i * s)
            });
        idx.push(src);
        for d in (0..coord.len()).rev() {
            coord[d] += 1;
            if coord[d] < shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    idx
}

fn fill<T: Elem>(x: &Tensor, idx: &[Option<usize>], value: f64) -> Result<TensorData, String> {
    let v = elems::<T>(x, "data")?;
    let c = T::from_f64(value);
    Ok(T::wrap(idx.iter().map(|i| i.map_or(c, |i| v[i])).collect()))
}

pub(crate) fn eval(a: &PadAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let x = tensor(inputs, 0, "data")?;
    let idx = source_index(&a.geometry(&x.shape)?, a.mode);
    let data = numeric_dispatch!(x.dtype(), T => fill::<T>(x, &idx, a.value)?, bool => {
        let TensorData::Bool(v) = &x.data else {
            return Err(format!("data has an unexpected element type {}", x.dtype()));
        };
        let c = a.value != 0.0;
        TensorData::Bool(idx.iter().map(|i| i.map_or(c, |i| v[i])).collect())
    });
    Ok(vec![output(&ty, data)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Op;
    use crate::ops::common::test_util::{f32s, iota, run, run1};

    fn pad(mode: PadMode, pads: &[i64], axes: Option<&[i64]>, value: f64) -> Op {
        Op::Pad(PadAttrs {
            mode,
            pads: pads.to_vec(),
            axes: axes.map(<[i64]>::to_vec),
            value,
        })
    }

    fn i32s(shape: &[usize], v: &[i32]) -> Tensor {
        Tensor::new(shape.to_vec(), TensorData::I32(v.to_vec())).unwrap()
    }

    #[test]
    fn spec_examples() {
        // https://onnx.ai/onnx/operators/onnx__Pad.html, examples 1 to 3.
        let x = f32s(&[3, 2], &[1.0, 1.2, 2.3, 3.4, 4.5, 5.7]);
        let y = run1(&pad(PadMode::Constant, &[0, 2, 0, 0], None, 0.0), &[&x]);
        assert_eq!(y.shape, vec![3, 4]);
        #[rustfmt::skip]
        assert_eq!(y, f32s(&[3, 4], &[
            0.0, 0.0, 1.0, 1.2,
            0.0, 0.0, 2.3, 3.4,
            0.0, 0.0, 4.5, 5.7,
        ]));
        let y = run1(&pad(PadMode::Reflect, &[0, 2, 0, 0], None, 0.0), &[&x]);
        #[rustfmt::skip]
        assert_eq!(y, f32s(&[3, 4], &[
            1.0, 1.2, 1.0, 1.2,
            2.3, 3.4, 2.3, 3.4,
            4.5, 5.7, 4.5, 5.7,
        ]));
        let y = run1(&pad(PadMode::Edge, &[0, 2, 0, 0], None, 0.0), &[&x]);
        #[rustfmt::skip]
        assert_eq!(y, f32s(&[3, 4], &[
            1.0, 1.0, 1.0, 1.2,
            2.3, 2.3, 2.3, 3.4,
            4.5, 4.5, 4.5, 5.7,
        ]));
    }

    #[test]
    fn large_amounts_repeat_like_numpy() {
        // np.pad([1, 2, 3], (5, 5), mode) for each mode.
        let x = i32s(&[3], &[1, 2, 3]);
        let cases: [(PadMode, [i32; 13]); 4] = [
            (PadMode::Reflect, [2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2]),
            (PadMode::Wrap, [2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2]),
            (PadMode::Edge, [1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3, 3]),
            (PadMode::Constant, [7, 7, 7, 7, 7, 1, 2, 3, 7, 7, 7, 7, 7]),
        ];
        for (mode, want) in cases {
            let y = run1(&pad(mode, &[5, 5], None, 7.0), &[&x]);
            assert_eq!(y, i32s(&[13], &want), "{mode:?}");
        }
        // A single element reflects onto itself: np.pad([1], 2, 'reflect').
        let y = run1(
            &pad(PadMode::Reflect, &[2, 2], None, 0.0),
            &[&i32s(&[1], &[1])],
        );
        assert_eq!(y, i32s(&[5], &[1; 5]));
        // np.pad([1, 2], 3, 'reflect').
        let y = run1(
            &pad(PadMode::Reflect, &[3, 3], None, 0.0),
            &[&i32s(&[2], &[1, 2])],
        );
        assert_eq!(y, i32s(&[8], &[2, 1, 2, 1, 2, 1, 2, 1]));
    }

    #[test]
    fn negative_amounts_crop_before_padding() {
        let x = iota(&[2, 5]);
        // Axis 1: drop one at the front, pad two at the back.
        let y = run1(&pad(PadMode::Constant, &[0, -1, 0, 2], None, 9.0), &[&x]);
        #[rustfmt::skip]
        assert_eq!(y, f32s(&[2, 6], &[
            1.0, 2.0, 3.0, 4.0, 9.0, 9.0,
            6.0, 7.0, 8.0, 9.0, 9.0, 9.0,
        ]));
        // Reflect about the cropped part: [1, 2, 3] -> [1, 2, 3, 2, 1].
        let y = run1(&pad(PadMode::Reflect, &[0, -1, 0, 1], None, 0.0), &[&x]);
        assert_eq!(y.shape, vec![2, 5]);
        assert_eq!(
            y.data,
            TensorData::F32(vec![1.0, 2.0, 3.0, 4.0, 3.0, 6.0, 7.0, 8.0, 9.0, 8.0])
        );
        // Cropping everything leaves an empty axis; padding it needs constant mode.
        let y = run1(&pad(PadMode::Constant, &[0, -5, 0, 1], None, 4.0), &[&x]);
        assert_eq!(y, f32s(&[2, 1], &[4.0, 4.0]));
        let e = run(&pad(PadMode::Edge, &[0, -5, 0, 1], None, 0.0), &[Some(&x)]).unwrap_err();
        assert!(e.contains("only constant padding"), "{e}");
        let e = run(
            &pad(PadMode::Constant, &[0, -3, 0, -3], None, 0.0),
            &[Some(&x)],
        )
        .unwrap_err();
        assert!(e.contains("crop 6 elements from axis 1"), "{e}");
    }

    #[test]
    fn axes_pick_the_padded_axes() {
        let x = iota(&[1, 2, 2]);
        let full = run1(&pad(PadMode::Wrap, &[0, 1, 0, 0, 0, 1], None, 0.0), &[&x]);
        for axes in [[1i64, 2], [-2, -1]] {
            let y = run1(&pad(PadMode::Wrap, &[1, 0, 0, 1], Some(&axes), 0.0), &[&x]);
            assert_eq!(y, full, "{axes:?}");
        }
        // Reversed axes reverse the pairing too.
        let y = run1(
            &pad(PadMode::Wrap, &[0, 1, 1, 0], Some(&[2, 1]), 0.0),
            &[&x],
        );
        assert_eq!(y, full);
        for (axes, want) in [(vec![3i64], "out of range"), (vec![1, -2], "twice")] {
            let e = run(
                &pad(PadMode::Wrap, &vec![1; 2 * axes.len()], Some(&axes), 0.0),
                &[Some(&x)],
            )
            .unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        let e = run(&pad(PadMode::Constant, &[1, 1], None, 0.0), &[Some(&x)]).unwrap_err();
        assert!(e.contains("needs 6"), "{e}");
    }

    #[test]
    fn every_element_type() {
        let b = Tensor::new(vec![2], TensorData::Bool(vec![true, false])).unwrap();
        let y = run1(&pad(PadMode::Constant, &[1, 1], None, 1.0), &[&b]);
        assert_eq!(y.data, TensorData::Bool(vec![true, true, false, true]));
        let u = Tensor::new(vec![2], TensorData::U8(vec![3, 4])).unwrap();
        let y = run1(&pad(PadMode::Constant, &[1, 0], None, -1.0), &[&u]);
        assert_eq!(
            y.data,
            TensorData::U8(vec![0, 3, 4]),
            "negative saturates to 0"
        );
        let h = Tensor::new(vec![1], TensorData::F16(vec![0x3c00])).unwrap();
        let y = run1(&pad(PadMode::Edge, &[1, 1], None, 0.0), &[&h]);
        assert_eq!(y.data, TensorData::F16(vec![0x3c00; 3]));
        let i = Tensor::new(vec![2], TensorData::I64(vec![i64::MAX, 5])).unwrap();
        let y = run1(&pad(PadMode::Wrap, &[1, 0], None, 0.0), &[&i]);
        assert_eq!(y.data, TensorData::I64(vec![5, i64::MAX, 5]));
        // A scalar has nothing to pad.
        let s = f32s(&[], &[2.0]);
        assert_eq!(run1(&pad(PadMode::Reflect, &[], None, 0.0), &[&s]), s);
    }

    #[test]
    fn huge_amounts_are_errors_not_overflows() {
        let x = iota(&[2]);
        for pads in [[i64::MAX, i64::MAX], [i64::MIN, 0], [0, i64::MIN]] {
            assert!(run(&pad(PadMode::Constant, &pads, None, 0.0), &[Some(&x)]).is_err());
        }
    }
}
