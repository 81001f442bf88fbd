//! The kernel library's catalogue: which kernels exist, what each needs (other kernels,
//! arithmetic capabilities, an element-type bound) and the math routines. A [`KernelSet`]
//! records which kernels, element types and arithmetic a program uses, so a printer emits
//! exactly those and the generated file has no dead code. The kernels' Rust text lives
//! with the Rust printer (`rust/library.rs`).

use kiln_ir::DType;
use std::collections::BTreeSet;

/// A kernel snippet. Order is emission order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kernel {
    Map,
    /// `map` into another element type (Cast).
    Convert,
    /// f16/bf16 bit-pattern conversions (Cast to and from the 16-bit floats).
    Half,
    Broadcast,
    Clip,
    /// The in-place variants: the output overwrites an operand (the memory plan gives both
    /// one buffer), so the kernel reads and writes one `&mut` slice.
    MapInPlace,
    BroadcastInPlace,
    ClipInPlace,
    /// Where: a bool condition choosing between two operands, all three broadcast.
    Select,
    Window,
    PoolTaps,
    Conv,
    ConvTranspose,
    Gemm,
    MatMul,
    /// Resize: the geometry struct, and the nearest and the interpolating kernels.
    ResizeAxes,
    ResizeNearest,
    ResizeInterp,
    /// RNN, GRU and LSTM.
    Rnn,
    Softmax,
    LogSoftmax,
    Hardmax,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    /// The sum of a run in sixteen partial lanes (Softmax's rows, GlobalAveragePool's planes).
    SumLanes,
    BatchNorm,
    BatchNormTrain,
    Transpose,
    Concat,
    /// Affine views (Slice, Split, Expand, Tile, DepthToSpace, SpaceToDepth).
    Strided,
    /// Index wrapping for the indexed kernels below.
    IndexIn,
    Gather,
    ElementTarget,
    GatherElements,
    ScatterElements,
    NdStart,
    GatherNd,
    ScatterNd,
    OneHot,
    Trilu,
    Pad,
    /// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
    Quant,
    /// kiln's integer kernels (IntConv goes through `Quant`'s `int_conv`).
    QInt,
    /// The int8 quad kernels (`--intrinsics`), their tile portable or, when printed with
    /// `RustOptions::intrinsics`, with x86's VNNI intrinsics.
    Quads,
    /// The int8 SMLAD kernels for Arm cores with the DSP extension, their inner loops in safe
    /// arithmetic or, when printed with `RustOptions::intrinsics`, with `SMLAD`/`SXTB16` by
    /// inline assembly.
    Dsp,
    Einsum,
    ReduceMean,
    /// Any reduction, by a closure over each group (and ArgMax/ArgMin).
    Reduce,
    CumSum,
    TopK,
    LayerNorm,
    /// The Mean and InvStdDev outputs of LayerNormalization.
    LayerNormStats,
    GroupNorm,
    LpNorm,
    Lrn,
    Mvn,
    LpPool,
}

/// A method or constant of the generated `Num`/`Float` traits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cap {
    Zero,
    Lowest,
    Plus,
    Minus,
    Times,
    Divide,
    Exp,
    Sqrt,
    FromCount,
}

impl Cap {
    pub(crate) const ALL: [Cap; 9] = [
        Cap::Zero,
        Cap::Lowest,
        Cap::Plus,
        Cap::Minus,
        Cap::Times,
        Cap::Divide,
        Cap::Exp,
        Cap::Sqrt,
        Cap::FromCount,
    ];

    /// The key in the `num.rs.tera` context.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Cap::Zero => "zero",
            Cap::Lowest => "lowest",
            Cap::Plus => "plus",
            Cap::Minus => "minus",
            Cap::Times => "times",
            Cap::Divide => "divide",
            Cap::Exp => "exp",
            Cap::Sqrt => "sqrt",
            Cap::FromCount => "from_count",
        }
    }

    /// How kernel text uses the capability (checked against the declarations in tests).
    #[cfg(test)]
    pub(crate) fn pattern(self) -> &'static str {
        match self {
            Cap::Zero => "T::ZERO",
            Cap::Lowest => "T::LOWEST",
            Cap::Plus => ".plus(",
            Cap::Minus => ".minus(",
            Cap::Times => ".times(",
            Cap::Divide => ".divide(",
            Cap::Exp => ".exp()",
            Cap::Sqrt => ".sqrt()",
            Cap::FromCount => "T::from_count(",
        }
    }

    pub(crate) fn is_float(self) -> bool {
        matches!(self, Cap::Exp | Cap::Sqrt | Cap::FromCount)
    }
}

