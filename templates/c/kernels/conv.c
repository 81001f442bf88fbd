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

/* count outputs of one row of conv_dw3_f32 (see there) whose three taps a row read inside
 * the input, from kernel rows r0..r1: xr at the first output's first tap in kernel row r0,
 * kr at that row's weights, yr at the first output. */
static void conv_dw3_row(const float *xr, size_t iw, const float *kr, size_t r0, size_t r1, size_t sw,
    float bias, float *yr, size_t count)
{
    size_t zw = 0, hi = count;
    if (r0 == 0 && r1 == 3) {
        const float w0 = kr[0], w1 = kr[1], w2 = kr[2], w3 = kr[3], w4 = kr[4], w5 = kr[5];
        const float w6 = kr[6], w7 = kr[7], w8 = kr[8];
        const float *x0 = xr, *x1 = x0 + iw, *x2 = x1 + iw;
        if (sw == 1) {
            /* Two outputs a pass share two of each row's three columns. */
            for (; zw + 1 < hi; zw += 2, x0 += 2, x1 += 2, x2 += 2) {
                float a = bias, b = bias, u, v, t;
                u = x0[1]; v = x0[2];
                a = KILN_MLA(a, w0, x0[0]); a = KILN_MLA(a, w1, u); a = KILN_MLA(a, w2, v);
                t = x0[3];
                b = KILN_MLA(b, w0, u); b = KILN_MLA(b, w1, v); b = KILN_MLA(b, w2, t);
                u = x1[1]; v = x1[2];
                a = KILN_MLA(a, w3, x1[0]); a = KILN_MLA(a, w4, u); a = KILN_MLA(a, w5, v);
                t = x1[3];
                b = KILN_MLA(b, w3, u); b = KILN_MLA(b, w4, v); b = KILN_MLA(b, w5, t);
                u = x2[1]; v = x2[2];
                a = KILN_MLA(a, w6, x2[0]); a = KILN_MLA(a, w7, u); a = KILN_MLA(a, w8, v);
                t = x2[3];
                b = KILN_MLA(b, w6, u); b = KILN_MLA(b, w7, v); b = KILN_MLA(b, w8, t);
                yr[zw] = a;
                yr[zw + 1] = b;
            }
        }
        for (; zw < hi; zw++, x0 += sw, x1 += sw, x2 += sw) {
            float a = bias;
            a = KILN_MLA(a, w0, x0[0]); a = KILN_MLA(a, w1, x0[1]); a = KILN_MLA(a, w2, x0[2]);
            a = KILN_MLA(a, w3, x1[0]); a = KILN_MLA(a, w4, x1[1]); a = KILN_MLA(a, w5, x1[2]);
            a = KILN_MLA(a, w6, x2[0]); a = KILN_MLA(a, w7, x2[1]); a = KILN_MLA(a, w8, x2[2]);
            yr[zw] = a;
        }
        return;
    }
    if (r1 - r0 == 2) {
        /* The first or last output row under one row of padding. */
        const float w0 = kr[0], w1 = kr[1], w2 = kr[2], w3 = kr[3], w4 = kr[4], w5 = kr[5];
        const float *x0 = xr, *x1 = x0 + iw;
        for (; zw < hi; zw++, x0 += sw, x1 += sw) {
            float a = bias;
            a = KILN_MLA(a, w0, x0[0]); a = KILN_MLA(a, w1, x0[1]); a = KILN_MLA(a, w2, x0[2]);
            a = KILN_MLA(a, w3, x1[0]); a = KILN_MLA(a, w4, x1[1]); a = KILN_MLA(a, w5, x1[2]);
            yr[zw] = a;
        }
        return;
    }
    for (; zw < hi; zw++) {
        float a = bias;
        size_t r;
        for (r = r0; r < r1; r++) {
            const float *x = xr + (r - r0) * iw + zw * sw, *k = kr + (r - r0) * 3;
            a = KILN_MLA(a, k[0], x[0]);
            a = KILN_MLA(a, k[1], x[1]);
            a = KILN_MLA(a, k[2], x[2]);
        }
        yr[zw] = a;
    }
}

