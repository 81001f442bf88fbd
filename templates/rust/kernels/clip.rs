/// Clamps to `lo` then to `hi`; a missing bound does not clamp, `lo > hi` gives `hi`, and NaN
/// passes through.
fn clip<T: Copy + PartialOrd>(x: &[T], y: &mut [T], lo: Option<T>, hi: Option<T>) {
    for (o, &v) in y.iter_mut().zip(x) {
        let v = match lo {
            Some(l) if v < l => l,
            _ => v,
        };
        *o = match hi {
            Some(h) if v > h => h,
            _ => v,
        };
    }
}
