/* Convolution parameters: batch and channel counts plus the window geometry. */
typedef struct {
    size_t batch, c_in, c_out, group;
    Window window;
} ConvParams;

/* The output positions [*lo, *hi) along one axis whose tap at tap_offset reads inside the
 * input (output o reads input position o * stride + tap_offset - pad). */
static void conv_span(size_t out, size_t stride, size_t tap_offset, size_t pad, size_t len, size_t *lo, size_t *hi)
{
    size_t l = pad > tap_offset ? (pad - tap_offset + stride - 1) / stride : 0;
    size_t h = 0;
    if (len + pad > tap_offset) {
        h = (len + pad - tap_offset - 1) / stride + 1;
        if (h > out) {
            h = out;
        }
    }
    *lo = l;
    *hi = h > l ? h : l;
}

/* N-d convolution (up to three spatial axes) with groups, strides, dilations and padding,
 * then the fused epilogue on each output plane. Each output sums bias, then input
 * channels, then kernel taps in order: the reference kernels' order. Weight-stationary,
 * as the Rust reference kernel: output channels of a group go in blocks of up to four, so
 * each input channel is read from cache for all four, and a kernel row three taps wide
 * goes in one pass over the columns where all three read inside the input (each output
 * still adds its three taps in order), the columns near the padding tap by tap. */
static void conv_f32(const float *x, size_t xn, const float *w, size_t wn, const float *b, size_t bn,
    float *y, size_t yn, const ConvParams *p, void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    const Window *g = &p->window;
    size_t id = g->input[0], ih = g->input[1], iw = g->input[2];
    size_t od = g->output[0], oh = g->output[1], ow = g->output[2];
    size_t kd = g->kernel[0], kh = g->kernel[1], kw = g->kernel[2];
    size_t sd = g->strides[0], sh = g->strides[1], sw = g->strides[2];
    size_t dd = g->dilations[0], dh = g->dilations[1], dw = g->dilations[2];
    size_t pd = g->pads[0], ph = g->pads[1], pw = g->pads[2];
    size_t in_plane = id * ih * iw, out_plane = od * oh * ow, taps = kd * kh * kw;
    size_t cg_in = p->c_in / p->group, cg_out = p->c_out / p->group;
    size_t lo3[3], hi3[3], k3_lo = 0, k3_hi = ow, n, m, i, j, c;
    int fuse;
    (void)xn; (void)wn; (void)bn; (void)yn;
    /* Output columns where all three taps of a 3-wide kernel row read inside the input. */
    for (c = 0; c < 3; c++) {
        conv_span(ow, sw, c * dw, pw, iw, &lo3[c], &hi3[c]);
        k3_lo = lo3[c] > k3_lo ? lo3[c] : k3_lo;
        k3_hi = hi3[c] < k3_hi ? hi3[c] : k3_hi;
    }
    fuse = kw == 3 && k3_hi > k3_lo;
    for (n = 0; n < p->batch; n++) {
        for (m = 0; m < p->c_out;) {
            size_t mb = cg_out - m % cg_out < 4 ? cg_out - m % cg_out : 4;
            size_t grp = m / cg_out, ci;
            float *planes[4];
            for (j = 0; j < mb; j++) {
                float bias = b ? b[m + j] : 0.0f;
                planes[j] = y + (n * p->c_out + m + j) * out_plane;
                for (i = 0; i < out_plane; i++) {
                    planes[j][i] = bias;
                }
            }
            for (ci = 0; ci < cg_in; ci++) {
                const float *xp = x + (n * p->c_in + grp * cg_in + ci) * in_plane;
                size_t a, bb;
                for (a = 0; a < kd; a++) {
                    size_t d_lo, d_hi;
                    conv_span(od, sd, a * dd, pd, id, &d_lo, &d_hi);
                    for (bb = 0; bb < kh; bb++) {
                        size_t h_lo, h_hi, zd, zh, zw;
                        conv_span(oh, sh, bb * dh, ph, ih, &h_lo, &h_hi);
                        if (fuse) {
                            for (j = 0; j < mb; j++) {
                                const float *wj = w + ((m + j) * cg_in + ci) * taps + (a * kh + bb) * 3;
                                float w0 = wj[0], w1 = wj[1], w2 = wj[2];
                                for (zd = d_lo; zd < d_hi; zd++) {
                                    size_t xd = zd * sd + a * dd - pd;
                                    for (zh = h_lo; zh < h_hi; zh++) {
                                        size_t xh = zh * sh + bb * dh - ph;
                                        const float *xrow = xp + (xd * ih + xh) * iw;
                                        float *yr = planes[j] + (zd * oh + zh) * ow;
                                        const float *x0 = xrow + k3_lo * sw - pw;
                                        for (zw = k3_lo; zw < k3_hi; zw++, x0 += sw) {
                                            yr[zw] = yr[zw] + w0 * x0[0] + w1 * x0[dw] + w2 * x0[2 * dw];
                                        }
                                        /* The columns near the padding, tap by tap in order. */
                                        for (zw = 0; zw < ow; zw++) {
                                            if (zw == k3_lo) {
                                                zw = k3_hi;
                                                if (zw >= ow) {
                                                    break;
                                                }
                                            }
                                            for (c = 0; c < 3; c++) {
                                                if (zw >= lo3[c] && zw < hi3[c]) {
                                                    yr[zw] = yr[zw] + wj[c] * xrow[zw * sw + c * dw - pw];
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                            continue;
                        }
                        for (c = 0; c < kw; c++) {
                            size_t w_lo, w_hi;
                            conv_span(ow, sw, c * dw, pw, iw, &w_lo, &w_hi);
                            for (j = 0; j < mb; j++) {
                                float wv = w[((m + j) * cg_in + ci) * taps + (a * kh + bb) * kw + c];
                                for (zd = d_lo; zd < d_hi; zd++) {
                                    size_t xd = zd * sd + a * dd - pd;
                                    for (zh = h_lo; zh < h_hi; zh++) {
                                        size_t xh = zh * sh + bb * dh - ph;
                                        /* Tap columns from w_lo on read at or after the row start. */
                                        const float *xrow = xp + (xd * ih + xh) * iw;
                                        float *yrow = planes[j] + (zd * oh + zh) * ow;
                                        for (zw = w_lo; zw < w_hi; zw++) {
                                            yrow[zw] = yrow[zw] + wv * xrow[zw * sw + c * dw - pw];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if (epi) {
                for (j = 0; j < mb; j++) {
                    epi(ec, (n * p->c_out + m + j) * out_plane, planes[j], out_plane);
                }
            }
            m += mb;
        }
    }
}
