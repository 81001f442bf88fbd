/* Sizes and layout of a recurrent op: kind 0 RNN, 1 GRU, 2 LSTM. Offsets of X (t, b),
 * Y (t, dir, b) and the states (dir, b) are the strides given. */
typedef struct {
    size_t kind, seq, batch, input, hidden, dirs;
    /* With one direction: it runs from the last step to the first. */
    int reverse;
    const size_t *x_strides; size_t x_strides_len;
    const size_t *y_strides; size_t y_strides_len;
    const size_t *state_strides; size_t state_strides_len;
    int input_forget, linear_before_reset;
} RnnParams;

/* The inputs of a recurrent op: X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P?. */
typedef struct {
    const float *x; size_t x_len;
    const float *w; size_t w_len;
    const float *r; size_t r_len;
    const float *b; size_t b_len;
    const int32_t *lens; size_t lens_len;
    const float *h0; size_t h0_len;
    const float *c0; size_t c0_len;
    const float *p; size_t p_len;
} RnnInputs;

/* The outputs of a recurrent op: Y, Y_h, Y_c, each where the node has it (else NULL). */
typedef struct {
    float *y; size_t y_len;
    float *yh; size_t yh_len;
    float *yc; size_t yc_len;
} RnnOutputs;

/* The dot product of m and v (n elements) in 16 partial sums added pairwise, then the
 * rest in order: the Rust kernel's order, so both round alike. */
static float rnn_dot_f32(const float *m, const float *v, size_t n)
{
    float l[16], a[8], b[4], s;
    size_t full = n - n % 16, i, j;
    for (i = 0; i < 16; i++) {
        l[i] = 0.0f;
    }
    for (j = 0; j < full; j += 16) {
        for (i = 0; i < 16; i++) {
            l[i] = l[i] + m[j + i] * v[j + i];
        }
    }
    for (i = 0; i < 8; i++) {
        a[i] = l[i] + l[i + 8];
    }
    for (i = 0; i < 4; i++) {
        b[i] = a[i] + a[i + 4];
    }
    s = (b[0] + b[2]) + (b[1] + b[3]);
    for (j = full; j < n; j++) {
        s = s + m[j] * v[j];
    }
    return s;
}

/* out[k] = dot(row k of m, v), or out[k] + dot(..) if acc, for rows rows of n. */
static void rnn_gemv_f32(const float *m, const float *v, size_t n, float *out, size_t rows, int acc)
{
    size_t k;
    for (k = 0; k < rows; k++) {
        float s = rnn_dot_f32(m + k * n, v, n);
        out[k] = acc ? out[k] + s : s;
    }
}

/* v clipped to [-c, c] when there is a clip. */
static float rnn_clip_f32(float v, int has_clip, float c)
{
    if (!has_clip) {
        return v;
    }
    if (v < 0.0f - c) {
        return 0.0f - c;
    }
    return v > c ? c : v;
}

/* RNN, GRU or LSTM over the whole sequence, one direction and batch entry at a time.
 * scratch holds the states and gates; acts the activations (f; f, g; f, g, h) of each
 * direction in turn. Gate orders follow ONNX: GRU z, r, h; LSTM i, o, f, c. */
