/// The flat index into data (strides `xs`, size `d` along `axis`) of element `f` of an
/// index tensor of shape `shape`, its coordinate on `axis` replaced by `i`; `None` when `i`
/// is outside `[-d, d)`.
fn element_target<const R: usize>(
    f: usize,
    i: i64,
    shape: &[usize; R],
    xs: &[usize; R],
    axis: usize,
    d: usize,
) -> Option<usize> {
    let j = index_in(i, d)?;
    let (mut rest, mut at) = (f, 0);
    for a in (0..R).rev() {
        let c = rest % shape[a];
        rest /= shape[a];
        at += if a == axis { j } else { c } * xs[a];
    }
    Some(at)
}
