/// Nearest-neighbour Resize: each output element copies one input element (one tap per
/// axis: `p.taps` are all 1), or is `extrapolation` outside the input.
fn resize_nearest<T: Copy>(x: &[T], y: &mut [T], p: &ResizeAxes, extrapolation: T) {
    let [_, i1, i2, i3] = p.input;
    let [o0, o1, o2, o3] = p.output;
    let [n0, n1, n2, n3] = p.taps;
    let mut out = y.iter_mut();
    for a in 0..o0 {
        let j0 = p.index[0][a * n0];
        for b in 0..o1 {
            let j1 = j0 * i1 + p.index[1][b * n1];
            for c in 0..o2 {
                let j2 = j1 * i2 + p.index[2][c * n2];
                for d in 0..o3 {
                    let Some(v) = out.next() else { return };
                    *v = if p.is_outside([a, b, c, d]) {
                        extrapolation
                    } else {
                        x[j2 * i3 + p.index[3][d * n3]]
                    };
                }
            }
        }
    }
}
