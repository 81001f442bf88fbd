//! Rewrite: the [`MemoryPlan`], a placement per buffer from the analysis and the
//! placement of each pool, and what the emitters ask of it.

use super::analysis::{Analysis, PlanOptions, analyse, resolve};
use super::placement::{Algorithm, lower_bound_bytes, peak, plan_pool};
use super::{Buffer, Part, Placement, PoolPlan};
use kiln_ir::{DType, Graph, Node, NodeId, ValueId, VerifiedGraph};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    pub schedule: Vec<NodeId>,
    /// One per arena root (see [`Analysis::buffers`]).
    pub buffers: Vec<Buffer>,
    /// The placement of each buffer, by its root; [`MemoryPlan::placement`] also answers
    /// for the values stored in it.
    pub placements: BTreeMap<ValueId, Placement>,
    /// Value -> the value whose storage it uses: an arena root (a view's output, an
    /// in-place output, a Concat's output or input written in place), a graph input or a
    /// constant (a view's output: read-only), or a graph output (a view's output reading
    /// the caller's array after it is written, the input of a view that produces a graph
    /// output, written straight into it, or an input of a Concat written in place in the
    /// caller's array). Always the final storage: a target is never itself aliased. Values
    /// not listed own theirs.
    pub aliases: BTreeMap<ValueId, ValueId>,
    /// Value -> the elements of its storage it occupies, for the values stored in part of
    /// it: the inputs of Concats written in place ([`MemoryPlan::concats`]) and every value
    /// stored with them, the root of the buffer included. Values not listed occupy all of
    /// their storage (for an arena root: its whole buffer).
    pub parts: BTreeMap<ValueId, Part>,
    /// Nodes that emit no code: views of their input.
    pub views: BTreeSet<NodeId>,
    /// Elementwise nodes whose output overwrites the input stored in the same buffer.
    pub in_place: BTreeSet<NodeId>,
    /// Concat nodes some of whose inputs their producers wrote in place, each at its
    /// offset in the output's storage (the inputs stored there, see [`MemoryPlan::parts`]):
    /// the node copies only the other inputs, and emits no code when there are none.
    pub concats: BTreeSet<NodeId>,
    /// Node -> the id of its kernel's scratch buffer (see [`super::scratch_id`]).
    pub scratch: BTreeMap<NodeId, ValueId>,
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

    /// The value whose storage `v` uses: `v` itself unless it is aliased.
    pub fn storage(&self, v: ValueId) -> ValueId {
        resolve(&self.aliases, v)
    }

    /// The elements of its storage `v` occupies, when not all of them (see
    /// [`MemoryPlan::parts`]).
    pub fn part(&self, v: ValueId) -> Option<Part> {
        self.parts.get(&v).copied()
    }

    /// The elements of its storage `v` occupies: its part, or all of the storage (an arena
    /// buffer's length, or the storage value's element count, from `g`).
    pub fn range(&self, g: &Graph, v: ValueId) -> Part {
        let s = self.storage(v);
        self.part(v).unwrap_or_else(|| Part {
            offset: 0,
            len: self
                .placements
                .get(&s)
                .map_or_else(|| g.value(s).ty.numel(), |p| p.len),
        })
    }

    /// The inputs of `node`, a Concat of [`MemoryPlan::concats`], that its producers wrote
    /// in place: those stored in elements of the output's storage overlapping the
    /// output's (in a valid plan, exactly at their offsets). Slots, in order.
    pub fn concat_inputs_in_place(&self, g: &Graph, node: &Node) -> Vec<usize> {
        let Some(&y) = node.outputs.first() else {
            return Vec::new();
        };
        let (s, out) = (self.storage(y), self.range(g, y));
        (0..node.inputs.len())
            .filter(|&k| {
                node.inputs[k]
                    .is_some_and(|x| self.storage(x) == s && self.range(g, x).overlaps(&out))
            })
            .collect()
    }

    /// Where the scratch space of `n`'s kernel lives, if it has any.
    pub fn scratch_placement(&self, n: NodeId) -> Option<Placement> {
        self.placements.get(self.scratch.get(&n)?).copied()
    }

    /// Where `v` lives in the arena, if it does: where its root's buffer does (an aliased
    /// value), narrowed to its [`Part`] of it if it has one.
    pub fn placement(&self, v: ValueId) -> Option<Placement> {
        let p = self.placements.get(&self.storage(v)).copied()?;
        Some(match self.parts.get(&v) {
            Some(part) => Placement {
                offset: p.offset + part.offset,
                len: part.len,
                ..p
            },
            None => p,
        })
    }
}

