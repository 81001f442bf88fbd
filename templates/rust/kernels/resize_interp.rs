/// Linear or cubic Resize: each output element is the sum over the product of the axes'
/// taps of the tap weights' product times the input element, or `extrapolation` outside the
/// input. `weight[d]` is laid out like `p.index[d]`.
#[allow(clippy::needless_range_loop)]
fn resize_interp<T: Num>(x: &[T], y: &mut [T], p: &ResizeAxes, weight: [&[T]; 4], extrapolation: T) {
    let [_, i1, i2, i3] = p.input;
    let [o0, o1, o2, o3] = p.output;
    let [n0, n1, n2, n3] = p.taps;
    let mut out = y.iter_mut();
    for a in 0..o0 {
        for b in 0..o1 {
            for c in 0..o2 {
                for d in 0..o3 {
                    let Some(v) = out.next() else { return };
                    if p.is_outside([a, b, c, d]) {
                        *v = extrapolation;
                        continue;
                    }
                    let mut acc = T::ZERO;
                    for t0 in a * n0..(a + 1) * n0 {
                        let (j0, w0) = (p.index[0][t0], weight[0][t0]);
                        for t1 in b * n1..(b + 1) * n1 {
                            let j1 = j0 * i1 + p.index[1][t1];
                            let w1 = w0.times(weight[1][t1]);
                            for t2 in c * n2..(c + 1) * n2 {
                                let j2 = j1 * i2 + p.index[2][t2];
                                let w2 = w1.times(weight[2][t2]);
                                let xs = &x[j2 * i3..];
                                for t3 in d * n3..(d + 1) * n3 {
                                    acc = acc.plus(w2.times(weight[3][t3]).times(xs[p.index[3][t3]]));
                                }
                            }
                        }
                    }
                    *v = acc;
                }
            }
        }
    }
}
