/* ConvTranspose parameters: channel counts and the geometry over three spatial axes. */
typedef struct {
    size_t batch, c_in, c_out, group;
    const size_t *input; size_t input_len;
    const size_t *output; size_t output_len;
    const size_t *kernel; size_t kernel_len;
    const size_t *strides; size_t strides_len;
    const size_t *dilations; size_t dilations_len;
    const size_t *pads; size_t pads_len;
} ConvTransposeParams;

/* The output position of input position i and tap k on axis a, in *pos, if inside len. */
static int conv_transpose_at(const ConvTransposeParams *p, size_t a, size_t i, size_t k, size_t len, size_t *pos)
{
    size_t q = i * p->strides[a] + k * p->dilations[a];
    if (q < p->pads[a] || q - p->pads[a] >= len) {
        return 0;
    }
    *pos = q - p->pads[a];
    return 1;
}

/* Transposed convolution: every input element, times every tap of the filters of its
 * group's output channels, adds into output position i * stride + k * dilation - pad. The
 * output starts as the bias (or zero); the order of additions is the Rust kernel's. */
static void conv_transpose_f32(const float *x, size_t xn, const float *w, size_t wn, const float *b, size_t bn,
    float *y, size_t yn, const ConvTransposeParams *p)
{
    size_t id = p->input[0], ih = p->input[1], iw = p->input[2];
    size_t od = p->output[0], oh = p->output[1], ow = p->output[2];
    size_t kd = p->kernel[0], kh = p->kernel[1], kw = p->kernel[2];
    size_t in_len = id * ih * iw, out_len = od * oh * ow, k_len = kd * kh * kw;
    size_t cg = p->c_in / p->group, mg = p->c_out / p->group;
    size_t n, oc, ic, m, a, bb, c, ka, kb, kc, i;
    (void)xn; (void)wn; (void)bn; (void)yn;
    for (n = 0; n < p->batch; n++) {
        for (oc = 0; oc < p->c_out; oc++) {
            for (i = 0; i < out_len; i++) {
                y[(n * p->c_out + oc) * out_len + i] = b ? b[oc] : 0.0f;
            }
        }
        for (ic = 0; ic < p->c_in; ic++) {
            const float *xs = x + (n * p->c_in + ic) * in_len;
            for (m = 0; m < mg; m++) {
                size_t o = (ic / cg) * mg + m;
                const float *filt = w + (ic * mg + m) * k_len;
                float *ys = y + (n * p->c_out + o) * out_len;
                for (a = 0; a < id; a++) {
                    for (bb = 0; bb < ih; bb++) {
                        for (c = 0; c < iw; c++) {
                            float v = xs[(a * ih + bb) * iw + c];
                            for (ka = 0; ka < kd; ka++) {
                                size_t pa, pb, pc;
                                if (!conv_transpose_at(p, 0, a, ka, od, &pa)) {
                                    continue;
                                }
                                for (kb = 0; kb < kh; kb++) {
                                    if (!conv_transpose_at(p, 1, bb, kb, oh, &pb)) {
                                        continue;
                                    }
                                    for (kc = 0; kc < kw; kc++) {
                                        size_t at;
                                        if (!conv_transpose_at(p, 2, c, kc, ow, &pc)) {
                                            continue;
                                        }
                                        at = (pa * oh + pb) * ow + pc;
                                        ys[at] = ys[at] + v * filt[(ka * kh + kb) * kw + kc];
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
