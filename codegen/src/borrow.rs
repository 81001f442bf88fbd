//! Disjoint borrows of one pool in safe Rust. A node writes its outputs while it reads its
//! inputs, often all in the same typed pool of the arena; the memory plan guarantees that an
//! output never overlaps anything else live at that step. So the pool can be cut with
//! `split_at_mut` at the output boundaries: outputs become `&mut` pieces, and every input
//! lies wholly inside one of the gaps between them, which it borrows shared.
//!
//! An in-place node's output shares the buffer of the input it overwrites; that input is
//! not bound at all (the kernel reads it through the output), so the rule holds for the
//! slices bound here too. An input overlapping an output is refused, never bound: it is a
//! planner bug (say an in-place write over a value read again by the same node).
//!
//! A graph output's array is cut the same way when a node uses several pieces of it (the
//! inputs of a Concat written in place in the caller's array: one written while another
//! is read).

/// One slice a node needs from a pool, in elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Slice {
    /// The local the slice is bound to.
    pub local: String,
    pub offset: usize,
    pub len: usize,
    pub mutable: bool,
}

impl Slice {
    fn end(&self) -> usize {
        self.offset + self.len
    }
}

/// The `let` lines that bind every slice of `slices` from `pool` (a place expression of
/// type `[elem; N]`, e.g. `arena.f32`). Fails if an output overlaps another slice.
pub(crate) fn bind_pool(pool: &str, elem: &str, slices: &[Slice]) -> Result<Vec<String>, String> {
    bind_in(pool, &format!("&mut {pool}"), elem, slices)
}

/// [`bind_pool`] for a place expression `pool` that indexes like a slice (e.g.
/// `outputs.y`, a `&mut [elem; N]`), with `whole` the expression borrowing all of it as
/// `&mut [elem]` (e.g. `&mut outputs.y[..]`).
pub(crate) fn bind_in(
    pool: &str,
    whole: &str,
    elem: &str,
    slices: &[Slice],
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let (empty, sized): (Vec<&Slice>, Vec<&Slice>) = slices.iter().partition(|s| s.len == 0);
    for s in empty {
        let m = if s.mutable { "mut " } else { "" };
        lines.push(format!("let {}: &{m}[{elem}] = &{m}[];", s.local));
    }
    let mut outs: Vec<&Slice> = sized.iter().copied().filter(|s| s.mutable).collect();
    let reads: Vec<&Slice> = sized.iter().copied().filter(|s| !s.mutable).collect();
    outs.sort_by_key(|s| s.offset);
    for pair in outs.windows(2) {
        if pair[0].end() > pair[1].offset {
            return Err(format!(
                "outputs {} and {} overlap in the {elem} pool",
                pair[0].local, pair[1].local
            ));
        }
    }
    for r in &reads {
        if let Some(o) = outs
            .iter()
            .find(|o| r.offset < o.end() && o.offset < r.end())
        {
            return Err(format!(
                "input {} overlaps output {} in the {elem} pool",
                r.local, o.local
            ));
        }
    }
    if outs.is_empty() {
        for r in reads {
            lines.push(format!(
                "let {}: &[{elem}] = &{pool}[{}];",
                r.local,
                range(r.offset, r.end())
            ));
        }
        return Ok(lines);
    }
    if let ([o], true) = (outs.as_slice(), reads.is_empty()) {
        lines.push(format!(
            "let {}: &mut [{elem}] = &mut {pool}[{}];",
            o.local,
            range(o.offset, o.end())
        ));
        return Ok(lines);
    }
    // Gaps between outputs: gap k ends where output k starts; the last one runs to the end.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(outs.iter().map(|o| o.end()))
        .collect();
    let gap_of = |r: &Slice| starts.iter().rposition(|&s| s <= r.offset).unwrap_or(0);
    let used: Vec<bool> = (0..starts.len())
        .map(|g| reads.iter().any(|r| gap_of(r) == g))
        .collect();
    lines.push(format!("let rest: &mut [{elem}] = {whole};"));
    for (k, o) in outs.iter().enumerate() {
        let gap_len = o.offset - starts[k];
        if gap_len > 0 {
            let name = if used[k] {
                format!("gap{k}")
            } else {
                "_".into()
            };
            lines.push(format!(
                "let ({name}, rest) = rest.split_at_mut({gap_len});"
            ));
        }
        let last = k + 1 == outs.len();
        if !last {
            lines.push(format!(
                "let ({}, rest) = rest.split_at_mut({});",
                o.local, o.len
            ));
        } else if used[k + 1] {
            lines.push(format!(
                "let ({}, gap{}) = rest.split_at_mut({});",
                o.local,
                k + 1,
                o.len
            ));
        } else {
            lines.push(format!("let {} = &mut rest[..{}];", o.local, o.len));
        }
    }
    for r in reads {
        let g = gap_of(r);
        let start = r.offset - starts[g];
        lines.push(format!(
            "let {}: &[{elem}] = &gap{g}[{}];",
            r.local,
            range(start, start + r.len)
        ));
    }
    Ok(lines)
}

