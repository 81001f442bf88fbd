//! Graph passes and analyses. Each pass is a plain function; [`pipeline`] lists them in
//! order and says why. Static memory planning lives in [`memory`].

pub mod cleanup;
pub mod fold;
pub mod fuse;
pub mod lower;
pub mod memory;
pub mod pipeline;
pub mod rewrite;
pub mod schedule;

pub use memory::{
    Buffer, MemoryPlan, Placement, PlanOptions, PoolPlan, plan_memory, plan_memory_with,
};
pub use pipeline::{OptLevel, PassReport, optimize};
