//! Sliding-window geometry shared by Conv and the pooling ops: kernel, strides, dilations,
//! explicit or automatic padding, ceil mode. Shape inference, the reference semantics and the
//! emitters all take the resolved [`WindowGeometry`], so they cannot disagree.

use super::common::{strides_of, unravel};

/// ONNX `auto_pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoPad {
    #[default]
    NotSet,
    SameUpper,
    SameLower,
    Valid,
}

impl AutoPad {
    pub fn parse(s: &str) -> Option<AutoPad> {
        match s {
            "NOTSET" | "" => Some(AutoPad::NotSet),
            "SAME_UPPER" => Some(AutoPad::SameUpper),
            "SAME_LOWER" => Some(AutoPad::SameLower),
            "VALID" => Some(AutoPad::Valid),
            _ => None,
        }
    }
}

/// Window attributes as written in the model. Empty vectors mean "the ONNX default".
#[derive(Clone, Debug, PartialEq, Default)]
pub struct WindowAttrs {
    pub auto_pad: AutoPad,
    /// Required for pooling; for Conv it may be empty and is then taken from the weights.
    pub kernel_shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    /// `[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`.
    pub pads: Vec<usize>,
    pub ceil_mode: bool,
}

/// Fully resolved geometry for one input shape. All vectors have one entry per spatial axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowGeometry {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pads_begin: Vec<usize>,
    pub pads_end: Vec<usize>,
    pub input: Vec<usize>,
    pub output: Vec<usize>,
}

impl WindowAttrs {
    /// Resolves the geometry for `input` spatial dims and `kernel` (the attribute if given,
    /// else the one passed in, e.g. from Conv's weight shape).
    pub fn geometry(
        &self,
        input: &[usize],
        kernel: Option<&[usize]>,
    ) -> Result<WindowGeometry, String> {
        let n = input.len();
        let kernel: Vec<usize> = if !self.kernel_shape.is_empty() {
            self.kernel_shape.clone()
        } else if let Some(k) = kernel {
            k.to_vec()
        } else {
            return Err("kernel_shape is required".into());
        };
        let fill = |v: &Vec<usize>, what: &str| -> Result<Vec<usize>, String> {
            if v.is_empty() {
                Ok(vec![1; n])
            } else if v.len() == n {
                Ok(v.clone())
            } else {
                Err(format!(
                    "{what} has {} entries but the input has {n} spatial axes",
                    v.len()
                ))
            }
        };
        if kernel.len() != n {
            return Err(format!(
                "kernel has {} axes but the input has {n} spatial axes",
                kernel.len()
            ));
        }
        let strides = fill(&self.strides, "strides")?;
        let dilations = fill(&self.dilations, "dilations")?;
        if strides.contains(&0) || dilations.contains(&0) || kernel.contains(&0) {
            return Err("kernel, strides and dilations must be positive".into());
        }
        let mut pads_begin = vec![0; n];
        let mut pads_end = vec![0; n];
        let mut output = vec![0; n];
        for i in 0..n {
            let span = (kernel[i] - 1)
                .checked_mul(dilations[i])
                .and_then(|x| x.checked_add(1))
                .ok_or("window size overflows")?;
            match self.auto_pad {
                AutoPad::NotSet => {
                    if !self.pads.is_empty() {
                        if self.pads.len() != 2 * n {
                            return Err(format!(
                                "pads has {} entries, expected {} (begin and end for each spatial axis)",
                                self.pads.len(),
                                2 * n
                            ));
                        }
                        pads_begin[i] = self.pads[i];
                        pads_end[i] = self.pads[n + i];
                    }
                    let padded = input[i]
                        .checked_add(pads_begin[i])
                        .and_then(|x| x.checked_add(pads_end[i]))
                        .ok_or("pads overflow")?;
                    if padded < span {
                        return Err(format!(
                            "window of size {span} does not fit padded input of size {padded} on spatial axis {i}"
                        ));
                    }
                    let room = padded - span;
                    output[i] = if self.ceil_mode {
                        let mut o = room.div_ceil(strides[i]) + 1;
                        // A window that would start inside the end padding is dropped.
                        // (o - 1) * stride <= room < padded, and input + pads_begin <= padded: no overflow.
                        if (o - 1) * strides[i] >= input[i] + pads_begin[i] {
                            o -= 1;
                        }
                        o
                    } else {
                        room / strides[i] + 1
                    };
                }
                AutoPad::Valid => {
                    if input[i] < span {
                        return Err(format!(
                            "window of size {span} does not fit input of size {} on spatial axis {i}",
                            input[i]
                        ));
                    }
                    output[i] = (input[i] - span) / strides[i] + 1;
                }
                AutoPad::SameUpper | AutoPad::SameLower => {
                    output[i] = input[i].div_ceil(strides[i]);
                    let needed = (output[i].max(1) - 1)
                        .checked_mul(strides[i])
                        .and_then(|x| x.checked_add(span))
                        .ok_or("window geometry overflows")?
                        .saturating_sub(input[i]);
                    let small = needed / 2;
                    let large = needed - small;
                    if self.auto_pad == AutoPad::SameUpper {
                        pads_begin[i] = small;
                        pads_end[i] = large;
                    } else {
                        pads_begin[i] = large;
                        pads_end[i] = small;
                    }
                }
            }
        }
        Ok(WindowGeometry {
            kernel,
            strides,
            dilations,
            pads_begin,
            pads_end,
            input: input.to_vec(),
            output,
        })
    }
}

