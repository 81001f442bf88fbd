/// One step of an odometer over `shape` (outermost first) whose steps are `strides`.
fn mvn_step<const R: usize>(idx: &mut [usize; R], at: &mut usize, shape: &[usize; R], strides: &[usize; R]) {
    let mut d = R;
    while d > 0 {
        d -= 1;
        idx[d] += 1;
        *at += strides[d];
        if idx[d] < shape[d] {
            break;
        }
        *at -= strides[d] * shape[d];
        idx[d] = 0;
    }
}

/// MeanVarianceNormalization: every group of elements of `x` that share a position of the
/// kept axes (`kept`, steps `kept_strides`) and run over the reduced axes (`red`, steps
/// `red_strides`) becomes `(x - mean) / (sqrt(mean(x^2) - mean^2) + epsilon)`.
fn mvn<T: Float, const K: usize, const Q: usize>(
    x: &[T],
    y: &mut [T],
    kept: &[usize; K],
    kept_strides: &[usize; K],
    red: &[usize; Q],
    red_strides: &[usize; Q],
    epsilon: T,
) {
    let count: usize = red.iter().product();
    let groups: usize = kept.iter().product();
    let n = T::from_count(count);
    let (mut kidx, mut base) = ([0usize; K], 0usize);
    for _ in 0..groups {
        let (mut sum, mut sq) = (T::ZERO, T::ZERO);
        let (mut idx, mut at) = ([0usize; Q], base);
        for _ in 0..count {
            let v = x[at];
            sum = sum.plus(v);
            sq = sq.plus(v.times(v));
            mvn_step(&mut idx, &mut at, red, red_strides);
        }
        let mean = sum.divide(n);
        let den = sq.divide(n).minus(mean.times(mean)).sqrt().plus(epsilon);
        let (mut idx, mut at) = ([0usize; Q], base);
        for _ in 0..count {
            y[at] = x[at].minus(mean).divide(den);
            mvn_step(&mut idx, &mut at, red, red_strides);
        }
        mvn_step(&mut kidx, &mut base, kept, kept_strides);
    }
}
