//! Static memory planning in three steps, after TVM's planner:
//!
//! 1. **analysis** ([`analyse`]): one [`Buffer`] per activation that lives in the arena, with
//!    its size and its lifetime as the first and last schedule step that touch it;
//! 2. **algorithm** ([`greedy_by_size`]): offsets within one pool per element type;
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    pub schedule: Vec<NodeId>,
    pub buffers: Vec<Buffer>,
    pub placements: BTreeMap<ValueId, Placement>,
    pub pools: Vec<PoolPlan>,
    /// Name of the algorithm that produced the offsets.
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

/// Plans the arena of a verified graph: analysis, greedy-by-size per element type, rewrite.
pub fn plan_memory(graph: &VerifiedGraph) -> MemoryPlan {
    let buffers = analyse(graph);
    let mut by_type: BTreeMap<DType, Vec<usize>> = BTreeMap::new();
    for (i, b) in buffers.iter().enumerate() {
        by_type.entry(b.dtype).or_default().push(i);
    }
    let mut placements = BTreeMap::new();
    let mut pools = Vec::new();
    for (dtype, idx) in by_type {
        let group: Vec<Buffer> = idx.iter().map(|&i| buffers[i].clone()).collect();
        let (offsets, len) = greedy_by_size(&group);
        for (b, off) in group.iter().zip(offsets) {
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
            len,
            lower_bound: peak(&group, |b| b.len),
        });
    }
    MemoryPlan {
        schedule: graph.schedule().to_vec(),
        buffers,
        placements,
        pools,
        algorithm: "greedy-by-size",
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

    proptest! {
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