/// Plans the arena of a verified graph with every optimisation on: see
/// [`plan_memory_with`].
pub fn plan_memory(graph: &VerifiedGraph) -> MemoryPlan {
    plan_memory_with(graph, &PlanOptions::default())
}

/// Plans the arena of a verified graph: [`analyse`] (with `opts`),
/// [`best_placement`](super::best_placement) per element type, rewrite.
///
/// Writing a Concat's inputs in place saves the copy and the inputs' own buffers, but the
/// output's buffer then lives from its first input's producer on, holding room for inputs
/// not yet produced: on some schedules that raises the peak. So when the plan writes any
/// Concat in place, the plan without Concats in place is a candidate too, and the smaller
/// arena wins (on a tie, the one without the copies): see [`plan_smallest`].
pub fn plan_memory_with(graph: &VerifiedGraph, opts: &PlanOptions) -> MemoryPlan {
    plan_smallest(&[graph], opts).1
}

/// The smallest plan over `graphs` (one graph under different schedules, in order of
/// preference) and, for each, the plan with Concats in place and, if it writes any, the
/// plan without: the first candidate of the smallest arena, in that order, and the index
/// of its graph. A candidate is placed only if the lower bound of its analysis could still
/// beat the best plan so far, so the choice is that of placing every candidate, usually at
/// the cost of one placement. `graphs` must not be empty.
pub fn plan_smallest(graphs: &[&VerifiedGraph], opts: &PlanOptions) -> (usize, MemoryPlan) {
    let copies = PlanOptions {
        concat_in_place: false,
        ..*opts
    };
    let mut candidates: Vec<(usize, Option<Analysis>)> = Vec::new();
    for (i, g) in graphs.iter().enumerate() {
        let a = analyse(g, opts);
        let with_concats = !a.concats.is_empty();
        candidates.push((i, Some(a)));
        if with_concats {
            candidates.push((i, Some(analyse(g, &copies))));
        }
    }
    let bounds: Vec<usize> = candidates
        .iter()
        .map(|(_, a)| a.as_ref().map_or(0, |a| arena_lower_bound(&a.buffers)))
        .collect();
    // Most promising first; the candidate index keeps ties in order of preference.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&c| (bounds[c], c));
    let mut best: Option<(usize, usize, MemoryPlan)> = None;
    for c in order {
        // Sorted, so no later candidate can win either.
        if best
            .as_ref()
            .is_some_and(|&(arena, at, _)| (bounds[c], c) >= (arena, at))
        {
            break;
        }
        let (i, analysis) = &mut candidates[c];
        let analysis = analysis.take().expect("each candidate is placed once");
        let plan = place(graphs[*i], analysis);
        let arena = plan.arena_bytes();
        if best.as_ref().is_none_or(|&(a, at, _)| (arena, c) < (a, at)) {
            best = Some((arena, c, plan));
        }
    }
    let (_, c, plan) = best.expect("plan_smallest needs a graph");
    (candidates[c].0, plan)
}

/// No arena for `buffers` is smaller: each pool holds at least the most elements of its
/// type live at one step.
fn arena_lower_bound(buffers: &[Buffer]) -> usize {
    let mut by_type: BTreeMap<DType, Vec<Buffer>> = BTreeMap::new();
    for b in buffers {
        by_type.entry(b.dtype).or_default().push(b.clone());
    }
    by_type
        .iter()
        .map(|(d, bs)| peak(bs, |b| b.len) * d.size_bytes())
        .sum()
}

#[cfg(test)]
pub(super) fn plan_once(graph: &VerifiedGraph, opts: &PlanOptions) -> MemoryPlan {
    place(graph, analyse(graph, opts))
}

/// Placement and rewrite of an analysis of `graph`.
fn place(graph: &VerifiedGraph, analysis: Analysis) -> MemoryPlan {
    let Analysis {
        buffers,
        aliases,
        parts,
        views,
        in_place,
        concats,
        scratch,
    } = analysis;
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
        aliases,
        parts,
        views,
        in_place,
        concats,
        scratch,
        pools,
        algorithm: algorithm.name(),
    }
}
