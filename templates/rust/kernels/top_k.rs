/// TopK over groups of `len` elements `inner` apart (`outer * len * inner` elements in all):
/// the `k` best of each group, best first, into `values` and (if given) their positions
/// into `indices`. Best is largest (or smallest), equal elements by lower position, NaN
/// after every number. The r-th pick is the best element that ranks after the (r-1)-th,
/// so nothing needs marking: O(k * len) per group.
#[inline(never)]
fn top_k<T: Copy + PartialOrd>(x: &[T], values: &mut [T], mut indices: Option<&mut [i64]>, outer: usize, len: usize, inner: usize, k: usize, largest: bool) {
    #[allow(clippy::eq_op)]
    let nan = |v: T| v != v;
    let before = |a: T, i: usize, b: T, j: usize| match (nan(a), nan(b)) {
        (true, true) => i < j,
        (true, false) => false,
        (false, true) => true,
        (false, false) => (if largest { a > b } else { a < b }) || (a == b && i < j),
    };
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * len + j) * inner + i;
            let mut prev: Option<usize> = None;
            for r in 0..k {
                let mut best: Option<usize> = None;
                for j in 0..len {
                    if let Some(p) = prev {
                        if !before(x[at(p)], p, x[at(j)], j) {
                            continue;
                        }
                    }
                    match best {
                        Some(b) if !before(x[at(j)], j, x[at(b)], b) => {}
                        _ => best = Some(j),
                    }
                }
                if let Some(b) = best {
                    let out = (o * k + r) * inner + i;
                    values[out] = x[at(b)];
                    if let Some(idx) = indices.as_deref_mut() {
                        idx[out] = b as i64;
                    }
                    prev = Some(b);
                }
            }
        }
    }
}
