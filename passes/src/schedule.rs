//! Memory-aware scheduling: where independent branches can run in another order, pick the
//! order that keeps fewer activation bytes alive at once.
//!
//! Greedy list scheduling: among the nodes whose inputs are ready, run the one that adds
//! the fewest bytes (its outputs minus the inputs it is the last reader of); ties keep the
//! current order. The result is kept only if its peak is lower than the current order's.

use kiln_ir::{Graph, NodeId, ValueId, ValueKind};
use std::collections::{BTreeSet, HashMap};

/// Bytes of `v` if it is an arena activation (not a graph input, output or constant).
fn arena_bytes(g: &Graph, v: ValueId) -> usize {
    let val = g.value(v);
    if matches!(val.kind, ValueKind::Activation) && !g.outputs.contains(&v) {
        val.ty.numel() * val.ty.dtype.size_bytes()
    } else {
        0
    }
}

/// Distinct values a node reads.
fn reads(g: &Graph, n: NodeId) -> BTreeSet<ValueId> {
    g.node(n).inputs.iter().flatten().copied().collect()
}

/// The most activation bytes alive at once when running `order` (a node's inputs and
/// outputs are alive together while it runs).
pub fn peak_bytes(g: &Graph, order: &[NodeId]) -> usize {
    let mut left: HashMap<ValueId, usize> = HashMap::new();
    for &n in order {
        for v in reads(g, n) {
            *left.entry(v).or_default() += 1;
        }
    }
    let (mut live, mut peak) = (0usize, 0usize);
    for &n in order {
        for &v in &g.node(n).outputs {
            live += arena_bytes(g, v);
        }
        peak = peak.max(live);
        for v in reads(g, n) {
            if let Some(k) = left.get_mut(&v) {
                *k -= 1;
                if *k == 0 {
                    live -= arena_bytes(g, v).min(live);
                }
            }
        }
        // Outputs nobody reads die at once.
        for &v in &g.node(n).outputs {
            if !left.contains_key(&v) {
                live -= arena_bytes(g, v).min(live);
            }
        }
    }
    peak
}

/// A topological order chosen greedily to keep live bytes low.
pub fn memory_aware_order(g: &Graph) -> Result<Vec<NodeId>, String> {
    let current = g.schedule().map_err(|_| "the graph has a cycle")?;
    let rank: HashMap<NodeId, usize> = current.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut left: HashMap<ValueId, usize> = HashMap::new();
    let mut waiting: HashMap<NodeId, usize> = HashMap::new();
    for &n in &current {
        let ins = reads(g, n);
        for &v in &ins {
            *left.entry(v).or_default() += 1;
        }
        let producers: BTreeSet<NodeId> = ins.iter().filter_map(|&v| g.producer(v)).collect();
        waiting.insert(n, producers.len());
    }
    let mut ready: BTreeSet<(usize, NodeId)> = current
        .iter()
        .filter(|n| waiting[n] == 0)
        .map(|&n| (rank[&n], n))
        .collect();
    let mut order = Vec::with_capacity(current.len());
    while !ready.is_empty() {
        let cost = |n: NodeId| -> i128 {
            let alloc: usize = g.node(n).outputs.iter().map(|&v| arena_bytes(g, v)).sum();
            let freed: usize = reads(g, n)
                .into_iter()
                .filter(|v| left.get(v) == Some(&1))
                .map(|v| arena_bytes(g, v))
                .sum();
            alloc as i128 - freed as i128
        };
        let Some(&(r, n)) = ready.iter().min_by_key(|(r, n)| (cost(*n), *r)) else {
            break;
        };
        ready.remove(&(r, n));
        order.push(n);
        for v in reads(g, n) {
            if let Some(k) = left.get_mut(&v) {
                *k -= 1;
            }
        }
        let succs: BTreeSet<NodeId> = g
            .node(n)
            .outputs
            .iter()
            .flat_map(|&v| g.consumers(v))
            .collect();
        for s in succs {
            if let Some(w) = waiting.get_mut(&s) {
                *w -= 1;
                if *w == 0 {
                    ready.insert((rank[&s], s));
                }
            }
        }
    }
    if order.len() != current.len() {
        return Err("memory-aware scheduling lost nodes".into());
    }
    Ok(order)
}

/// Sets the graph's schedule hint to the memory-aware order when that lowers the peak of
/// live activation bytes.
pub fn reorder_for_memory(g: &mut Graph) -> Result<Vec<String>, String> {
    let current = g.schedule().map_err(|_| "the graph has a cycle")?;
    let order = memory_aware_order(g)?;
    let (before, after) = (peak_bytes(g, &current), peak_bytes(g, &order));
    if after < before {
        g.set_schedule_hint(&order);
        Ok(vec![format!(
            "peak of live activations {before} -> {after} bytes"
        )])
    } else {
        Ok(Vec::new())
    }
}
