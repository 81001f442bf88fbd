//! The kernel library: plain Rust snippets under `templates/rust/kernels/`, embedded in the
//! binary. A [`KernelSet`] records which kernels, element types and arithmetic a model
//! uses, and renders exactly those, so the generated file has no dead code.

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
pub(crate) enum Cap {
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
    const ALL: [Cap; 9] = [
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
    fn key(self) -> &'static str {
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
    fn pattern(self) -> &'static str {
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

    fn is_float(self) -> bool {
        matches!(self, Cap::Exp | Cap::Sqrt | Cap::FromCount)
    }
}

/// Which trait a kernel's element type must implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    /// `Copy` (and maybe `PartialOrd`) only.
    Plain,
    Num,
    Float,
}

impl Kernel {
    pub(crate) fn source(self) -> &'static str {
        match self {
            Kernel::Map => include_str!("../../templates/rust/kernels/map.rs"),
            Kernel::Convert => include_str!("../../templates/rust/kernels/convert.rs"),
            Kernel::Half => include_str!("../../templates/rust/kernels/half.rs"),
            Kernel::Broadcast => include_str!("../../templates/rust/kernels/broadcast.rs"),
            Kernel::Clip => include_str!("../../templates/rust/kernels/clip.rs"),
            Kernel::MapInPlace => include_str!("../../templates/rust/kernels/map_in_place.rs"),
            Kernel::BroadcastInPlace => {
                include_str!("../../templates/rust/kernels/broadcast_in_place.rs")
            }
            Kernel::ClipInPlace => include_str!("../../templates/rust/kernels/clip_in_place.rs"),
            Kernel::Select => include_str!("../../templates/rust/kernels/select.rs"),
            Kernel::Window => include_str!("../../templates/rust/kernels/window.rs"),
            Kernel::PoolTaps => include_str!("../../templates/rust/kernels/pool_taps.rs"),
            Kernel::Conv => include_str!("../../templates/rust/kernels/conv.rs"),
            Kernel::Gemm => include_str!("../../templates/rust/kernels/gemm.rs"),
            Kernel::MatMul => include_str!("../../templates/rust/kernels/matmul.rs"),
            Kernel::ConvTranspose => {
                include_str!("../../templates/rust/kernels/conv_transpose.rs")
            }
            Kernel::ResizeAxes => include_str!("../../templates/rust/kernels/resize_axes.rs"),
            Kernel::ResizeNearest => {
                include_str!("../../templates/rust/kernels/resize_nearest.rs")
            }
            Kernel::ResizeInterp => include_str!("../../templates/rust/kernels/resize_interp.rs"),
            Kernel::Rnn => include_str!("../../templates/rust/kernels/rnn.rs"),
            Kernel::Softmax => include_str!("../../templates/rust/kernels/softmax.rs"),
            Kernel::LogSoftmax => include_str!("../../templates/rust/kernels/log_softmax.rs"),
            Kernel::Hardmax => include_str!("../../templates/rust/kernels/hardmax.rs"),
            Kernel::MaxPool => include_str!("../../templates/rust/kernels/max_pool.rs"),
            Kernel::AvgPool => include_str!("../../templates/rust/kernels/avg_pool.rs"),
            Kernel::GlobalAvgPool => {
                include_str!("../../templates/rust/kernels/global_avg_pool.rs")
            }
            Kernel::BatchNorm => include_str!("../../templates/rust/kernels/batch_norm.rs"),
            Kernel::BatchNormTrain => {
                include_str!("../../templates/rust/kernels/batch_norm_train.rs")
            }
            Kernel::Transpose => include_str!("../../templates/rust/kernels/transpose.rs"),
            Kernel::Concat => include_str!("../../templates/rust/kernels/concat.rs"),
            Kernel::Strided => include_str!("../../templates/rust/kernels/strided.rs"),
            Kernel::IndexIn => include_str!("../../templates/rust/kernels/index_in.rs"),
            Kernel::Gather => include_str!("../../templates/rust/kernels/gather.rs"),
            Kernel::ElementTarget => {
                include_str!("../../templates/rust/kernels/element_target.rs")
            }
            Kernel::GatherElements => {
                include_str!("../../templates/rust/kernels/gather_elements.rs")
            }
            Kernel::ScatterElements => {
                include_str!("../../templates/rust/kernels/scatter_elements.rs")
            }
            Kernel::NdStart => include_str!("../../templates/rust/kernels/nd_start.rs"),
            Kernel::GatherNd => include_str!("../../templates/rust/kernels/gather_nd.rs"),
            Kernel::ScatterNd => include_str!("../../templates/rust/kernels/scatter_nd.rs"),
            Kernel::OneHot => include_str!("../../templates/rust/kernels/one_hot.rs"),
            Kernel::Trilu => include_str!("../../templates/rust/kernels/trilu.rs"),
            Kernel::Pad => include_str!("../../templates/rust/kernels/pad.rs"),
            Kernel::Quant => include_str!("../../templates/rust/kernels/quant.rs"),
            Kernel::Einsum => include_str!("../../templates/rust/kernels/einsum.rs"),
            Kernel::ReduceMean => include_str!("../../templates/rust/kernels/reduce_mean.rs"),
            Kernel::Reduce => include_str!("../../templates/rust/kernels/reduce.rs"),
            Kernel::CumSum => include_str!("../../templates/rust/kernels/cumsum.rs"),
            Kernel::TopK => include_str!("../../templates/rust/kernels/top_k.rs"),
            Kernel::LayerNorm => include_str!("../../templates/rust/kernels/layer_norm.rs"),
            Kernel::LayerNormStats => {
                include_str!("../../templates/rust/kernels/layer_norm_stats.rs")
            }
            Kernel::GroupNorm => include_str!("../../templates/rust/kernels/group_norm.rs"),
            Kernel::LpNorm => include_str!("../../templates/rust/kernels/lp_norm.rs"),
            Kernel::Lrn => include_str!("../../templates/rust/kernels/lrn.rs"),
            Kernel::Mvn => include_str!("../../templates/rust/kernels/mvn.rs"),
            Kernel::LpPool => include_str!("../../templates/rust/kernels/lp_pool.rs"),
        }
    }

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
            _ => &[],
        }
    }

    fn caps(self) -> &'static [Cap] {
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
            Kernel::AvgPool | Kernel::GlobalAvgPool => &[Zero, Plus, Divide, FromCount],
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

    fn bound(self) -> Bound {
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
}

