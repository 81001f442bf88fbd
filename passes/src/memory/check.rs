//! Checks of a finished plan: [`check_plan`] on the plan alone, [`check_aliases`] against
//! the graph. Tests run them, and so does `crate::compile` in debug builds.

use super::analysis::{overwritable_slots, relabels};
use super::{Buffer, MemoryPlan, Part};
use kiln_ir::types::normalize_axis;
use kiln_ir::{NodeId, Op, ValueId, ValueKind, VerifiedGraph};
use std::collections::{BTreeMap, BTreeSet};

/// Checks that no two buffers live at the same time share memory, that every placement
/// fits its pool, and that the aliases are well formed: an aliased value has no buffer of
/// its own and its target is final storage, and a value's part of an arena buffer lies
/// inside that buffer. [`check_aliases`] checks the aliases against the graph. Used by
/// tests and by debug builds of the pipeline.
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
    let roots: BTreeSet<ValueId> = plan.buffers.iter().map(|b| b.value).collect();
    for (v, t) in &plan.aliases {
        if v == t || plan.aliases.contains_key(t) {
            return Err(format!(
                "%{} is aliased to %{}, which is not final storage",
                v.0, t.0
            ));
        }
        if plan.placements.contains_key(v) || roots.contains(v) {
            return Err(format!("%{} is aliased and has a buffer of its own", v.0));
        }
    }
    for (v, part) in &plan.parts {
        let s = plan.storage(*v);
        if let Some(p) = plan.placements.get(&s)
            && part.end() > p.len
        {
            return Err(format!("%{} runs past the end of its buffer", v.0));
        }
    }
    if let Some(n) = plan.views.intersection(&plan.in_place).next() {
        return Err(format!("node {} is both a view and in place", n.index()));
    }
    if let Some(n) = plan
        .concats
        .iter()
        .find(|n| plan.views.contains(n) || plan.in_place.contains(n))
    {
        return Err(format!(
            "node {} is both a Concat written in place and a view or in place",
            n.index()
        ));
    }
    Ok(())
}

