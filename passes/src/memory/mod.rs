//! Static memory planning in three steps, after TVM's planner:
//!
//! 1. **analysis** ([`analyse`]): lifetimes, then sharing: a view (Reshape, Flatten,
//!    Identity) uses its input's storage, an elementwise op may write over an input that
//!    dies at it, and the inputs of a Concat may be written in place, each at its offset
//!    in the output's storage ([`PlanOptions`]); values that share storage are aliased to
//!    one root ([`MemoryPlan::aliases`]), those stored in part of it also have a
//!    [`Part`] ([`MemoryPlan::parts`]). The result is one [`Buffer`] per root that lives in
//!    the arena, with its size and its lifetime as the first and last schedule step that
//!    touch any value stored in it;
//! 2. **algorithm** ([`best_placement`]): offsets within one pool per element type. Every
//!    candidate places buffers one by one, each at the lowest offset that does not collide
//!    with an already placed buffer live at the same time; candidates differ only in the
//!    order. [`greedy_by_size`] (TensorFlow Lite Micro's default, largest first) is the
//!    baseline; [`best_placement`] also tries other orders, a bounded local search over
//!    orders and, for small pools, an exact branch and bound, and keeps the shortest pool,
//!    stopping as soon as one reaches the lower bound (the most elements live at one step);
//! 3. **rewrite** ([`plan_memory_with`]): a [`Placement`] per buffer, read by the emitters
//!    through [`MemoryPlan::placement`], which follows aliases.
//!
//! Graph inputs and outputs are not in the arena: the caller owns them and kernels read and
//! write them in place. Constants are statics. A view of a graph input or a constant reads
//! that storage, which is never written (only arena buffers are overwritten in place). The
//! arena holds one pool per element type because safe Rust cannot reinterpret bytes as
//! `f32`; each pool is planned on its own.
//!
//! The files follow the steps: `analysis.rs`, `placement.rs`, `plan.rs` (the rewrite and the
//! [`MemoryPlan`] it produces) and `check.rs` (the checks of a finished plan).

mod analysis;
mod check;
mod placement;
mod plan;

pub use analysis::{Analysis, PlanOptions, analyse, scratch_id};
pub use check::{check_aliases, check_plan};
pub use placement::{best_placement, greedy_by_size, lower_bound_bytes};
pub use plan::{MemoryPlan, plan_memory, plan_memory_with, plan_smallest};

use kiln_ir::{DType, ValueId};

/// An activation that needs arena storage, with its lifetime in schedule steps (inclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub value: ValueId,
    pub dtype: DType,
    /// Elements (not bytes): pools are typed arrays.
    pub len: usize,
    pub first: usize,
    pub last: usize,
    /// Scratch space of this node's kernel, not a value: then `value` is only an id
    /// ([`scratch_id`]).
    pub scratch_of: Option<kiln_ir::NodeId>,
}

impl Buffer {
    /// What the buffer holds, for people: its value's name, or `<node>:scratch` (one word, like
    /// a value's name, for tables).
    pub fn name(&self, g: &kiln_ir::Graph) -> String {
        match self.scratch_of {
            Some(n) => format!("{}:scratch", g.node(n).name),
            None => g.value(self.value).name.clone(),
        }
    }

    /// The node that writes it: its value's producer, or the node whose scratch it is.
    pub fn producer(&self, g: &kiln_ir::Graph) -> Option<kiln_ir::NodeId> {
        self.scratch_of.or_else(|| g.producer(self.value))
    }

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

/// The elements a value occupies in its storage (an arena buffer or a graph output's
/// array), when not all of them: an element offset from the start of the storage, and the
/// value's element count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Part {
    pub offset: usize,
    pub len: usize,
}

impl Part {
    pub fn end(&self) -> usize {
        self.offset + self.len
    }

    /// Whether the two share an element.
    pub fn overlaps(&self, other: &Part) -> bool {
        self.len > 0 && other.len > 0 && self.offset < other.end() && other.offset < self.end()
    }

    /// Whether every element of `other` is one of these.
    pub fn contains(&self, other: &Part) -> bool {
        self.offset <= other.offset && other.end() <= self.end()
    }
}

/// The element type a value is stored as: f16 and bf16 live in the generated code as their
/// bits, so they share the `u16` pool.
pub fn storage_dtype(d: DType) -> DType {
    match d {
        DType::F16 | DType::BF16 => DType::U16,
        other => other,
    }
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

#[cfg(test)]
mod tests;
