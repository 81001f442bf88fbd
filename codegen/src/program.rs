//! The kernel program: what the lowering decides, as data, before any text is printed.
//!
//! A [`Program`] is the schedule as an ordered list of [`Step`]s. Each step is one kernel
//! instance: which kernel ([`Call::func`], from the kernel library), its compile-time
//! arguments, its operands (each bound to an arena region, a weight static, a caller's
//! input or output), its fused epilogue, and its cost. The program also lists the statics
//! and the kernels and math routines it uses. Printers (today Rust, in `rust/`) turn it into
//! text and decide nothing: every choice a printer could make — which kernel, what layout,
//! which element function — is a field here, so it can be shown (`kiln inspect --kernels`),
//! tested and diffed.

use crate::api::Signature;
use crate::kernels::{Kernel, MathFn};
use kiln_ir::ops::gather::Reduction;
use kiln_ir::ops::rnn::RnnActivation;
use kiln_ir::ops::{
    Activation, BinaryOp, CompareOp, Epilogue, LogicalOp, PredicateOp, ReduceKind, UnaryOp,
    VariadicOp,
};
use kiln_ir::{DType, TensorData};
use serde::Serialize;

/// Version of the JSON form of the program (`kiln inspect --json`); bump it when a field
/// changes meaning or disappears.
pub const PROGRAM_SCHEMA_VERSION: u32 = 1;

/// The lowered model.
#[derive(Clone, Debug)]
pub struct Program {
    /// What the generated code may assume about the machine.
    pub target: kiln_ir::Target,
    pub signature: Signature,
    pub steps: Vec<Step>,
    /// Constants in order of first use.
    pub statics: Vec<Static>,
    /// The kernels the steps call (with those they depend on) and the element types each
    /// runs on, and the math routines (exp, tanh, ...) they need.
    pub library: crate::kernels::KernelSet,
    /// Graph outputs no step writes: copied from an input, a static or another output.
    pub output_copies: Vec<OutputCopy>,
    /// Input fields no step reads (still part of the signature).
    pub unread_inputs: Vec<String>,
    pub uses_inputs: bool,
    pub uses_outputs: bool,
    pub uses_arena: bool,
    pub pools: Vec<PoolInfo>,
    pub arena_bytes: usize,
    pub lower_bound_bytes: usize,
    /// The memory planner's algorithm, for the header.
    pub plan_algorithm: &'static str,
}

impl Program {
    pub fn weight_bytes(&self) -> usize {
        self.statics.iter().map(|s| s.bytes).sum()
    }

    pub fn macs(&self) -> u64 {
        self.steps.iter().map(|s| s.macs).sum()
    }
}

/// One non-empty pool of the arena.
#[derive(Clone, Debug, Serialize)]
pub struct PoolInfo {
    #[serde(serialize_with = "ser_dtype")]
    pub dtype: DType,
    pub len: usize,
    pub lower_bound: usize,
}

impl PoolInfo {
    pub fn bytes(&self) -> usize {
        self.len * self.dtype.size_bytes()
    }
}

/// One scheduled node, lowered.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Position in the schedule (the step number in comments and `inspect --kernels`).
    pub index: usize,
    /// The node's name, ONNX op and opset.
    pub node: String,
    pub onnx_op: String,
    pub opset: i64,
    /// The IR op's name (e.g. `Conv`, `Binary(Add)`).
    pub op: String,
    /// Output types, as `f32[1, 16, 32, 32]`.
    pub outputs: Vec<String>,
    /// ONNX nodes merged into this step by the passes (folded constants, fused epilogues),
    /// in the order they were merged.
    pub merged: Vec<MergedNode>,
    /// The fused epilogue, applied as each output block is finished.
    #[serde(serialize_with = "ser_display_vec")]
    pub epilogue: Vec<Epilogue>,
    pub kind: StepKind,
    /// Layout of the step's main tensors, e.g. `NCHW`.
    pub layout: &'static str,
    pub macs: u64,
    /// Bytes of operands read and written (weights included).
    pub bytes: u64,
}

impl Step {
    /// The kernel this step calls, if it calls one.
    pub fn kernel_name(&self) -> &str {
        match &self.kind {
            StepKind::Call { calls, .. } => calls.first().map_or("(none)", |c| c.func),
            StepKind::View => "(view)",
            StepKind::ConcatInPlace => "(concat in place)",
            StepKind::Empty => "(empty)",
            StepKind::IdentityInPlace => "(identity in place)",
        }
    }
}