/// Where one kernel position of one output window lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tap {
    /// Inside the input, at this row-major flat index over the spatial axes.
    Inside(usize),
    /// In the explicit (or automatic) padding.
    Pad,
    /// Past the end padding: only windows added by `ceil_mode` reach here.
    Beyond,
}

impl WindowGeometry {
    /// Product of the output spatial dims.
    pub fn output_len(&self) -> usize {
        self.output.iter().product()
    }

    /// Product of the kernel dims.
    pub fn kernel_len(&self) -> usize {
        self.kernel.iter().product()
    }

    /// Every (output position, kernel position) pair, row-major over both, mapped to where it
    /// reads the input: `taps[o * kernel_len + k]`. Conv and the pools share this so they
    /// agree on padding, dilation and ceil-mode windows.
    pub(crate) fn taps(&self) -> Vec<Tap> {
        let n = self.input.len();
        let (out_len, k_len) = (self.output_len(), self.kernel_len());
        let in_strides = strides_of(&self.input);
        let mut taps = Vec::with_capacity(out_len * k_len);
        let mut o = vec![0; n];
        let mut k = vec![0; n];
        for of in 0..out_len {
            unravel(of, &self.output, &mut o);
            for kf in 0..k_len {
                unravel(kf, &self.kernel, &mut k);
                let (mut flat, mut pad, mut beyond) = (0, false, false);
                for i in 0..n {
                    // Position in padded coordinates; the input starts at pads_begin.
                    let p = o[i] * self.strides[i] + k[i] * self.dilations[i];
                    let end = self.pads_begin[i] + self.input[i];
                    if p < self.pads_begin[i] || p >= end {
                        pad = true;
                        beyond |= p >= end + self.pads_end[i];
                    } else {
                        flat += (p - self.pads_begin[i]) * in_strides[i];
                    }
                }
                taps.push(match (beyond, pad) {
                    (true, _) => Tap::Beyond,
                    (false, true) => Tap::Pad,
                    (false, false) => Tap::Inside(flat),
                });
            }
        }
        taps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_upper_keeps_size_at_stride_one() {
        let a = WindowAttrs {
            auto_pad: AutoPad::SameUpper,
            kernel_shape: vec![3, 3],
            ..Default::default()
        };
        let g = a.geometry(&[5, 5], None).unwrap();
        assert_eq!(g.output, vec![5, 5]);
        assert_eq!(g.pads_begin, vec![1, 1]);
        assert_eq!(g.pads_end, vec![1, 1]);
    }

    #[test]
    fn explicit_pads_and_strides() {
        // (5 + 1 + 1 - 3) / 2 + 1 = 3
        let a = WindowAttrs {
            kernel_shape: vec![3],
            strides: vec![2],
            pads: vec![1, 1],
            ..Default::default()
        };
        assert_eq!(a.geometry(&[5], None).unwrap().output, vec![3]);
    }

    #[test]
    fn ceil_mode_rounds_up() {
        // (4 - 3) / 2 + 1 = 1.5 -> 2 with ceil
        let a = WindowAttrs {
            kernel_shape: vec![3],
            strides: vec![2],
            ceil_mode: true,
            ..Default::default()
        };
        assert_eq!(a.geometry(&[4], None).unwrap().output, vec![2]);
    }

    #[test]
    fn taps_classify_input_padding_and_ceil_overhang() {
        // Input 4, kernel 3, stride 2, pads 1/1, ceil: windows start at padded 0, 2, 4.
        let a = WindowAttrs {
            kernel_shape: vec![3],
            strides: vec![2],
            pads: vec![1, 1],
            ceil_mode: true,
            ..Default::default()
        };
        let g = a.geometry(&[4], None).unwrap();
        assert_eq!(g.output, vec![3]);
        use Tap::*;
        assert_eq!(
            g.taps(),
            vec![
                Pad,
                Inside(0),
                Inside(1),
                Inside(1),
                Inside(2),
                Inside(3),
                Inside(3),
                Pad,
                Beyond
            ]
        );
        // 2-D with dilation: flat indices are row-major over the input.
        let a = WindowAttrs {
            kernel_shape: vec![2, 2],
            dilations: vec![1, 2],
            ..Default::default()
        };
        let g = a.geometry(&[2, 3], None).unwrap();
        assert_eq!(g.output, vec![1, 1]);
        assert_eq!(g.taps(), vec![Inside(0), Inside(2), Inside(3), Inside(5)]);
    }

    #[test]
    fn too_small_input_is_an_error() {
        let a = WindowAttrs {
            kernel_shape: vec![3],
            ..Default::default()
        };
        assert!(a.geometry(&[2], None).is_err());
    }
}
