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
 * channels, then kernel taps in order: the reference kernels' order. */
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
    size_t n, m, i;
    (void)xn; (void)wn; (void)bn; (void)yn;
    for (n = 0; n < p->batch; n++) {
        for (m = 0; m < p->c_out; m++) {
            float *plane = y + (n * p->c_out + m) * out_plane;
            size_t grp = m / cg_out, ci;
            float bias = b ? b[m] : 0.0f;
            for (i = 0; i < out_plane; i++) {
                plane[i] = bias;
            }
            for (ci = 0; ci < cg_in; ci++) {
                const float *xp = x + (n * p->c_in + grp * cg_in + ci) * in_plane;
                const float *wp = w + (m * cg_in + ci) * taps;
                size_t a, bb, c;
                for (a = 0; a < kd; a++) {
                    size_t d_lo, d_hi;
                    conv_span(od, sd, a * dd, pd, id, &d_lo, &d_hi);
                    for (bb = 0; bb < kh; bb++) {
                        size_t h_lo, h_hi;
                        conv_span(oh, sh, bb * dh, ph, ih, &h_lo, &h_hi);
                        for (c = 0; c < kw; c++) {
                            size_t w_lo, w_hi, zd, zh, zw;
                            float wv = wp[(a * kh + bb) * kw + c];
                            conv_span(ow, sw, c * dw, pw, iw, &w_lo, &w_hi);
                            for (zd = d_lo; zd < d_hi; zd++) {
                                size_t xd = zd * sd + a * dd - pd;
                                for (zh = h_lo; zh < h_hi; zh++) {
                                    size_t xh = zh * sh + bb * dh - ph;
                                    /* Tap columns from w_lo on read at or after the row start. */
                                    const float *xrow = xp + (xd * ih + xh) * iw;
                                    float *yrow = plane + (zd * oh + zh) * ow;
                                    for (zw = w_lo; zw < w_hi; zw++) {
                                        yrow[zw] = yrow[zw] + wv * xrow[zw * sw + c * dw - pw];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if (epi) {
                epi(ec, (n * p->c_out + m) * out_plane, plane, out_plane);
            }
        }
    }
}
