//! Analysis: each buffer's lifetime over the schedule, then sharing (views, in-place
//! writes, Concats written in place by their producers).

use super::{Buffer, Part, storage_dtype};
use kiln_ir::types::normalize_axis;
use kiln_ir::{Graph, Node, NodeId, Op, ValueId, ValueKind, VerifiedGraph};
use std::collections::{BTreeMap, BTreeSet};

/// What the planner may do beyond giving every arena activation a buffer of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// Zero-copy views: Reshape, Flatten, Identity (and Transposes that move only unit
    /// axes) share their input's storage and emit no code, unless their output is a graph
    /// output (then the node copies, or, when its input has no other use, the input's
    /// producer writes straight into the caller's output array).
    pub views: bool,
    /// In-place execution: an elementwise op (Unary, Clip, Binary) writes over an input of
    /// its output's element type and size whose arena buffer dies at it.
    pub in_place: bool,
    /// Concats written in place: when every axis before the Concat's axis has size 1 (so
    /// each input is one contiguous run of the output), an input whose arena buffer dies at
    /// the Concat (and holds nothing the Concat reads through another input) is stored at
    /// its offset inside the output's storage, so its producer writes straight into the
    /// concatenation; the Concat copies only the other inputs. The output's storage is an
    /// arena buffer or, for a graph output, the caller's array.
    pub concat_in_place: bool,
    /// Scratch space for the kernels the lowering picks on this target that need it (see
    /// [`crate::kernels::scratch_len`]): a buffer live for the node's step only. `None`:
    /// the reference kernels, which need none.
    pub scratch: Option<crate::kernels::KernelTarget>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            views: true,
            in_place: true,
            concat_in_place: true,
            scratch: None,
        }
    }
}

/// The result of [`analyse`]: the arena buffers and which values share storage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    /// One per root: an arena activation that owns its storage. Its lifetime runs from the
    /// root's producer to the last use of any value stored in it.
    pub buffers: Vec<Buffer>,
    /// Value -> the value whose storage it uses (see [`MemoryPlan::aliases`](super::MemoryPlan::aliases)).
    pub aliases: BTreeMap<ValueId, ValueId>,
    /// Value -> the elements of its storage it occupies (see [`MemoryPlan::parts`](super::MemoryPlan::parts)).
    pub parts: BTreeMap<ValueId, Part>,
    /// Nodes that emit no code: their output is their input's storage.
    pub views: BTreeSet<NodeId>,
    /// Elementwise nodes whose output overwrites one of their inputs.
    pub in_place: BTreeSet<NodeId>,
    /// Concats some of whose inputs are written in place (see [`MemoryPlan::concats`](super::MemoryPlan::concats)).
    pub concats: BTreeSet<NodeId>,
    /// Node -> the id of its scratch buffer (see [`scratch_id`]).
    pub scratch: BTreeMap<NodeId, ValueId>,
}

/// The id a node's scratch buffer goes by in [`Buffer::value`] and the placements: counted
/// down from the top of the id space, where no value of a graph reaches (kiln refuses
/// graphs of more than 2^31 values long before).
pub fn scratch_id(n: NodeId) -> ValueId {
    ValueId(u32::MAX - n.index() as u32)
}

pub(super) fn resolve(aliases: &BTreeMap<ValueId, ValueId>, v: ValueId) -> ValueId {
    aliases.get(&v).copied().unwrap_or(v)
}

/// Whether `node` only relabels its input 0 and so may be a view of it
/// ([`Op::is_view`]). Nodes with an epilogue compute and never are.
pub(super) fn relabels(g: &Graph, node: &Node) -> bool {
    if !node.epilogue.is_empty() || node.outputs.len() != 1 {
        return false;
    }
    let Some(Some(x)) = node.inputs.first() else {
        return false;
    };
    node.op.is_view(&g.value(*x).ty.shape)
}

