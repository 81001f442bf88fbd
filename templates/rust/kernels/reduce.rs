/// The elements of one reduction group, in row-major order: `left` elements of `x` from
/// `at` on, walked with an odometer over `shape` (the reduced axes, outermost first) whose
/// steps are `strides`.
#[derive(Clone)]
struct Group<'a, T, const Q: usize> {
    x: &'a [T],
    shape: &'a [usize; Q],
    strides: &'a [usize; Q],
    idx: [usize; Q],
    at: usize,
    left: usize,
}

impl<T: Copy, const Q: usize> Iterator for Group<'_, T, Q> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let v = self.x[self.at];
        let mut d = Q;
        while d > 0 {
            d -= 1;
            self.idx[d] += 1;
            self.at += self.strides[d];
            if self.idx[d] < self.shape[d] {
                break;
            }
            self.at -= self.strides[d] * self.shape[d];
            self.idx[d] = 0;
        }
        Some(v)
    }
}

/// `y[o] = f(group o)` for the output elements in order: group `o` holds the elements of
/// `x` at one position of the kept axes (`kept`, steps `kept_strides`, outermost first) and
/// every position of the reduced axes (`red`, steps `red_strides`); an empty reduced axis
/// gives empty groups.
fn reduce<T: Copy, U, const K: usize, const Q: usize>(
    x: &[T],
    y: &mut [U],
    kept: &[usize; K],
    kept_strides: &[usize; K],
    red: &[usize; Q],
    red_strides: &[usize; Q],
    f: impl Fn(Group<'_, T, Q>) -> U,
) {
    let count: usize = red.iter().product();
    let mut idx = [0usize; K];
    let mut base = 0usize;
    for o in y.iter_mut() {
        *o = f(Group {
            x,
            shape: red,
            strides: red_strides,
            idx: [0; Q],
            at: base,
            left: count,
        });
        let mut d = K;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            base += kept_strides[d];
            if idx[d] < kept[d] {
                break;
            }
            base -= kept_strides[d] * kept[d];
            idx[d] = 0;
        }
    }
}
