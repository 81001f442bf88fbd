//! Placement: offsets within one pool, by greedy by size, other orders, an exact branch
//! and bound for small pools, and a bounded local search.

use super::Buffer;

/// The largest sum of simultaneously live bytes: a lower bound for any arena.
pub fn lower_bound_bytes(buffers: &[Buffer]) -> usize {
    peak(buffers, |b| b.len * b.dtype.size_bytes())
}

pub(super) fn peak(buffers: &[Buffer], size: impl Fn(&Buffer) -> usize) -> usize {
    let steps = buffers.iter().map(|b| b.last + 1).max().unwrap_or(0);
    let mut live = vec![0i128; steps + 1];
    for b in buffers {
        // Difference array: +size at first, -size after last.
        live[b.first] += size(b) as i128;
        live[b.last + 1] -= size(b) as i128;
    }
    let mut best = 0;
    let mut cur = 0i128;
    for d in live {
        cur += d;
        best = best.max(cur);
    }
    best as usize
}

/// Greedy by size (the TensorFlow Lite Micro default): largest buffer first, each at the
/// lowest offset that does not collide with an already placed buffer live at the same time.
/// Returns offsets in the order of `buffers` and the pool length.
pub fn greedy_by_size(buffers: &[Buffer]) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..buffers.len()).collect();
    // Ties broken by earlier first use, then index, so the plan is deterministic.
    order.sort_by_key(|&i| (std::cmp::Reverse(buffers[i].len), buffers[i].first, i));
    let mut offsets = vec![0usize; buffers.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut total = 0;
    for i in order {
        let b = &buffers[i];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| buffers[j].overlaps_in_time(b) && buffers[j].len > 0)
            .map(|&j| (offsets[j], offsets[j] + buffers[j].len))
            .collect();
        busy.sort_unstable();
        let mut candidate = 0;
        for (start, end) in busy {
            if candidate + b.len <= start {
                break;
            }
            candidate = candidate.max(end);
        }
        offsets[i] = candidate;
        total = total.max(candidate + b.len);
        placed.push(i);
    }
    (offsets, total)
}

/// Pools whose buffers share more than this many pairs of lifetimes keep the greedy-by-size
/// plan: the conflict lists of the better algorithms would take too much memory and time.
const MAX_CONFLICT_PAIRS: usize = 1_000_000;
/// Pools of at most this many buffers (of nonzero length) are solved exactly.
const EXACT_MAX_BUFFERS: usize = 10;
/// Search-tree nodes the exact solver may visit before it gives up (it rarely needs many).
const EXACT_MAX_NODES: u64 = 500_000;
/// Work budget of the local search, in conflict-list entries visited (one placement of the
/// whole pool visits every entry once): a fixed count, so the search is deterministic and
/// takes a few milliseconds whatever the pool.
const SEARCH_WORK: usize = 3_000_000;
/// Most placements the local search tries.
const SEARCH_MAX_STEPS: usize = 2_000;

/// The algorithms [`best_placement`] draws on, from the simplest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Algorithm {
    GreedyBySize,
    BestOfOrders,
    LocalSearch,
    Exact,
}

impl Algorithm {
    pub(super) fn name(self) -> &'static str {
        match self {
            Algorithm::GreedyBySize => "greedy-by-size",
            Algorithm::BestOfOrders => "best-of-orders",
            Algorithm::LocalSearch => "local-search",
            Algorithm::Exact => "exact",
        }
    }
}

/// The plan of one pool.
pub(super) struct PoolResult {
    pub(super) offsets: Vec<usize>,
    pub(super) len: usize,
    pub(super) lower_bound: usize,
    pub(super) greedy_len: usize,
    pub(super) algorithm: Algorithm,
    /// The placement order that produced `offsets` (buffers of nonzero length only).
    pub(super) order: Vec<usize>,
}

impl PoolResult {
    fn at_bound(&self) -> bool {
        self.len <= self.lower_bound
    }
}

/// The best placement found for one pool: never longer than [`greedy_by_size`], and at the
/// lower bound (the most elements live at one step) whenever one of its candidates gets
/// there. Every candidate places the buffers one by one, each at the lowest offset free of
/// the already placed buffers live at the same time; the candidates are placement orders:
///
/// 1. greedy by size's order, then orders by lifetime start, by size × duration, by number
///    of conflicts, by the most elements live during the lifetime, by lifetime end;
/// 2. pools of at most 10 buffers: an exact branch and bound over placement orders (some
///    order yields an optimal placement: place the buffers of any optimal placement in
///    order of offset and each lands at or below its offset);
/// 3. otherwise: a local search from the best order so far, swapping and moving buffers
///    in it, with a fixed seed and a fixed work budget.
///
/// Stops as soon as a candidate reaches the lower bound. Deterministic. Returns offsets in
/// the order of `buffers` and the pool length.
pub fn best_placement(buffers: &[Buffer]) -> (Vec<usize>, usize) {
    let r = plan_pool(buffers);
    (r.offsets, r.len)
}