/// The op inputs an elementwise node may overwrite, in order of preference.
pub(super) fn overwritable_slots(node: &Node) -> &'static [usize] {
    // A fused chain computes element by element too, unless a residual Add reads a second
    // buffer by index (only Conv, Gemm and MatMul carry one, and they are not in place).
    let residual = node
        .epilogue
        .iter()
        .any(|e| matches!(e, kiln_ir::ops::Epilogue::Add { .. }));
    if residual || node.outputs.len() != 1 {
        return &[];
    }
    node.op.overwritable_inputs()
}

/// Analysis: the buffers of every arena-resident activation of `graph` over its schedule,
/// after aliasing views, in-place outputs and the inputs of Concats written in place to
/// the storage they share.
///
/// Every value a node produces lives from that step to its last use (all of a node's
/// inputs, epilogue inputs included, are uses). Walking the schedule, each produced value
/// either gets storage of its own (a root: an arena buffer unless it is a graph output) or
/// shares the storage of an earlier value:
///
/// - a view's output (not a graph output) shares its input's storage: an arena root, or
///   read-only storage (a graph input, a constant, a graph output already written);
/// - a view whose output is a graph output and whose input is an arena root used by this
///   node alone turns around: the input is stored in the caller's output array. So does
///   the output of a Concat written in place (below) when it fills its buffer: every value
///   in that buffer moves into the caller's array;
/// - an elementwise node's output shares the arena root of an input of the same element
///   type and size when that root's last use (over every value stored in it) is this node
///   and no other input of the node is stored there. Read-only storage is never
///   overwritten: only arena roots are candidates, and nothing but views alias the rest;
/// - a Concat whose axes before its axis all have size 1 (each input is then one
///   contiguous run of the output) and whose output is an arena activation or a graph
///   output takes in each input that is an arena activation of its element type whose
///   root's last use (over every value stored in it) is this Concat, that fills that
///   root's buffer, and whose root holds no other input of the Concat (an input read
///   twice, or two views of one value, stay where they are). Every value stored in such a
///   root moves to the input's offset inside the output's storage (a [`Part`] of it), so
///   the producers write the concatenation in place. Readers of an input that run before
///   the Concat are fine: nothing writes over an input's elements before the Concat
///   (in-place writes need every value stored there to die at them), and the root's last
///   use rules out readers after it. In the arena the inputs' buffers merge into one as
///   long as the output, whose root is the input root produced first (a buffer still
///   starts at its root's producer); the output is stored in all of it, and so are its
///   views and in-place writers, which run after every input has died. Inputs left out
///   (a graph input, a constant, a value read later) are copied by the Concat.
///
/// A root's buffer lives until the last use of any value stored in it. Deterministic.
pub fn analyse(graph: &VerifiedGraph, opts: &PlanOptions) -> Analysis {
    let g = graph.graph();
    let mut first: BTreeMap<ValueId, usize> = BTreeMap::new();
    let mut last: BTreeMap<ValueId, usize> = BTreeMap::new();
    let mut uses: BTreeMap<ValueId, usize> = BTreeMap::new();
    for (step, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        for &v in &node.outputs {
            first.entry(v).or_insert(step);
            last.entry(v).or_insert(step);
        }
        for v in node.inputs.iter().flatten() {
            *uses.entry(*v).or_default() += 1;
            if let Some(l) = last.get_mut(v) {
                *l = (*l).max(step);
            }
        }
    }
    let in_arena =
        |v: ValueId| matches!(g.value(v).kind, ValueKind::Activation) && !g.outputs.contains(&v);
    let mut out = Analysis::default();
    // Arena roots and the last step any value stored in them is used.
    let mut roots: BTreeMap<ValueId, usize> = BTreeMap::new();
    // The values aliased to each storage, and the buffers longer than their root (a
    // Concat's, whose root is its first input).
    let mut members: BTreeMap<ValueId, Vec<ValueId>> = BTreeMap::new();
    let mut buffer_len: BTreeMap<ValueId, usize> = BTreeMap::new();
    let len_of = |buffer_len: &BTreeMap<ValueId, usize>, r: ValueId| {
        buffer_len
            .get(&r)
            .copied()
            .unwrap_or_else(|| g.value(r).ty.numel())
    };
    let producer_of = |v: ValueId| g.producer(v);
    for (step, &n) in graph.schedule().iter().enumerate() {
        let node = g.node(n);
        let storage = |v: ValueId| resolve(&out.aliases, v);
        // (value, the root it shares, the value whose elements of that root it takes).
        let mut shared: Option<(ValueId, ValueId, ValueId)> = None;
        if opts.views
            && relabels(g, node)
            && let Some(Some(x)) = node.inputs.first().copied()
        {
            let y = node.outputs[0];
            let (tx, ty) = (&g.value(x).ty, &g.value(y).ty);
            if tx.dtype == ty.dtype && tx.numel() == ty.numel() && ty.numel() > 0 {
                let r = storage(x);
                let turns_around = in_arena(x)
                    && uses.get(&x) == Some(&1)
                    && roots.get(&r) == Some(&step)
                    && !out.parts.contains_key(&x)
                    && len_of(&buffer_len, r) == tx.numel()
                    && (r == x || producer_of(x).is_some_and(|p| out.concats.contains(&p)));
                if in_arena(y) {
                    shared = Some((y, r, x));
                } else if turns_around {
                    // Turned around: x (and whatever shares its buffer) is written where y
                    // must end up.
                    let moves =
                        take_stored(r, 0, &mut roots, &mut members, &mut buffer_len, &out, g);
                    store_in(y, ty.numel(), &moves, &mut members, &mut out);
                    out.views.insert(n);
                    continue;
                }
            }
            if shared.is_some() {
                out.views.insert(n);
            }
        }
        if shared.is_none() && opts.in_place {
            let y = node.outputs.first().copied();
            if let Some(y) = y.filter(|&y| in_arena(y) && g.value(y).ty.numel() > 0) {
                let ty = &g.value(y).ty;
                let inputs = node.op_inputs();
                let pick = overwritable_slots(node).iter().find_map(|&slot| {
                    let x = inputs.get(slot).copied().flatten()?;
                    let tx = &g.value(x).ty;
                    let root = storage(x);
                    let only_reader = node
                        .inputs
                        .iter()
                        .enumerate()
                        .all(|(k, i)| k == slot || i.is_none_or(|i| storage(i) != root));
                    (tx.dtype == ty.dtype
                        && tx.numel() == ty.numel()
                        && roots.get(&root) == Some(&step)
                        && only_reader)
                        .then_some((root, x))
                });
                if let Some((root, x)) = pick {
                    shared = Some((y, root, x));
                    out.in_place.insert(n);
                }
            }
        }
        if opts.concat_in_place
            && let Op::Concat(a) = &node.op
            && node.epilogue.is_empty()
            && let [y] = node.outputs[..]
        {
            let ty = &g.value(y).ty;
            let into_output =
                g.outputs.contains(&y) && matches!(g.value(y).kind, ValueKind::Activation);
            let contiguous = normalize_axis(a.axis, ty.rank())
                .is_some_and(|axis| ty.shape[..axis].iter().all(|&d| d == 1));
            if (in_arena(y) || into_output) && contiguous && ty.numel() > 0 {
                let stored: Vec<Option<ValueId>> =
                    node.inputs.iter().map(|x| x.map(storage)).collect();
                let mut placed = Vec::new();
                let mut offset = 0;
                for (k, x) in node.inputs.iter().enumerate() {
                    let Some(x) = *x else { continue };
                    let tx = &g.value(x).ty;
                    let r = storage(x);
                    let alone = stored
                        .iter()
                        .enumerate()
                        .all(|(j, s)| j == k || *s != Some(r));
                    if tx.numel() > 0
                        && tx.dtype == ty.dtype
                        && in_arena(x)
                        && roots.get(&r) == Some(&step)
                        && !out.parts.contains_key(&x)
                        && len_of(&buffer_len, r) == tx.numel()
                        && alone
                    {
                        placed.push((r, offset));
                    }
                    offset += tx.numel();
                }
                if !placed.is_empty() {
                    // In the arena, the buffer is the first input root's: it starts first.
                    let target = if in_arena(y) {
                        placed
                            .iter()
                            .map(|&(r, _)| r)
                            .min_by_key(|&r| (first[&r], r))
                            .unwrap_or(y)
                    } else {
                        y
                    };
                    let mut moves = Vec::new();
                    for &(r, o) in &placed {
                        moves.extend(take_stored(
                            r,
                            o,
                            &mut roots,
                            &mut members,
                            &mut buffer_len,
                            &out,
                            g,
                        ));
                    }
                    store_in(target, ty.numel(), &moves, &mut members, &mut out);
                    if target != y {
                        out.aliases.insert(y, target);
                        members.entry(target).or_default().push(y);
                        buffer_len.insert(target, ty.numel());
                        roots.insert(target, last[&y]);
                    }
                    out.concats.insert(n);
                }
            }
        }
        if let Some((y, root, x)) = shared {
            out.aliases.insert(y, root);
            members.entry(root).or_default().push(y);
            if let Some(p) = out.parts.get(&x).copied() {
                out.parts.insert(y, p);
            }
            if let Some(l) = roots.get_mut(&root) {
                *l = (*l).max(last[&y]);
            }
        }
        for &v in &node.outputs {
            if in_arena(v) && !out.aliases.contains_key(&v) {
                roots.insert(v, last[&v]);
            }
        }
    }
    out.buffers = roots
        .into_iter()
        .map(|(v, l)| {
            let ty = &g.value(v).ty;
            Buffer {
                value: v,
                dtype: storage_dtype(ty.dtype),
                len: len_of(&buffer_len, v),
                first: first[&v],
                last: l,
                scratch_of: None,
            }
        })
        .collect();
    if let Some(target) = opts.scratch {
        for (step, &n) in graph.schedule().iter().enumerate() {
            if let Some((dtype, len)) = crate::kernels::scratch_len(g, g.node(n), target) {
                let id = scratch_id(n);
                out.scratch.insert(n, id);
                out.buffers.push(Buffer {
                    value: id,
                    dtype,
                    len,
                    first: step,
                    last: step,
                    scratch_of: Some(n),
                });
            }
        }
    }
    out
}