/// `a..b`, or `..b` from the start.
fn range(a: usize, b: usize) -> String {
    if a == 0 {
        format!("..{b}")
    } else {
        format!("{a}..{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(local: &str, offset: usize, len: usize, mutable: bool) -> Slice {
        Slice {
            local: local.into(),
            offset,
            len,
            mutable,
        }
    }

    #[test]
    fn reads_only_borrow_directly() {
        let l = bind_pool(
            "arena.f32",
            "f32",
            &[s("x0", 0, 4, false), s("x1", 0, 4, false)],
        )
        .unwrap();
        assert_eq!(
            l,
            [
                "let x0: &[f32] = &arena.f32[..4];",
                "let x1: &[f32] = &arena.f32[..4];"
            ]
        );
    }

    #[test]
    fn outputs_split_around_inputs() {
        let l = bind_pool(
            "arena.f32",
            "f32",
            &[
                s("x0", 0, 4, false),
                s("y0", 4, 8, true),
                s("x1", 14, 2, false),
                s("y1", 20, 1, true),
                s("x2", 30, 5, false),
                s("x3", 1, 2, false),
            ],
        )
        .unwrap();
        assert_eq!(
            l,
            [
                "let rest: &mut [f32] = &mut arena.f32;",
                "let (gap0, rest) = rest.split_at_mut(4);",
                "let (y0, rest) = rest.split_at_mut(8);",
                "let (gap1, rest) = rest.split_at_mut(8);",
                "let (y1, gap2) = rest.split_at_mut(1);",
                "let x0: &[f32] = &gap0[..4];",
                "let x1: &[f32] = &gap1[2..4];",
                "let x2: &[f32] = &gap2[9..14];",
                "let x3: &[f32] = &gap0[1..3];",
            ]
        );
    }

    #[test]
    fn unused_gaps_and_empty_slices() {
        let l = bind_pool(
            "arena.i64",
            "i64",
            &[
                s("y0", 10, 2, true),
                s("x0", 12, 3, false),
                s("x1", 7, 0, false),
            ],
        )
        .unwrap();
        assert_eq!(
            l,
            [
                "let x1: &[i64] = &[];",
                "let rest: &mut [i64] = &mut arena.i64;",
                "let (_, rest) = rest.split_at_mut(10);",
                "let (y0, gap1) = rest.split_at_mut(2);",
                "let x0: &[i64] = &gap1[..3];",
            ]
        );
        let l = bind_pool("arena.u8", "u8", &[s("y0", 3, 2, true)]).unwrap();
        assert_eq!(l, ["let y0: &mut [u8] = &mut arena.u8[3..5];"]);
    }

    #[test]
    fn overlaps_are_errors_not_wrong_code() {
        assert!(bind_pool("p", "f32", &[s("y0", 0, 4, true), s("x0", 3, 2, false)]).is_err());
        assert!(bind_pool("p", "f32", &[s("y0", 0, 4, true), s("y1", 2, 4, true)]).is_err());
    }
}
