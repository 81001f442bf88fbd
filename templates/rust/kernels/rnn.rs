/// Sizes and layout of a recurrent op: `kind` 0 RNN, 1 GRU, 2 LSTM. Offsets of X (t, b),
/// Y (t, dir, b) and the states (dir, b) are the strides given.
struct RnnParams {
    kind: usize,
    seq: usize,
    batch: usize,
    input: usize,
    hidden: usize,
    dirs: usize,
    /// With one direction: it runs from the last step to the first.
    reverse: bool,
    x_strides: [usize; 2],
    y_strides: [usize; 3],
    state_strides: [usize; 2],
    input_forget: bool,
    linear_before_reset: bool,
}

/// The inputs of a recurrent op: X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P?.
struct RnnInputs<'a, T> {
    x: &'a [T],
    w: &'a [T],
    r: &'a [T],
    b: Option<&'a [T]>,
    lens: Option<&'a [i32]>,
    h0: Option<&'a [T]>,
    c0: Option<&'a [T]>,
    p: Option<&'a [T]>,
}

/// The outputs of a recurrent op: Y, Y_h, Y_c, each where the node has it.
struct RnnOutputs<'a, T> {
    y: Option<&'a mut [T]>,
    yh: Option<&'a mut [T]>,
    yc: Option<&'a mut [T]>,
}

/// `out[k] = dot(row k of m, v)`, or `out[k] + dot(..)` if `acc`, for the rows of `m`
/// (`out.len()` rows of `v.len()`). Four rows at a time, each in 16 partial sums (one
/// chain of float additions cannot be reordered, so would not vectorise; four chains hide
/// the adds' latency), the lanes added pairwise at the end. Each row's partial sums are a
/// variable of their own: LLVM keeps those in vector registers, but not an array of them.
fn rnn_gemv<T: Num>(m: &[T], v: &[T], out: &mut [T], acc: bool) {
    let n = v.len();
    let full = n - n % 16;
    let mut rows = out.chunks_exact_mut(4);
    let mut k = 0;
    for o in &mut rows {
        let (r0, r1, r2, r3) = (&m[k * n..][..n], &m[(k + 1) * n..][..n], &m[(k + 2) * n..][..n], &m[(k + 3) * n..][..n]);
        let (mut l0, mut l1, mut l2, mut l3) = ([T::ZERO; 16], [T::ZERO; 16], [T::ZERO; 16], [T::ZERO; 16]);
        let mut j = 0;
        while j < full {
            let x = &v[j..j + 16];
            l0 = rnn_madd16(l0, &r0[j..j + 16], x);
            l1 = rnn_madd16(l1, &r1[j..j + 16], x);
            l2 = rnn_madd16(l2, &r2[j..j + 16], x);
            l3 = rnn_madd16(l3, &r3[j..j + 16], x);
            j += 16;
        }
        let sums = rnn_sum16x4(&[l0, l1, l2, l3]);
        for (q, (&sum, row)) in sums.iter().zip([r0, r1, r2, r3]).enumerate() {
            let mut s = sum;
            for (&a, &b) in row[full..].iter().zip(&v[full..]) {
                s = s.plus(a.times(b));
            }
            o[q] = if acc { o[q].plus(s) } else { s };
        }
        k += 4;
    }
    for o in rows.into_remainder() {
        let s = rnn_dot(&m[k * n..][..n], v);
        *o = if acc { o.plus(s) } else { s };
        k += 1;
    }
}

/// `acc + a * b`, lane by lane, for the first 16 elements of `a` and `b`.
#[inline(always)]
fn rnn_madd16<T: Num>(acc: [T; 16], a: &[T], b: &[T]) -> [T; 16] {
    let mut r = acc;
    for i in 0..16 {
        r[i] = acc[i].plus(a[i].times(b[i]));
    }
    r
}

