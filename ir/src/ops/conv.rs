//! Conv (ONNX opsets 1, 11, 22): N-d convolution with groups (depthwise when
//! `group == C_in`), explicit or automatic padding, strides and dilations.
//! Spec: https://onnx.ai/onnx/operators/onnx__Conv.html
//!
//! Reference semantics on float types (f32, f64, f16, bf16), 1-D, 2-D, 3-D (any N-d),
//! accumulated in f64 and rounded once.

use super::common::{floats, from_f64s, infer_on, output};
use super::window::{Tap, WindowAttrs};
use super::{InferInput, input, tensor};
use crate::tensor::Tensor;
use crate::types::TensorType;

#[derive(Clone, Debug, PartialEq)]
pub struct ConvAttrs {
    pub window: WindowAttrs,
    pub group: usize,
}

/// X and W of a Conv or ConvTranspose (`name`): X a float tensor of rank ≥ 3 (N, C,
/// spatial...), W of X's rank and element type.
fn conv_operands<'a>(
    name: &str,
    inputs: &[Option<InferInput<'a>>],
) -> Result<(&'a TensorType, &'a TensorType), String> {
    let x = input(inputs, 0, "X")?.ty;
    let w = input(inputs, 1, "W")?.ty;
    if x.rank() < 3 {
        return Err(format!("X must have rank ≥ 3 (N, C, spatial...), got {x}"));
    }
    if w.rank() != x.rank() {
        return Err(format!("W {w} must have the same rank as X {x}"));
    }
    if !x.dtype.is_float() {
        return Err(format!(
            "{name} is defined for floating-point tensors, got X {x}"
        ));
    }
    if w.dtype != x.dtype {
        return Err(format!("W {w} must have the element type of X {x}"));
    }
    Ok((x, w))
}

/// The optional bias (input 2) must be a vector of the `m` output channels, typed like X.
fn check_bias(inputs: &[Option<InferInput>], x: &TensorType, m: usize) -> Result<(), String> {
    if let Some(b) = inputs.get(2).copied().flatten()
        && (b.ty.shape != [m] || b.ty.dtype != x.dtype)
    {
        return Err(format!("bias {} must be {}[{m}]", b.ty, x.dtype));
    }
    Ok(())
}