pub(super) fn plan_pool(buffers: &[Buffer]) -> PoolResult {
    let lower_bound = peak(buffers, |b| b.len);
    let (offsets, greedy_len) = greedy_by_size(buffers);
    let ids: Vec<usize> = (0..buffers.len()).filter(|&i| buffers[i].len > 0).collect();
    let mut best = PoolResult {
        offsets,
        len: greedy_len,
        lower_bound,
        greedy_len,
        algorithm: Algorithm::GreedyBySize,
        order: greedy_order(buffers, &ids),
    };
    if best.at_bound() || conflict_pairs(buffers, &ids) > MAX_CONFLICT_PAIRS {
        return best;
    }
    let adj = conflicts(buffers, &ids);
    let mut placer = Placer::new(buffers, &adj);

    // 1. Other orders.
    for order in candidate_orders(buffers, &ids, &adj) {
        let len = placer.place(&order);
        if len < best.len {
            best.len = len;
            best.offsets = placer.offsets.clone();
            best.algorithm = Algorithm::BestOfOrders;
            best.order = order;
            if best.at_bound() {
                return best;
            }
        }
    }

    // 2. Small pools: exact.
    if ids.len() <= EXACT_MAX_BUFFERS {
        let exact = exact_placement(buffers, &adj, &ids, best.len, lower_bound);
        if let Some((offsets, len, order)) = exact.found {
            best.len = len;
            best.offsets = offsets;
            best.algorithm = Algorithm::Exact;
            best.order = order;
        }
        if exact.complete || best.at_bound() {
            return best;
        }
    }

    // 3. Local search.
    local_search(&mut placer, &mut best);
    best
}

/// Greedy by size's placement order.
fn greedy_order(buffers: &[Buffer], ids: &[usize]) -> Vec<usize> {
    let mut order = ids.to_vec();
    order.sort_by_key(|&i| (std::cmp::Reverse(buffers[i].len), buffers[i].first, i));
    order
}

/// Pairs of buffers (of nonzero length) live at the same time, counted without listing
/// them: `O(n log n)`.
fn conflict_pairs(buffers: &[Buffer], ids: &[usize]) -> usize {
    let mut firsts: Vec<usize> = ids.iter().map(|&i| buffers[i].first).collect();
    let mut lasts: Vec<usize> = ids.iter().map(|&i| buffers[i].last).collect();
    firsts.sort_unstable();
    lasts.sort_unstable();
    // Buffers overlapping `b` in time (itself included): those starting by its end, less
    // those ending before its start (which all start by its end).
    let with_self: usize = ids
        .iter()
        .map(|&i| {
            let b = &buffers[i];
            firsts.partition_point(|&f| f <= b.last) - lasts.partition_point(|&l| l < b.first)
        })
        .sum();
    (with_self - ids.len()) / 2
}

/// For each buffer of nonzero length, the other buffers of nonzero length live at the same
/// time (empty lists for the rest).
fn conflicts(buffers: &[Buffer], ids: &[usize]) -> Vec<Vec<usize>> {
    let mut adj = vec![Vec::new(); buffers.len()];
    let mut by_first = ids.to_vec();
    by_first.sort_by_key(|&i| (buffers[i].first, i));
    for (p, &i) in by_first.iter().enumerate() {
        for &j in &by_first[p + 1..] {
            if buffers[j].first > buffers[i].last {
                break;
            }
            adj[i].push(j);
            adj[j].push(i);
        }
    }
    adj
}

/// The lowest offset where `len` elements fit between the `busy` ranges.
fn lowest_fit(len: usize, busy: &mut [(usize, usize)]) -> usize {
    busy.sort_unstable();
    let mut candidate = 0;
    for &(start, end) in busy.iter() {
        if candidate + len <= start {
            break;
        }
        candidate = candidate.max(end);
    }
    candidate
}

/// Places buffers in a given order, each at its lowest free offset.
struct Placer<'a> {
    buffers: &'a [Buffer],
    adj: &'a [Vec<usize>],
    placed: Vec<bool>,
    /// Offsets of the last placement; zero for buffers of length zero.
    offsets: Vec<usize>,
    busy: Vec<(usize, usize)>,
    /// Conflict-list entries one placement visits.
    work: usize,
}