/// The sums of four rows of 16 lanes (`rnn_sum16` each). Not inlined: inlined, LLVM took
/// the accumulators' lanes apart for the sums and vectorised `rnn_gemv`'s loop 2 and 4
/// lanes wide instead of 16 (Silero's LSTM at 6.7 GMAC/s); an array passed by reference
/// keeps them whole vectors.
#[inline(never)]
fn rnn_sum16x4<T: Num>(l: &[[T; 16]; 4]) -> [T; 4] {
    [rnn_sum16(&l[0]), rnn_sum16(&l[1]), rnn_sum16(&l[2]), rnn_sum16(&l[3])]
}

/// The sum of 16 lanes, pairwise (halving, so it vectorises too).
#[inline(always)]
fn rnn_sum16<T: Num>(l: &[T; 16]) -> T {
    let mut a = [T::ZERO; 8];
    for i in 0..8 {
        a[i] = l[i].plus(l[i + 8]);
    }
    let mut b = [T::ZERO; 4];
    for i in 0..4 {
        b[i] = a[i].plus(a[i + 4]);
    }
    b[0].plus(b[2]).plus(b[1].plus(b[3]))
}

/// The dot product of `m` and `v` (in 16 partial sums, as `rnn_gemv`).
fn rnn_dot<T: Num>(m: &[T], v: &[T]) -> T {
    let n = m.len().min(v.len());
    let full = n - n % 16;
    let mut l = [T::ZERO; 16];
    let mut j = 0;
    while j < full {
        l = rnn_madd16(l, &m[j..j + 16], &v[j..j + 16]);
        j += 16;
    }
    let mut s = rnn_sum16(&l);
    for (a, b) in m[full..n].iter().zip(&v[full..n]) {
        s = s.plus(a.times(*b));
    }
    s
}

/// `v` clipped to `[-c, c]` when there is a clip.
fn rnn_clip<T: Num>(v: T, clip: Option<T>) -> T {
    match clip {
        Some(c) => {
            let lo = T::ZERO.minus(c);
            if v < lo {
                lo
            } else if v > c {
                c
            } else {
                v
            }
        }
        None => v,
    }
}