/* A depthwise 3x3 convolution (one input and one output channel per group, dilation 1, two
 * spatial axes), output by output: bias, then the taps inside the input in the reference
 * order (kernel rows, then columns), each a multiply-add into one sum kept in a register
 * (conv_f32's weight-stationary passes store and reload every output once per kernel row:
 * nine instructions per MAC on a Cortex-M4). */
static void conv_dw3_f32(const float *x, const float *w, const float *b, float *y, const ConvParams *p,
    void (*epi)(kiln_ctx, size_t, float *, size_t), kiln_ctx ec)
{
    const Window *g = &p->window;
    size_t ih = g->input[1], iw = g->input[2], oh = g->output[1], ow = g->output[2];
    size_t sh = g->strides[1], sw = g->strides[2], ph = g->pads[1], pw = g->pads[2];
    size_t lo3[3], hi3[3], lo = 0, hi = ow, c, n, m, zh, zw;
    for (c = 0; c < 3; c++) {
        conv_span(ow, sw, c, pw, iw, &lo3[c], &hi3[c]);
        lo = lo3[c] > lo ? lo3[c] : lo;
        hi = hi3[c] < hi ? hi3[c] : hi;
    }
    if (hi < lo) {
        hi = lo;
    }
    for (n = 0; n < p->batch; n++) {
        for (m = 0; m < p->c_out; m++) {
            const float *xp = x + (n * p->c_in + m) * ih * iw, *k = w + m * 9;
            float *yp = y + (n * p->c_out + m) * oh * ow, bias = b ? b[m] : 0.0f;
            for (zh = 0; zh < oh; zh++) {
                /* Kernel rows r0..r1 read inside the input. */
                size_t top = zh * sh, r0 = top < ph ? ph - top : 0, r1 = 3, r;
                float *yr = yp + zh * ow;
                while (r1 > r0 && top + r1 - 1 >= ih + ph) {
                    r1--;
                }
                if (lo < hi && r0 < r1) {
                    conv_dw3_row(xp + (top + r0 - ph) * iw + lo * sw - pw, iw, k + r0 * 3, r0, r1, sw, bias,
                        yr + lo, hi - lo);
                } else if (lo < hi) {
                    for (zw = lo; zw < hi; zw++) {
                        yr[zw] = bias;
                    }
                }
                /* The columns near the padding: their taps c0..c1 read inside the row. */
                for (zw = 0; zw < ow; zw++) {
                    float a = bias;
                    size_t at = zw * sw, c0 = pw > at ? pw - at : 0, c1 = iw + pw > at ? iw + pw - at : 0;
                    if (zw == lo && lo < hi) {
                        zw = hi - 1;
                        continue;
                    }
                    c1 = c1 < 3 ? c1 : 3;
                    if (r0 == 0 && r1 == 3 && c1 == c0 + 2) {
                        /* One column of padding, the usual case, without the loops. */
                        const float *q = xp + (top - ph) * iw + at + c0 - pw, *kk = k + c0;
                        a = KILN_MLA(a, kk[0], q[0]);
                        a = KILN_MLA(a, kk[1], q[1]);
                        a = KILN_MLA(a, kk[3], q[iw]);
                        a = KILN_MLA(a, kk[4], q[iw + 1]);
                        a = KILN_MLA(a, kk[6], q[2 * iw]);
                        a = KILN_MLA(a, kk[7], q[2 * iw + 1]);
                        yr[zw] = a;
                        continue;
                    }
                    for (r = r0; r < r1; r++) {
                        const float *xr = xp + (top + r - ph) * iw;
                        for (c = c0; c < c1; c++) {
                            a = KILN_MLA(a, k[r * 3 + c], xr[at + c - pw]);
                        }
                    }
                    yr[zw] = a;
                }
            }
            if (epi) {
                epi(ec, (n * p->c_out + m) * oh * ow, yp, oh * ow);
            }
        }
    }
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
    if (p->group == p->c_in && p->c_out == p->c_in && id == 1 && od == 1 && kd == 1 && kh == 3 && kw == 3
        && dh == 1 && dw == 1) {
        conv_dw3_f32(x, w, b, y, p, epi, ec);
        return;
    }
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
