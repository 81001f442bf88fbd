/// ConvTranspose parameters: channel counts and the geometry over three spatial axes
/// (1-D and 2-D ops lead with unit axes).
struct ConvTransposeParams {
    batch: usize,
    c_in: usize,
    c_out: usize,
    group: usize,
    input: [usize; 3],
    output: [usize; 3],
    kernel: [usize; 3],
    strides: [usize; 3],
    dilations: [usize; 3],
    pads: [usize; 3],
}

/// Transposed convolution: every input element, times every tap of the filters of its
/// group's output channels, adds into output position `i * stride + k * dilation - pad`
/// (when inside the output). The output starts as the bias (or zero).
fn conv_transpose<T: Num>(x: &[T], w: &[T], b: Option<&[T]>, y: &mut [T], p: &ConvTransposeParams) {
    let [id, ih, iw] = p.input;
    let [od, oh, ow] = p.output;
    let [kd, kh, kw] = p.kernel;
    let in_len = id * ih * iw;
    let out_len = od * oh * ow;
    let k_len = kd * kh * kw;
    let (cg, mg) = (p.c_in / p.group, p.c_out / p.group);
    // The output position of input position `i` and tap `k` on axis `a`, if inside.
    let at = |a: usize, i: usize, k: usize, len: usize| -> Option<usize> {
        let pos = (i * p.strides[a] + k * p.dilations[a]).checked_sub(p.pads[a])?;
        if pos < len { Some(pos) } else { None }
    };
    for n in 0..p.batch {
        for oc in 0..p.c_out {
            let v = b.map_or(T::ZERO, |b| b[oc]);
            y[(n * p.c_out + oc) * out_len..][..out_len].fill(v);
        }
        for ic in 0..p.c_in {
            let grp = ic / cg;
            let xs = &x[(n * p.c_in + ic) * in_len..][..in_len];
            for m in 0..mg {
                let oc = grp * mg + m;
                let filt = &w[(ic * mg + m) * k_len..][..k_len];
                let ys = &mut y[(n * p.c_out + oc) * out_len..][..out_len];
                for a in 0..id {
                    for bb in 0..ih {
                        for c in 0..iw {
                            let v = xs[(a * ih + bb) * iw + c];
                            for ka in 0..kd {
                                let Some(pa) = at(0, a, ka, od) else { continue };
                                for kb in 0..kh {
                                    let Some(pb) = at(1, bb, kb, oh) else { continue };
                                    for kc in 0..kw {
                                        let Some(pc) = at(2, c, kc, ow) else { continue };
                                        let o = (pa * oh + pb) * ow + pc;
                                        ys[o] = ys[o].plus(v.times(filt[(ka * kh + kb) * kw + kc]));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
