/// Running sums over groups of `len` elements `inner` apart (`outer * len * inner` elements
/// in all); `exclusive` leaves each element out of its own sum, `reverse` runs from the end.
fn cumsum<T: Num>(x: &[T], y: &mut [T], outer: usize, len: usize, inner: usize, exclusive: bool, reverse: bool) {
    for o in 0..outer {
        for i in 0..inner {
            let mut sum = T::ZERO;
            for k in 0..len {
                let j = if reverse { len - 1 - k } else { k };
                let at = (o * len + j) * inner + i;
                let v = x[at];
                if exclusive {
                    y[at] = sum;
                    sum = sum.plus(v);
                } else {
                    sum = sum.plus(v);
                    y[at] = sum;
                }
            }
        }
    }
}