/// Takes every value stored in the arena root `r` (`r` included) out of it, with the part
/// each will occupy once the whole buffer sits at `offset` inside other storage; `r` stops
/// being a root.
fn take_stored(
    r: ValueId,
    offset: usize,
    roots: &mut BTreeMap<ValueId, usize>,
    members: &mut BTreeMap<ValueId, Vec<ValueId>>,
    buffer_len: &mut BTreeMap<ValueId, usize>,
    out: &Analysis,
    g: &Graph,
) -> Vec<(ValueId, Part)> {
    let len = buffer_len
        .remove(&r)
        .unwrap_or_else(|| g.value(r).ty.numel());
    roots.remove(&r);
    let mut stored = members.remove(&r).unwrap_or_default();
    stored.push(r);
    stored
        .into_iter()
        .map(|m| {
            let p = out
                .parts
                .get(&m)
                .copied()
                .unwrap_or(Part { offset: 0, len });
            (
                m,
                Part {
                    offset: offset + p.offset,
                    len: p.len,
                },
            )
        })
        .collect()
}

/// Stores the values `moves` (from [`take_stored`]) in `target`'s storage, of `len`
/// elements: each is aliased to `target` (unless it is `target`) with its part (unless the
/// part is all of the storage).
fn store_in(
    target: ValueId,
    len: usize,
    moves: &[(ValueId, Part)],
    members: &mut BTreeMap<ValueId, Vec<ValueId>>,
    out: &mut Analysis,
) {
    for &(m, p) in moves {
        if p == (Part { offset: 0, len }) {
            out.parts.remove(&m);
        } else {
            out.parts.insert(m, p);
        }
        if m != target {
            out.aliases.insert(m, target);
            members.entry(target).or_default().push(m);
        }
    }
}
