/// `y[i] = f(x[i])` into another element type (Cast).
fn convert<T: Copy, U>(x: &[T], y: &mut [U], f: impl Fn(T) -> U) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = f(v);
    }
}
