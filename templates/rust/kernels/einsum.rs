/// Einsum by brute force: every combination of the labels' indices (`dims`, the `n_out`
/// output labels first), adding the product of the operands' elements (operand `k` steps
/// `strides[k][l]` per index of label `l`) to the output element.
fn einsum<T: Num>(xs: &[&[T]], strides: &[&[usize]], y: &mut [T], dims: &[usize], n_out: usize) {
    for v in y.iter_mut() {
        *v = T::ZERO;
    }
    let total: usize = dims.iter().product();
    let mut idx = [0usize; 16];
    for _ in 0..total {
        let mut o = 0;
        for l in 0..n_out {
            o = o * dims[l] + idx[l];
        }
        let mut p = T::ZERO;
        for (k, x) in xs.iter().enumerate() {
            let mut at = 0;
            for l in 0..dims.len() {
                at += idx[l] * strides[k][l];
            }
            p = if k == 0 { x[at] } else { p.times(x[at]) };
        }
        y[o] = y[o].plus(p);
        for l in (0..dims.len()).rev() {
            idx[l] += 1;
            if idx[l] < dims[l] {
                break;
            }
            idx[l] = 0;
        }
    }
}
