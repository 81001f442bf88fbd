/// Sliding-window geometry over three spatial axes; 1-D and 2-D ops lead with unit axes.
/// `pads` are the padding before each axis (the end padding only bounds the output size).
struct Window {
    input: [usize; 3],
    output: [usize; 3],
    kernel: [usize; 3],
    strides: [usize; 3],
    dilations: [usize; 3],
    pads: [usize; 3],
}
