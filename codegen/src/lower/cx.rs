//! The lowering state of one node: which operands its kernel call uses, and the call.
//! Operands are named by slot (`x0`, `y0`, ...); the module lowering binds them to storage
//! afterwards, so the family lowerings know nothing about the arena, statics or the
//! caller's buffers.

use crate::kernels::Tiling;
use crate::kernels::{Kernel, KernelSet};
use crate::program::{Arg, Call, Packing};
use kiln_ir::{DType, Graph, Node, Tensor, TensorType};
use std::collections::BTreeMap;

/// The emission state of one node: which operands its call uses, and the call itself.
pub(crate) struct NodeCx<'a> {
    pub(super) graph: &'a Graph,
    pub(crate) node: &'a Node,
    pub(super) kernels: &'a mut KernelSet,
    reads: BTreeMap<usize, String>,
    writes: BTreeMap<usize, String>,
    /// Constant inputs read in a packed layout (their own statics).
    packed: BTreeMap<usize, Packing>,
    pub(super) calls: Vec<Call>,
    /// The micro-kernel shape for GEMM-like work on this target, if the fast kernels are on.
    pub(super) tiling: Option<Tiling>,
    /// The target lowered for (the integer kernels use the Arm DSP extension's SMLAD where
    /// it has it: integer sums are exact, so with the reference kernels too).
    pub(super) target: kiln_ir::Target,
    /// Whether the node's kernel uses its scratch space (`s0`).
    scratch: bool,
    /// Elements of scratch space the memory plan gave the node (0: none).
    pub(super) scratch_room: usize,
    /// Store the SMLAD row convolutions' weights as 16-bit pairs (see `lower`).
    pub(super) dsp_pairs: bool,
}

/// What a node's lowering produced: operands to bind (slot, local) and the call.
pub(crate) struct NodeCode {
    pub reads: Vec<(usize, String)>,
    pub writes: Vec<(usize, String)>,
    pub packed: BTreeMap<usize, Packing>,
    /// The local of the node's scratch space, if its kernel uses it.
    pub scratch: Option<String>,
    pub calls: Vec<Call>,
}

impl<'a> NodeCx<'a> {
    pub(crate) fn new(
        graph: &'a Graph,
        node: &'a Node,
        kernels: &'a mut KernelSet,
        tiling: Option<Tiling>,
        scratch_room: usize,
    ) -> Self {
        NodeCx {
            graph,
            node,
            kernels,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            packed: BTreeMap::new(),
            calls: Vec::new(),
            tiling,
            target: kiln_ir::Target::default(),
            scratch: false,
            scratch_room,
            dsp_pairs: false,
        }
    }

    /// The target for the kernels taken where the memory plan gave them their scratch
    /// (so those that need `--intrinsics` too: a plan made without it gave them none).
    pub(super) fn scratch_target(&self) -> kiln_passes::kernels::KernelTarget {
        kiln_passes::kernels::KernelTarget {
            target: self.target,
            intrinsics: true,
            reference_float: false,
        }
    }

    /// The node's scratch space in the arena (the memory plan sized it with
    /// `kiln_passes::kernels::scratch_len`), as an operand.
    pub(super) fn arg_scratch(&mut self) -> Arg {
        self.scratch = true;
        Arg::Operand("s0".into())
    }

    /// Constant input `slot` as an operand packed for a micro-kernel (see [`Packing`]).
    pub(super) fn arg_packed(&mut self, slot: usize, packing: Packing) -> Result<Arg, String> {
        if self.const_input(slot).is_none() {
            return Err(format!(
                "input {slot} is not a constant and cannot be packed"
            ));
        }
        self.packed.insert(slot, packing);
        self.arg_in(slot)
    }

    /// Whether the op has input `slot` (an epilogue's extra inputs do not count).
    pub(super) fn has_input(&self, slot: usize) -> bool {
        matches!(self.node.op_inputs().get(slot), Some(Some(_)))
    }

    pub(super) fn in_ty(&self, slot: usize, what: &str) -> Result<&'a TensorType, String> {
        match self.node.inputs.get(slot) {
            Some(Some(v)) => Ok(&self.graph.value(*v).ty),
            _ => Err(format!("input {slot} ({what}) is missing")),
        }
    }

    pub(super) fn const_input(&self, slot: usize) -> Option<&'a Tensor> {
        let v = (*self.node.inputs.get(slot)?)?;
        self.graph.value(v).const_tensor()
    }

    pub(super) fn out_ty(&self, slot: usize) -> Result<&'a TensorType, String> {
        self.node
            .outputs
            .get(slot)
            .map(|&v| &self.graph.value(v).ty)
            .ok_or_else(|| format!("output {slot} is missing"))
    }

    /// The local holding input `slot` (shared).
    pub(super) fn read(&mut self, slot: usize) -> Result<String, String> {
        self.in_ty(slot, "operand")?;
        let name = format!("x{slot}");
        self.reads.insert(slot, name.clone());
        Ok(name)
    }

    /// The local holding output `slot` (exclusive).
    pub(super) fn write(&mut self, slot: usize) -> Result<String, String> {
        self.out_ty(slot)?;
        let name = format!("y{slot}");
        self.writes.insert(slot, name.clone());
        Ok(name)
    }

    pub(super) fn use_kernel(&mut self, k: Kernel, dtype: DType) -> Result<(), String> {
        self.kernels.use_kernel(k, dtype)
    }

    /// Adds a call of `func`, of the library kernel `kernel` (`None`: a builtin such as
    /// `copy`), to the node's calls.
    pub(super) fn call(&mut self, kernel: Option<Kernel>, func: &'static str, args: Vec<Arg>) {
        self.calls.push(Call { func, kernel, args });
    }

    /// The operand argument of input `slot` (see [`NodeCx::read`]).
    pub(super) fn arg_in(&mut self, slot: usize) -> Result<Arg, String> {
        Ok(Arg::Operand(self.read(slot)?))
    }

    /// The operand argument of output `slot` (see [`NodeCx::write`]).
    pub(super) fn arg_out(&mut self, slot: usize) -> Result<Arg, String> {
        Ok(Arg::Operand(self.write(slot)?))
    }

    /// Input `slot` as an optional operand: absent when the node omits it.
    pub(super) fn arg_opt(&mut self, slot: usize) -> Result<Arg, String> {
        Ok(Arg::Opt(if self.has_input(slot) {
            Some(self.read(slot)?)
        } else {
            None
        }))
    }

    /// Output `slot` as an optional operand: absent when the node has no such output.
    pub(super) fn arg_opt_out(&mut self, slot: usize) -> Result<Arg, String> {
        Ok(Arg::Opt(if slot < self.node.outputs.len() {
            Some(self.write(slot)?)
        } else {
            None
        }))
    }

    pub(crate) fn finish(self) -> NodeCode {
        NodeCode {
            reads: self.reads.into_iter().collect(),
            writes: self.writes.into_iter().collect(),
            packed: self.packed,
            scratch: self.scratch.then(|| "s0".to_string()),
            calls: self.calls,
        }
    }
}
