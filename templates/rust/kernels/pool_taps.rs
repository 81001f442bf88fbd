/// The kernel taps `lo..hi` along `axis` that land inside the input for output position
/// `o`, and the number of taps that land inside the input or its padding (`pad_end` after
/// it), for pools that count padding.
fn pool_taps(w: &Window, axis: usize, o: usize, pad_end: usize) -> (usize, usize, usize) {
    let start = o * w.strides[axis];
    let (pad, len, dil, k) = (w.pads[axis], w.input[axis], w.dilations[axis], w.kernel[axis]);
    // Tap t reads padded position start + t * dil; the input is pad..pad + len.
    let lo = if start >= pad { 0 } else { (pad - start).div_ceil(dil) };
    let hi = if start >= pad + len { 0 } else { (pad + len - start).div_ceil(dil) };
    let padded = if start >= pad + len + pad_end {
        0
    } else {
        (pad + len + pad_end - start).div_ceil(dil).min(k)
    };
    (lo.min(k), hi.min(k).max(lo.min(k)), padded)
}
