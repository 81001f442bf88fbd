//! Static memory planning in three steps, after TVM's planner:
//!
//! 1. **analysis** ([`analyse`]): one [`Buffer`] per activation that lives in the arena, with
//!    its size and its lifetime as the first and last schedule step that touch it;
//! 2. **algorithm** ([`best_placement`]): offsets within one pool per element type. Every
//!    candidate places buffers one by one, each at the lowest offset that does not collide
//!    with an already placed buffer live at the same time; candidates differ only in the
//!    order. [`greedy_by_size`] (TensorFlow Lite Micro's default, largest first) is the
//!    baseline; [`best_placement`] also tries other orders, a bounded local search over
//!    orders and, for small pools, an exact branch and bound, and keeps the shortest pool,
//!    stopping as soon as one reaches the lower bound (the most elements live at one step);
//! 3. **rewrite** ([`plan_memory`]): a [`Placement`] per value, read by the emitters.
//!
//! Graph inputs and outputs are not in the arena: the caller owns them and kernels read and
//! write them in place. Constants are statics. The arena holds one pool per element type
//! because safe Rust cannot reinterpret bytes as `f32`; each pool is planned on its own.

use kiln_ir::{DType, NodeId, ValueId, ValueKind, VerifiedGraph};
use std::collections::BTreeMap;

/// An activation that needs arena storage, with its lifetime in schedule steps (inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub value: ValueId,
    pub dtype: DType,
    /// Elements (not bytes): pools are typed arrays.
    pub len: usize,
    pub first: usize,
    pub last: usize,
}

impl Buffer {
    pub fn overlaps_in_time(&self, other: &Buffer) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Where one buffer lives: an element offset in the pool of its element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub dtype: DType,
    pub offset: usize,
    pub len: usize,
}

/// One typed pool of the arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolPlan {
    pub dtype: DType,
    /// Elements the pool must hold.
    pub len: usize,
    /// The most elements of this type live at once: no placement can do better.
    pub lower_bound: usize,
    /// Elements greedy by size (the baseline) would need for the same buffers.
    pub greedy_len: usize,
    /// Name of the algorithm whose offsets this pool uses.
    pub algorithm: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    pub schedule: Vec<NodeId>,
    pub buffers: Vec<Buffer>,
    pub placements: BTreeMap<ValueId, Placement>,
    pub pools: Vec<PoolPlan>,
    /// Name of the algorithm that produced the offsets: the most elaborate one over the
    /// pools (see [`PoolPlan::algorithm`]).
    pub algorithm: &'static str,
}

impl MemoryPlan {
    /// Total arena size in bytes (the sum of the pools).
    pub fn arena_bytes(&self) -> usize {
        self.pools
            .iter()
            .map(|p| p.len * p.dtype.size_bytes())
            .sum()
    }

    /// The arena greedy by size would need, in bytes: the baseline the planner improves on.
    pub fn greedy_by_size_bytes(&self) -> usize {
        self.pools
            .iter()
            .map(|p| p.greedy_len * p.dtype.size_bytes())
            .sum()
    }

    /// The largest number of activation bytes live at one step, over all element types.
    pub fn lower_bound_bytes(&self) -> usize {
        lower_bound_bytes(&self.buffers)
    }

    pub fn placement(&self, v: ValueId) -> Option<Placement> {
        self.placements.get(&v).copied()
    }
}

/// Analysis: the buffers of every arena-resident activation of `graph` over `schedule`.
pub fn analyse(graph: &VerifiedGraph) -> Vec<Buffer> {
    let g = graph.graph();
    let mut first: BTreeMap<ValueId, usize> = BTreeMap::new();
    let mut last: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (step, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        for &v in &node.outputs {
            first.entry(v).or_insert(step);
            last.entry(v).or_insert(step);
        }
        for v in node.inputs.iter().flatten() {
            if let Some(l) = last.get_mut(v) {
                *l = (*l).max(step);
            }
        }
    }
    first
        .into_iter()
        .filter(|(v, _)| {
            matches!(g.value(*v).kind, ValueKind::Activation) && !g.outputs.contains(v)
        })
        .map(|(v, f)| {
            let ty = &g.value(v).ty;
            Buffer {
                value: v,
                dtype: ty.dtype,
                len: ty.numel(),
                first: f,
                last: last[&v],
            }
        })
        .collect()
}

/// The largest sum of simultaneously live bytes: a lower bound for any arena.
pub fn lower_bound_bytes(buffers: &[Buffer]) -> usize {
    peak(buffers, |b| b.len * b.dtype.size_bytes())
}