impl MathFn {
    /// Name of the generated function for `dtype` (f32 or f64).
    pub(crate) fn name(self, dtype: DType) -> String {
        let f = match self {
            MathFn::Exp => "exp",
            MathFn::Sigmoid => "sigmoid",
            MathFn::Tanh => "tanh",
            MathFn::Sqrt => "sqrt",
            MathFn::Erf => "erf",
            MathFn::Pow => "pow",
            MathFn::Log => "log",
            MathFn::Sin => "sin",
            MathFn::Cos => "cos",
            MathFn::Trig => "trig",
        };
        format!("{f}_{}", dtype.name())
    }

    pub(crate) fn source(self, f64: bool) -> &'static str {
        match (self, f64) {
            (MathFn::Exp, false) => include_str!("../../templates/rust/kernels/math/exp_f32.rs"),
            (MathFn::Exp, true) => include_str!("../../templates/rust/kernels/math/exp_f64.rs"),
            (MathFn::Sigmoid, false) => {
                include_str!("../../templates/rust/kernels/math/sigmoid_f32.rs")
            }
            (MathFn::Sigmoid, true) => {
                include_str!("../../templates/rust/kernels/math/sigmoid_f64.rs")
            }
            (MathFn::Tanh, false) => include_str!("../../templates/rust/kernels/math/tanh_f32.rs"),
            (MathFn::Tanh, true) => include_str!("../../templates/rust/kernels/math/tanh_f64.rs"),
            (MathFn::Sqrt, false) => include_str!("../../templates/rust/kernels/math/sqrt_f32.rs"),
            (MathFn::Sqrt, true) => include_str!("../../templates/rust/kernels/math/sqrt_f64.rs"),
            (MathFn::Erf, false) => include_str!("../../templates/rust/kernels/math/erf_f32.rs"),
            (MathFn::Erf, true) => include_str!("../../templates/rust/kernels/math/erf_f64.rs"),
            (MathFn::Pow, false) => include_str!("../../templates/rust/kernels/math/pow_f32.rs"),
            (MathFn::Pow, true) => include_str!("../../templates/rust/kernels/math/pow_f64.rs"),
            (MathFn::Log, false) => include_str!("../../templates/rust/kernels/math/log_f32.rs"),
            (MathFn::Log, true) => include_str!("../../templates/rust/kernels/math/log_f64.rs"),
            (MathFn::Sin, false) => include_str!("../../templates/rust/kernels/math/sin_f32.rs"),
            (MathFn::Sin, true) => include_str!("../../templates/rust/kernels/math/sin_f64.rs"),
            (MathFn::Cos, false) => include_str!("../../templates/rust/kernels/math/cos_f32.rs"),
            (MathFn::Cos, true) => include_str!("../../templates/rust/kernels/math/cos_f64.rs"),
            // Used in f64 only (the f32 functions go through the f64 ones).
            (MathFn::Trig, _) => include_str!("../../templates/rust/kernels/math/trig_f64.rs"),
        }
    }

    /// The functions this one calls: of its own type (`None`) or of another.
    fn deps(self) -> &'static [(Option<DType>, MathFn)] {
        match self {
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
            MathFn::Exp | MathFn::Sqrt | MathFn::Erf | MathFn::Trig => &[],
        }
    }
}