/// An ONNX node the passes merged into a step.
#[derive(Clone, Debug, Serialize)]
pub struct MergedNode {
    pub op: String,
    pub name: String,
    /// `folded`, `fused`, `removed` or `bias of Gemm`.
    pub how: &'static str,
}

/// What a step does.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// One kernel call on bound operands.
    Call {
        operands: Vec<Operand>,
        /// The kernel calls, in order (most steps make one).
        calls: Vec<Call>,
    },
    /// The output is a view of the input's storage: nothing to compute.
    View,
    /// A Concat whose inputs were all written in place by their producers.
    ConcatInPlace,
    /// The outputs have no elements.
    Empty,
    /// An identity op (e.g. Relu of unsigned values) in place: nothing to do.
    IdentityInPlace,
}

/// Whether an operand is read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

/// One operand of a step: a node input or output slot bound to storage.
#[derive(Clone, Debug, Serialize)]
pub struct Operand {
    /// The local the call names (`x0`, `y0`, ...).
    pub local: String,
    pub access: Access,
    /// The node's input or output slot.
    pub slot: usize,
    /// The value's name in the model.
    pub value: String,
    #[serde(serialize_with = "ser_dtype")]
    pub dtype: DType,
    pub len: usize,
    pub home: Home,
    /// Where a read value comes from: the step that produced it, if any.
    pub producer: Option<usize>,
}

/// Where an operand lives while `run` executes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Home {
    /// The caller's input array, field `ident`.
    Input { ident: String },
    /// The caller's output array; with a part, the elements of it the value occupies.
    Output {
        ident: String,
        offset: usize,
        len: usize,
        whole: bool,
    },
    /// A weight static.
    Static { name: String },
    /// A region of one arena pool, in elements of the pool's type.
    Arena {
        #[serde(serialize_with = "ser_dtype")]
        pool: DType,
        offset: usize,
        len: usize,
    },
    /// No elements.
    Empty,
}

/// A constant the program stores as a static (in flash on a device).
#[derive(Clone, Debug, Serialize)]
pub struct Static {
    pub name: String,
    /// The value's name in the model.
    pub value: String,
    #[serde(skip)]
    pub id: kiln_ir::ValueId,
    /// Its type, as `f32[16, 3, 3, 3]`.
    pub ty: String,
    /// Element order in memory (the order the kernel reads): `row-major` as in the model,
    /// or the panels of [`Static::packing`].
    pub layout: &'static str,
    /// How the model's tensor is rearranged for the kernel that reads it, if it is.
    pub packing: Option<Packing>,
    pub bytes: usize,
}