/// Which trait a kernel's element type must implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// `Copy` (and maybe `PartialOrd`) only.
    Plain,
    Num,
    Float,
}

impl Kernel {
    fn deps(self) -> &'static [Kernel] {
        match self {
            Kernel::Conv => &[Kernel::Window],
            Kernel::MaxPool | Kernel::AvgPool | Kernel::LpPool => {
                &[Kernel::Window, Kernel::PoolTaps]
            }
            Kernel::ResizeNearest | Kernel::ResizeInterp => &[Kernel::ResizeAxes],
            Kernel::Gather | Kernel::OneHot | Kernel::ElementTarget | Kernel::NdStart => {
                &[Kernel::IndexIn]
            }
            Kernel::GatherElements | Kernel::ScatterElements => {
                &[Kernel::IndexIn, Kernel::ElementTarget]
            }
            Kernel::GatherNd | Kernel::ScatterNd => &[Kernel::IndexIn, Kernel::NdStart],
            Kernel::Softmax | Kernel::GlobalAvgPool => &[Kernel::SumLanes],
            _ => &[],
        }
    }

    pub(crate) fn caps(self) -> &'static [Cap] {
        use Cap::*;
        match self {
            Kernel::Conv
            | Kernel::Gemm
            | Kernel::MatMul
            | Kernel::Einsum
            | Kernel::ResizeInterp
            | Kernel::ConvTranspose => &[Zero, Plus, Times],
            Kernel::Softmax => &[Zero, Lowest, Plus, Minus, Divide, Exp],
            Kernel::LogSoftmax => &[Zero, Lowest, Plus, Minus, Exp],
            Kernel::CumSum => &[Zero, Plus],
            Kernel::MaxPool => &[Lowest],
            Kernel::AvgPool => &[Zero, Plus, Divide, FromCount],
            Kernel::GlobalAvgPool => &[Divide, FromCount],
            Kernel::SumLanes => &[Zero, Plus],
            Kernel::BatchNorm => &[Plus, Minus, Times, Divide, Sqrt],
            Kernel::ReduceMean => &[Zero, Plus, Divide, FromCount],
            Kernel::LpPool => &[Zero, Plus],
            Kernel::LpNorm => &[Zero, Plus, Minus, Times, Divide, Sqrt],
            Kernel::Lrn => &[Zero, Plus, Times, Divide, FromCount],
            Kernel::LayerNorm
            | Kernel::LayerNormStats
            | Kernel::GroupNorm
            | Kernel::Mvn
            | Kernel::BatchNormTrain => &[Zero, Plus, Minus, Times, Divide, Sqrt, FromCount],
            Kernel::ResizeAxes | Kernel::ResizeNearest => &[],
            Kernel::Rnn => &[Zero, Plus, Minus, Times],
            Kernel::Map
            | Kernel::Convert
            | Kernel::Half
            | Kernel::Broadcast
            | Kernel::Clip
            | Kernel::MapInPlace
            | Kernel::BroadcastInPlace
            | Kernel::ClipInPlace
            | Kernel::Select
            | Kernel::Window
            | Kernel::PoolTaps
            | Kernel::Transpose
            | Kernel::Concat
            | Kernel::Pad
            | Kernel::Quant
            | Kernel::QInt
            | Kernel::Quads
            | Kernel::Dsp
            | Kernel::Hardmax
            | Kernel::Reduce
            | Kernel::TopK
            | Kernel::Strided
            | Kernel::IndexIn
            | Kernel::Gather
            | Kernel::ElementTarget
            | Kernel::GatherElements
            | Kernel::ScatterElements
            | Kernel::NdStart
            | Kernel::GatherNd
            | Kernel::ScatterNd
            | Kernel::OneHot
            | Kernel::Trilu => &[],
        }
    }

    pub(crate) fn bound(self) -> Bound {
        match self {
            Kernel::Conv
            | Kernel::Gemm
            | Kernel::MatMul
            | Kernel::MaxPool
            | Kernel::Einsum
            | Kernel::CumSum
            | Kernel::ResizeInterp
            | Kernel::Rnn
            | Kernel::ConvTranspose => Bound::Num,
            Kernel::Softmax
            | Kernel::LogSoftmax
            | Kernel::AvgPool
            | Kernel::GlobalAvgPool
            | Kernel::SumLanes
            | Kernel::BatchNorm
            | Kernel::BatchNormTrain
            | Kernel::ReduceMean
            | Kernel::LayerNorm
            | Kernel::LayerNormStats
            | Kernel::GroupNorm
            | Kernel::LpNorm
            | Kernel::Lrn
            | Kernel::Mvn
            | Kernel::LpPool => Bound::Float,
            _ => Bound::Plain,
        }
    }
}

