/// `y[i] = f(x[i])`.
fn map<T: Copy>(x: &[T], y: &mut [T], f: impl Fn(T) -> T) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f(v);
    }
}