/// A weight matrix rearranged at compile time into the order a GEMM micro-kernel reads it,
/// so the kernel walks it front to back. The tensor is viewed as a row-major `rows x cols`
/// matrix (an `[out, in, kh, kw]` convolution weight as `out x in*kh*kw`); it is cut into
/// panels of `width` rows (`RowPanels`) or columns (`ColPanels`), the last one padded with
/// zeros, and each panel is stored one `width`-long group per step along the other axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Packing {
    /// `out[p][c][r] = m[p * width + r][c]`: the left operand of the micro-kernel (its
    /// rows are the output rows, e.g. a convolution's output channels).
    RowPanels {
        rows: usize,
        cols: usize,
        width: usize,
    },
    /// `out[p][r][j] = m[r][p * width + j]`: the right operand (its columns are the output
    /// columns, e.g. a Gemm's or MatMul's constant `B`).
    ColPanels {
        rows: usize,
        cols: usize,
        width: usize,
    },
    /// 3x3 convolution weights (`rows x cols x 3 x 3`) transformed for Winograd's F(2x2,
    /// 3x3), `U = G g G^T` per channel pair, then each of the 16 matrices `U[xi]` (`rows x
    /// cols`) in row panels, one after the other.
    Winograd {
        rows: usize,
        cols: usize,
        width: usize,
    },
    /// i8 weights for the Arm DSP extension's dual 16-bit multiply-accumulate (SMLAD),
    /// `rows` outputs by `chans * kh * kw` (a convolution's `[out, chans, kh, kw]`; a
    /// Gemm's `[chans, rows]` when `transposed`, with `kh = kw = 1`). The reduction axis is
    /// reordered kernel row, kernel column, channel (`chans` rounded up to even, so a pair
    /// of channels never straddles two taps), each kernel row's `kw * chans2` padded to a
    /// multiple of 4; then panels of four outputs, one 4-byte word per output and quad of
    /// the axis, whose bytes are the quad's elements 0, 2, 1, 3: `SXTB16` of the word gives
    /// the pair (0, 1), of the word shifted right by 8 the pair (2, 3).
    ///
    /// With `pairs`, each such word is stored as the two `u32` words those `SXTB16`s give
    /// (sign-extended 16-bit pairs): twice the flash, no `SXTB16` in the kernel's loop
    /// (C on a device whose flash holds them; see `kiln_codegen::lower`).
    DspQuads {
        rows: usize,
        chans: usize,
        kh: usize,
        kw: usize,
        transposed: bool,
        pairs: bool,
    },
    /// i8 weights for the host's u8-by-i8 quad kernels (x86's VNNI `VPDPBUSD` with
    /// `--intrinsics`): `rows` outputs by `chans * kh * kw`, shaped as for `DspQuads`. The
    /// reduction axis is reordered kernel row, kernel column, channel (`chans` rounded up
    /// to a multiple of 4, so a quad never straddles two taps); then panels of sixteen
    /// outputs, sixteen 4-byte words per quad of the axis (one per output, the quad's
    /// elements in order): one 64-byte vector per quad and panel.
    Quads {
        rows: usize,
        chans: usize,
        kh: usize,
        kw: usize,
        transposed: bool,
    },
    /// i8 weights of a depthwise convolution with kernels three wide (`[chans, 1, kh, 3]`)
    /// for the SMLAD depthwise kernel: per channel and kernel row, eight bytes `w0 w2 w1 0
    /// w0 w1 0 w2`, so `SXTB16` of the first word gives the pair (w0, w1), of it shifted
    /// by 8 (w2, 0), and of the second word (w0, 0) and (w1, w2): the weights of two
    /// neighbouring outputs against pairs of neighbouring inputs.
    DspDepthwise { chans: usize, kh: usize },
}

impl Packing {
    /// Elements of the packed array (padding included).
    pub fn len(&self) -> usize {
        match *self {
            Packing::RowPanels { rows, cols, width } => rows.div_ceil(width) * width * cols,
            Packing::ColPanels { rows, cols, width } => cols.div_ceil(width) * width * rows,
            Packing::Winograd { rows, cols, width } => 16 * rows.div_ceil(width) * width * cols,
            Packing::DspQuads { rows, pairs, .. } => {
                rows.div_ceil(4) * 4 * self.dsp_cols() / if pairs { 2 } else { 1 }
            }
            Packing::Quads { rows, .. } => rows.div_ceil(16) * 16 * self.quad_cols(),
            Packing::DspDepthwise { chans, kh } => chans * kh * 8,
        }
    }

    /// The padded length of one kernel row of a [`Packing::DspQuads`] reduction axis (0
    /// for the others): a multiple of 4.
    pub fn dsp_segment(&self) -> usize {
        match *self {
            Packing::DspQuads { chans, kw, .. } => {
                (kw * chans.next_multiple_of(2)).next_multiple_of(4)
            }
            _ => 0,
        }
    }

    /// The padded length of a [`Packing::DspQuads`] reduction axis (0 for the others): the
    /// column of 16-bit activations its kernels build holds half as many words.
    pub fn dsp_cols(&self) -> usize {
        match *self {
            Packing::DspQuads { kh, .. } => self.dsp_segment() * kh,
            _ => 0,
        }
    }