/// Everything one generated file needs from the library.
#[derive(Clone, Debug, Default)]
pub struct KernelSet {
    kernels: BTreeSet<Kernel>,
    caps: BTreeSet<Cap>,
    num_types: BTreeSet<DType>,
    float_types: BTreeSet<DType>,
    math: BTreeSet<(DType, MathFn)>,
}

impl KernelSet {
    /// Records that `kernel` runs on elements of `dtype`.
    pub(crate) fn use_kernel(&mut self, kernel: Kernel, dtype: DType) -> Result<(), String> {
        for &dep in kernel.deps() {
            self.kernels.insert(dep);
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
        for &(t, dep) in f.deps() {
            self.math.insert((t.unwrap_or(dtype), dep));
        }
        self.math.insert((dtype, f));
        Ok(f.name(dtype))
    }

    /// The kernels in use (their deps included), by name, in emission order.
    pub fn kernel_names(&self) -> Vec<String> {
        self.kernels.iter().map(|k| format!("{k:?}")).collect()
    }

    /// The math routines in use, as their generated names (`exp_f32`, ...).
    pub fn math_names(&self) -> Vec<String> {
        self.math_fns().iter().map(|(t, f)| f.name(*t)).collect()
    }

    /// The math functions to emit: those called directly, plus those behind the `Float`
    /// methods in use, for every type that implements `Float`.
    fn math_fns(&self) -> BTreeSet<(DType, MathFn)> {
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

    /// The kernels, the `Num`/`Float` traits and the math functions, as Rust source.
    pub(crate) fn render(&self) -> Result<String, crate::CodegenError> {
        let mut parts: Vec<String> = self
            .kernels
            .iter()
            .map(|k| k.source().trim_end().to_string())
            .collect();
        if !self.num_types.is_empty() {
            parts.push(crate::rust::templates::render_num(self)?.trim().to_string());
        }
        for (t, f) in self.math_fns() {
            parts.push(f.source(t == DType::F64).trim_end().to_string());
        }
        let mut s = parts.join("\n\n");
        if !s.is_empty() {
            s.push('\n');
        }
        Ok(s)
    }

    /// The context of `num.rs.tera`: capability flags and one entry per element type.
    pub(crate) fn num_context(&self) -> tera::Context {
        let mut caps = std::collections::BTreeMap::new();
        for cap in Cap::ALL {
            let floats_only = cap.is_float() && self.float_types.is_empty();
            caps.insert(cap.key(), self.caps.contains(&cap) && !floats_only);
        }
        let types: Vec<std::collections::BTreeMap<&str, String>> = self
            .num_types
            .iter()
            .map(|&t| {
                std::collections::BTreeMap::from([
                    ("name", t.name().to_string()),
                    ("zero", crate::literal::zero(t).to_string()),
                    ("lowest", crate::literal::lowest(t)),
                    ("float", t.is_float().to_string()),
                ])
            })
            .collect();
        let floats: Vec<&str> = self.float_types.iter().map(|t| t.name()).collect();
        let mut ctx = tera::Context::new();
        ctx.insert("caps", &caps);
        ctx.insert("num_types", &types);
        ctx.insert("float_types", &floats);
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Kernel; 54] = [
        Kernel::Map,
        Kernel::Convert,
        Kernel::Half,
        Kernel::Quant,
        Kernel::Einsum,
        Kernel::Broadcast,
        Kernel::Clip,
        Kernel::MapInPlace,
        Kernel::BroadcastInPlace,
        Kernel::ClipInPlace,
        Kernel::Select,
        Kernel::Window,
        Kernel::PoolTaps,
        Kernel::Conv,
        Kernel::Gemm,
        Kernel::MatMul,
        Kernel::ResizeAxes,
        Kernel::ResizeNearest,
        Kernel::ResizeInterp,
        Kernel::Rnn,
        Kernel::ConvTranspose,
        Kernel::Softmax,
        Kernel::LogSoftmax,
        Kernel::Hardmax,
        Kernel::MaxPool,
        Kernel::AvgPool,
        Kernel::GlobalAvgPool,
        Kernel::BatchNorm,
        Kernel::BatchNormTrain,
        Kernel::Transpose,
        Kernel::Concat,
        Kernel::Strided,
        Kernel::IndexIn,
        Kernel::Gather,
        Kernel::ElementTarget,
        Kernel::GatherElements,
        Kernel::ScatterElements,
        Kernel::NdStart,
        Kernel::GatherNd,
        Kernel::ScatterNd,
        Kernel::OneHot,
        Kernel::Trilu,
        Kernel::Pad,
        Kernel::ReduceMean,
        Kernel::Reduce,
        Kernel::CumSum,
        Kernel::TopK,
        Kernel::LayerNorm,
        Kernel::LayerNormStats,
        Kernel::GroupNorm,
        Kernel::LpNorm,
        Kernel::Lrn,
        Kernel::Mvn,
        Kernel::LpPool,
    ];

    /// The declared capabilities of each kernel are exactly those its text uses: a missing
    /// one would not compile, a superfluous one would leave a dead trait method.
    #[test]
    fn declared_caps_match_kernel_text() {
        for k in ALL {
            let used: Vec<Cap> = Cap::ALL
                .into_iter()
                .filter(|c| k.source().contains(c.pattern()))
                .collect();
            let mut declared = k.caps().to_vec();
            declared.sort();
            assert_eq!(used, declared, "{k:?}");
            let bound = match k.bound() {
                Bound::Plain => None,
                Bound::Num => Some("T: Num"),
                Bound::Float => Some("T: Float"),
            };
            if let Some(b) = bound {
                assert!(k.source().contains(b), "{k:?} should be generic over {b}");
            }
        }
    }
}