/// Functions core lacks, defined in the generated code per float type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MathFn {
    Exp,
    Sigmoid,
    /// `silu_f32` (f32 only: the SiLU epilogue of other types is `v * sigmoid(v)`).
    Silu,
    Tanh,
    Sqrt,
    Erf,
    /// `pow_f32` wraps `pow_f64`.
    Pow,
    /// `log_f32` wraps `log_f64`.
    Log,
    /// `sin_f32` wraps `sin_f64`.
    Sin,
    /// `cos_f32` wraps `cos_f64`.
    Cos,
    /// The argument reduction and kernels behind `sin_f64` and `cos_f64` (f64 only).
    Trig,
    /// `atan_f64` (f64 only: Atan, Asin and Acos compute in f64).
    Atan,
}

impl MathFn {
    /// Name of the generated function for `dtype` (f32 or f64).
    pub(crate) fn name(self, dtype: DType) -> String {
        let f = match self {
            MathFn::Exp => "exp",
            MathFn::Sigmoid => "sigmoid",
            MathFn::Silu => "silu",
            MathFn::Tanh => "tanh",
            MathFn::Sqrt => "sqrt",
            MathFn::Erf => "erf",
            MathFn::Pow => "pow",
            MathFn::Log => "log",
            MathFn::Sin => "sin",
            MathFn::Cos => "cos",
            MathFn::Trig => "trig",
            MathFn::Atan => "atan",
        };
        format!("{f}_{}", dtype.name())
    }

    /// The functions this one calls on `dtype`: of its own type (`None`) or of another.
    fn deps(self, dtype: DType) -> &'static [(Option<DType>, MathFn)] {
        match self {
            // The f32 logistic has its own exponential of non-positive arguments.
            MathFn::Sigmoid if dtype == DType::F32 => &[],
            MathFn::Sigmoid | MathFn::Tanh => &[(None, MathFn::Exp)],
            MathFn::Pow => &[
                (Some(DType::F64), MathFn::Exp),
                (Some(DType::F64), MathFn::Pow),
            ],
            MathFn::Log => &[(Some(DType::F64), MathFn::Log)],
            MathFn::Sin => &[
                (Some(DType::F64), MathFn::Trig),
                (Some(DType::F64), MathFn::Sin),
            ],
            MathFn::Cos => &[
                (Some(DType::F64), MathFn::Trig),
                (Some(DType::F64), MathFn::Cos),
            ],
            MathFn::Exp
            | MathFn::Silu
            | MathFn::Sqrt
            | MathFn::Erf
            | MathFn::Trig
            | MathFn::Atan => &[],
        }
    }
}

pub use kiln_passes::kernels::Tiling;

/// A function of the generated GEMM library (see `rust/gemm/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GemmFn {
    TileA {
        mr: usize,
        nv: usize,
    },
    TileB {
        mr: usize,
        nv: usize,
    },
    /// The convolution tile: rows of the split input at per-tap offsets.
    TileC {
        mr: usize,
        nv: usize,
    },
    /// The transposed 1x1 convolution tile: positions as rows, output channels in the lanes.
    TileT {
        mr: usize,
        nv: usize,
    },
    /// The transposed convolution tile: `SPLIT_T_ROWS` positions of the split input at
    /// per-tap offsets as rows, output channels in the lanes.
    TileS {
        nv: usize,
    },
    /// Convolutions (one group) on small outputs with the output channels in the lanes
    /// (`kiln_passes::kernels::split_transposed_pays`), on the split input in scratch.
    ConvSplitT,
    /// The parameters of a convolution on its input in scratch (`SplitConvParams`).
    SplitParams,
    /// Copies an input padded and split by stride phase into scratch.
    PadSplit,
    /// Scatters a tile of a wide output into the output's rows.
    StoreWide,
    DriverA,
    DriverB,
    /// 1x1 convolutions.
    Pointwise,
    /// 1x1 convolutions with the output channels in the lanes (small planes).
    PointwiseT,
    /// Other convolutions (one group): on the padded, phase-split input in scratch, by a
    /// tile `nv` vectors wide (see [`GemmFn::conv_split_name`]).
    ConvScratch {
        nv: usize,
    },
    /// Depthwise convolutions, on the same scratch.
    Depthwise,
    /// Depthwise convolutions with channels in the vector lanes (small maps).
    DepthwiseLanes,
    /// Convolutions of one group on a microcontroller, one output row at a time on its
    /// input rows split by stride phase (`kiln_passes::kernels::row_conv`).
    ConvRows,
    /// 3x3 convolutions at stride 1 by Winograd's F(2x2, 3x3).
    Winograd,
    /// Gemm with constant `B`.
    GemmB,
    /// MatMul with a constant 2-D right operand.
    MatMulB,
}