impl<'a> Placer<'a> {
    fn new(buffers: &'a [Buffer], adj: &'a [Vec<usize>]) -> Self {
        Placer {
            buffers,
            adj,
            placed: vec![false; buffers.len()],
            offsets: vec![0; buffers.len()],
            busy: Vec::new(),
            work: buffers.len() + adj.iter().map(Vec::len).sum::<usize>(),
        }
    }

    /// Places `order` (every buffer of nonzero length once) and returns the pool length.
    fn place(&mut self, order: &[usize]) -> usize {
        self.placed.fill(false);
        let mut total = 0;
        for &i in order {
            self.busy.clear();
            for &j in &self.adj[i] {
                if self.placed[j] {
                    let o = self.offsets[j];
                    self.busy.push((o, o + self.buffers[j].len));
                }
            }
            let len = self.buffers[i].len;
            let off = lowest_fit(len, &mut self.busy);
            self.offsets[i] = off;
            self.placed[i] = true;
            total = total.max(off + len);
        }
        total
    }

    /// Sum of the end offsets of the last placement: breaks ties between placements of the
    /// same length in the local search (lower is more compact).
    fn sum_of_ends(&self, order: &[usize]) -> usize {
        order
            .iter()
            .map(|&i| self.offsets[i] + self.buffers[i].len)
            .sum()
    }
}

/// The placement orders [`best_placement`] tries after greedy by size's (each sort ends
/// with the index, so all are deterministic).
fn candidate_orders(buffers: &[Buffer], ids: &[usize], adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    // Elements live at each step; the most live during a buffer's lifetime is reached at a
    // step where some buffer starts: its own first step or that of a conflicting one.
    let steps = ids.iter().map(|&i| buffers[i].last + 2).max().unwrap_or(0);
    let (mut starting, mut ended) = (vec![0usize; steps], vec![0usize; steps]);
    for &i in ids {
        starting[buffers[i].first] += buffers[i].len;
        ended[buffers[i].last + 1] += buffers[i].len;
    }
    let mut live = vec![0usize; steps];
    let mut cur = 0;
    for s in 0..steps {
        cur = cur + starting[s] - ended[s];
        live[s] = cur;
    }
    let pressure = |i: usize| {
        adj[i]
            .iter()
            .filter(|&&j| buffers[j].first >= buffers[i].first)
            .map(|&j| live[buffers[j].first])
            .fold(live[buffers[i].first], usize::max)
    };
    let pressure: Vec<usize> = (0..buffers.len())
        .map(|i| if buffers[i].len > 0 { pressure(i) } else { 0 })
        .collect();
    let len = |i: usize| buffers[i].len;
    let duration = |i: usize| buffers[i].last - buffers[i].first + 1;
    let sorted = |key: &dyn Fn(usize) -> (usize, usize, usize)| {
        let mut o = ids.to_vec();
        o.sort_by_key(|&i| (key(i), i));
        o
    };
    vec![
        // Lifetime start, larger first on a tie.
        sorted(&|i| (buffers[i].first, usize::MAX - len(i), 0)),
        // Size × duration, larger first.
        sorted(&|i| (usize::MAX - len(i).saturating_mul(duration(i)), 0, 0)),
        // Most conflicts first, then larger.
        sorted(&|i| (usize::MAX - adj[i].len(), usize::MAX - len(i), 0)),
        // Buffers live at the busiest steps first, then larger, then earlier.
        sorted(&|i| {
            (
                usize::MAX - pressure[i],
                usize::MAX - len(i),
                buffers[i].first,
            )
        }),
        // Lifetime end, latest first, then larger.
        sorted(&|i| (usize::MAX - buffers[i].last, usize::MAX - len(i), 0)),
        // Lifetime end, earliest first, then larger.
        sorted(&|i| (buffers[i].last, usize::MAX - len(i), 0)),
    ]
}

/// What the exact solver found: a placement shorter than the bound it was given, if any,
/// and whether it searched every order (then nothing shorter exists).
struct ExactOutcome {
    found: Option<(Vec<usize>, usize, Vec<usize>)>,
    complete: bool,
}

