//! Graph passes and analyses. Each pass is a plain function; [`pipeline`] lists them in
//! order. Static memory planning lives in [`memory`].

pub mod memory;

pub use memory::{Buffer, MemoryPlan, Placement, PoolPlan, plan_memory};