impl GemmFn {
    /// The tile width (in vectors) of `conv_split` for a wide output of `wide` columns: the
    /// widest tile ([`Tiling::split_vectors`]) where it has a whole block to fill and the
    /// operands do not stream (`streams`, see `kiln_passes::kernels::split_streams`), else
    /// the GEMM tiles' width, and one vector where even that has none. (On ppocrv4_rec's
    /// 1x40 maps, 42 wide, one 8x48 tile ran 1.3x slower than an 8x32 and an 8x16.)
    pub(crate) fn conv_split_vectors(t: Tiling, wide: usize, streams: bool) -> usize {
        if wide >= t.lanes * t.split_vectors() && !streams {
            t.split_vectors()
        } else if wide >= t.nr() {
            t.nv
        } else {
            1
        }
    }

    /// The name of the `conv_split` driver whose tile is `nv` vectors wide.
    pub(crate) fn conv_split_name(t: Tiling, nv: usize) -> &'static str {
        if nv == t.split_vectors() {
            "conv_split"
        } else if nv == 1 {
            "conv_split_narrow"
        } else {
            "conv_split_mid"
        }
    }
}

/// Everything one generated file needs from the library.
#[derive(Clone, Debug, Default)]
pub struct KernelSet {
    /// The GEMM micro-kernels and drivers in use, all for `tiling`.
    pub(crate) gemm: BTreeSet<GemmFn>,
    pub(crate) tiling: Option<Tiling>,
    pub(crate) kernels: BTreeSet<Kernel>,
    pub(crate) caps: BTreeSet<Cap>,
    pub(crate) num_types: BTreeSet<DType>,
    pub(crate) float_types: BTreeSet<DType>,
    math: BTreeSet<(DType, MathFn)>,
}

impl KernelSet {
    /// Records that `kernel` runs on elements of `dtype`.
    pub(crate) fn use_kernel(&mut self, kernel: Kernel, dtype: DType) -> Result<(), String> {
        // A kernel calls its dependencies on its own elements: they need their
        // capabilities of the same type (its bound covers theirs).
        for &dep in kernel.deps() {
            self.kernels.insert(dep);
            self.caps.extend(dep.caps());
        }
        self.kernels.insert(kernel);
        match kernel.bound() {
            Bound::Plain => {}
            Bound::Num => self.use_num(dtype)?,
            Bound::Float => {
                if !matches!(dtype, DType::F32 | DType::F64) {
                    return Err(format!("needs f32 or f64 tensors, got {dtype}"));
                }
                self.use_num(dtype)?;
                self.float_types.insert(dtype);
            }
        }
        self.caps.extend(kernel.caps());
        Ok(())
    }

    /// Whether the Rust printed with `intrinsics` (`RustOptions::intrinsics`) contains
    /// `unsafe` (the intrinsics module), so its crate must `deny(unsafe_code)` rather than
    /// `forbid` it.
    pub(crate) fn has_unsafe(&self, intrinsics: bool) -> bool {
        self.unsafe_module(intrinsics).is_some()
    }

