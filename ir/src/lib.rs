//! kiln's intermediate representation.
//!
//! A [`Graph`] is a petgraph `StableGraph` of [`Node`]s, each carrying one [`Op`] from a closed
//! enum; values (tensors) live beside it with a static [`TensorType`]. This crate also holds
//! shape/type inference ([`Op::infer`]), validation ([`verify`]), a textual dump
//! ([`Graph::dump`]) and the reference semantics of every op ([`eval`]), the oracle that the
//! tests and constant folding use. It depends on no other kiln crate.

pub mod builder;
pub mod eval;
pub mod graph;
pub mod half;
pub mod ops;
pub mod option_names;
pub mod target;
pub mod tensor;
pub mod types;
pub mod verify;

pub use graph::{Graph, Node, NodeId, Value, ValueId, ValueKind};
pub use ops::Op;
pub use option_names::{Limit, OptionNames};
pub use target::Target;
pub use tensor::{Tensor, TensorData};
pub use types::{DType, TensorType};
pub use verify::{Diagnostic, OwnedVerifiedGraph, VerifiedGraph, verify};