    /// The padded length of a [`Packing::Quads`] reduction axis (0 for the others):
    /// `kh * kw` taps of the channels rounded up to a multiple of 4.
    pub fn quad_cols(&self) -> usize {
        match *self {
            Packing::Quads { chans, kh, kw, .. } => kh * kw * chans.next_multiple_of(4),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type of the packed array for a tensor of `dtype`: `u32` for SMLAD
    /// quads stored as 16-bit pairs, else `dtype`.
    pub fn stored_dtype(&self, dtype: kiln_ir::DType) -> kiln_ir::DType {
        match self {
            Packing::DspQuads { pairs: true, .. } => kiln_ir::DType::U32,
            _ => dtype,
        }
    }

    pub fn layout(&self) -> &'static str {
        match self {
            Packing::RowPanels { .. } => "row panels",
            Packing::ColPanels { .. } => "column panels",
            Packing::Winograd { .. } => "Winograd F(2x2, 3x3) row panels",
            Packing::DspQuads { pairs: false, .. } => "SMLAD quads of four-output panels",
            Packing::DspQuads { pairs: true, .. } => {
                "SMLAD quads of four-output panels, as 16-bit pairs"
            }
            Packing::Quads { .. } => "u8-by-i8 quads of sixteen-output panels",
            Packing::DspDepthwise { .. } => "SMLAD pairs of depthwise kernel rows",
        }
    }

    /// Where each element of the packed array comes from: an index into the row-major
    /// matrix, or `None` for padding (for `Winograd`, an index into one of the 16
    /// transformed matrices).
    pub fn source(&self, at: usize) -> Option<usize> {
        match *self {
            Packing::Winograd { rows, cols, width } => {
                let block = rows.div_ceil(width) * width * cols;
                let inner = Packing::RowPanels { rows, cols, width };
                inner.source(at % block)
            }
            Packing::RowPanels { rows, cols, width } => {
                let (p, rest) = (at / (width * cols), at % (width * cols));
                let (c, r) = (rest / width, rest % width);
                let row = p * width + r;
                (row < rows).then_some(row * cols + c)
            }
            Packing::ColPanels { rows, cols, width } => {
                let (p, rest) = (at / (width * rows), at % (width * rows));
                let (r, j) = (rest / width, rest % width);
                let col = p * width + j;
                (col < cols).then_some(r * cols + col)
            }
            Packing::DspQuads {
                rows,
                chans,
                kh,
                kw,
                transposed,
                ..
            } => {
                let (cols, seg) = (self.dsp_cols(), self.dsp_segment());
                let (p, rest) = (at / (4 * cols), at % (4 * cols));
                let (q, t, e) = (rest / 16, rest / 4 % 4, rest % 4);
                let kk = 4 * q + [0, 2, 1, 3][e];
                let c2 = chans.next_multiple_of(2);
                let (ki, in_row) = (kk / seg, kk % seg);
                let (kj, chan) = (in_row / c2, in_row % c2);
                let row = p * 4 + t;
                (row < rows && chan < chans && kj < kw && ki < kh).then(|| {
                    if transposed {
                        chan * rows + row
                    } else {
                        ((row * chans + chan) * kh + ki) * kw + kj
                    }
                })
            }
            Packing::Quads {
                rows,
                chans,
                kh,
                kw,
                transposed,
            } => {
                let cols = self.quad_cols();
                let (p, rest) = (at / (16 * cols), at % (16 * cols));
                let (q, t, e) = (rest / 64, rest / 4 % 16, rest % 4);
                let (tap, chan) = (
                    (4 * q + e) / chans.next_multiple_of(4),
                    (4 * q + e) % chans.next_multiple_of(4),
                );
                let (ki, kj) = (tap / kw, tap % kw);
                let row = p * 16 + t;
                (row < rows && chan < chans && ki < kh).then(|| {
                    if transposed {
                        chan * rows + row
                    } else {
                        ((row * chans + chan) * kh + ki) * kw + kj
                    }
                })
            }
            Packing::DspDepthwise { chans, kh } => {
                let (row, e) = (at / 8, at % 8);
                let kj = [
                    Some(0),
                    Some(2),
                    Some(1),
                    None,
                    Some(0),
                    Some(1),
                    None,
                    Some(2),
                ][e]?;
                (row < chans * kh).then_some(row * 3 + kj)
            }
        }
    }

    /// The packed copy of `t` (whose element count must be `rows * cols`), zeros where
    /// the panels are padded.
    pub fn apply(&self, t: &kiln_ir::Tensor) -> Result<kiln_ir::Tensor, String> {
        let (rows, cols, taps) = match *self {
            Packing::RowPanels { rows, cols, .. } | Packing::ColPanels { rows, cols, .. } => {
                (rows, cols, 1)
            }
            Packing::Winograd { rows, cols, .. } => (rows, cols, 9),
            Packing::DspDepthwise { chans, kh } => (chans, 1, kh * 3),
            Packing::DspQuads {
                rows,
                chans,
                kh,
                kw,
                ..
            }
            | Packing::Quads {
                rows,
                chans,
                kh,
                kw,
                ..
            } => (rows, chans, kh * kw),
        };
        if t.numel() != rows * cols * taps {
            let of = if taps == 1 { "" } else { " of 3x3 kernels" };
            return Err(format!(
                "cannot pack {} elements as a {rows} x {cols} matrix{of}",
                t.numel()
            ));
        }
        if let (
            TensorData::I8(v),
            Packing::RowPanels { .. }
            | Packing::ColPanels { .. }
            | Packing::DspQuads { .. }
            | Packing::Quads { .. }
            | Packing::DspDepthwise { .. },
        ) = (&t.data, self)
        {
            // kiln's integer kernels' weights.
            if let Packing::DspQuads { pairs: true, .. } = *self {
                // Each word's bytes 0, 1, 2, 3 as SXTB16 gives them: (0, 2), then (1, 3).
                let byte = |i: usize| self.source(i).map_or(0, |s| v[s]) as i16 as u16 as u32;
                let out: Vec<u32> = (0..self.len())
                    .map(|i| {
                        let (word, hi) = (i / 2 * 4, i % 2);
                        byte(word + hi) | byte(word + hi + 2) << 16
                    })
                    .collect();
                return kiln_ir::Tensor::new(vec![out.len()], TensorData::U32(out));
            }
            let out: Vec<i8> = (0..self.len())
                .map(|i| self.source(i).map_or(0, |s| v[s]))
                .collect();
            return kiln_ir::Tensor::new(vec![out.len()], TensorData::I8(out));
        }
        if matches!(
            self,
            Packing::DspQuads { .. } | Packing::Quads { .. } | Packing::DspDepthwise { .. }
        ) {
            return Err(format!("quads are for i8 weights, not {}", t.dtype()));
        }
        let TensorData::F32(v) = &t.data else {
            return Err(format!("packing is for f32 weights, not {}", t.dtype()));
        };
        let out: Vec<f32> = match *self {
            Packing::Winograd { rows, cols, .. } => {
                let u = winograd_weights(v, rows * cols);
                let block = self.len() / 16;
                (0..self.len())
                    .map(|i| self.source(i).map_or(0.0, |s| u[i / block][s]))
                    .collect()
            }
            _ => (0..self.len())
                .map(|i| self.source(i).map_or(0.0, |s| v[s]))
                .collect(),
        };
        kiln_ir::Tensor::new(vec![out.len()], TensorData::F32(out))
    }
}

/// `G g G^T` for each of the `pairs` 3x3 kernels in `g` (row-major), in f64 and rounded
/// once; `out[xi][pair]` with `xi = 4 * a + b` for row `a`, column `b` of the 4x4 result.
/// `G` is F(2x2, 3x3)'s weight transform (Lavin and Gray, 2016).
fn winograd_weights(g: &[f32], pairs: usize) -> Vec<Vec<f32>> {
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut out = vec![vec![0.0f32; pairs]; 16];
    for (p, k) in g.chunks_exact(9).take(pairs).enumerate() {
        for a in 0..4 {
            for b in 0..4 {
                let mut sum = 0.0f64;
                for i in 0..3 {
                    for j in 0..3 {
                        sum += G[a][i] * f64::from(k[i * 3 + j]) * G[b][j];
                    }
                }
                out[a * 4 + b][p] = sum as f32;
            }
        }
    }
    out
}

/// A graph output no step writes.
#[derive(Clone, Debug, Serialize)]
pub struct OutputCopy {
    /// The output field written.
    pub ident: String,
    pub from: Home,
}

/// A kernel call: the library function and its arguments.
#[derive(Clone, Debug, Serialize)]
pub struct Call {
    pub func: &'static str,
    /// The library kernel it belongs to.
    #[serde(skip)]
    pub kernel: Option<Kernel>,
    pub args: Vec<Arg>,
}

/// One argument of a kernel call. Every variant is a fact, not text: the printer spells it.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "arg", content = "value", rename_all = "snake_case")]
pub enum Arg {
    /// The operand bound to this local (see [`Operand::local`]).
    Operand(String),
    /// An optional operand.
    Opt(Option<String>),
    Usize(usize),
    Bool(bool),
    /// A scalar of the given element type.
    Scalar(#[serde(serialize_with = "ser_dtype")] DType, f64),
    /// A run of sizes borrowed as a slice (`&[..]`).
    Sizes(Vec<usize>),
    /// A fixed-size array of sizes (`[..]`).
    Array(Vec<usize>),
    /// A fixed-size array of signed integers.
    Ints(Vec<i64>),
    /// A tuple of arguments.
    Tuple(Vec<Arg>),
    /// A list of arguments borrowed as a slice (`&[a, b]`).
    List(Vec<Arg>),
    /// A parameter struct of the kernel library, by reference when `by_ref`.
    Struct {
        name: &'static str,
        by_ref: bool,
        fields: Vec<(&'static str, Arg)>,
    },
    /// An element function (a closure in Rust).
    Fn(ElemFn),
    /// The block epilogue of an anchor kernel: applied to each finished run of outputs,
    /// given the run's first flat index.
    Epilogue(#[serde(serialize_with = "ser_dtype")] DType, EpilogueSteps),
    /// A math routine of the library passed as a function.
    Math(
        #[serde(serialize_with = "ser_debug")] MathFn,
        #[serde(serialize_with = "ser_dtype")] DType,
    ),
    /// A single zero of an element type (an omitted zero point), borrowed as a slice.
    ZeroSlice(#[serde(serialize_with = "ser_dtype")] DType),
    // Elementwise, logical, view, pad, einsum families.
    /// An optional parameter (`Some(arg)` or `None`), e.g. Clip's bounds.
    Maybe(Option<Box<Arg>>),
    /// The first element of an operand, if it has one (an optional run-time scalar).
    First(String),
    /// An integer, exact (f64 cannot hold every 64-bit value); its type is the parameter's.
    Int(i128),
    /// A fixed-size array of arguments (`[a, b]`).
    Items(Vec<Arg>),
    /// Elements `start..start + len` of an operand (the destination of a builtin `copy`).
    Range {
        local: String,
        start: usize,
        len: usize,
    },
    // Gather, norm, quant, reduce, resize, rnn families.
    /// Constant elements, exact in their own type, borrowed as a slice (`&[..]`).
    Data(#[serde(serialize_with = "ser_data")] TensorData),
    /// The one element of a constant, exact in its own type.
    Const(#[serde(serialize_with = "ser_data")] TensorData),
    /// A zeroed scratch array of `len` elements on the stack, borrowed mutably.
    Scratch(#[serde(serialize_with = "ser_dtype")] DType, usize),
    /// [`Arg::Scratch`] for a kernel that writes every element before it reads it: C
    /// leaves it uninitialized (zeroing it was 2% of an int8 autoencoder on a Cortex-M4);
    /// Rust zeroes it, as it must.
    Workspace(#[serde(serialize_with = "ser_dtype")] DType, usize),
}

/// Epilogue steps with the locals of their extra operands (residual Adds).
#[derive(Clone, Debug, Serialize)]
pub struct EpilogueSteps {
    #[serde(serialize_with = "ser_display_vec")]
    pub steps: Vec<Epilogue>,
    /// For each step, the local of its operand (residual Add) if any.
    pub operands: Vec<Option<String>>,
}

impl EpilogueSteps {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether a step reads the flat index (a residual Add).
    pub fn uses_index(&self) -> bool {
        self.operands.iter().any(Option::is_some)
    }
}

/// A lookup table after an integer kernel's requantization: 256 entries of the output's
/// 8-bit type from its minimum. With `words` the Rust table holds them as 32-bit words,
/// which a target with vector gathers (`Target::has_gather`) reads sixteen at a time
/// (ddddocr_det's int8 form ran 7% faster with words than with bytes on AVX-512, measured
/// when the quad kernels still looked their tables up in these closures).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutTable {
    pub entries: Vec<i32>,
    pub words: bool,
}

/// An element function: what a map-like kernel applies to each element. The lowering picks
/// it and checks its types; the printer spells it (a closure in Rust).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "fn", rename_all = "snake_case")]
pub enum ElemFn {
    /// `a op b`: IEEE for floats, wrapping for integers, `x / 0 = 0`. `swapped`: the function
    /// takes the right operand first (an in-place kernel overwriting it).
    Binary {
        #[serde(serialize_with = "ser_debug")]
        op: BinaryOp,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        swapped: bool,
    },
    Unary {
        #[serde(serialize_with = "ser_debug")]
        op: UnaryOp,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    Activation {
        #[serde(serialize_with = "ser_debug")]
        act: Activation,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// Softplus `ln(1 + e^v)`.
    Softplus {
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    Cast {
        #[serde(serialize_with = "ser_dtype")]
        from: DType,
        #[serde(serialize_with = "ser_dtype")]
        to: DType,
    },
    Compare {
        #[serde(serialize_with = "ser_debug")]
        op: CompareOp,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    Logical {
        #[serde(serialize_with = "ser_debug")]
        op: LogicalOp,
    },
    Not,
    /// IsNaN, IsInf of a float value (f32 or f64): a bool.
    Predicate {
        #[serde(serialize_with = "ser_debug")]
        op: PredicateOp,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    Variadic {
        #[serde(serialize_with = "ser_debug")]
        op: VariadicOp,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// One of a Reduce's group functions.
    Reduce {
        #[serde(serialize_with = "ser_debug")]
        kind: ReduceKind,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// `f` followed by an index-free epilogue, in one function of `arity` arguments.
    Then {
        f: Box<ElemFn>,
        arity: usize,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        #[serde(serialize_with = "ser_display_vec")]
        epilogue: Vec<Epilogue>,
    },
    // Elementwise (variadic, PRelu, Mod, BitShift, Pow) and LpPool.
    /// The left operand, the right ignored (a broadcast copy).
    Left {
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// `v / divisor` (Mean's division by the input count).
    DivBy {
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        divisor: f64,
    },
    /// PRelu of a signed or float value `p` with slope `q`.
    PRelu {
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// Mod (`kiln_ir::ops::elementwise::eval_mod`): truncated when `fmod`, else floored.
    Mod {
        fmod: bool,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// A shift of an unsigned value; by the bit width or more gives 0.
    BitShift {
        left: bool,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// Pow of a `base` element by an `exp` element.
    Pow {
        #[serde(serialize_with = "ser_dtype")]
        base: DType,
        #[serde(serialize_with = "ser_dtype")]
        exp: DType,
    },
    /// Pow by a constant exponent of the base's (float) type: 0, -1, 2, 3 and ±0.5 as
    /// arithmetic or a square root, others through `Pow`.
    PowConst {
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        exp: f64,
    },
    /// LpPool's `|v|^p` of each element.
    LpPower {
        p: u32,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// LpPool's `s^(1/p)` of each window's sum.
    LpRoot {
        p: u32,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    // Gather, quant, reduce and rnn families (spelt in `rust/elem_data.rs`).
    /// ArgMax (`max`) or ArgMin of a group: the position of the best element, the last of
    /// equals when `last`; NaN beats every number, as numpy's argmax.
    ArgReduce {
        max: bool,
        last: bool,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// A scatter's combination of the old value `p` with the update `q`.
    Combine {
        #[serde(serialize_with = "ser_debug")]
        reduction: Reduction,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// An index of type `dtype` as i64 (OneHot's indices).
    ToIndex {
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// A recurrent op's activation, as a function that coerces to `fn(T) -> T`.
    RnnAct {
        #[serde(serialize_with = "ser_debug")]
        act: RnnActivation,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// The exact i32 sum of an integer kernel, unchanged; `channel`: the function also
    /// takes the output channel (ConvInteger).
    IntSum {
        channel: bool,
    },
    /// `round((sum + bias[m]) * x_scale * w_scale[m] / y_scale) + y_zero`, saturated to
    /// `lo..=hi` and cast to `dtype`: the factor in the scales' precision, the product in
    /// f64. `channel` (QLinearConv): the factor per output channel `m` (a one-element
    /// `w_scale` for all); else (QLinearMatMul) one factor, computed once, rounded to f16
    /// after each operation when `half_scales`.
    Requantize {
        x_scale: String,
        w_scale: String,
        y_scale: String,
        y_zero: String,
        bias: Option<String>,
        channel: bool,
        half_scales: bool,
        lo: f64,
        hi: f64,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
    },
    /// kiln's integer requantization (`ir::ops::qint::Requant`): `|c: i32, m: usize|`
    /// (`|c: i32|` without `channel`) gives `zero + round_half_even(f32(f32(c + bias[m]) *
    /// factor[m]))` in integers, clamped to `lo..=hi`, as `dtype`; `factor = mult /
    /// 2^shift`, one for every `m` or one per output channel. With `fpu` (a target with
    /// single-precision floating point) the Rust closure computes exactly that in f32, as
    /// onnxruntime does, which is cheaper there than the integer emulation. With `dsp` too
    /// (the closure of an SMLAD kernel) it calls `requant_dsp`, which the SMLAD kernels'
    /// tile file defines: with `--intrinsics`, on Arm, rounding by `VCVTR`.
    FixedRequant {
        fpu: bool,
        dsp: bool,
        channel: bool,
        bias: Option<String>,
        /// The sum plus the bias cannot overflow 32 bits (at most 255 * 255 for each of its
        /// terms, and the bias's largest magnitude, below 2^31), so the C closure adds them
        /// without a test.
        sum_fits: bool,
        mult: Vec<i32>,
        shift: Vec<u32>,
        zero: i32,
        lo: i32,
        hi: i32,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        /// A table fused after the requantization (`ir::ops::qint::IntConvAttrs`),
        /// applied to the clamped value.
        #[serde(skip_serializing_if = "Option::is_none")]
        table: Option<OutTable>,
    },
    /// IntAdd (`add`) or IntMul of two quantized elements (see
    /// `ir::ops::qint::IntBinaryKind`).
    IntBinary {
        add: bool,
        a_zero: i32,
        b_zero: i32,
        ma: i64,
        mb: i64,
        shift: u32,
        zero: i32,
        lo: i32,
        hi: i32,
        #[serde(serialize_with = "ser_dtype")]
        a: DType,
        #[serde(serialize_with = "ser_dtype")]
        b: DType,
        #[serde(serialize_with = "ser_dtype")]
        to: DType,
    },
    /// `|v: i64|` gives `zero + v` clamped to `lo..=hi`, as `dtype` (IntSoftmax's output,
    /// and the quad kernels' final step), then through `table` where there is one (as
    /// `FixedRequant`'s).
    IntOut {
        zero: i32,
        lo: i32,
        hi: i32,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        #[serde(skip_serializing_if = "Option::is_none")]
        table: Option<OutTable>,
    },
    /// IntLut: `table[v - min(from)]` of an 8-bit element, as `to`.
    Table {
        table: Vec<i32>,
        #[serde(serialize_with = "ser_dtype")]
        from: DType,
        #[serde(serialize_with = "ser_dtype")]
        to: DType,
    },
    /// QuantizeLinear of `v` with the `k`th `scale` and `zero` point: rounded to even in
    /// f32 and saturated to `lo..=hi` (NaN to 0).
    Quantize {
        scale: String,
        /// The scale's element type (f32 needs no conversion).
        #[serde(serialize_with = "ser_dtype")]
        scale_dtype: DType,
        zero: Option<String>,
        /// Every zero point is 0 (none given, or a constant of zeros).
        zero_is_zero: bool,
        lo: f64,
        hi: f64,
        #[serde(serialize_with = "ser_dtype")]
        from: DType,
        #[serde(serialize_with = "ser_dtype")]
        to: DType,
    },
    /// DequantizeLinear: the exact integer difference from the `k`th `zero` point, times
    /// the `k`th `scale` in f32.
    Dequantize {
        scale: String,
        /// The scale's element type.
        #[serde(serialize_with = "ser_dtype")]
        scale_dtype: DType,
        zero: Option<String>,
        #[serde(serialize_with = "ser_dtype")]
        from: DType,
        #[serde(serialize_with = "ser_dtype")]
        to: DType,
    },
    /// A function the family's lowering describes by a name and its scalar parameters;
    /// the printer's table of family functions spells it (see `rust/elem.rs`).
    Named {
        name: &'static str,
        #[serde(serialize_with = "ser_dtype")]
        dtype: DType,
        /// Secondary element type (e.g. the output's), when it differs.
        #[serde(serialize_with = "ser_dtype")]
        dtype2: DType,
        /// Scalar parameters.
        params: Vec<f64>,
        /// Operands the function reads (locals).
        operands: Vec<String>,
        /// Further function arguments (nested functions).
        fns: Vec<ElemFn>,
    },
}

impl ElemFn {
    /// A [`ElemFn::Named`] without operands or nested functions.
    pub fn named(name: &'static str, dtype: DType, params: Vec<f64>) -> ElemFn {
        ElemFn::Named {
            name,
            dtype,
            dtype2: dtype,
            params,
            operands: Vec::new(),
            fns: Vec::new(),
        }
    }
}

fn ser_dtype<S: serde::Serializer>(d: &DType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.name())
}

/// Constant elements as their literals.
fn ser_data<S: serde::Serializer>(d: &TensorData, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(d.len()))?;
    for i in 0..d.len() {
        seq.serialize_element(&crate::literal::element(d, i))?;
    }
    seq.end()
}

fn ser_debug<T: std::fmt::Debug, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:?}"))
}

fn ser_display_vec<T: std::fmt::Display, S: serde::Serializer>(
    v: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for x in v {
        seq.serialize_element(&x.to_string())?;
    }
    seq.end()
}