    /// The module of the Rust printed with `intrinsics` that holds its `unsafe` code, if any:
    /// `kiln_vnni` (x86's VNNI, the quad kernels) or `kiln_dsp` (Arm's SMLAD kernels).
    pub(crate) fn unsafe_module(&self, intrinsics: bool) -> Option<&'static str> {
        if !intrinsics {
            None
        } else if self.kernels.contains(&Kernel::Quads) {
            Some("kiln_vnni")
        } else if self.kernels.contains(&Kernel::Dsp) {
            Some("kiln_dsp")
        } else {
            None
        }
    }

    /// Whether the kernels need `std` (fused multiply-add: `f32::mul_add`).
    pub(crate) fn needs_std(&self) -> bool {
        self.tiling.is_some_and(|t| t.fused)
    }

    /// Records that `f` (and what it calls) is used, with tiles of shape `t`.
    pub(crate) fn use_gemm(&mut self, t: Tiling, f: GemmFn) -> Result<(), String> {
        if self.tiling.is_some_and(|u| u != t) {
            return Err("two GEMM tilings in one program".into());
        }
        self.tiling = Some(t);
        let mut add = vec![f];
        match f {
            GemmFn::Pointwise => add.push(GemmFn::DriverA),
            GemmFn::PointwiseT => {
                let (mr, nv) = (
                    kiln_passes::kernels::POINTWISE_T_ROWS,
                    t.pointwise_t_vectors(),
                );
                add.push(GemmFn::TileT { mr, nv });
                add.push(GemmFn::TileT { mr: mr / 2, nv });
            }
            GemmFn::Winograd => {
                add.push(GemmFn::TileA { mr: t.mr, nv: t.nv });
                add.push(GemmFn::TileA { mr: t.mr, nv: 1 });
                add.push(GemmFn::PadSplit);
            }
            GemmFn::ConvScratch { nv } => {
                add.push(GemmFn::TileC { mr: t.mr, nv });
                // And the narrower ones for the last block of columns.
                for nv in t.narrower(nv) {
                    add.push(GemmFn::TileC { mr: t.mr, nv });
                }
                add.push(GemmFn::PadSplit);
                add.push(GemmFn::StoreWide);
            }
            GemmFn::Depthwise => add.push(GemmFn::PadSplit),
            GemmFn::DepthwiseLanes => add.push(GemmFn::SplitParams),
            GemmFn::ConvSplitT => {
                add.push(GemmFn::TileS {
                    nv: t.split_t_vectors(),
                });
                add.push(GemmFn::PadSplit);
            }
            GemmFn::ConvRows => add.push(GemmFn::TileC { mr: t.mr, nv: t.nv }),
            GemmFn::GemmB | GemmFn::MatMulB => add.push(GemmFn::DriverB),
            _ => {}
        }
        if add.contains(&GemmFn::PadSplit) {
            add.push(GemmFn::SplitParams);
        }
        if add.contains(&GemmFn::DriverA) {
            add.push(GemmFn::TileA { mr: t.mr, nv: t.nv });
            // The last block of columns, when it fits one vector.
            add.push(GemmFn::TileA { mr: t.mr, nv: 1 });
        }
        if add.contains(&GemmFn::DriverB) {
            add.push(GemmFn::TileB { mr: t.mr, nv: t.nv });
            add.push(GemmFn::TileB { mr: 1, nv: t.nv });
        }
        self.gemm.extend(add);
        Ok(())
    }

    fn use_num(&mut self, dtype: DType) -> Result<(), String> {
        if matches!(dtype, DType::Bool | DType::F16 | DType::BF16) {
            return Err(format!("arithmetic on {dtype} tensors is not supported"));
        }
        self.num_types.insert(dtype);
        Ok(())
    }

    /// Records a call of a math function on `dtype`; returns the function's name.
    pub(crate) fn use_math(&mut self, f: MathFn, dtype: DType) -> Result<String, String> {
        if !matches!(dtype, DType::F32 | DType::F64) {
            return Err(format!("needs f32 or f64 tensors, got {dtype}"));
        }
        for &(t, dep) in f.deps(dtype) {
            self.math.insert((t.unwrap_or(dtype), dep));
        }
        self.math.insert((dtype, f));
        Ok(f.name(dtype))
    }

    /// The kernels in use (their deps included), by name, in emission order.
    pub fn kernel_names(&self) -> Vec<String> {
        let gemm = self.gemm.iter().map(|f| format!("Gemm{f:?}"));
        self.kernels
            .iter()
            .map(|k| format!("{k:?}"))
            .chain(gemm)
            .collect()
    }

    /// The math routines in use, as their generated names (`exp_f32`, ...).
    pub fn math_names(&self) -> Vec<String> {
        self.math_fns().iter().map(|(t, f)| f.name(*t)).collect()
    }

    /// The math functions to emit: those called directly, plus those behind the `Float`
    /// methods in use, for every type that implements `Float`.
    pub(crate) fn math_fns(&self) -> BTreeSet<(DType, MathFn)> {
        let mut all = self.math.clone();
        for &t in &self.float_types {
            if self.caps.contains(&Cap::Exp) {
                all.insert((t, MathFn::Exp));
            }
            if self.caps.contains(&Cap::Sqrt) {
                all.insert((t, MathFn::Sqrt));
            }
        }
        all
    }
}
