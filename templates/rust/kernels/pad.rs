/// The axes of a Pad (rank R >= 1, adjacent axes merged where the padding allows). Along
/// axis d there are `out[d]` output positions: `before[d]` of padding, then the `len[d]`
/// kept input elements from input index `start[d]` on, then padding again. `stride[d]` is
/// the input's element stride; the last axis has stride 1.
struct PadAxes<const R: usize> {
    out: [usize; R],
    before: [usize; R],
    start: [usize; R],
    len: [usize; R],
    stride: [usize; R],
}

/// The input index that output index `o` of axis `d` reads: within the kept elements, the
/// element itself; outside them, by `mode` (1 reflect, 2 edge, 3 wrap, repeating as numpy
/// does when the padding is longer than the axis), or `None` where constant mode (0) writes
/// the constant.
fn pad_source<const R: usize>(a: &PadAxes<R>, d: usize, o: usize, mode: u8) -> Option<usize> {
    let (before, len) = (a.before[d], a.len[d]);
    if o >= before && o - before < len {
        return Some(a.start[d] + o - before);
    }
    if mode == 0 || len == 0 {
        return None;
    }
    // The position relative to the kept elements, reduced into one period of the pattern.
    let reduce = |period: usize| {
        if o < before {
            (period - (before - o) % period) % period
        } else {
            (o - before) % period
        }
    };
    let k = match mode {
        2 => {
            if o < before {
                0
            } else {
                len - 1
            }
        }
        3 => reduce(len),
        _ if len == 1 => 0,
        _ => {
            let period = 2 * (len - 1);
            let k = reduce(period);
            if k < len { k } else { period - k }
        }
    };
    Some(a.start[d] + k)
}

/// Pad (and crop): writes `y` (non-empty, row-major over `a.out`) row by row along the
/// last axis: the kept elements as one copy, the padding around them by `mode` (see
/// `pad_source`), and whole rows that lie in constant padding filled with `value`.
fn pad<T: Copy, const R: usize>(x: &[T], y: &mut [T], a: &PadAxes<R>, mode: u8, value: T) {
    let last = R - 1;
    let (before, len) = (a.before[last], a.len[last]);
    let mut idx = [0usize; R];
    for row in y.chunks_exact_mut(a.out[last]) {
        // The row's input offset over the other axes; `None` inside constant padding.
        let mut base = Some(0usize);
        for (d, &i) in idx.iter().enumerate().take(last) {
            base = match (base, pad_source(a, d, i, mode)) {
                (Some(b), Some(s)) => Some(b + s * a.stride[d]),
                _ => None,
            };
        }
        match base {
            Some(b) => {
                let (head, rest) = row.split_at_mut(before);
                let (kept, tail) = rest.split_at_mut(len);
                let from = b + a.start[last];
                kept.copy_from_slice(&x[from..from + len]);
                for (o, v) in head.iter_mut().enumerate() {
                    *v = pad_source(a, last, o, mode).map_or(value, |s| x[b + s]);
                }
                for (j, v) in tail.iter_mut().enumerate() {
                    *v = pad_source(a, last, before + len + j, mode).map_or(value, |s| x[b + s]);
                }
            }
            None => row.fill(value),
        }
        // The next row: an odometer over the other axes.
        let mut d = last;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            if idx[d] < a.out[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}
