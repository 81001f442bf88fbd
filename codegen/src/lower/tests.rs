use super::prelude::*;
#[test]
fn collapse_merges_contiguous_axes() {
    // Same shapes: one flat axis.
    let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![12, 4, 1]]);
    assert_eq!((s, st), (vec![24], vec![vec![1], vec![1]]));
    // A row vector broadcast over rows.
    let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![0, 0, 1]]);
    assert_eq!((s, st), (vec![6, 4], vec![vec![4, 1], vec![0, 1]]));
    // A scalar result.
    let (s, st) = collapse(&[1, 1], &[vec![0, 0]]);
    assert_eq!((s, st), (vec![1], vec![vec![0]]));
    // Transpose of the last two axes of [2, 3, 4]: no merging across the swap.
    let (s, st) = collapse(&[2, 4, 3], &[vec![12, 1, 4]]);
    assert_eq!((s, st), (vec![2, 4, 3], vec![vec![12, 1, 4]]));
}

#[test]
fn broadcast_strides_are_zero_on_broadcast_axes() {
    assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
    assert_eq!(broadcast_strides(&[], &[2]), vec![0]);
    assert_eq!(batch_strides(&[2, 3], &[3], 6), vec![0, 6]);
}

#[test]
fn pad_axes_merge_what_the_kernel_may_treat_as_one() {
    let x = [2usize, 3, 4, 5];
    let strides = row_major(&x);
    // NCHW padded on H and W: N and C merge; H and W stay.
    let a = PadAttrs {
        pads: vec![0, 0, 1, 2, 0, 0, 1, 2],
        ..PadAttrs::default()
    };
    let axes = pad_axes(&a.geometry(&x).unwrap(), &strides, a.mode);
    let outs: Vec<(usize, usize)> = axes.iter().map(|(g, s)| (g.output, *s)).collect();
    assert_eq!(outs, vec![(6, 20), (6, 5), (9, 1)]);
    // Padding H only: in constant mode W merges into H, in edge mode it cannot.
    let a = PadAttrs {
        pads: vec![0, 0, 1, 0, 0, 0, 0, 0],
        ..PadAttrs::default()
    };
    let geo = a.geometry(&x).unwrap();
    let axes = pad_axes(&geo, &strides, PadMode::Constant);
    let g = axes.last().unwrap().0;
    assert_eq!((axes.len(), g.output, g.before, g.len), (2, 25, 5, 20));
    assert_eq!(pad_axes(&geo, &strides, PadMode::Edge).len(), 3);
    // A crop at the end of W leaves it shorter than the input's rows: W must not merge
    // into the padded H (found by ops_proptest).
    let a = PadAttrs {
        pads: vec![0, 0, 1, 0, 0, 0, 0, -1],
        ..PadAttrs::default()
    };
    let axes = pad_axes(&a.geometry(&x).unwrap(), &strides, PadMode::Constant);
    let outs: Vec<(usize, usize)> = axes.iter().map(|(g, s)| (g.output, *s)).collect();
    assert_eq!(outs, vec![(6, 20), (5, 5), (4, 1)]);
}
