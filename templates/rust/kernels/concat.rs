/// Copies the consecutive `block`-element blocks of `x` into `y`, block `o` at
/// `o * stride + offset`: one input of a Concat.
fn concat_part<T: Copy>(x: &[T], y: &mut [T], block: usize, stride: usize, offset: usize) {
    for (o, src) in x.chunks_exact(block).enumerate() {
        y[o * stride + offset..][..block].copy_from_slice(src);
    }
}
