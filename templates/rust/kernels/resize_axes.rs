/// Resize geometry over four axes (unchanged neighbours merged, leading unit axes added):
/// output position `o` of axis `d` reads input positions `index[d][o * taps[d]..][..taps[d]]`,
/// or, where `outside[d][o]` (empty: never), is the extrapolation value.
struct ResizeAxes<'a> {
    input: [usize; 4],
    output: [usize; 4],
    taps: [usize; 4],
    index: [&'a [usize]; 4],
    outside: [&'a [bool]; 4],
}

impl ResizeAxes<'_> {
    /// Whether output position `o` (one per axis) lies outside the input.
    fn is_outside(&self, o: [usize; 4]) -> bool {
        (0..4).any(|d| !self.outside[d].is_empty() && self.outside[d][o[d]])
    }
}