/// RNN, GRU or LSTM over the whole sequence, one direction and batch entry at a time.
/// `scratch` holds the states and gates (3 * hidden + gates * hidden elements); `acts` the
/// activation functions (f; f, g; f, g, h) of each direction in turn. Gate orders follow
/// ONNX: GRU z, r, h; LSTM i, o, f, c (peepholes i, o, f).
fn rnn<T: Num>(i: RnnInputs<T>, mut o: RnnOutputs<T>, scratch: &mut [T], p: &RnnParams, one: T, clip: Option<T>, acts: &[fn(T) -> T]) {
    let (h, ni) = (p.hidden, p.input);
    let g = [1, 3, 4][p.kind];
    let na = [1, 2, 3][p.kind];
    let (hs, rest) = scratch.split_at_mut(h);
    let (cs, rest) = rest.split_at_mut(h);
    let (gt, rest) = rest.split_at_mut(g * h);
    let rh = &mut rest[..h];
    if let Some(y) = o.y.as_deref_mut() {
        // Steps past a sequence length stay zero.
        y.fill(T::ZERO);
    }
    for dir in 0..p.dirs {
        let reverse = dir == 1 || p.reverse;
        let act = &acts[dir * na..][..na];
        let wd = &i.w[dir * g * h * ni..][..g * h * ni];
        let rd = &i.r[dir * g * h * h..][..g * h * h];
        let wb = i.b.map(|b| &b[dir * 2 * g * h..][..g * h]);
        let rb = i.b.map(|b| &b[dir * 2 * g * h + g * h..][..g * h]);
        let rbias = |k: usize| rb.map_or(T::ZERO, |b| b[k]);
        let peep = i.p.map(|v| &v[dir * 3 * h..][..3 * h]);
        for bi in 0..p.batch {
            let len = match i.lens {
                Some(l) => (l[bi].max(0) as usize).min(p.seq),
                None => p.seq,
            };
            let so = dir * p.state_strides[0] + bi * p.state_strides[1];
            match i.h0 {
                Some(v) => hs.copy_from_slice(&v[so..so + h]),
                None => hs.fill(T::ZERO),
            }
            match i.c0 {
                Some(v) => cs.copy_from_slice(&v[so..so + h]),
                None => cs.fill(T::ZERO),
            }
            for step in 0..len {
                let t = if reverse { len - 1 - step } else { step };
                let xt = &i.x[t * p.x_strides[0] + bi * p.x_strides[1]..][..ni];
                rnn_gemv(wd, xt, gt, false);
                if let Some(b) = wb {
                    for (v, &b) in gt.iter_mut().zip(b) {
                        *v = v.plus(b);
                    }
                }
                match p.kind {
                    0 => {
                        for j in 0..h {
                            let v = gt[j].plus(rnn_dot(&rd[j * h..][..h], hs)).plus(rbias(j));
                            gt[j] = act[0](rnn_clip(v, clip));
                        }
                        hs.copy_from_slice(&gt[..h]);
                    }
                    1 => {
                        for k in 0..2 * h {
                            let v = gt[k].plus(rnn_dot(&rd[k * h..][..h], hs)).plus(rbias(k));
                            gt[k] = act[0](rnn_clip(v, clip));
                        }
                        if p.linear_before_reset {
                            for j in 0..h {
                                let k = 2 * h + j;
                                let lin = rnn_dot(&rd[k * h..][..h], hs).plus(rbias(k));
                                rh[j] = gt[h + j].times(lin);
                            }
                            for j in 0..h {
                                gt[2 * h + j] = act[1](rnn_clip(gt[2 * h + j].plus(rh[j]), clip));
                            }
                        } else {
                            for j in 0..h {
                                rh[j] = gt[h + j].times(hs[j]);
                            }
                            for j in 0..h {
                                let k = 2 * h + j;
                                let v = gt[k].plus(rnn_dot(&rd[k * h..][..h], rh)).plus(rbias(k));
                                gt[k] = act[1](rnn_clip(v, clip));
                            }
                        }
                        for j in 0..h {
                            let (z, n) = (gt[j], gt[2 * h + j]);
                            hs[j] = one.minus(z).times(n).plus(z.times(hs[j]));
                        }
                    }
                    _ => {
                        rnn_gemv(rd, hs, gt, true);
                        if let Some(b) = rb {
                            for (v, &b) in gt.iter_mut().zip(b) {
                                *v = v.plus(b);
                            }
                        }
                        for j in 0..h {
                            let pe = |q: usize| peep.map_or(T::ZERO, |v| v[q * h + j]);
                            let ig = act[0](rnn_clip(gt[j].plus(pe(0).times(cs[j])), clip));
                            let fg = if p.input_forget {
                                one.minus(ig)
                            } else {
                                act[0](rnn_clip(gt[2 * h + j].plus(pe(2).times(cs[j])), clip))
                            };
                            let cg = act[1](rnn_clip(gt[3 * h + j], clip));
                            let cn = fg.times(cs[j]).plus(ig.times(cg));
                            let og = act[0](rnn_clip(gt[h + j].plus(pe(1).times(cn)), clip));
                            hs[j] = og.times(act[2](cn));
                            cs[j] = cn;
                        }
                    }
                }
                if let Some(y) = o.y.as_deref_mut() {
                    let at = t * p.y_strides[0] + dir * p.y_strides[1] + bi * p.y_strides[2];
                    y[at..at + h].copy_from_slice(hs);
                }
            }
            if let Some(yh) = o.yh.as_deref_mut() {
                yh[so..so + h].copy_from_slice(hs);
            }
            if let Some(yc) = o.yc.as_deref_mut() {
                yc[so..so + h].copy_from_slice(cs);
            }
        }
    }
}
