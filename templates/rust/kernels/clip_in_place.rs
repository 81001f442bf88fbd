/// `clip` where the output overwrites the input: clamps to `lo` then to `hi`; a missing
/// bound does not clamp, `lo > hi` gives `hi`, and NaN passes through.
fn clip_in_place<T: Copy + PartialOrd>(y: &mut [T], lo: Option<T>, hi: Option<T>) {
    for o in y.iter_mut() {
        let v = match lo {
            Some(l) if *o < l => l,
            _ => *o,
        };
        *o = match hi {
            Some(h) if v > h => h,
            _ => v,
        };
    }
}