/// Branch and bound over placement orders for a pool shorter than `bound`.
///
/// Some order reaches the optimum: place the buffers of an optimal placement in order of
/// offset, and each lands at or below its optimal offset (every buffer placed before it and
/// live at the same time ends at or below it). Repeating this reaches a placement that its
/// own offset order reproduces, so only orders whose offsets do not decrease (ties by
/// index) need searching. Stops at `lower_bound` or after [`EXACT_MAX_NODES`] nodes.
fn exact_placement(
    buffers: &[Buffer],
    adj: &[Vec<usize>],
    ids: &[usize],
    bound: usize,
    lower_bound: usize,
) -> ExactOutcome {
    struct Search<'a> {
        buffers: &'a [Buffer],
        adj: &'a [Vec<usize>],
        ids: &'a [usize],
        lower_bound: usize,
        placed: Vec<bool>,
        offsets: Vec<usize>,
        order: Vec<usize>,
        best: usize,
        found: Option<(Vec<usize>, usize, Vec<usize>)>,
        nodes: u64,
        complete: bool,
    }
    impl Search<'_> {
        /// Extends the current prefix; `last` is the (offset, index) of its last buffer.
        fn go(&mut self, max_end: usize, last: Option<(usize, usize)>) {
            if self.order.len() == self.ids.len() {
                self.best = max_end;
                self.found = Some((self.offsets.clone(), max_end, self.order.clone()));
                return;
            }
            let mut busy = Vec::new();
            for &j in self.ids {
                if self.placed[j] {
                    continue;
                }
                self.nodes += 1;
                if self.nodes > EXACT_MAX_NODES {
                    self.complete = false;
                    return;
                }
                busy.clear();
                busy.extend(
                    self.adj[j]
                        .iter()
                        .filter(|&&k| self.placed[k])
                        .map(|&k| (self.offsets[k], self.offsets[k] + self.buffers[k].len)),
                );
                let len = self.buffers[j].len;
                let off = lowest_fit(len, &mut busy);
                if last.is_some_and(|l| (off, j) < l) {
                    continue;
                }
                let end = max_end.max(off + len);
                if end >= self.best {
                    continue;
                }
                self.placed[j] = true;
                self.offsets[j] = off;
                self.order.push(j);
                self.go(end, Some((off, j)));
                self.order.pop();
                self.placed[j] = false;
                if self.best <= self.lower_bound || !self.complete {
                    return;
                }
            }
        }
    }
    let mut s = Search {
        buffers,
        adj,
        ids,
        lower_bound,
        placed: vec![false; buffers.len()],
        offsets: vec![0; buffers.len()],
        order: Vec::with_capacity(ids.len()),
        best: bound,
        found: None,
        nodes: 0,
        complete: true,
    };
    s.go(0, None);
    ExactOutcome {
        found: s.found,
        complete: s.complete,
    }
}

/// A fixed-seed xorshift generator: the local search must give the same plan every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Local search over placement orders from `best.order`: swap two buffers or move one to
/// another position; keep the move unless the pool grows (ties: unless the sum of end
/// offsets grows). A fixed number of steps, so the result is deterministic.
fn local_search(placer: &mut Placer<'_>, best: &mut PoolResult) {
    let n = best.order.len();
    if n < 2 {
        return;
    }
    let steps = (SEARCH_WORK / placer.work.max(1)).min(SEARCH_MAX_STEPS);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut current = best.order.clone();
    let len = placer.place(&current);
    let mut cost = (len, placer.sum_of_ends(&current));
    // Positions in `current` of the buffers that end at the top of the pool.
    let top = |placer: &Placer<'_>, order: &[usize], len: usize| -> Vec<usize> {
        (0..order.len())
            .filter(|&p| placer.offsets[order[p]] + placer.buffers[order[p]].len == len)
            .collect()
    };
    let mut critical = top(placer, &current, len);
    let mut candidate = current.clone();
    for _ in 0..steps {
        let (mut i, mut j) = (rng.below(n), rng.below(n));
        let kind = rng.below(3);
        if kind == 2 && !critical.is_empty() {
            // Move a buffer at the top earlier, so it is placed before what pushes it up.
            i = critical[rng.below(critical.len())];
            j = rng.below(i + 1);
        }
        if i == j {
            continue;
        }
        candidate.clone_from(&current);
        if kind == 0 {
            candidate.swap(i, j);
        } else {
            let b = candidate.remove(i);
            candidate.insert(j, b);
        }
        let len = placer.place(&candidate);
        let c = (len, placer.sum_of_ends(&candidate));
        if c > cost {
            continue;
        }
        cost = c;
        std::mem::swap(&mut current, &mut candidate);
        critical = top(placer, &current, len);
        if len < best.len {
            best.len = len;
            best.offsets.clone_from(&placer.offsets);
            best.algorithm = Algorithm::LocalSearch;
            best.order.clone_from(&current);
            if best.at_bound() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
