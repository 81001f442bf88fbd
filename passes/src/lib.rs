//! Graph passes and analyses. Each pass is a plain function; [`pipeline`] lists them in
//! order and says why. Static memory planning lives in [`memory`]. [`compile`] runs the
//! whole middle of a compilation: verify, lower, optimise, plan, check.

pub mod cleanup;
pub mod compile;
pub mod fold;
pub mod fuse;
pub mod fuse_int;
pub mod kernels;
pub mod lower;
pub mod memory;
pub mod pipeline;
pub mod ptq;
pub mod quantize;
pub mod rewrite;
pub mod schedule;

pub use compile::{CompileError, CompileOptions, Optimized, Planned, compile};
pub use memory::{
    Buffer, MemoryPlan, Placement, PlanOptions, PoolPlan, plan_memory, plan_memory_with,
};
pub use pipeline::{OptLevel, PassReport, optimize};
