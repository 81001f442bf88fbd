/// `y[i] = f(y[i])`: `map` where the output overwrites the input.
fn map_in_place<T: Copy>(y: &mut [T], f: impl Fn(T) -> T) {
    for o in y.iter_mut() {
        *o = f(*o);
    }
}