static void rnn_f32(RnnInputs in, RnnOutputs o, float *scratch, size_t scratch_len, const RnnParams *p,
    float one, int has_clip, float clip, const kiln_fn1_f32 *acts, size_t nacts)
{
    size_t h = p->hidden, ni = p->input;
    size_t g = p->kind == 0 ? 1 : (p->kind == 1 ? 3 : 4);
    size_t na = p->kind == 0 ? 1 : (p->kind == 1 ? 2 : 3);
    float *hs = scratch, *cs = scratch + h, *gt = scratch + 2 * h, *rh = scratch + 2 * h + g * h;
    size_t dir, bi, step, j, k;
    (void)scratch_len; (void)nacts;
    if (o.y) {
        /* Steps past a sequence length stay zero. */
        for (j = 0; j < o.y_len; j++) {
            o.y[j] = 0.0f;
        }
    }
    for (dir = 0; dir < p->dirs; dir++) {
        int reverse = dir == 1 || p->reverse;
        const kiln_fn1_f32 *act = acts + dir * na;
        const float *wd = in.w + dir * g * h * ni;
        const float *rd = in.r + dir * g * h * h;
        const float *wb = in.b ? in.b + dir * 2 * g * h : NULL;
        const float *rb = in.b ? in.b + dir * 2 * g * h + g * h : NULL;
        const float *peep = in.p ? in.p + dir * 3 * h : NULL;
        for (bi = 0; bi < p->batch; bi++) {
            size_t len = p->seq;
            size_t so = dir * p->state_strides[0] + bi * p->state_strides[1];
            if (in.lens) {
                int32_t l = in.lens[bi];
                len = l < 0 ? 0 : ((size_t)l < p->seq ? (size_t)l : p->seq);
            }
            for (j = 0; j < h; j++) {
                hs[j] = in.h0 ? in.h0[so + j] : 0.0f;
                cs[j] = in.c0 ? in.c0[so + j] : 0.0f;
            }
            for (step = 0; step < len; step++) {
                size_t t = reverse ? len - 1 - step : step;
                const float *xt = in.x + t * p->x_strides[0] + bi * p->x_strides[1];
                rnn_gemv_f32(wd, xt, ni, gt, g * h, 0);
                if (wb) {
                    for (k = 0; k < g * h; k++) {
                        gt[k] = gt[k] + wb[k];
                    }
                }
                if (p->kind == 0) {
                    for (j = 0; j < h; j++) {
                        float v = gt[j] + rnn_dot_f32(rd + j * h, hs, h) + (rb ? rb[j] : 0.0f);
                        gt[j] = act[0](NULL, rnn_clip_f32(v, has_clip, clip));
                    }
                    for (j = 0; j < h; j++) {
                        hs[j] = gt[j];
                    }
                } else if (p->kind == 1) {
                    for (k = 0; k < 2 * h; k++) {
                        float v = gt[k] + rnn_dot_f32(rd + k * h, hs, h) + (rb ? rb[k] : 0.0f);
                        gt[k] = act[0](NULL, rnn_clip_f32(v, has_clip, clip));
                    }
                    if (p->linear_before_reset) {
                        for (j = 0; j < h; j++) {
                            k = 2 * h + j;
                            rh[j] = gt[h + j] * (rnn_dot_f32(rd + k * h, hs, h) + (rb ? rb[k] : 0.0f));
                        }
                        for (j = 0; j < h; j++) {
                            gt[2 * h + j] = act[1](NULL, rnn_clip_f32(gt[2 * h + j] + rh[j], has_clip, clip));
                        }
                    } else {
                        for (j = 0; j < h; j++) {
                            rh[j] = gt[h + j] * hs[j];
                        }
                        for (j = 0; j < h; j++) {
                            float v;
                            k = 2 * h + j;
                            v = gt[k] + rnn_dot_f32(rd + k * h, rh, h) + (rb ? rb[k] : 0.0f);
                            gt[k] = act[1](NULL, rnn_clip_f32(v, has_clip, clip));
                        }
                    }
                    for (j = 0; j < h; j++) {
                        float z = gt[j], n = gt[2 * h + j];
                        hs[j] = (one - z) * n + z * hs[j];
                    }
                } else {
                    rnn_gemv_f32(rd, hs, h, gt, g * h, 1);
                    if (rb) {
                        for (k = 0; k < g * h; k++) {
                            gt[k] = gt[k] + rb[k];
                        }
                    }
                    for (j = 0; j < h; j++) {
                        float pi = peep ? peep[j] : 0.0f, po = peep ? peep[h + j] : 0.0f;
                        float pf = peep ? peep[2 * h + j] : 0.0f;
                        float ig = act[0](NULL, rnn_clip_f32(gt[j] + pi * cs[j], has_clip, clip));
                        float fg = p->input_forget ? one - ig
                            : act[0](NULL, rnn_clip_f32(gt[2 * h + j] + pf * cs[j], has_clip, clip));
                        float cg = act[1](NULL, rnn_clip_f32(gt[3 * h + j], has_clip, clip));
                        float cn = fg * cs[j] + ig * cg;
                        float og = act[0](NULL, rnn_clip_f32(gt[h + j] + po * cn, has_clip, clip));
                        hs[j] = og * act[2](NULL, cn);
                        cs[j] = cn;
                    }
                }
                if (o.y) {
                    size_t at = t * p->y_strides[0] + dir * p->y_strides[1] + bi * p->y_strides[2];
                    for (j = 0; j < h; j++) {
                        o.y[at + j] = hs[j];
                    }
                }
            }
            for (j = 0; j < h; j++) {
                if (o.yh) {
                    o.yh[so + j] = hs[j];
                }
                if (o.yc) {
                    o.yc[so + j] = cs[j];
                }
            }
        }
    }
}