fn peak(buffers: &[Buffer], size: impl Fn(&Buffer) -> usize) -> usize {
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
enum Algorithm {
    GreedyBySize,
    BestOfOrders,
    LocalSearch,
    Exact,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::GreedyBySize => "greedy-by-size",
            Algorithm::BestOfOrders => "best-of-orders",
            Algorithm::LocalSearch => "local-search",
            Algorithm::Exact => "exact",
        }
    }
}

/// The plan of one pool.
struct PoolResult {
    offsets: Vec<usize>,
    len: usize,
    lower_bound: usize,
    greedy_len: usize,
    algorithm: Algorithm,
    /// The placement order that produced `offsets` (buffers of nonzero length only).
    order: Vec<usize>,
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

fn plan_pool(buffers: &[Buffer]) -> PoolResult {
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

/// Plans the arena of a verified graph: analysis, [`best_placement`] per element type,
/// rewrite.
pub fn plan_memory(graph: &VerifiedGraph) -> MemoryPlan {
    let buffers = analyse(graph);
    let mut by_type: BTreeMap<DType, Vec<usize>> = BTreeMap::new();
    for (i, b) in buffers.iter().enumerate() {
        by_type.entry(b.dtype).or_default().push(i);
    }
    let mut placements = BTreeMap::new();
    let mut pools = Vec::new();
    let mut algorithm = Algorithm::GreedyBySize;
    for (dtype, idx) in by_type {
        let group: Vec<Buffer> = idx.iter().map(|&i| buffers[i].clone()).collect();
        let pool = plan_pool(&group);
        for (b, &off) in group.iter().zip(&pool.offsets) {
            placements.insert(
                b.value,
                Placement {
                    dtype,
                    offset: off,
                    len: b.len,
                },
            );
        }
        pools.push(PoolPlan {
            dtype,
            len: pool.len,
            lower_bound: pool.lower_bound,
            greedy_len: pool.greedy_len,
            algorithm: pool.algorithm.name(),
        });
        algorithm = algorithm.max(pool.algorithm);
    }
    MemoryPlan {
        schedule: graph.schedule().to_vec(),
        buffers,
        placements,
        pools,
        algorithm: algorithm.name(),
    }
}

/// Checks that no two buffers live at the same time share memory. Used by tests and by
/// debug builds of the pipeline.
pub fn check_plan(plan: &MemoryPlan) -> Result<(), String> {
    for (i, a) in plan.buffers.iter().enumerate() {
        for b in &plan.buffers[i + 1..] {
            let (pa, pb) = (plan.placements[&a.value], plan.placements[&b.value]);
            let space = pa.dtype == pb.dtype
                && pa.len > 0
                && pb.len > 0
                && pa.offset < pb.offset + pb.len
                && pb.offset < pa.offset + pa.len;
            if space && a.overlaps_in_time(b) {
                return Err(format!(
                    "values %{} and %{} overlap in time and space",
                    a.value.0, b.value.0
                ));
            }
        }
    }
    for p in plan.placements.values() {
        let pool = plan
            .pools
            .iter()
            .find(|q| q.dtype == p.dtype)
            .ok_or("placement without a pool")?;
        if p.offset + p.len > pool.len {
            return Err("a placement runs past the end of its pool".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn buf(v: u32, len: usize, first: usize, last: usize) -> Buffer {
        Buffer {
            value: ValueId(v),
            dtype: DType::F32,
            len,
            first,
            last,
        }
    }

    #[test]
    fn disjoint_lifetimes_share_memory() {
        let bs = [buf(0, 100, 0, 1), buf(1, 100, 2, 3)];
        let (off, total) = greedy_by_size(&bs);
        assert_eq!(off, vec![0, 0]);
        assert_eq!(total, 100);
        assert_eq!(lower_bound_bytes(&bs), 400);
    }

    #[test]
    fn overlapping_lifetimes_do_not() {
        let bs = [buf(0, 100, 0, 2), buf(1, 50, 1, 3), buf(2, 30, 3, 4)];
        let (off, total) = greedy_by_size(&bs);
        assert_eq!(off[0], 0);
        assert_eq!(off[1], 100);
        // Buffer 2 overlaps only buffer 1 in time, so it fits below it.
        assert_eq!(off[2], 0);
        assert_eq!(total, 150);
    }

    #[test]
    fn lower_bound_is_the_peak_of_live_sizes() {
        // Live per step: {0,1} = 3, {1,2} = 3, {2,3} = 3.
        let bs = [
            buf(0, 2, 0, 0),
            buf(1, 1, 0, 1),
            buf(2, 2, 1, 2),
            buf(3, 1, 2, 2),
        ];
        assert_eq!(peak(&bs, |b| b.len), 3);
        assert_eq!(lower_bound_bytes(&bs), 12);
    }

    /// Checks a placement from outside the planner: every buffer within the pool, no two
    /// buffers live at the same step sharing an element.
    fn check_offsets(bs: &[Buffer], off: &[usize], total: usize) -> Result<(), String> {
        for (i, a) in bs.iter().enumerate() {
            if off[i] + a.len > total {
                return Err(format!("buffer {i} runs past the pool"));
            }
            for (j, b) in bs.iter().enumerate().skip(i + 1) {
                let time = (a.first..=a.last).any(|s| (b.first..=b.last).contains(&s));
                let space = (off[i]..off[i] + a.len).any(|e| (off[j]..off[j] + b.len).contains(&e));
                if time && space {
                    return Err(format!("buffers {i} and {j} overlap"));
                }
            }
        }
        Ok(())
    }

    /// The lower bound recomputed step by step.
    fn most_live(bs: &[Buffer]) -> usize {
        let steps = bs.iter().map(|b| b.last + 1).max().unwrap_or(0);
        (0..steps)
            .map(|s| {
                bs.iter()
                    .filter(|b| b.first <= s && s <= b.last)
                    .map(|b| b.len)
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0)
    }

    fn from_raw(raw: &[(usize, usize, usize)]) -> Vec<Buffer> {
        raw.iter()
            .enumerate()
            .map(|(i, &(len, first, span))| buf(i as u32, len, first, first + span))
            .collect()
    }

    /// The shortest pool over every placement order, by trying them all.
    fn brute_force(bs: &[Buffer]) -> usize {
        fn permute(k: usize, order: &mut Vec<usize>, placer: &mut Placer<'_>, best: &mut usize) {
            if k == order.len() {
                *best = (*best).min(placer.place(order));
                return;
            }
            for i in k..order.len() {
                order.swap(k, i);
                permute(k + 1, order, placer, best);
                order.swap(k, i);
            }
        }
        let ids: Vec<usize> = (0..bs.len()).filter(|&i| bs[i].len > 0).collect();
        let adj = conflicts(bs, &ids);
        let mut placer = Placer::new(bs, &adj);
        let mut best = usize::MAX;
        permute(0, &mut ids.clone(), &mut placer, &mut best);
        best
    }

    /// The exact solver on its own, with no bound from the heuristics.
    fn exact(bs: &[Buffer]) -> (Vec<usize>, usize) {
        let ids: Vec<usize> = (0..bs.len()).filter(|&i| bs[i].len > 0).collect();
        let adj = conflicts(bs, &ids);
        let out = exact_placement(bs, &adj, &ids, usize::MAX, peak(bs, |b| b.len));
        let (offsets, len, _) = out.found.expect("an unbounded search finds a placement");
        (offsets, len)
    }

    /// Greedy by size fragments this pool; the lower bound is reachable.
    ///
    /// ```text
    /// step:    0     1     2
    /// A (2)  [###]
    /// C (1)  [#########]
    /// D (1)        [#########]
    /// B (2)              [###]
    /// ```
    ///
    /// Live per step: A+C = 3, C+D = 2, D+B = 3, so the bound is 3. Greedy by size places
    /// A and B (2 each) first, both at 0 (they never live together); C then goes above A at
    /// 2, and D, live with C (at 2..3) and B (at 0..2), goes to 3: 4 elements. Yet A at 0,
    /// C at 2, D at 0 and B at 1 fit in 3.
    #[test]
    fn reaches_the_bound_where_greedy_by_size_does_not() {
        let bs = [
            buf(0, 2, 0, 0), // A
            buf(1, 2, 2, 2), // B
            buf(2, 1, 0, 1), // C
            buf(3, 1, 1, 2), // D
        ];
        assert_eq!(most_live(&bs), 3);
        check_offsets(&bs, &[0, 1, 2, 0], 3).expect("the hand placement is valid");
        let (g_off, g_len) = greedy_by_size(&bs);
        assert_eq!((g_off, g_len), (vec![0, 0, 2, 3], 4));
        let (off, len) = best_placement(&bs);
        assert_eq!(len, 3);
        check_offsets(&bs, &off, len).unwrap();
        let pool = plan_pool(&bs);
        assert_eq!((pool.greedy_len, pool.lower_bound), (4, 3));
        assert_ne!(pool.algorithm, Algorithm::GreedyBySize);
    }

    /// A larger pool, past the exact solver, where greedy by size misses the bound: the
    /// same fragmenting pattern repeated in time, with one long buffer alongside.
    #[test]
    fn local_search_and_orders_beat_greedy_on_large_pools() {
        let mut bs = Vec::new();
        for k in 0..40u32 {
            let t = 3 * k as usize;
            bs.push(buf(4 * k, 2, t, t));
            bs.push(buf(4 * k + 1, 2, t + 2, t + 2));
            bs.push(buf(4 * k + 2, 1, t, t + 1));
            bs.push(buf(4 * k + 3, 1, t + 1, t + 2));
        }
        let bound = most_live(&bs);
        let (_, g_len) = greedy_by_size(&bs);
        let (off, len) = best_placement(&bs);
        check_offsets(&bs, &off, len).unwrap();
        assert!(bound <= len && len <= g_len, "{bound} <= {len} <= {g_len}");
        assert!(len < g_len, "greedy {g_len}, best {len}, bound {bound}");
    }

    #[test]
    fn zero_length_buffers_sit_at_zero() {
        let bs = [buf(0, 0, 0, 3), buf(1, 5, 0, 3), buf(2, 0, 1, 1)];
        let (off, len) = best_placement(&bs);
        assert_eq!((off, len), (vec![0, 0, 0], 5));
    }

    #[test]
    fn counts_conflicts_without_listing_them() {
        let bs = from_raw(&[
            (1, 0, 2),
            (2, 1, 0),
            (3, 3, 4),
            (0, 0, 9),
            (4, 2, 1),
            (5, 9, 0),
        ]);
        let ids: Vec<usize> = (0..bs.len()).filter(|&i| bs[i].len > 0).collect();
        let listed: usize = conflicts(&bs, &ids).iter().map(Vec::len).sum();
        let mut pairs = 0;
        for &i in &ids {
            for &j in &ids {
                pairs += usize::from(i < j && bs[i].overlaps_in_time(&bs[j]));
            }
        }
        assert_eq!(conflict_pairs(&bs, &ids), pairs);
        assert_eq!(listed, 2 * pairs);
    }

    /// 300 buffers with many conflicts: the planner stays deterministic and quick.
    #[test]
    fn large_pools_are_deterministic_and_bounded() {
        let mut x = 12345u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % n) as usize
        };
        let bs: Vec<Buffer> = (0..300)
            .map(|i| {
                let first = next(200);
                buf(i, 1 + next(1000), first, first + next(12))
            })
            .collect();
        let t = std::time::Instant::now();
        let a = best_placement(&bs);
        let elapsed = t.elapsed();
        assert_eq!(a, best_placement(&bs));
        check_offsets(&bs, &a.0, a.1).unwrap();
        assert!(a.1 <= greedy_by_size(&bs).1 && a.1 >= most_live(&bs));
        // Generous: the budget is a few milliseconds optimised; tests run on busy machines.
        assert!(elapsed.as_secs() < 5, "took {elapsed:?}");
    }

    proptest! {
        #[test]
        fn best_placement_is_valid_bounded_and_no_worse_than_greedy(
            raw in proptest::collection::vec((0usize..64, 0usize..20, 0usize..6), 1..60)
        ) {
            let bs = from_raw(&raw);
            let (off, total) = best_placement(&bs);
            prop_assert_eq!(off.len(), bs.len());
            if let Err(e) = check_offsets(&bs, &off, total) {
                prop_assert!(false, "{}", e);
            }
            prop_assert!(total >= most_live(&bs));
            prop_assert!(total <= greedy_by_size(&bs).1);
            // The searches start from greedy by size's order, which places as greedy does.
            let ids: Vec<usize> = (0..bs.len()).filter(|&i| bs[i].len > 0).collect();
            let adj = conflicts(&bs, &ids);
            let mut placer = Placer::new(&bs, &adj);
            let len = placer.place(&greedy_order(&bs, &ids));
            prop_assert_eq!((placer.offsets, len), greedy_by_size(&bs));
        }

        #[test]
        fn exact_matches_brute_force_over_all_orders(
            raw in proptest::collection::vec((0usize..8, 0usize..6, 0usize..4), 1..=6)
        ) {
            let bs = from_raw(&raw);
            let want = brute_force(&bs);
            let (off, len) = exact(&bs);
            prop_assert_eq!(len, want);
            if let Err(e) = check_offsets(&bs, &off, len) {
                prop_assert!(false, "{}", e);
            }
            // The planner as a whole is exact on pools this small.
            prop_assert_eq!(best_placement(&bs).1, want);
        }

        #[test]
        fn greedy_never_overlaps_and_respects_the_bound(
            raw in proptest::collection::vec((1usize..64, 0usize..20, 0usize..6), 1..40)
        ) {
            let bs: Vec<Buffer> = raw
                .iter()
                .enumerate()
                .map(|(i, &(len, first, span))| buf(i as u32, len, first, first + span))
                .collect();
            let (off, total) = greedy_by_size(&bs);
            for i in 0..bs.len() {
                prop_assert!(off[i] + bs[i].len <= total);
                for j in i + 1..bs.len() {
                    if bs[i].overlaps_in_time(&bs[j]) {
                        prop_assert!(off[i] + bs[i].len <= off[j] || off[j] + bs[j].len <= off[i]);
                    }
                }
            }
            prop_assert!(total >= peak(&bs, |b| b.len));
        }
    }
}