/// Checks the sharing of `plan` against `graph`, from the graph's point of view:
///
/// - a value stored elsewhere has its storage's element type and occupies elements of it
///   (all of them unless it has a [`Part`]) as many as it has; it is the output of a view,
///   in-place node or Concat written in place, the input of a view whose graph output it
///   is written into, or stored inside the elements of an input a Concat wrote in place;
/// - a view relabels its input and shares its storage and elements;
/// - a Concat written in place is a Concat whose inputs are contiguous runs of its output,
///   and each input stored with the output sits at exactly its offset in the output's
///   elements (so those inputs tile their runs of the output);
/// - an in-place node reads exactly one value stored in its output's elements, in an
///   operand it may overwrite; the elements are an arena buffer's, or those of a graph
///   output's array holding the input of a Concat written in place there;
/// - no node writes elements holding a value produced before it that is used after it (a
///   graph output is used after the last step), nor, unless in place, that it reads (a
///   Concat written in place writes only the runs of the inputs it copies);
/// - graph inputs and constants are never written;
/// - every buffer lives from its root's producer to the last use of any value stored in it.
pub fn check_aliases(graph: &VerifiedGraph, plan: &MemoryPlan) -> Result<(), String> {
    let g = graph.graph();
    let name = |v: ValueId| format!("{:?}", g.value(v).name);
    let mut produced: BTreeMap<ValueId, (usize, NodeId)> = BTreeMap::new();
    let mut last_use: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (step, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        for &v in &node.outputs {
            produced.insert(v, (step, n));
        }
        for &v in node.inputs.iter().flatten() {
            last_use.insert(v, step);
        }
    }
    // The caller reads the graph outputs after the last step.
    let end = graph.schedule().len();
    let mut read_until = last_use.clone();
    for &v in &g.outputs {
        read_until.insert(v, end);
    }
    let roots: BTreeMap<ValueId, &Buffer> = plan.buffers.iter().map(|b| (b.value, b)).collect();
    // Elements of a storage: its buffer's, or its value's.
    let size = |s: ValueId| roots.get(&s).map_or(g.value(s).ty.numel(), |b| b.len);
    // The elements of its storage a value occupies.
    let range = |v: ValueId| {
        plan.part(v).unwrap_or(Part {
            offset: 0,
            len: size(plan.storage(v)),
        })
    };
    // The values stored in each buffer, with the steps that produce them.
    let mut members: BTreeMap<ValueId, Vec<(ValueId, usize)>> = BTreeMap::new();
    for (&v, &(at, _)) in &produced {
        members.entry(plan.storage(v)).or_default().push((v, at));
    }
    // Concats written in place: the inputs stored with the output, and their elements.
    let mut placed_slots: BTreeMap<NodeId, Vec<usize>> = BTreeMap::new();
    let mut placed_runs: BTreeMap<ValueId, Vec<Part>> = BTreeMap::new();
    for &n in &plan.concats {
        let node = g.node(n);
        let (Op::Concat(a), [y]) = (&node.op, &node.outputs[..]) else {
            return Err(format!(
                "node {:?} is not a Concat, yet its inputs are written in place",
                node.name
            ));
        };
        let ty = &g.value(*y).ty;
        let contiguous = normalize_axis(a.axis, ty.rank())
            .is_some_and(|axis| ty.shape[..axis].iter().all(|&d| d == 1));
        if !contiguous || !node.epilogue.is_empty() {
            return Err(format!(
                "node {:?}: its inputs are not contiguous runs of its output",
                node.name
            ));
        }
        let (s, base) = (plan.storage(*y), range(*y).offset);
        let in_place = plan.concat_inputs_in_place(g, node);
        let mut slots = Vec::new();
        let mut offset = 0;
        for (k, x) in node.inputs.iter().enumerate() {
            let Some(x) = *x else { continue };
            let len = g.value(x).ty.numel();
            if in_place.contains(&k) {
                let want = Part {
                    offset: base + offset,
                    len,
                };
                if range(x) != want {
                    return Err(format!(
                        "input {k} of node {:?} is stored at {:?} of its output's storage, \
                         not at {want:?}",
                        node.name,
                        range(x)
                    ));
                }
                slots.push(k);
                placed_runs.entry(s).or_default().push(want);
            }
            offset += len;
        }
        if slots.is_empty() {
            return Err(format!(
                "node {:?} is a Concat written in place with no input in place",
                node.name
            ));
        }
        placed_slots.insert(n, slots);
    }
    let stored: BTreeSet<ValueId> = plan
        .aliases
        .keys()
        .chain(plan.parts.keys())
        .copied()
        .collect();
    for v in stored {
        let t = plan.storage(v);
        let (tv, tt) = (&g.value(v).ty, &g.value(t).ty);
        let r = range(v);
        if tv.dtype != tt.dtype || tv.numel() != r.len || r.end() > size(t) {
            return Err(format!(
                "{} ({tv}) is stored in {} ({tt}) at {r:?}",
                name(v),
                name(t)
            ));
        }
        let in_concat = placed_runs
            .get(&t)
            .is_some_and(|runs| runs.iter().any(|run| run.contains(&r)));
        if v == t {
            // A root stored in part of its buffer: an input of a Concat written in place.
            if !in_concat || g.outputs.contains(&v) {
                return Err(format!(
                    "{} is stored in part of its buffer for no reason",
                    name(v)
                ));
            }
            continue;
        }
        let by_producer = produced.get(&v).is_some_and(|(_, n)| {
            plan.views.contains(n) || plan.in_place.contains(n) || plan.concats.contains(n)
        });
        let into_output = g.outputs.contains(&t)
            && produced.get(&t).is_some_and(|&(_, n)| {
                plan.views.contains(&n) && g.node(n).inputs.first() == Some(&Some(v))
            });
        if !(by_producer || into_output || in_concat) || g.outputs.contains(&v) {
            return Err(format!(
                "{} is aliased to {} for no reason",
                name(v),
                name(t)
            ));
        }
        let activation = matches!(g.value(t).kind, ValueKind::Activation);
        if activation && !roots.contains_key(&t) && !g.outputs.contains(&t) {
            return Err(format!(
                "{} is stored in {}, which has no buffer",
                name(v),
                name(t)
            ));
        }
    }
    for (step, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        if plan.views.contains(&n) {
            let x = node.inputs.first().copied().flatten();
            let y = node.outputs[0];
            let same = x.is_some_and(|x| {
                plan.storage(x) == plan.storage(y) && plan.part(x) == plan.part(y)
            });
            if !relabels(g, node) || !same {
                return Err(format!("node {:?} is not a view of its input", node.name));
            }
            continue;
        }
        // The elements the node writes.
        let mut writes: Vec<(ValueId, Part)> = Vec::new();
        if let Some(slots) = placed_slots.get(&n) {
            let y = node.outputs[0];
            let (s, base) = (plan.storage(y), range(y).offset);
            let mut offset = 0;
            for (k, x) in node.inputs.iter().enumerate() {
                let len = x.map_or(0, |x| g.value(x).ty.numel());
                if len > 0 && !slots.contains(&k) {
                    writes.push((
                        s,
                        Part {
                            offset: base + offset,
                            len,
                        },
                    ));
                }
                offset += len;
            }
        } else {
            writes.extend(node.outputs.iter().map(|&y| (plan.storage(y), range(y))));
        }
        let in_place = plan.in_place.contains(&n);
        if in_place {
            let y = node.outputs[0];
            let root = plan.storage(y);
            if !roots.contains_key(&root) && !g.outputs.contains(&root) {
                return Err(format!(
                    "node {:?} overwrites storage outside the arena",
                    node.name
                ));
            }
            let readers: Vec<usize> = (0..node.inputs.len())
                .filter(|&k| {
                    node.inputs[k]
                        .is_some_and(|x| plan.storage(x) == root && range(x).overlaps(&range(y)))
                })
                .collect();
            let exact = readers
                .first()
                .and_then(|&k| node.inputs[k])
                .is_some_and(|x| range(x) == range(y));
            if readers.len() != 1 || !overwritable_slots(node).contains(&readers[0]) || !exact {
                return Err(format!(
                    "node {:?} reads its output's buffer through inputs {readers:?}",
                    node.name
                ));
            }
        }
        for &(s, w) in &writes {
            if !matches!(g.value(s).kind, ValueKind::Activation) {
                return Err(format!(
                    "node {:?} writes {}, which is read-only",
                    node.name,
                    name(s)
                ));
            }
            for &(v, at) in members.get(&s).into_iter().flatten() {
                if at >= step || !range(v).overlaps(&w) {
                    continue;
                }
                match read_until.get(&v) {
                    Some(&l) if l > step => {
                        return Err(format!(
                            "node {:?} overwrites {}, which is used later",
                            node.name,
                            name(v)
                        ));
                    }
                    Some(&l) if l == step && !in_place => {
                        return Err(format!(
                            "node {:?} writes over {}, which it reads",
                            node.name,
                            name(v)
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    for (&v, &(at, _)) in &produced {
        let s = plan.storage(v);
        let Some(b) = roots.get(&s) else { continue };
        let end = last_use.get(&v).copied().unwrap_or(at);
        if at < b.first || end > b.last {
            return Err(format!(
                "{} is used at steps {at}..={end}, outside its buffer's {}..={}",
                name(v),
                b.first,
                b.last
            ));
        }
    }
    Ok(())
}
