/// Nearest-neighbour Resize: each output element copies one input element (one tap per
/// axis: `p.taps` are all 1), or is `extrapolation` outside the input. Row by row of the
/// last axis: a row that reads the same input row as the one before (an upsampling's
/// repeated rows) is a copy of it, and a row inside the input on the leading axes reads
/// its elements with no per-element outside test (ddddocr_det's 2x upsamplings took 1.5
/// ns an element with the test).
fn resize_nearest<T: Copy>(x: &[T], y: &mut [T], p: &ResizeAxes, extrapolation: T) {
    let [_, i1, i2, i3] = p.input;
    let [o0, o1, o2, o3] = p.output;
    let [n0, n1, n2, n3] = p.taps;
    if o3 == 0 {
        return;
    }
    let inner_outside = !p.outside[3].is_empty();
    // Columns doubled (output column d reads input column d / 2: a 2x upsampling): rows
    // 16 outputs from 8 inputs at a time, arrays of lengths LLVM knows, so it repeats them
    // with a vector shuffle. (Through the index table, ddddocr_det's two 2x upsamplings
    // took 0.37 ms.)
    let doubled = !inner_outside
        && n3 == 1
        && o3 == 2 * i3
        && (0..o3).all(|d| p.index[3].get(d) == Some(&(d / 2)));
    let mut at = 0;
    // The input row the last output row read, when it read one whole.
    let mut last: Option<usize> = None;
    for a in 0..o0 {
        let j0 = p.index[0][a * n0];
        for b in 0..o1 {
            let j1 = j0 * i1 + p.index[1][b * n1];
            for c in 0..o2 {
                let j2 = j1 * i2 + p.index[2][c * n2];
                if at + o3 > y.len() {
                    return;
                }
                if inner_outside {
                    for (d, v) in y[at..at + o3].iter_mut().enumerate() {
                        *v = if p.is_outside([a, b, c, d]) {
                            extrapolation
                        } else {
                            x[j2 * i3 + p.index[3][d * n3]]
                        };
                    }
                    last = None;
                } else if p.is_outside([a, b, c, 0]) {
                    y[at..at + o3].fill(extrapolation);
                    last = None;
                } else if last == Some(j2) {
                    // The same input row as the row before: a copy of that.
                    y.copy_within(at - o3..at, at);
                } else if doubled {
                    let (xr, yr) = (&x[j2 * i3..][..i3], &mut y[at..at + o3]);
                    let mut k = 0;
                    while k + 8 <= i3 {
                        if let (Some(v), Some(o)) = (xr[k..].first_chunk::<8>(), yr[2 * k..].first_chunk_mut::<16>()) {
                            *o = core::array::from_fn(|l| v[l / 2]);
                        }
                        k += 8;
                    }
                    for (j, o) in yr.iter_mut().enumerate().skip(2 * k) {
                        *o = xr[j / 2];
                    }
                    last = Some(j2);
                } else {
                    let xr = &x[j2 * i3..][..i3];
                    for (d, v) in y[at..at + o3].iter_mut().enumerate() {
                        *v = xr[p.index[3][d * n3]];
                    }
                    last = Some(j2);
                }
                at += o3;
            }
        }
    }
}