pub(crate) fn infer(
    a: &ConvAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let (x, w) = conv_operands("Conv", inputs)?;
    if a.group == 0 || x.shape[1] % a.group != 0 || w.shape[0] % a.group != 0 {
        return Err(format!(
            "group {} must divide C_in {} and M {}",
            a.group, x.shape[1], w.shape[0]
        ));
    }
    if w.shape[1].checked_mul(a.group) != Some(x.shape[1]) {
        return Err(format!(
            "W has {} input channels per group but X has {} channels in {} groups",
            w.shape[1], x.shape[1], a.group
        ));
    }
    check_bias(inputs, x, w.shape[0])?;
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    if g.kernel != w.shape[2..] {
        return Err(format!("kernel_shape {:?} disagrees with W {w}", g.kernel));
    }
    let mut shape = vec![x.shape[0], w.shape[0]];
    shape.extend(g.output);
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval(a: &ConvAttrs, inputs: &[Option<&Tensor>]) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer(a, ii))?.remove(0);
    let (x, w) = (tensor(inputs, 0, "X")?, tensor(inputs, 1, "W")?);
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    let taps = g.taps();
    let (batch, c_in, m, c_group) = (x.shape[0], x.shape[1], w.shape[0], w.shape[1]);
    let m_group = m / a.group;
    let in_len: usize = x.shape[2..].iter().product();
    let (out_len, k_len) = (g.output_len(), g.kernel_len());
    let xv = floats(x, "X")?;
    let wv = floats(w, "W")?;
    let bias = match inputs.get(2).copied().flatten() {
        Some(b) => floats(b, "B")?,
        None => vec![0.0; m],
    };
    let mut y = vec![0.0f64; batch * m * out_len];
    for n in 0..batch {
        for oc in 0..m {
            // Output channel oc sees only the input channels of its group.
            let grp = oc / m_group;
            let out = &mut y[(n * m + oc) * out_len..][..out_len];
            out.fill(bias[oc]);
            for ic in 0..c_group {
                let xin = &xv[(n * c_in + grp * c_group + ic) * in_len..][..in_len];
                let filt = &wv[(oc * c_group + ic) * k_len..][..k_len];
                for (o, acc) in out.iter_mut().enumerate() {
                    for (tap, &wk) in taps[o * k_len..][..k_len].iter().zip(filt) {
                        if let Tap::Inside(i) = *tap {
                            *acc += xin[i] * wk;
                        }
                    }
                }
            }
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::common::test_util::{as_f32, assert_close, f32s, iota, run, run1};
    use crate::ops::{AutoPad, Op};
    use crate::tensor::TensorData;

    fn conv(group: usize, window: WindowAttrs) -> Op {
        Op::Conv(ConvAttrs { window, group })
    }

    fn pads(p: &[usize]) -> WindowAttrs {
        WindowAttrs {
            pads: p.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn one_by_one_identity_kernel_is_the_identity() {
        let x = iota(&[2, 3, 4, 5]);
        let mut w = vec![0.0; 9];
        for c in 0..3 {
            w[c * 3 + c] = 1.0;
        }
        let y = run1(
            &conv(1, WindowAttrs::default()),
            &[&x, &f32s(&[3, 3, 1, 1], &w)],
        );
        assert_eq!(y, x);
    }

    // The spec's example (node tests test_basic_conv_with_padding / _without_padding).
    #[test]
    fn spec_example_with_and_without_padding() {
        let x = iota(&[1, 1, 5, 5]);
        let w = f32s(&[1, 1, 3, 3], &[1.0; 9]);
        let y = run1(&conv(1, pads(&[1, 1, 1, 1])), &[&x, &w]);
        #[rustfmt::skip]
        let want = [
            12.0, 21.0, 27.0, 33.0, 24.0,
            33.0, 54.0, 63.0, 72.0, 51.0,
            63.0, 99.0, 108.0, 117.0, 81.0,
            93.0, 144.0, 153.0, 162.0, 111.0,
            72.0, 111.0, 117.0, 123.0, 84.0,
        ];
        assert_close(&as_f32(&y), &want);
        let y = run1(&conv(1, WindowAttrs::default()), &[&x, &w]);
        assert_eq!(y.shape, vec![1, 1, 3, 3]);
        assert_close(
            &as_f32(&y),
            &[54.0, 63.0, 72.0, 99.0, 108.0, 117.0, 144.0, 153.0, 162.0],
        );
    }

    // test_conv_with_strides_and_asymmetric_padding.
    #[test]
    fn strides_and_asymmetric_padding() {
        let x = iota(&[1, 1, 7, 5]);
        let w = f32s(&[1, 1, 3, 3], &[1.0; 9]);
        let window = WindowAttrs {
            strides: vec![2, 2],
            pads: vec![1, 0, 1, 0],
            ..Default::default()
        };
        let y = run1(&conv(1, window), &[&x, &w]);
        assert_eq!(y.shape, vec![1, 1, 4, 2]);
        assert_close(
            &as_f32(&y),
            &[21.0, 33.0, 99.0, 117.0, 189.0, 207.0, 171.0, 183.0],
        );
    }

    #[test]
    fn depthwise_with_bias_scales_each_channel() {
        let x = iota(&[1, 3, 2, 2]);
        let w = f32s(&[3, 1, 1, 1], &[1.0, 2.0, -1.0]);
        let b = f32s(&[3], &[0.5, 0.0, 10.0]);
        let y = run1(&conv(3, WindowAttrs::default()), &[&x, &w, &b]);
        let want: Vec<f32> = (0..12)
            .map(|i| {
                let c = i / 4;
                i as f32 * [1.0, 2.0, -1.0][c] + [0.5, 0.0, 10.0][c]
            })
            .collect();
        assert_close(&as_f32(&y), &want);
    }

    #[test]
    fn groups_see_only_their_channels() {
        // Two groups of two channels; each output sums its group's two channels.
        let x = iota(&[1, 4, 1, 1]);
        let w = f32s(&[2, 2, 1, 1], &[1.0; 4]);
        let y = run1(&conv(2, WindowAttrs::default()), &[&x, &w]);
        assert_close(&as_f32(&y), &[1.0, 5.0]);
    }

    #[test]
    fn dilated_1d_and_3d() {
        // Taps at 0 and 4: y[i] = x[i] - x[i + 4].
        let x = f32s(&[1, 1, 6], &[1.0, 2.0, 3.0, 4.0, 5.0, 7.0]);
        let w = f32s(&[1, 1, 3], &[1.0, 0.0, -1.0]);
        let window = WindowAttrs {
            dilations: vec![2],
            ..Default::default()
        };
        let y = run1(&conv(1, window), &[&x, &w]);
        assert_close(&as_f32(&y), &[-4.0, -5.0]);

        let x = iota(&[1, 1, 2, 2, 2]);
        let w = f32s(&[1, 1, 2, 2, 2], &[1.0; 8]);
        let y = run1(&conv(1, WindowAttrs::default()), &[&x, &w]);
        assert_eq!(y.shape, vec![1, 1, 1, 1, 1]);
        assert_close(&as_f32(&y), &[28.0]);
    }

    #[test]
    fn same_upper_keeps_the_spatial_size() {
        let x = iota(&[1, 1, 5, 5]);
        let w = f32s(&[1, 1, 3, 3], &[1.0; 9]);
        let window = WindowAttrs {
            auto_pad: AutoPad::SameUpper,
            ..Default::default()
        };
        // Same as explicit symmetric padding 1.
        let y = run1(&conv(1, window), &[&x, &w]);
        let z = run1(&conv(1, pads(&[1, 1, 1, 1])), &[&x, &w]);
        assert_eq!(y, z);
    }

    #[test]
    fn keeps_f64_and_f16() {
        let x = Tensor::new(vec![1, 1, 3], TensorData::F64(vec![1.0, 2.0, 3.0])).unwrap();
        let w = Tensor::new(vec![1, 1, 2], TensorData::F64(vec![0.5, 0.25])).unwrap();
        let y = run1(&conv(1, WindowAttrs::default()), &[&x, &w]);
        assert_eq!(y.data, TensorData::F64(vec![1.0, 1.75]));

        let h = |v: &[f32]| {
            v.iter()
                .map(|&f| half::f16::from_f32(f).to_bits())
                .collect()
        };
        let x = Tensor::new(vec![1, 1, 3], TensorData::F16(h(&[1.0, 2.0, 3.0]))).unwrap();
        let w = Tensor::new(vec![1, 1, 2], TensorData::F16(h(&[0.5, 0.25]))).unwrap();
        let y = run1(&conv(1, WindowAttrs::default()), &[&x, &w]);
        assert_eq!(y.data.to_f64_vec(), vec![1.0, 1.75]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let op = conv(1, WindowAttrs::default());
        let x = iota(&[1, 2, 3, 3]);
        let w = iota(&[1, 3, 1, 1]);
        assert!(run(&op, &[Some(&x), Some(&w)]).is_err());
        assert!(run(&op, &[Some(&x)]).is_err());
        let xi = Tensor::new(vec![1, 1, 2], TensorData::I32(vec![1, 2])).unwrap();
        let wi = Tensor::new(vec![1, 1, 1], TensorData::I32(vec![1])).unwrap();
        assert!(run(&op, &[Some(&xi), Some(&wi)]).is_err());
        let big = iota(&[1, 1, 4, 4]);
        assert!(run(&op, &[Some(&iota(&[1, 1, 2, 2])), Some(&big)]).is_err());
    }
}

/// ConvTranspose (ONNX opsets 1, 11, 22): the gradient of Conv, N-d with groups, strides,
/// dilations, explicit or automatic padding, `output_padding` and `output_shape`.
/// Spec: https://onnx.ai/onnx/operators/onnx__ConvTranspose.html; the padding rules follow
/// onnx/reference/ops/op_conv_transpose.py.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTransposeAttrs {
    pub auto_pad: super::AutoPad,
    /// Empty: W's spatial shape.
    pub kernel_shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// `[begin..., end...]`; empty: none (or automatic).
    pub pads: Vec<usize>,
    pub output_padding: Vec<usize>,
    /// Spatial output shape; empty: computed.
    pub output_shape: Vec<usize>,
    pub group: usize,
}

/// The resolved spatial geometry of a ConvTranspose: input position `i` and kernel tap `k`
/// add into output position `i * stride + k * dilation - pad_begin` (when inside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvTransposeGeometry {
    pub input: Vec<usize>,
    pub output: Vec<usize>,
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads_begin: Vec<usize>,
}

impl ConvTransposeAttrs {
    pub fn geometry(
        &self,
        input: &[usize],
        w_kernel: &[usize],
    ) -> Result<ConvTransposeGeometry, String> {
        use super::AutoPad;
        let r = input.len();
        let or = |v: &[usize], d: usize, what: &str| -> Result<Vec<usize>, String> {
            match v.len() {
                0 => Ok(vec![d; r]),
                n if n == r => Ok(v.to_vec()),
                n => Err(format!("{what} has {n} entries for {r} spatial axes")),
            }
        };
        let kernel = if self.kernel_shape.is_empty() {
            w_kernel.to_vec()
        } else {
            self.kernel_shape.clone()
        };
        if kernel != w_kernel {
            return Err(format!(
                "kernel_shape {kernel:?} disagrees with W's spatial shape {w_kernel:?}"
            ));
        }
        let strides = or(&self.strides, 1, "strides")?;
        let dilations = or(&self.dilations, 1, "dilations")?;
        let out_pad = or(&self.output_padding, 0, "output_padding")?;
        if strides.contains(&0) || dilations.contains(&0) {
            return Err("strides and dilations must be positive".into());
        }
        if out_pad.iter().zip(&strides).any(|(p, s)| p >= s) && out_pad.iter().any(|&p| p > 0) {
            // Not an error in onnxruntime for dilations > 1; the spec asks for p < stride
            // (or dilation), which kiln checks loosely.
            if out_pad
                .iter()
                .zip(strides.iter().zip(&dilations))
                .any(|(p, (s, d))| p >= s && p >= d)
            {
                return Err(format!(
                    "output_padding {out_pad:?} must be smaller than strides {strides:?} or \
                     dilations {dilations:?}"
                ));
            }
        }
        // The full extent: stride * (in - 1) + output_padding + (kernel - 1) * dilation + 1.
        let full: Vec<i128> = (0..r)
            .map(|i| {
                strides[i] as i128 * (input[i] as i128 - 1)
                    + out_pad[i] as i128
                    + (kernel[i] as i128 - 1) * dilations[i] as i128
                    + 1
            })
            .collect();
        // Some exporters write the whole output shape (N and C too): keep the spatial part.
        let spatial = if self.output_shape.len() == r + 2 {
            &self.output_shape[2..]
        } else {
            &self.output_shape[..]
        };
        let given = or(spatial, 0, "output_shape")?;
        let auto = matches!(self.auto_pad, AutoPad::SameUpper | AutoPad::SameLower);
        let (pads_begin, output): (Vec<i128>, Vec<i128>) = if self.pads.is_empty() && auto {
            let target: Vec<i128> = if self.output_shape.is_empty() {
                (0..r).map(|i| (input[i] * strides[i]) as i128).collect()
            } else {
                given.iter().map(|&v| v as i128).collect()
            };
            let begin = (0..r)
                .map(|i| {
                    let total = full[i] - target[i];
                    if self.auto_pad == AutoPad::SameUpper {
                        total.div_euclid(2)
                    } else {
                        total - total.div_euclid(2)
                    }
                })
                .collect();
            (begin, target)
        } else {
            let pads = match self.pads.len() {
                0 => vec![0; 2 * r],
                n if n == 2 * r => self.pads.clone(),
                n => return Err(format!("pads has {n} entries for {r} spatial axes")),
            };
            let output = if self.output_shape.is_empty() {
                (0..r)
                    .map(|i| full[i] - pads[i] as i128 - pads[r + i] as i128)
                    .collect()
            } else {
                given.iter().map(|&v| v as i128).collect()
            };
            (pads[..r].iter().map(|&p| p as i128).collect(), output)
        };
        if pads_begin.iter().any(|&p| p < 0) {
            return Err(format!(
                "output_shape {given:?} is larger than the automatic padding can reach"
            ));
        }
        if output.iter().any(|&o| o < 1 || o > i32::MAX as i128) {
            return Err(format!(
                "the output's spatial shape {output:?} is empty or too large"
            ));
        }
        Ok(ConvTransposeGeometry {
            input: input.to_vec(),
            output: output.iter().map(|&o| o as usize).collect(),
            kernel,
            strides,
            dilations,
            pads_begin: pads_begin.iter().map(|&p| p as usize).collect(),
        })
    }
}

pub(crate) fn infer_transpose(
    a: &ConvTransposeAttrs,
    inputs: &[Option<InferInput>],
) -> Result<Vec<TensorType>, String> {
    let (x, w) = conv_operands("ConvTranspose", inputs)?;
    if a.group == 0 || x.shape[1] % a.group != 0 || w.shape[0] != x.shape[1] {
        return Err(format!(
            "W {w} must have C = {} rows, divisible by group {}",
            x.shape[1], a.group
        ));
    }
    let m = w.shape[1]
        .checked_mul(a.group)
        .ok_or("the output channel count overflows")?;
    check_bias(inputs, x, m)?;
    let g = a.geometry(&x.shape[2..], &w.shape[2..])?;
    let mut shape = vec![x.shape[0], m];
    shape.extend(g.output);
    Ok(vec![TensorType::new(x.dtype, shape)])
}

pub(crate) fn eval_transpose(
    a: &ConvTransposeAttrs,
    inputs: &[Option<&Tensor>],
) -> Result<Vec<Tensor>, String> {
    let ty = infer_on(inputs, |ii| infer_transpose(a, ii))?.remove(0);
    let (x, w) = (tensor(inputs, 0, "X")?, tensor(inputs, 1, "W")?);
    let g = a.geometry(&x.shape[2..], &w.shape[2..])?;
    let (batch, c) = (x.shape[0], x.shape[1]);
    let (cg, mg) = (c / a.group, w.shape[1]);
    let m = mg * a.group;
    let xv = floats(x, "X")?;
    let wv = floats(w, "W")?;
    let bias = match inputs.get(2).copied().flatten() {
        Some(b) => floats(b, "B")?,
        None => vec![0.0; m],
    };
    let in_len: usize = g.input.iter().product();
    let out_len: usize = g.output.iter().product();
    let k_len: usize = g.kernel.iter().product();
    let r = g.input.len();
    let mut y = vec![0.0f64; batch * m * out_len];
    let mut ic_coord = vec![0usize; r];
    let mut k_coord = vec![0usize; r];
    for n in 0..batch {
        for oc in 0..m {
            y[(n * m + oc) * out_len..][..out_len].fill(bias[oc]);
        }
        for ic in 0..c {
            let grp = ic / cg;
            for ocg in 0..mg {
                let oc = grp * mg + ocg;
                let filt = &wv[(ic * mg + ocg) * k_len..][..k_len];
                for i in 0..in_len {
                    let v = xv[(n * c + ic) * in_len + i];
                    super::common::unravel(i, &g.input, &mut ic_coord);
                    'taps: for (k, &wk) in filt.iter().enumerate() {
                        super::common::unravel(k, &g.kernel, &mut k_coord);
                        let mut at = 0usize;
                        for d in 0..r {
                            let pos = ic_coord[d] * g.strides[d] + k_coord[d] * g.dilations[d];
                            let Some(o) = pos.checked_sub(g.pads_begin[d]) else {
                                continue 'taps;
                            };
                            if o >= g.output[d] {
                                continue 'taps;
                            }
                            at = at * g.output[d] + o;
                        }
                        y[(n * m + oc) * out_len + at] += v * wk;
                    }
                }
            }
        }
    }
    Ok(vec![output(&ty, from_f64s(ty.dtype, y)?)?])
}
