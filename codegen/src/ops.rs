//! One emitter per op: each checks what the kernels support, records the kernels it uses,
//! and writes one kernel call on the node's operands. Operands are named by slot (`x0`,
//! `y0`, ...); the module emitter binds them to storage afterwards, so these functions
//! know nothing about the arena, statics or the caller's buffers.

use crate::kernels::{Kernel, KernelSet, MathFn};
use crate::literal::{self, usizes};
use crate::writer::Writer;
use kiln_ir::ops::CastAttrs;
use kiln_ir::ops::ConvTransposeAttrs;
use kiln_ir::ops::EinsumAttrs;
use kiln_ir::ops::ResizeAttrs;
use kiln_ir::ops::RnnAttrs;
use kiln_ir::ops::pad::{PadAttrs, PadAxis, PadMode};
use kiln_ir::ops::quant::{QuantAttrs, QuantGeometry};
use kiln_ir::ops::rnn::RnnActivation;
use kiln_ir::ops::shape::transpose_perm;
use kiln_ir::ops::{
    Activation, AveragePoolAttrs, BatchNormAttrs, BinaryOp, ClipAttrs, ConcatAttrs, ConvAttrs,
    GemmAttrs, MaxPoolAttrs, SoftmaxAttrs, TransposeAttrs, UnaryOp, WindowGeometry,
};
use kiln_ir::ops::{
    ArgReduceAttrs, CumSumAttrs, GroupNormAttrs, LayerNormAttrs, LpNormAttrs, LpPoolAttrs,
    LrnAttrs, MvnAttrs, ReduceAttrs, ReduceKind, TopKAttrs,
};
use kiln_ir::ops::{CompareOp, LogicalOp, VariadicOp};
use kiln_ir::types::{broadcast_shapes, normalize_axis};
use kiln_ir::{DType, Graph, Node, Op, Tensor, TensorType};
use std::collections::BTreeMap;

/// The emission state of one node: which operands its call uses, and the call itself.
pub(crate) struct NodeCx<'a> {
    graph: &'a Graph,
    pub(crate) node: &'a Node,
    kernels: &'a mut KernelSet,
    reads: BTreeMap<usize, String>,
    writes: BTreeMap<usize, String>,
    body: Writer,
}

/// What a node's emission produced: operands to bind (slot, local) and the indented call.
pub(crate) struct NodeCode {
    pub reads: Vec<(usize, String)>,
    pub writes: Vec<(usize, String)>,
    pub body: String,
}

impl<'a> NodeCx<'a> {
    pub(crate) fn new(graph: &'a Graph, node: &'a Node, kernels: &'a mut KernelSet) -> Self {
        NodeCx {
            graph,
            node,
            kernels,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            body: Writer::new(2),
        }
    }

    /// Whether the op has input `slot` (an epilogue's extra inputs do not count).
    fn has_input(&self, slot: usize) -> bool {
        matches!(self.node.op_inputs().get(slot), Some(Some(_)))
    }

    fn in_ty(&self, slot: usize, what: &str) -> Result<&'a TensorType, String> {
        match self.node.inputs.get(slot) {
            Some(Some(v)) => Ok(&self.graph.value(*v).ty),
            _ => Err(format!("input {slot} ({what}) is missing")),
        }
    }

    fn const_input(&self, slot: usize) -> Option<&'a Tensor> {
        let v = (*self.node.inputs.get(slot)?)?;
        self.graph.value(v).const_tensor()
    }

    fn out_ty(&self, slot: usize) -> Result<&'a TensorType, String> {
        self.node
            .outputs
            .get(slot)
            .map(|&v| &self.graph.value(v).ty)
            .ok_or_else(|| format!("output {slot} is missing"))
    }

    /// The local holding input `slot` (shared).
    fn read(&mut self, slot: usize) -> Result<String, String> {
        self.in_ty(slot, "operand")?;
        let name = format!("x{slot}");
        self.reads.insert(slot, name.clone());
        Ok(name)
    }

    /// The local holding output `slot` (exclusive).
    fn write(&mut self, slot: usize) -> Result<String, String> {
        self.out_ty(slot)?;
        let name = format!("y{slot}");
        self.writes.insert(slot, name.clone());
        Ok(name)
    }

    fn use_kernel(&mut self, k: Kernel, dtype: DType) -> Result<(), String> {
        self.kernels.use_kernel(k, dtype)
    }

    pub(crate) fn finish(self) -> NodeCode {
        NodeCode {
            reads: self.reads.into_iter().collect(),
            writes: self.writes.into_iter().collect(),
            body: self.body.finish(),
        }
    }
}

/// Writes the kernel call of `cx.node`. Errors are sentences for the node's diagnostic.
pub(crate) fn emit(cx: &mut NodeCx) -> Result<(), String> {
    let node = cx.node;
    if node
        .outputs
        .iter()
        .all(|&v| cx.graph.value(v).ty.numel() == 0)
    {
        // Nothing to compute; the module emitter notes it.
        return Ok(());
    }
    if kiln_passes::lower::computes_in_half(cx.graph, node) {
        return Err(format!(
            "{} computes on f16/bf16 values, which the generated code stores as bits and \
             cannot do arithmetic on: lower the graph with passes::lower::widen_half first \
             (kiln::compile does)",
            node.op.name()
        ));
    }
    if !node.epilogue.is_empty() && kiln_ir::ops::epilogue::host(&node.op).is_none() {
        return Err(format!(
            "{} cannot carry a fused epilogue; the fusion pass must not put one there",
            node.op.name()
        ));
    }
    match &node.op {
        Op::Conv(a) => conv(cx, a),
        Op::ConvTranspose(a) => conv_transpose(cx, a),
        Op::Gemm(a) => gemm(cx, a),
        Op::MatMul => matmul(cx),
        Op::Resize(a) => resize(cx, a),
        Op::Rnn(a) => rnn(cx, a),
        Op::Binary(op) => binary(cx, *op),
        Op::Unary(op) => unary(cx, *op),
        Op::Compare(op) => compare(cx, *op),
        Op::Logical(op) => logical(cx, *op),
        Op::Not => not(cx),
        Op::Where => select(cx),
        Op::Variadic(op) => variadic(cx, *op),
        Op::PRelu => prelu(cx),
        Op::Mod { fmod } => modulo(cx, *fmod),
        Op::BitShift { left } => bitshift(cx, *left),
        Op::Clip(a) => clip(cx, a),
        Op::Softmax(a) => softmax(cx, a),
        Op::LogSoftmax(a) => log_softmax(cx, a),
        Op::Hardmax(a) => hardmax(cx, a),
        Op::MaxPool(a) => max_pool(cx, a),
        Op::AveragePool(a) => avg_pool(cx, a),
        Op::GlobalAveragePool => global_avg_pool(cx),
        Op::BatchNormalization(a) => batch_norm(cx, a),
        Op::Reshape(_) | Op::Flatten(_) | Op::Identity | Op::Squeeze(_) | Op::Unsqueeze(_) => {
            copy(cx)
        }
        Op::Dropout => dropout(cx),
        Op::Activation(a) => activation(cx, *a),
        Op::Transpose(a) => transpose(cx, a),
        Op::Concat(a) => concat(cx, a),
        Op::Shape(_) | Op::Size | Op::EyeLike(_) | Op::ConstantOfShape(_) | Op::Range => {
            movement::generated(cx)
        }
        Op::Slice(_)
        | Op::Split(_)
        | Op::Expand(_)
        | Op::Tile(_)
        | Op::DepthToSpace(_)
        | Op::SpaceToDepth(_) => movement::views(cx),
        Op::Trilu(a) => movement::trilu(cx, a),
        Op::Gather(a) => movement::gather(cx, a),
        Op::GatherElements(_) => movement::gather_elements(cx, false),
        Op::ScatterElements(_) => movement::gather_elements(cx, true),
        Op::GatherND(a) => movement::gather_nd(cx, a.batch_dims, None),
        Op::ScatterND(a) => movement::gather_nd(cx, 0, Some(a.reduction)),
        Op::OneHot(_) => movement::one_hot(cx),
        Op::Pad(a) => pad(cx, a),
        Op::Cast(a) => cast(cx, a),
        Op::Pow => pow(cx),
        Op::Reduce(ReduceKind::Mean, a) => reduce_mean(cx, a),
        Op::Reduce(k, a) => reduce(cx, *k, a),
        Op::ArgReduce(a) => arg_reduce(cx, a),
        Op::CumSum(a) => cumsum(cx, a),
        Op::TopK(a) => top_k(cx, a),
        Op::LpPool(a) => lp_pool(cx, a),
        Op::GlobalMaxPool => {
            let rank = cx.in_ty(0, "X")?.rank();
            reduce(
                cx,
                ReduceKind::Max,
                &kiln_ir::ops::pool::global_max_attrs(rank),
            )
        }
        Op::LayerNormalization(a) => layer_norm(cx, a),
        Op::QuantizeLinear(a) => quantize(cx, a, true),
        Op::DequantizeLinear(a) => quantize(cx, a, false),
        Op::DynamicQuantizeLinear => dynamic_quantize(cx),
        Op::MatMulInteger => int_matmul(cx, false),
        Op::QLinearMatMul => int_matmul(cx, true),
        Op::ConvInteger(a) => int_conv(cx, a, false),
        Op::QLinearConv(a) => int_conv(cx, a, true),
        Op::Einsum(a) => einsum(cx, a),
        Op::GroupNormalization(a) => group_norm(cx, a),
        Op::LpNormalization(a) => lp_norm(cx, a),
        Op::Lrn(a) => lrn(cx, a),
        Op::MeanVarianceNormalization(a) => mvn(cx, a),
    }
}

fn einsum(cx: &mut NodeCx, a: &EinsumAttrs) -> Result<(), String> {
    let n = cx.node.inputs.len();
    let mut shapes = Vec::with_capacity(n);
    for k in 0..n {
        shapes.push(cx.in_ty(k, "operand")?.shape.clone());
    }
    let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let p = kiln_ir::ops::einsum::plan(a, &refs)?;
    cx.use_kernel(Kernel::Einsum, cx.out_ty(0)?.dtype)?;
    let list = |v: &[usize]| {
        v.iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let strides: Vec<String> = (0..n)
        .map(|k| format!("&[{}]", list(&p.strides(k, &shapes[k]))))
        .collect();
    let mut xs = Vec::with_capacity(n);
    for k in 0..n {
        xs.push(cx.read(k)?);
    }
    let ys = cx.write(0)?;
    cx.body.line(format!(
        "einsum(&[{}], &[{}], {ys}, &[{}], {});",
        xs.join(", "),
        strides.join(", "),
        list(&p.dims),
        p.output.len()
    ));
    Ok(())
}

/// ConvInteger, or with `requantize` QLinearConv (x at 0, w at 3, bias at 8): the exact
/// i32 sums, then for QLinearConv `round((acc + B) * x_scale * w_scale / y_scale) +
/// y_zero_point`, saturated, the factor in f32 (per output channel) and the product in f64.
fn int_conv(cx: &mut NodeCx, a: &ConvAttrs, requantize: bool) -> Result<(), String> {
    let slots = if requantize {
        [0, 2, 3, 5]
    } else {
        [0, 2, 1, 3]
    };
    let (x, w) = (cx.in_ty(slots[0], "x")?, cx.in_ty(slots[2], "w")?);
    let y = cx.out_ty(0)?;
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    // A 1-D convolution is a 2-D one of height 1.
    let two = |v: &[usize], fill: usize| -> Result<[usize; 2], String> {
        match v {
            [a] => Ok([fill, *a]),
            [a, b] => Ok([*a, *b]),
            _ => Err(format!(
                "{} spatial axes; the integer kernels take 1 or 2",
                v.len()
            )),
        }
    };
    let [h, wi] = two(&x.shape[2..], 1)?;
    let [kh, kw] = two(&g.kernel, 1)?;
    let [oh, ow] = two(&g.output, 1)?;
    let [sh, sw] = two(&g.strides, 1)?;
    let [dh, dw] = two(&g.dilations, 1)?;
    let [pt, pl] = two(&g.pads_begin, 0)?;
    let (n, c, m) = (x.shape[0], x.shape[1], w.shape[0]);
    cx.use_kernel(Kernel::Quant, x.dtype)?;
    let (zx, zw) = (
        zero_point(cx, slots[1], x.dtype)?,
        zero_point(cx, slots[3], w.dtype)?,
    );
    let f = if requantize {
        let [sx, sw_, sy, zy] = [cx.read(1)?, cx.read(4)?, cx.read(6)?, cx.read(7)?];
        let bias = match cx.node.inputs.get(8).copied().flatten() {
            Some(_) => format!(" + {}[m]", cx.read(8)?),
            None => String::new(),
        };
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let yt = literal::elem(y.dtype)?;
        format!(
            "|c: i32, m: usize| {{ let mul = ({sx}[0] * {sw_}[if {sw_}.len() == 1 {{ 0 }} else {{ m }}] / {sy}[0]) as f64; \
             (round_even_f64((c{bias}) as f64 * mul) + {zy}[0] as f64).clamp({lo:?}, {hi:?}) as {yt} }}"
        )
    } else {
        "|c: i32, _m: usize| c".to_string()
    };
    let (xs, ws) = (cx.read(slots[0])?, cx.read(slots[2])?);
    let ys = cx.write(0)?;
    cx.body.line(format!(
        "int_conv({xs}, {ws}, {zx}, {zw}, {ys}, [{n}, {c}, {h}, {wi}, {m}, {}, {kh}, {kw}, {oh}, {ow}], \
         [{sh}, {sw}, {dh}, {dw}, {pt}, {pl}], {f});",
        a.group
    ));
    Ok(())
}

/// An integer kernel's zero-point operand: the input at `slot`, or a single zero of `dtype`
/// when the node omits it.
fn zero_point(cx: &mut NodeCx, slot: usize, dtype: DType) -> Result<String, String> {
    match cx.node.inputs.get(slot).copied().flatten() {
        Some(_) => cx.read(slot),
        None => Ok(format!("&[0{}]", literal::elem(dtype)?)),
    }
}

/// MatMulInteger, or with `requantize` QLinearMatMul (whose operands sit at 0 and 3): the
/// exact i32 product, then for QLinearMatMul `round(acc * a_scale * b_scale / y_scale) +
/// y_zero_point`, saturated, with the factor in the scales' precision and the product in
/// f64 (as numpy computes int32 × float).
fn int_matmul(cx: &mut NodeCx, requantize: bool) -> Result<(), String> {
    let slots = if requantize {
        [0, 3, 2, 5]
    } else {
        [0, 1, 2, 3]
    };
    let (a, b) = (cx.in_ty(slots[0], "A")?, cx.in_ty(slots[1], "B")?);
    let (batch, m, k, n, batched) = kiln_ir::ops::quant::int_matmul_dims(&a.shape, &b.shape)?;
    let y = cx.out_ty(0)?;
    cx.use_kernel(Kernel::Quant, a.dtype)?;
    let (za, zb) = (
        zero_point(cx, slots[2], a.dtype)?,
        zero_point(cx, slots[3], b.dtype)?,
    );
    let f = if requantize {
        let s = cx.in_ty(1, "a_scale")?.dtype;
        let [sa, sb, sy, zy] = [cx.read(1)?, cx.read(4)?, cx.read(6)?, cx.read(7)?];
        let mul = if s == DType::F16 {
            cx.use_kernel(Kernel::Half, DType::U16)?;
            // f16 arithmetic: each f32 result rounded to f16 (exact for * and /, as f32
            // has more than twice f16's precision).
            format!(
                "{{ let r = |v: f32| f16_to_f32(f64_to_f16(v as f64)); \
                 r(r(f16_to_f32({sa}[0]) * f16_to_f32({sb}[0])) / f16_to_f32({sy}[0])) as f64 }}"
            )
        } else {
            format!("({sa}[0] * {sb}[0] / {sy}[0]) as f64")
        };
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let yt = literal::elem(y.dtype)?;
        cx.body.line(format!("let mul: f64 = {mul};"));
        format!(
            "|c: i32| (round_even_f64(c as f64 * mul) + {zy}[0] as f64).clamp({lo:?}, {hi:?}) as {yt}"
        )
    } else {
        "|c: i32| c".to_string()
    };
    let (xa, xb) = (cx.read(slots[0])?, cx.read(slots[1])?);
    let ys = cx.write(0)?;
    cx.body.line(format!(
        "int_matmul({xa}, {xb}, {za}, {zb}, {ys}, [{batch}, {m}, {k}, {n}, {}], {f});",
        usize::from(batched)
    ));
    Ok(())
}

/// QuantizeLinear (`to_int`) or DequantizeLinear: one `affine_map` whose closure reads the
/// element's scale and zero point, which may be run-time values.
fn quantize(cx: &mut NodeCx, a: &QuantAttrs, to_int: bool) -> Result<(), String> {
    let (x, s) = (cx.in_ty(0, "x")?, cx.in_ty(1, "scale")?);
    let y = cx.out_ty(0)?;
    let g = kiln_ir::ops::quant::geometry(&x.shape, &s.shape, a)?;
    let (xt, yt) = (literal::elem(x.dtype)?, literal::elem(y.dtype)?);
    cx.use_kernel(Kernel::Quant, x.dtype)?;
    let scale = cx.read(1)?;
    let zp = match cx.node.inputs.get(2).copied().flatten() {
        Some(_) => Some(cx.read(2)?),
        None => None,
    };
    let f = if to_int {
        let (lo, hi) = kiln_ir::ops::quant::int_range(y.dtype)
            .ok_or_else(|| format!("cannot quantise to {}", y.dtype))?;
        let z = zp.map_or_else(|| "0.0".to_string(), |z| format!("{z}[k] as f32"));
        // NaN clamps to NaN, which `as` turns into 0, as the reference semantics do.
        format!(
            "|v: {xt}, k: usize| (round_even_f32(v as f32 / ({scale}[k] as f32)) + {z})\
             .clamp({lo:?}, {hi:?}) as {yt}"
        )
    } else {
        // The integer difference is exact; then one f32 product.
        let z = zp.map_or_else(String::new, |z| format!(" - {z}[k] as i64"));
        format!("|v: {xt}, k: usize| ((v as i64{z}) as f32 * ({scale}[k] as f32)) as {yt}")
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let QuantGeometry {
        outer,
        axis,
        inner,
        block,
        strides: [s0, s1, s2],
    } = g;
    cx.body.line(format!(
        "affine_map({xs}, {ys}, [{outer}, {axis}, {inner}, {block}], [{s0}, {s1}, {s2}], {f});"
    ));
    Ok(())
}

fn dynamic_quantize(cx: &mut NodeCx) -> Result<(), String> {
    cx.use_kernel(Kernel::Quant, DType::F32)?;
    let xs = cx.read(0)?;
    let (y, s, z) = (cx.write(0)?, cx.write(1)?, cx.write(2)?);
    cx.body
        .line(format!("dynamic_quantize({xs}, {y}, {s}, {z});"));
    Ok(())
}

/// Spatial axes of an N, C, spatial... tensor, if the window kernels handle them (1 to 3).
fn spatial_rank(x: &TensorType) -> Result<usize, String> {
    match x.rank().checked_sub(2) {
        Some(r @ 1..=3) => Ok(r),
        _ => Err(format!(
            "input {x} has {} spatial axes; the kernels handle 1 to 3",
            x.rank().saturating_sub(2)
        )),
    }
}

/// `v` padded in front to three axes with `fill`.
fn pad3(v: &[usize], fill: usize) -> [usize; 3] {
    let mut out = [fill; 3];
    out[3 - v.len()..].copy_from_slice(v);
    out
}

/// Writes the fields of a `Window` literal.
fn window_fields(w: &mut Writer, g: &WindowGeometry) {
    w.line(format!("input: {},", usizes(&pad3(&g.input, 1))));
    w.line(format!("output: {},", usizes(&pad3(&g.output, 1))));
    w.line(format!("kernel: {},", usizes(&pad3(&g.kernel, 1))));
    w.line(format!("strides: {},", usizes(&pad3(&g.strides, 1))));
    w.line(format!("dilations: {},", usizes(&pad3(&g.dilations, 1))));
    w.line(format!("pads: {},", usizes(&pad3(&g.pads_begin, 0))));
}

fn conv(cx: &mut NodeCx, a: &ConvAttrs) -> Result<(), String> {
    let (x, w) = (cx.in_ty(0, "X")?, cx.in_ty(1, "W")?);
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], Some(&w.shape[2..]))?;
    cx.use_kernel(Kernel::Conv, x.dtype)?;
    let bias = if cx.has_input(2) {
        format!("Some({})", cx.read(2)?)
    } else {
        "None".into()
    };
    let (xs, ws, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    let epi = epilogue(cx, x.dtype)?;
    let b = &mut cx.body;
    b.open(format!("conv({xs}, {ws}, {bias}, {ys}, &ConvParams {{"));
    b.line(format!("batch: {},", x.shape[0]));
    b.line(format!("c_in: {},", x.shape[1]));
    b.line(format!("c_out: {},", w.shape[0]));
    b.line(format!("group: {},", a.group));
    b.open("window: Window {");
    window_fields(b, &g);
    b.close("},");
    b.close(format!("}}, {epi});"));
    Ok(())
}

fn conv_transpose(cx: &mut NodeCx, a: &ConvTransposeAttrs) -> Result<(), String> {
    let (x, w, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "W")?, cx.out_ty(0)?);
    spatial_rank(x)?;
    let g = a.geometry(&x.shape[2..], &w.shape[2..])?;
    cx.use_kernel(Kernel::ConvTranspose, x.dtype)?;
    let bias = if cx.has_input(2) {
        format!("Some({})", cx.read(2)?)
    } else {
        "None".into()
    };
    let (xs, ws, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    let b = &mut cx.body;
    b.open(format!(
        "conv_transpose({xs}, {ws}, {bias}, {ys}, &ConvTransposeParams {{"
    ));
    b.line(format!("batch: {},", x.shape[0]));
    b.line(format!("c_in: {},", x.shape[1]));
    b.line(format!("c_out: {},", y.shape[1]));
    b.line(format!("group: {},", a.group));
    b.line(format!("input: {},", usizes(&pad3(&g.input, 1))));
    b.line(format!("output: {},", usizes(&pad3(&g.output, 1))));
    b.line(format!("kernel: {},", usizes(&pad3(&g.kernel, 1))));
    b.line(format!("strides: {},", usizes(&pad3(&g.strides, 1))));
    b.line(format!("dilations: {},", usizes(&pad3(&g.dilations, 1))));
    b.line(format!("pads: {},", usizes(&pad3(&g.pads_begin, 0))));
    b.close("});");
    Ok(())
}

/// The epilogue argument of a kernel call: a closure that applies the node's epilogue to a
/// finished run of outputs starting at flat offset `at` (a no-op without one). Reads the
/// epilogue's extra inputs.
fn epilogue(cx: &mut NodeCx, dtype: DType) -> Result<String, String> {
    if cx.node.epilogue.is_empty() {
        return Ok("|_, _| {}".into());
    }
    let (body, uses_index) = epilogue_steps(cx, dtype)?;
    let elem = literal::elem(dtype)?;
    Ok(if uses_index {
        format!(
            "|at: usize, ys: &mut [{elem}]| {{ for (e, o) in ys.iter_mut().enumerate() {{ let i = at + e; let v = *o; {body} *o = v; }} }}"
        )
    } else {
        format!(
            "|_: usize, ys: &mut [{elem}]| {{ for o in ys.iter_mut() {{ let v = *o; {body} *o = v; }} }}"
        )
    })
}

/// `f`, an element closure of `arity` (1 or 2) arguments, followed by the node's epilogue
/// in the same closure: a fused elementwise chain runs as one loop. `f` unchanged without
/// an epilogue.
fn with_epilogue(cx: &mut NodeCx, f: String, arity: usize, dtype: DType) -> Result<String, String> {
    if cx.node.epilogue.is_empty() {
        return Ok(f);
    }
    let (body, uses_index) = epilogue_steps(cx, dtype)?;
    if uses_index {
        return Err("a residual Add cannot follow an elementwise op in one loop".into());
    }
    Ok(if arity == 1 {
        format!("|x| {{ let v = ({f})(x); {body} v }}")
    } else {
        format!("|a, b| {{ let v = ({f})(a, b); {body} v }}")
    })
}

/// The statements that apply the node's epilogue to `v` (with `i` the flat index, when the
/// second result says it is used).
fn epilogue_steps(cx: &mut NodeCx, dtype: DType) -> Result<(String, bool), String> {
    use kiln_ir::ops::Epilogue;
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!("fused epilogues need f32 or f64, not {dtype}"));
    }
    let mut steps = Vec::new();
    let mut uses_index = false;
    for e in &cx.node.epilogue {
        steps.push(match e {
            // `v < 0` rather than max: NaN stays NaN, as in the reference.
            Epilogue::Relu => {
                let z = literal::zero(dtype);
                format!("let v = if v < {z} {{ {z} }} else {{ v }};")
            }
            Epilogue::Clip { min, max } => {
                let mut s = String::new();
                if min.is_finite() {
                    let lo = literal::from_f64(dtype, *min)?;
                    s.push_str(&format!("let v = if v < {lo} {{ {lo} }} else {{ v }}; "));
                }
                if max.is_finite() {
                    let hi = literal::from_f64(dtype, *max)?;
                    s.push_str(&format!("let v = if v > {hi} {{ {hi} }} else {{ v }};"));
                }
                s.trim_end().to_string()
            }
            Epilogue::Sigmoid => {
                let f = cx.kernels.use_math(MathFn::Sigmoid, dtype)?;
                format!("let v = {f}(v);")
            }
            Epilogue::Tanh => {
                let f = cx.kernels.use_math(MathFn::Tanh, dtype)?;
                format!("let v = {f}(v);")
            }
            Epilogue::Silu => {
                let f = cx.kernels.use_math(MathFn::Sigmoid, dtype)?;
                format!("let v = v * {f}(v);")
            }
            Epilogue::Act(a) => format!("let v = ({})(v);", activation_fn(cx, *a, dtype)?),
            Epilogue::Add { slot } => {
                uses_index = true;
                let r = cx.read(*slot)?;
                format!("let v = v + {r}[i];")
            }
        });
    }
    Ok((steps.join(" "), uses_index))
}

/// An attribute scalar for an integer or float kernel; integers need whole numbers.
fn scalar(dtype: DType, v: f32, what: &str) -> Result<String, String> {
    if !dtype.is_float() && v.fract() != 0.0 {
        return Err(format!(
            "{what} {v} is not a whole number, as {dtype} Gemm needs"
        ));
    }
    literal::from_f64(dtype, v as f64)
}

fn gemm(cx: &mut NodeCx, a: &GemmAttrs) -> Result<(), String> {
    let (ta, y) = (cx.in_ty(0, "A")?, cx.out_ty(0)?);
    let (m, k) = if a.trans_a {
        (ta.shape[1], ta.shape[0])
    } else {
        (ta.shape[0], ta.shape[1])
    };
    let n = y.shape[1];
    cx.use_kernel(Kernel::Gemm, ta.dtype)?;
    let alpha = scalar(ta.dtype, a.alpha, "alpha")?;
    let beta = scalar(ta.dtype, a.beta, "beta")?;
    let (c, c_strides) = if cx.has_input(2) {
        let cs = &cx.in_ty(2, "C")?.shape;
        let (cm, cn) = match cs.as_slice() {
            [] => (1, 1),
            [cn] => (1, *cn),
            [cm, cn] => (*cm, *cn),
            _ => return Err(format!("C of rank {} does not broadcast to 2-D", cs.len())),
        };
        let strides = (if cm == 1 { 0 } else { cn }, usize::from(cn != 1));
        (format!("Some({})", cx.read(2)?), strides)
    } else {
        ("None".to_string(), (0, 0))
    };
    let (xa, xb, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    let epi = epilogue(cx, ta.dtype)?;
    let b = &mut cx.body;
    b.open(format!("gemm({xa}, {xb}, {c}, {ys}, &GemmParams {{"));
    b.line(format!("m: {m},"));
    b.line(format!("n: {n},"));
    b.line(format!("k: {k},"));
    b.line(format!("trans_a: {},", a.trans_a));
    b.line(format!("trans_b: {},", a.trans_b));
    b.line(format!("c_strides: ({}, {}),", c_strides.0, c_strides.1));
    b.close(format!("}}, {alpha}, {beta}, {epi});"));
    Ok(())
}

/// Per batch axis, the element stride of one operand's matrices (0 where it broadcasts).
fn batch_strides(batch: &[usize], own: &[usize], matrix: usize) -> Vec<usize> {
    let lead = batch.len() - own.len();
    let mut strides = vec![0; batch.len()];
    let mut step = matrix;
    for d in (0..batch.len()).rev() {
        let dim = if d < lead { 1 } else { own[d - lead] };
        strides[d] = if dim == 1 { 0 } else { step };
        step *= dim;
    }
    strides
}

fn matmul(cx: &mut NodeCx) -> Result<(), String> {
    let (ta, tb) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?);
    // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1].
    let a2 = if ta.rank() == 1 {
        vec![1, ta.shape[0]]
    } else {
        ta.shape.clone()
    };
    let b2 = if tb.rank() == 1 {
        vec![tb.shape[0], 1]
    } else {
        tb.shape.clone()
    };
    if a2.len() < 2 || b2.len() < 2 {
        return Err("MatMul operands must have rank ≥ 1".into());
    }
    let (m, k, n) = (a2[a2.len() - 2], a2[a2.len() - 1], b2[b2.len() - 1]);
    let (ba, bb) = (&a2[..a2.len() - 2], &b2[..b2.len() - 2]);
    let mut batch = broadcast_shapes(ba, bb).ok_or("batch axes do not broadcast")?;
    let mut sa = batch_strides(&batch, ba, m * k);
    let mut sb = batch_strides(&batch, bb, k * n);
    if batch.is_empty() {
        (batch, sa, sb) = (vec![1], vec![0], vec![0]);
    }
    cx.use_kernel(Kernel::MatMul, ta.dtype)?;
    let (xa, xb, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    let epi = epilogue(cx, ta.dtype)?;
    let b = &mut cx.body;
    b.open(format!("matmul({xa}, {xb}, {ys}, &MatMulParams {{"));
    b.line(format!("m: {m},"));
    b.line(format!("k: {k},"));
    b.line(format!("n: {n},"));
    b.line(format!("batch: {},", usizes(&batch)));
    b.line(format!("a_strides: {},", usizes(&sa)));
    b.line(format!("b_strides: {},", usizes(&sb)));
    b.close(format!("}}, {epi});"));
    Ok(())
}

/// Resize: the per-axis tap tables of [`kiln_ir::ops::resize::plan`] as literals, runs of
/// unchanged axes merged, led by unit axes to four.
fn resize(cx: &mut NodeCx, a: &ResizeAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let plan = kiln_ir::ops::resize::plan(a, &x.shape)?;
    // (input, output, taps, index, weight, outside) per axis after merging.
    type Axis = (usize, usize, usize, Vec<usize>, Vec<f64>, Vec<bool>);
    let mut axes: Vec<Axis> = Vec::new();
    let mut run: Option<usize> = None;
    for ax in &plan {
        if ax.is_identity() {
            run = Some(run.unwrap_or(1) * ax.input);
            continue;
        }
        if let Some(n) = run.take() {
            axes.push((n, n, 1, (0..n).collect(), vec![1.0; n], Vec::new()));
        }
        let outside = if ax.outside.contains(&true) {
            ax.outside.clone()
        } else {
            Vec::new()
        };
        axes.push((
            ax.input,
            ax.output,
            ax.taps,
            ax.index.clone(),
            ax.weight.clone(),
            outside,
        ));
    }
    if let Some(n) = run.take() {
        axes.push((n, n, 1, (0..n).collect(), vec![1.0; n], Vec::new()));
    }
    if axes.len() > 4 {
        return Err(format!(
            "Resize of {x} changes axes that do not merge into four; the kernel handles four"
        ));
    }
    while axes.len() < 4 {
        axes.insert(0, (1, 1, 1, vec![0], vec![1.0], Vec::new()));
    }
    let nearest = a.mode == kiln_ir::ops::resize::ResizeMode::Nearest;
    let elem = literal::elem(x.dtype)?;
    if nearest {
        cx.use_kernel(Kernel::ResizeNearest, x.dtype)?;
    } else {
        cx.use_kernel(Kernel::ResizeInterp, x.dtype)?;
    }
    let extrapolation = if x.dtype == DType::Bool {
        "false".to_string()
    } else {
        literal::from_f64(x.dtype, a.extrapolation)?
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let list = |f: &dyn Fn(&Axis) -> String| axes.iter().map(f).collect::<Vec<_>>().join(", ");
    let field = |f: fn(&Axis) -> usize| usizes(&axes.iter().map(f).collect::<Vec<_>>());
    let b = &mut cx.body;
    b.open("{");
    b.open("let p = ResizeAxes {");
    b.line(format!("input: {},", field(|a| a.0)));
    b.line(format!("output: {},", field(|a| a.1)));
    b.line(format!("taps: {},", field(|a| a.2)));
    b.line(format!(
        "index: [{}],",
        list(&|a| format!("&{}", usizes(&a.3)))
    ));
    b.line(format!(
        "outside: [{}],",
        list(&|a| format!(
            "&[{}]",
            a.5.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    ));
    b.close("};");
    if nearest {
        b.line(format!("resize_nearest({xs}, {ys}, &p, {extrapolation});"));
    } else {
        let mut weights = Vec::new();
        for ax in &axes {
            let w: Result<Vec<String>, String> =
                ax.4.iter()
                    .map(|&v| literal::from_f64(x.dtype, v))
                    .collect();
            weights.push(format!("&[{}]", w?.join(", ")));
        }
        b.line(format!("let w: [&[{elem}]; 4] = [{}];", weights.join(", ")));
        b.line(format!(
            "resize_interp({xs}, {ys}, &p, w, {extrapolation});"
        ));
    }
    b.close("}");
    Ok(())
}

/// A recurrent activation as a function of `dtype` (a function name or a closure without
/// captures, both of which coerce to `fn(T) -> T`).
fn rnn_activation(cx: &mut NodeCx, act: RnnActivation, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let lit = |v: f32| literal::from_f64(dtype, v as f64);
    let (zero, one) = (lit(0.0)?, lit(1.0)?);
    Ok(match act {
        RnnActivation::Sigmoid => cx.kernels.use_math(MathFn::Sigmoid, dtype)?,
        RnnActivation::Tanh => cx.kernels.use_math(MathFn::Tanh, dtype)?,
        RnnActivation::Relu => format!("|v: {t}| if v < {zero} {{ {zero} }} else {{ v }}"),
        RnnActivation::Affine { alpha, beta } => {
            format!("|v: {t}| {} * v + {}", lit(alpha)?, lit(beta)?)
        }
        RnnActivation::LeakyRelu { alpha } => {
            format!(
                "|v: {t}| if v < {zero} {{ {} * v }} else {{ v }}",
                lit(alpha)?
            )
        }
        RnnActivation::ThresholdedRelu { alpha } => {
            format!("|v: {t}| if v > {} {{ v }} else {{ {zero} }}", lit(alpha)?)
        }
        RnnActivation::ScaledTanh { alpha, beta } => {
            let f = cx.kernels.use_math(MathFn::Tanh, dtype)?;
            format!("|v: {t}| {} * {f}({} * v)", lit(alpha)?, lit(beta)?)
        }
        RnnActivation::HardSigmoid { alpha, beta } => format!(
            "|v: {t}| {{ let s = {} * v + {}; if s < {zero} {{ {zero} }} else if s > {one} {{ {one} }} else {{ s }} }}",
            lit(alpha)?,
            lit(beta)?
        ),
        RnnActivation::Elu { alpha } => {
            let f = cx.kernels.use_math(MathFn::Exp, dtype)?;
            format!(
                "|v: {t}| if v < {zero} {{ {} * ({f}(v) - {one}) }} else {{ v }}",
                lit(alpha)?
            )
        }
        RnnActivation::Softsign => {
            format!("|v: {t}| v / ({one} + if v < {zero} {{ -v }} else {{ v }})")
        }
    })
}

/// RNN, GRU, LSTM: one kernel call over the whole sequence, with its states and gates in a
/// scratch array on the stack.
fn rnn(cx: &mut NodeCx, a: &RnnAttrs) -> Result<(), String> {
    use kiln_ir::ops::rnn::{Direction, RnnKind, dims, layout};
    let x = cx.in_ty(0, "X")?;
    let dtype = x.dtype;
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!(
            "{} needs f32 or f64 tensors, got {dtype}",
            a.kind.name()
        ));
    }
    let infer_inputs: Vec<Option<kiln_ir::ops::InferInput>> = (0..cx.node.op_inputs().len())
        .map(|s| {
            cx.has_input(s)
                .then(|| cx.in_ty(s, "operand").ok())
                .flatten()
                .map(|ty| kiln_ir::ops::InferInput { ty, value: None })
        })
        .collect();
    let d = dims(a, &infer_inputs)?;
    let l = layout(a, &d);
    let g = a.kind.gates();
    let scratch = (3 + g) * d.hidden;
    if scratch > 1 << 20 {
        return Err(format!(
            "hidden_size {} needs {scratch} elements of stack scratch; kiln allows 2^20",
            d.hidden
        ));
    }
    cx.use_kernel(Kernel::Rnn, dtype)?;
    let elem = literal::elem(dtype)?;
    let mut acts = Vec::new();
    for &act in &a.activations {
        acts.push(rnn_activation(cx, act, dtype)?);
    }
    let opt_in = |cx: &mut NodeCx, slot: usize| -> Result<String, String> {
        Ok(if cx.has_input(slot) {
            format!("Some({})", cx.read(slot)?)
        } else {
            "None".into()
        })
    };
    let b = opt_in(cx, 3)?;
    let lens = opt_in(cx, 4)?;
    let h0 = opt_in(cx, 5)?;
    let (c0, p) = if a.kind == RnnKind::Lstm {
        (opt_in(cx, 6)?, opt_in(cx, 7)?)
    } else {
        ("None".into(), "None".into())
    };
    let (xs, ws, rs) = (cx.read(0)?, cx.read(1)?, cx.read(2)?);
    let mut outs = Vec::new();
    for slot in 0..3 {
        outs.push(optional_write(cx, slot)?);
    }
    let zero = literal::zero(dtype);
    let one = literal::from_f64(dtype, 1.0)?;
    let clip = match a.clip {
        Some(c) => format!("Some({})", literal::from_f64(dtype, c as f64)?),
        None => "None".into(),
    };
    let kind = match a.kind {
        RnnKind::Rnn => 0,
        RnnKind::Gru => 1,
        RnnKind::Lstm => 2,
    };
    let body = &mut cx.body;
    body.open("{");
    body.line(format!("let mut scratch = [{zero}; {scratch}];"));
    body.line(format!(
        "let acts: [fn({elem}) -> {elem}; {}] = [{}];",
        acts.len(),
        acts.join(", ")
    ));
    body.open("let inputs = RnnInputs {");
    body.line(format!("x: {xs},"));
    body.line(format!("w: {ws},"));
    body.line(format!("r: {rs},"));
    body.line(format!("b: {b},"));
    body.line(format!("lens: {lens},"));
    body.line(format!("h0: {h0},"));
    body.line(format!("c0: {c0},"));
    body.line(format!("p: {p},"));
    body.close("};");
    body.line(format!(
        "let outputs = RnnOutputs {{ y: {}, yh: {}, yc: {} }};",
        outs[0], outs[1], outs[2]
    ));
    body.open("let params = RnnParams {");
    body.line(format!("kind: {kind},"));
    body.line(format!("seq: {},", d.seq));
    body.line(format!("batch: {},", d.batch));
    body.line(format!("input: {},", d.input));
    body.line(format!("hidden: {},", d.hidden));
    body.line(format!("dirs: {},", d.dirs));
    body.line(format!("reverse: {},", a.direction == Direction::Reverse));
    body.line(format!("x_strides: [{}, {}],", l.x.0, l.x.1));
    body.line(format!("y_strides: [{}, {}, {}],", l.y.0, l.y.1, l.y.2));
    body.line(format!("state_strides: [{}, {}],", l.state.0, l.state.1));
    body.line(format!("input_forget: {},", a.input_forget));
    body.line(format!("linear_before_reset: {},", a.linear_before_reset));
    body.close("};");
    body.line(format!(
        "rnn(inputs, outputs, &mut scratch, &params, {one}, {clip}, &acts);"
    ));
    body.close("}");
    Ok(())
}

/// Drops unit axes and merges adjacent axes that every operand walks contiguously, so the
/// strided kernels loop over as few, as long, axes as possible. Never returns rank 0.
fn collapse(shape: &[usize], strides: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for (d, &dim) in shape.iter().enumerate() {
        if dim == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && strides
                .iter()
                .zip(&out_strides)
                .all(|(s, o)| o.last() == Some(&(s[d] * dim)));
        if mergeable {
            *out_shape.last_mut().unwrap_or(&mut 0) *= dim;
            for (s, o) in strides.iter().zip(&mut out_strides) {
                if let Some(last) = o.last_mut() {
                    *last = s[d];
                }
            }
        } else {
            out_shape.push(dim);
            for (s, o) in strides.iter().zip(&mut out_strides) {
                o.push(s[d]);
            }
        }
    }
    if out_shape.is_empty() {
        out_shape.push(1);
        for o in &mut out_strides {
            o.push(0);
        }
    }
    (out_shape, out_strides)
}

/// Row-major strides of `shape`.
fn row_major(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Strides of an operand of shape `own` (right-aligned) along the axes of `out`.
fn broadcast_strides(own: &[usize], out: &[usize]) -> Vec<usize> {
    let lead = out.len() - own.len();
    let rm = row_major(own);
    (0..out.len())
        .map(|d| {
            if d < lead || own[d - lead] == 1 {
                0
            } else {
                rm[d - lead]
            }
        })
        .collect()
}

/// The element function of a binary op: IEEE for floats; for integers wrapping, and
/// division truncating toward zero with x / 0 defined as 0. `swapped`: the closure takes
/// the right operand first (for an in-place kernel overwriting the right operand).
fn binary_fn(op: BinaryOp, dtype: DType, swapped: bool) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    if dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", op.name()));
    }
    let (first, second) = if swapped { ("q", "p") } else { ("p", "q") };
    Ok(if dtype.is_float() {
        let sym = match op {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        };
        format!("|{first}, {second}| p {sym} q")
    } else {
        let f = match op {
            BinaryOp::Add => "p.wrapping_add(q)",
            BinaryOp::Sub => "p.wrapping_sub(q)",
            BinaryOp::Mul => "p.wrapping_mul(q)",
            BinaryOp::Div => "if q == 0 { 0 } else { p.wrapping_div(q) }",
        };
        format!("|{first}: {t}, {second}: {t}| {f}")
    })
}

fn binary(cx: &mut NodeCx, op: BinaryOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let f = binary_fn(op, y.dtype, false)?;
    let f = with_epilogue(cx, f, 2, y.dtype)?;
    broadcast_call(cx, &ta.shape, &tb.shape, y, &f)
}
/// The call of the broadcasting kernel with element closure `f` on inputs 0 and 1 (of
/// shapes `a` and `b`) into output 0 (of type `y`).
fn broadcast_call(
    cx: &mut NodeCx,
    a: &[usize],
    b: &[usize],
    y: &TensorType,
    f: &str,
) -> Result<(), String> {
    let strides = [
        broadcast_strides(a, &y.shape),
        broadcast_strides(b, &y.shape),
    ];
    let (shape, strides) = collapse(&y.shape, &strides);
    cx.use_kernel(Kernel::Broadcast, y.dtype)?;
    let (xa, xb, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
    cx.body.line(format!(
        "broadcast({xa}, {xb}, {ys}, &{}, &{}, &{}, {f});",
        usizes(&shape),
        usizes(&strides[0]),
        usizes(&strides[1])
    ));
    Ok(())
}

/// The element function of a unary op on `dtype`; `None` for the identity (Relu of
/// unsigned values, which are never negative).
fn unary_fn(cx: &mut NodeCx, op: UnaryOp, dtype: DType) -> Result<Option<String>, String> {
    Ok(Some(match op {
        UnaryOp::Relu if dtype == DType::Bool => {
            return Err("Relu is not defined for bool tensors".into());
        }
        UnaryOp::Relu if dtype.is_int() && !dtype.is_signed() => return Ok(None),
        // `v < 0` rather than max: NaN stays NaN, as in the reference.
        UnaryOp::Relu => {
            let z = literal::zero(dtype);
            format!("|v| if v < {z} {{ {z} }} else {{ v }}")
        }
        UnaryOp::Sigmoid => cx.kernels.use_math(MathFn::Sigmoid, dtype)?,
        UnaryOp::Tanh => cx.kernels.use_math(MathFn::Tanh, dtype)?,
        UnaryOp::Sqrt => cx.kernels.use_math(MathFn::Sqrt, dtype)?,
        UnaryOp::Erf => cx.kernels.use_math(MathFn::Erf, dtype)?,
        UnaryOp::Abs if dtype.is_int() && !dtype.is_signed() => return Ok(None),
        UnaryOp::Abs if dtype.is_int() => {
            format!("|v: {}| v.wrapping_abs()", literal::elem(dtype)?)
        }
        UnaryOp::Neg if dtype.is_int() => {
            format!("|v: {}| v.wrapping_neg()", literal::elem(dtype)?)
        }
        UnaryOp::Sign if dtype.is_int() && !dtype.is_signed() => {
            format!(
                "|v: {}| if v > 0 {{ 1 }} else {{ 0 }}",
                literal::elem(dtype)?
            )
        }
        UnaryOp::Sign if dtype.is_int() => format!("|v: {}| v.signum()", literal::elem(dtype)?),
        _ => float_unary_fn(cx, op, dtype)?,
    }))
}

/// The element function of a float-only unary op (or Abs, Neg, Sign on floats).
fn float_unary_fn(cx: &mut NodeCx, op: UnaryOp, dtype: DType) -> Result<String, String> {
    let (t, int, limit, sign) = match dtype {
        DType::F32 => ("f32", "i32", "8388608.0", "0x8000_0000"),
        DType::F64 => ("f64", "i64", "4503599627370496.0", "0x8000_0000_0000_0000"),
        other => {
            literal::elem(other)?;
            return Err(format!(
                "{} needs f32 or f64 tensors, got {other}",
                op.name()
            ));
        }
    };
    // Floor, Ceil and Round from the truncated value (exact below 2^23 or 2^52, from where
    // every float is an integer; NaN and infinities pass through); the result keeps the
    // input's sign, so -0.5 gives -0.0 as in numpy.
    let rounding = |adjust: &str| {
        format!(
            "|v: {t}| if !(v > -{limit} && v < {limit}) {{ v }} else {{ let t = v as {int} as {t}; \
             let r = {adjust}; {t}::from_bits(r.to_bits() | (v.to_bits() & {sign})) }}"
        )
    };
    Ok(match op {
        UnaryOp::Abs => {
            format!("|v: {t}| {t}::from_bits(v.to_bits() & !{sign})")
        }
        UnaryOp::Neg => format!("|v: {t}| -v"),
        UnaryOp::Exp => cx.kernels.use_math(MathFn::Exp, dtype)?,
        UnaryOp::Log => cx.kernels.use_math(MathFn::Log, dtype)?,
        UnaryOp::Sin => cx.kernels.use_math(MathFn::Sin, dtype)?,
        UnaryOp::Cos => cx.kernels.use_math(MathFn::Cos, dtype)?,
        UnaryOp::Reciprocal => format!("|v: {t}| 1.0 / v"),
        UnaryOp::Sign => {
            format!("|v: {t}| if v > 0.0 {{ 1.0 }} else if v < 0.0 {{ -1.0 }} else {{ v }}")
        }
        UnaryOp::Floor => rounding("if t > v { t - 1.0 } else { t }"),
        UnaryOp::Ceil => rounding("if t < v { t + 1.0 } else { t }"),
        // Ties to even: the difference from the truncation is exact.
        UnaryOp::Round => rounding(&format!(
            "{{ let d = v - t; let odd = (t as {int}) % 2 != 0; \
             if d > 0.5 || (d == 0.5 && odd) {{ t + 1.0 }} else if d < -0.5 || (d == -0.5 && odd) {{ t - 1.0 }} else {{ t }} }}"
        )),
        other => {
            return Err(format!(
                "internal error: {} is no float unary op",
                other.name()
            ));
        }
    })
}

fn unary(cx: &mut NodeCx, op: UnaryOp) -> Result<(), String> {
    let dtype = cx.in_ty(0, "X")?.dtype;
    let Some(f) = unary_fn(cx, op, dtype)? else {
        return copy(cx);
    };
    let f = with_epilogue(cx, f, 1, dtype)?;
    cx.use_kernel(Kernel::Map, dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("map({xs}, {ys}, {f});"));
    Ok(())
}

fn compare(cx: &mut NodeCx, op: CompareOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    literal::elem(ta.dtype)?;
    let sym = match op {
        CompareOp::Equal => "==",
        CompareOp::Less => "<",
        CompareOp::LessOrEqual => "<=",
        CompareOp::Greater => ">",
        CompareOp::GreaterOrEqual => ">=",
    };
    let f = format!("|p, q| p {sym} q");
    broadcast_call(cx, &ta.shape, &tb.shape, y, &f)
}

fn logical(cx: &mut NodeCx, op: LogicalOp) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let sym = match op {
        LogicalOp::And => "&",
        LogicalOp::Or => "|",
        LogicalOp::Xor => "^",
    };
    let f = format!("|p: bool, q: bool| p {sym} q");
    broadcast_call(cx, &ta.shape, &tb.shape, y, &f)
}

fn not(cx: &mut NodeCx) -> Result<(), String> {
    cx.use_kernel(Kernel::Map, DType::Bool)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("map({xs}, {ys}, |v: bool| !v);"));
    Ok(())
}

/// Where: the condition, X and Y broadcast to the output.
fn select(cx: &mut NodeCx) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    literal::elem(y.dtype)?;
    let mut strides = Vec::new();
    for (slot, what) in [(0, "condition"), (1, "X"), (2, "Y")] {
        strides.push(broadcast_strides(&cx.in_ty(slot, what)?.shape, &y.shape));
    }
    let (shape, strides) = collapse(&y.shape, &strides);
    cx.use_kernel(Kernel::Select, y.dtype)?;
    let (c, a, b, ys) = (cx.read(0)?, cx.read(1)?, cx.read(2)?, cx.write(0)?);
    cx.body.line(format!(
        "select({c}, {a}, {b}, {ys}, &{}, [&{}, &{}, &{}]);",
        usizes(&shape),
        usizes(&strides[0]),
        usizes(&strides[1]),
        usizes(&strides[2])
    ));
    Ok(())
}

/// Max, Min, Sum, Mean: the first input broadcast into the output, then each further one
/// folded in place (left to right, as the reference folds), Mean divided at the end.
fn variadic(cx: &mut NodeCx, op: VariadicOp) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    let t = literal::elem(y.dtype)?;
    let n = cx.node.inputs.len();
    let f = match op {
        // NaN propagates, as in numpy's maximum and minimum.
        VariadicOp::Max | VariadicOp::Min => {
            let cmp = if op == VariadicOp::Max { ">" } else { "<" };
            let nan = if y.dtype.is_float() {
                " || p.is_nan()"
            } else {
                ""
            };
            format!("|p: {t}, q: {t}| if p {cmp} q{nan} {{ p }} else {{ q }}")
        }
        VariadicOp::Sum | VariadicOp::Mean if y.dtype.is_float() => {
            format!("|p: {t}, q: {t}| p + q")
        }
        _ => {
            return Err(format!(
                "{} needs float tensors, got {}",
                op.name(),
                y.dtype
            ));
        }
    };
    let x0 = cx.in_ty(0, "data_0")?;
    let ys = cx.write(0)?;
    let first = cx.read(0)?;
    if x0.shape == y.shape {
        cx.body.line(format!("{ys}.copy_from_slice({first});"));
    } else {
        let s = broadcast_strides(&x0.shape, &y.shape);
        let (shape, strides) = collapse(&y.shape, &[s]);
        cx.use_kernel(Kernel::Broadcast, y.dtype)?;
        let st = usizes(&strides[0]);
        cx.body.line(format!(
            "broadcast({first}, {first}, {ys}, &{}, &{st}, &{st}, |p: {t}, _: {t}| p);",
            usizes(&shape)
        ));
    }
    for slot in 1..n {
        let x = cx.in_ty(slot, "data")?;
        let (shape, strides) = collapse(&y.shape, &[broadcast_strides(&x.shape, &y.shape)]);
        cx.use_kernel(Kernel::BroadcastInPlace, y.dtype)?;
        let xs = cx.read(slot)?;
        cx.body.line(format!(
            "broadcast_in_place({ys}, {xs}, &{}, &{}, {f});",
            usizes(&shape),
            usizes(&strides[0])
        ));
    }
    if op == VariadicOp::Mean && n > 1 {
        let count = literal::from_f64(y.dtype, n as f64)?;
        cx.use_kernel(Kernel::MapInPlace, y.dtype)?;
        cx.body
            .line(format!("map_in_place({ys}, |v: {t}| v / {count});"));
    }
    Ok(())
}

fn prelu(cx: &mut NodeCx) -> Result<(), String> {
    let (tx, ts, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "slope")?, cx.out_ty(0)?);
    let t = literal::elem(y.dtype)?;
    let f = if y.dtype.is_float() {
        "|p, q| if p < 0.0 { q * p } else { p }".to_string()
    } else if y.dtype.is_signed() {
        format!("|p: {t}, q: {t}| if p < 0 {{ p.wrapping_mul(q) }} else {{ p }}")
    } else {
        // Unsigned values are never negative.
        return copy(cx);
    };
    broadcast_call(cx, &tx.shape, &ts.shape, y, &f)
}

/// Mod as the reference semantics define it (`kiln_ir::ops::elementwise::eval_mod`): floats
/// through `%` (C's fmod), NaN replaced by 0 unless `fmod`; integers truncated (`fmod`) or
/// floored (the sign of the divisor), a remainder by 0 being 0.
fn modulo(cx: &mut NodeCx, fmod: bool) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "A")?, cx.in_ty(1, "B")?, cx.out_ty(0)?);
    let t = literal::elem(y.dtype)?;
    let f = if y.dtype.is_float() {
        if fmod {
            format!("|p: {t}, q: {t}| p % q")
        } else {
            format!("|p: {t}, q: {t}| {{ let r = p % q; if r.is_nan() {{ 0.0 }} else {{ r }} }}")
        }
    } else if fmod || !y.dtype.is_signed() {
        format!("|p: {t}, q: {t}| if q == 0 {{ 0 }} else {{ p.wrapping_rem(q) }}")
    } else {
        format!(
            "|p: {t}, q: {t}| if q == 0 {{ 0 }} else {{ let r = p.wrapping_rem(q); \
             if r != 0 && (r < 0) != (q < 0) {{ r + q }} else {{ r }} }}"
        )
    };
    broadcast_call(cx, &ta.shape, &tb.shape, y, &f)
}

/// BitShift; shifting by the bit width or more gives 0 (numpy).
fn bitshift(cx: &mut NodeCx, left: bool) -> Result<(), String> {
    let (ta, tb, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "Y")?, cx.out_ty(0)?);
    let t = literal::elem(y.dtype)?;
    if !y.dtype.is_int() || y.dtype.is_signed() {
        return Err(format!("BitShift needs unsigned integers, got {}", y.dtype));
    }
    let bits = y.dtype.size_bytes() * 8;
    let sym = if left { "<<" } else { ">>" };
    let f = format!("|p: {t}, q: {t}| if q >= {bits} {{ 0 }} else {{ p {sym} q }}");
    broadcast_call(cx, &ta.shape, &tb.shape, y, &f)
}

/// Clip's bounds as `Option` expressions: input bounds (opset ≥ 11) win over attribute
/// bounds (opset 6); a constant bound is written as a literal, a run-time one read from its
/// (scalar) tensor.
fn clip_bounds(cx: &mut NodeCx, a: &ClipAttrs, dtype: DType) -> Result<[String; 2], String> {
    if dtype == DType::Bool {
        return Err("Clip is not defined for bool tensors".into());
    }
    let mut bound = |slot: usize, attr: Option<f32>| -> Result<String, String> {
        if let Some(t) = cx.const_input(slot) {
            Ok(if t.numel() == 0 {
                "None".into()
            } else {
                format!("Some({})", literal::element(&t.data, 0))
            })
        } else if cx.has_input(slot) {
            Ok(format!("{}.first().copied()", cx.read(slot)?))
        } else {
            attr.map(|v| literal::from_f64(dtype, v as f64).map(|s| format!("Some({s})")))
                .unwrap_or_else(|| Ok("None".into()))
        }
    };
    Ok([bound(1, a.min)?, bound(2, a.max)?])
}

fn clip(cx: &mut NodeCx, a: &ClipAttrs) -> Result<(), String> {
    let dtype = cx.in_ty(0, "input")?.dtype;
    let [lo, hi] = clip_bounds(cx, a, dtype)?;
    cx.use_kernel(Kernel::Clip, dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("clip({xs}, {ys}, {lo}, {hi});"));
    Ok(())
}

/// Writes the in-place kernel call of an elementwise node whose output overwrites its
/// input `slot` (the memory plan stores both in one buffer): the kernel reads and writes
/// `y0`, and input `slot` is not bound at all, so no slice overlaps `y0`.
pub(crate) fn emit_in_place(cx: &mut NodeCx, slot: usize) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    let x = cx.in_ty(slot, "the overwritten operand")?;
    if x.dtype != y.dtype || x.numel() != y.numel() || y.numel() == 0 {
        return Err(format!("output {y} cannot overwrite input {slot} ({x})"));
    }
    match (&cx.node.op, slot) {
        (Op::Unary(op), 0) => {
            let Some(f) = unary_fn(cx, *op, y.dtype)? else {
                cx.body.line("// The identity, in place: nothing to do.");
                return Ok(());
            };
            let f = with_epilogue(cx, f, 1, y.dtype)?;
            cx.use_kernel(Kernel::MapInPlace, y.dtype)?;
            let ys = cx.write(0)?;
            cx.body.line(format!("map_in_place({ys}, {f});"));
        }
        (Op::Activation(a), 0) => {
            let f = activation_fn(cx, *a, y.dtype)?;
            let f = with_epilogue(cx, f, 1, y.dtype)?;
            cx.use_kernel(Kernel::MapInPlace, y.dtype)?;
            let ys = cx.write(0)?;
            cx.body.line(format!("map_in_place({ys}, {f});"));
        }
        (Op::Clip(a), 0) => {
            let [lo, hi] = clip_bounds(cx, a, y.dtype)?;
            cx.use_kernel(Kernel::ClipInPlace, y.dtype)?;
            let ys = cx.write(0)?;
            cx.body.line(format!("clip_in_place({ys}, {lo}, {hi});"));
        }
        (Op::Binary(op), 0 | 1) => {
            let other = 1 - slot;
            let t = cx.in_ty(other, "the other operand")?;
            let f = binary_fn(*op, y.dtype, slot == 1)?;
            let f = with_epilogue(cx, f, 2, y.dtype)?;
            let (shape, strides) = collapse(&y.shape, &[broadcast_strides(&t.shape, &y.shape)]);
            cx.use_kernel(Kernel::BroadcastInPlace, y.dtype)?;
            let (xo, ys) = (cx.read(other)?, cx.write(0)?);
            cx.body.line(format!(
                "broadcast_in_place({ys}, {xo}, &{}, &{}, {f});",
                usizes(&shape),
                usizes(&strides[0])
            ));
        }
        (op, _) => return Err(format!("{} cannot overwrite its input {slot}", op.name())),
    }
    Ok(())
}

/// `(outer, len, inner)` of a softmax-family op: each group is `len` elements `inner` apart;
/// opsets < 13 make the trailing block one contiguous group.
fn softmax_groups(x: &TensorType, a: &SoftmaxAttrs) -> Result<(usize, usize, usize), String> {
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let s = &x.shape;
    let outer: usize = s[..axis].iter().product();
    let (len, inner) = if a.coerce_2d {
        (s[axis..].iter().product::<usize>(), 1)
    } else {
        (s[axis], s[axis + 1..].iter().product::<usize>())
    };
    Ok((outer, len, inner))
}

fn log_softmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    cx.use_kernel(Kernel::LogSoftmax, x.dtype)?;
    let ln = cx.kernels.use_math(MathFn::Log, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "log_softmax({xs}, {ys}, {outer}, {len}, {inner}, {ln});"
    ));
    Ok(())
}

fn hardmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    if !x.dtype.is_float() {
        return Err(format!("Hardmax needs a floating-point input, got {x}"));
    }
    let (zero, one) = (
        literal::from_f64(x.dtype, 0.0)?,
        literal::from_f64(x.dtype, 1.0)?,
    );
    cx.use_kernel(Kernel::Hardmax, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "hardmax({xs}, {ys}, {outer}, {len}, {inner}, {zero}, {one});"
    ));
    Ok(())
}

fn softmax(cx: &mut NodeCx, a: &SoftmaxAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = softmax_groups(x, a)?;
    cx.use_kernel(Kernel::Softmax, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body
        .line(format!("softmax({xs}, {ys}, {outer}, {len}, {inner});"));
    Ok(())
}

fn max_pool(cx: &mut NodeCx, a: &MaxPoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    if x.dtype == DType::Bool {
        return Err("MaxPool is not defined for bool tensors".into());
    }
    let column_major = match a.storage_order {
        0 => false,
        1 => true,
        s => return Err(format!("storage_order must be 0 or 1, got {s}")),
    };
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::MaxPool, x.dtype)?;
    let indices = optional_write(cx, 1)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let planes = x.shape[0] * x.shape[1];
    let epi = epilogue(cx, x.dtype)?;
    let b = &mut cx.body;
    b.open(format!("max_pool({xs}, {ys}, {indices}, &Window {{"));
    window_fields(b, &g);
    b.close(format!("}}, {planes}, {column_major}, {epi});"));
    Ok(())
}

fn avg_pool(cx: &mut NodeCx, a: &AveragePoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::AvgPool, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let planes = x.shape[0] * x.shape[1];
    let pads_end = usizes(&pad3(&g.pads_end, 0));
    let epi = epilogue(cx, x.dtype)?;
    let b = &mut cx.body;
    b.open(format!("avg_pool({xs}, {ys}, &Window {{"));
    window_fields(b, &g);
    b.close(format!(
        "}}, {planes}, {pads_end}, {}, {epi});",
        a.count_include_pad
    ));
    Ok(())
}

fn lp_pool(cx: &mut NodeCx, a: &LpPoolAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    spatial_rank(x)?;
    let g = a.window.geometry(&x.shape[2..], None)?;
    cx.use_kernel(Kernel::LpPool, x.dtype)?;
    let t = literal::elem(x.dtype)?;
    let zero = literal::from_f64(x.dtype, 0.0)?;
    let (power, root) = if a.p == 1 {
        (
            format!("|v: {t}| if v < {zero} {{ -v }} else {{ v }}"),
            format!("|s: {t}| s"),
        )
    } else {
        let pow = cx.kernels.use_math(MathFn::Pow, x.dtype)?;
        let p = literal::from_f64(x.dtype, a.p as f64)?;
        let inv = literal::from_f64(x.dtype, 1.0 / a.p as f64)?;
        (
            format!("|v: {t}| {pow}(if v < {zero} {{ -v }} else {{ v }}, {p})"),
            format!("|s: {t}| {pow}(s, {inv})"),
        )
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let planes = x.shape[0] * x.shape[1];
    let pads_end = usizes(&pad3(&g.pads_end, 0));
    let b = &mut cx.body;
    b.open(format!("lp_pool({xs}, {ys}, &Window {{"));
    window_fields(b, &g);
    b.close(format!("}}, {planes}, {pads_end}, {power}, {root});"));
    Ok(())
}

fn global_avg_pool(cx: &mut NodeCx) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    let len: usize = x.shape[2..].iter().product();
    cx.use_kernel(Kernel::GlobalAvgPool, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let epi = epilogue(cx, x.dtype)?;
    cx.body
        .line(format!("global_avg_pool({xs}, {ys}, {len}, {epi});"));
    Ok(())
}

/// A kernel's argument for the optional output `slot`: `Some(<its slice>)` when the node
/// has that output, else `None`.
fn optional_write(cx: &mut NodeCx, slot: usize) -> Result<String, String> {
    Ok(if slot < cx.node.outputs.len() {
        format!("Some({})", cx.write(slot)?)
    } else {
        "None".into()
    })
}

fn batch_norm(cx: &mut NodeCx, a: &BatchNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 {
        return Err(format!("X must have rank ≥ 2, got {x}"));
    }
    for (slot, what) in [(1, "scale"), (2, "B"), (3, "mean"), (4, "var")] {
        let t = cx.in_ty(slot, what)?;
        if t.dtype != x.dtype {
            return Err(format!(
                "{what} {t} must have the element type of X {x} (mixed types are not supported)"
            ));
        }
    }
    let eps = literal::from_f64(x.dtype, a.epsilon as f64)?;
    let channels = x.shape[1];
    let inner: usize = x.shape[2..].iter().product();
    let stats = [cx.read(1)?, cx.read(2)?, cx.read(3)?, cx.read(4)?].join(", ");
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let Some(momentum) = a.training_momentum else {
        cx.use_kernel(Kernel::BatchNorm, x.dtype)?;
        cx.body.line(format!(
            "batch_norm({xs}, {ys}, [{stats}], {eps}, {channels}, {inner});"
        ));
        return Ok(());
    };
    cx.use_kernel(Kernel::BatchNormTrain, x.dtype)?;
    // 1 - momentum in f64, as the reference semantics and numpy compute it.
    let m = momentum as f64;
    let (mom, keep) = (
        literal::from_f64(x.dtype, m)?,
        literal::from_f64(x.dtype, 1.0 - m)?,
    );
    let running = [optional_write(cx, 1)?, optional_write(cx, 2)?];
    cx.body.line(format!(
        "batch_norm_train({xs}, {ys}, [{stats}], {eps}, {mom}, {keep}, {channels}, {inner}, {}, {});",
        running[0], running[1]
    ));
    Ok(())
}

/// The element function of Pow on a base of `base` and an exponent of `exp` (types kiln's
/// kernels have). Integer powers wrap; a negative integer exponent gives the truncated
/// `1 / x^n` (as the reference semantics define it); the rest goes through `pow_f64`.
fn pow_fn(cx: &mut NodeCx, base: DType, exp: DType) -> Result<String, String> {
    let (t, e) = (literal::elem(base)?, literal::elem(exp)?);
    if exp == DType::Bool {
        return Err("Pow is not defined for a bool exponent".into());
    }
    if base.is_float() && base == exp {
        return cx.kernels.use_math(MathFn::Pow, base);
    }
    if base.is_float() || exp.is_float() {
        let f = cx.kernels.use_math(MathFn::Pow, DType::F64)?;
        let x = if base == DType::F64 { "p" } else { "p as f64" };
        let y = if exp == DType::F64 { "q" } else { "q as f64" };
        let cast = if base == DType::F64 { "" } else { " as " };
        let to = if base == DType::F64 { "" } else { t };
        return Ok(format!("|p: {t}, q: {e}| {f}({x}, {y}){cast}{to}"));
    }
    if !matches!(base, DType::I32 | DType::I64) {
        return Err(format!(
            "Pow is defined for float, int32 and int64 bases, not {base}"
        ));
    }
    let negative = if exp.is_signed() {
        "if q < 0 { return if p == 1 { 1 } else if p == -1 { if q % 2 == 0 { 1 } else { -1 } } else { 0 }; } "
    } else {
        ""
    };
    let n = if exp == DType::U64 { "q" } else { "q as u64" };
    Ok(format!(
        "|p: {t}, q: {e}| {{ {negative}let (mut b, mut n, mut r) = (p, {n}, 1); \
         while n > 0 {{ if n & 1 == 1 {{ r = {t}::wrapping_mul(r, b); }} b = b.wrapping_mul(b); n >>= 1; }} r }}"
    ))
}

/// Pow. A constant exponent with one value that is 0, ±1, 2, 3, 0.5 or -0.5 becomes
/// arithmetic (or a square root) on the base alone; anything else calls a pow function.
fn pow(cx: &mut NodeCx) -> Result<(), String> {
    let (x, t, y) = (cx.in_ty(0, "X")?, cx.in_ty(1, "Y")?, cx.out_ty(0)?);
    let uniform = cx.const_input(1).and_then(|k| {
        let v = k.data.to_f64_vec();
        v.first().copied().filter(|e| v.iter().all(|x| x == e))
    });
    if let Some(e) = uniform.filter(|_| x.dtype.is_float() && x.shape == y.shape) {
        let lit = |v: f64| literal::from_f64(x.dtype, v);
        let f = if e == 1.0 {
            return copy(cx);
        } else if e == 0.0 {
            format!("|_| {}", lit(1.0)?)
        } else if e == 2.0 {
            "|v| v * v".to_string()
        } else if e == 3.0 {
            "|v| v * v * v".to_string()
        } else if e == -1.0 {
            format!("|v| {} / v", lit(1.0)?)
        } else if e == 0.5 || e == -0.5 {
            // pow(-inf, 0.5) is +inf and pow(-0, 0.5) is +0 where sqrt gives NaN and -0.
            let sqrt = cx.kernels.use_math(MathFn::Sqrt, x.dtype)?;
            let (inf, zero) = (lit(f64::INFINITY)?, lit(0.0)?);
            let root = format!("if v == -{inf} {{ {inf} }} else {{ {sqrt}(v) + {zero} }}");
            if e > 0.0 {
                format!("|v| {root}")
            } else {
                format!("|v| {} / ({root})", lit(1.0)?)
            }
        } else if t.dtype == x.dtype {
            let f = pow_fn(cx, x.dtype, x.dtype)?;
            format!("|v| ({f})(v, {})", lit(e)?)
        } else {
            // Another exponent type: its value as it is, through the general path below.
            String::new()
        };
        if !f.is_empty() {
            cx.use_kernel(Kernel::Map, x.dtype)?;
            let (xs, ys) = (cx.read(0)?, cx.write(0)?);
            cx.body.line(format!("map({xs}, {ys}, {f});"));
            return Ok(());
        }
    }
    let f = pow_fn(cx, x.dtype, t.dtype)?;
    broadcast_call(cx, &x.shape, &t.shape, y, &f)
}

/// The reduced axes of a reduction node.
fn reduce_axes(cx: &NodeCx, a: &ReduceAttrs) -> Result<Vec<usize>, String> {
    let x = cx.in_ty(0, "data")?;
    let operand = match cx.node.inputs.get(1) {
        Some(Some(v)) => {
            let val = cx.graph.value(*v);
            Some(kiln_ir::ops::InferInput {
                ty: &val.ty,
                value: val.const_tensor(),
            })
        }
        _ => None,
    };
    kiln_ir::ops::reduce::reduced_axes(a, x.rank(), operand)
}

/// The kept and the reduced axes of a row-major `shape`, each as (sizes, element strides),
/// outermost first: axes of size 1 dropped, and runs of neighbouring axes of one class
/// merged into one.
type AxisRuns = (Vec<usize>, Vec<usize>);
fn split_axes(shape: &[usize], axes: &[usize]) -> (AxisRuns, AxisRuns) {
    let strides = row_major(shape);
    let (mut kept, mut red): (AxisRuns, AxisRuns) = Default::default();
    let mut last: Option<bool> = None;
    for (d, &n) in shape.iter().enumerate() {
        if n == 1 {
            continue;
        }
        let reduced = axes.contains(&d);
        let run = if reduced { &mut red } else { &mut kept };
        if last == Some(reduced) {
            // The previous axis of this class is the one just outside this one.
            if let (Some(size), Some(step)) = (run.0.last_mut(), run.1.last_mut()) {
                *size *= n;
                *step = strides[d];
            }
        } else {
            run.0.push(n);
            run.1.push(strides[d]);
        }
        last = Some(reduced);
    }
    (kept, red)
}

/// The per-group closure of a reduction of `kind` on `dtype` elements.
fn reduce_fn(cx: &mut NodeCx, kind: ReduceKind, dtype: DType) -> Result<String, String> {
    let t = literal::elem(dtype)?;
    let float = dtype.is_float();
    let (zero, one) = (format!("0{t}"), format!("1{t}"));
    if dtype == DType::Bool {
        return match kind {
            ReduceKind::Max => Ok("|g| g.fold(false, |a, v| a | v)".into()),
            ReduceKind::Min => Ok("|g| g.fold(true, |a, v| a & v)".into()),
            _ => Err(format!("{} is not defined for bool tensors", kind.name())),
        };
    }
    if !float && !kind.takes_integers() {
        return Err(format!(
            "{} needs floating-point tensors, got {dtype}",
            kind.name()
        ));
    }
    let add = |a: &str, b: &str| {
        if float {
            format!("{a} + {b}")
        } else {
            format!("{a}.wrapping_add({b})")
        }
    };
    let mul = |a: &str, b: &str| {
        if float {
            format!("{a} * {b}")
        } else {
            format!("{a}.wrapping_mul({b})")
        }
    };
    let sum_of = |v: &str| format!("g.fold({zero}, |a, v| {})", add("a", v));
    Ok(match kind {
        ReduceKind::Sum => format!("|g| {}", sum_of("v")),
        ReduceKind::Prod => format!("|g| g.fold({one}, |a, v| {})", mul("a", "v")),
        ReduceKind::SumSquare => format!("|g| {}", sum_of(&mul("v", "v"))),
        ReduceKind::L1 => {
            let abs = if float {
                format!("(if v < {zero} {{ -v }} else {{ v }})")
            } else if dtype.is_signed() {
                "v.wrapping_abs()".into()
            } else {
                "v".into()
            };
            format!("|g| {}", sum_of(&abs))
        }
        ReduceKind::Max | ReduceKind::Min => {
            let (cmp, init) = match (kind == ReduceKind::Max, float) {
                (true, true) => (">", format!("{t}::NEG_INFINITY")),
                (false, true) => ("<", format!("{t}::INFINITY")),
                (true, false) => (">", format!("{t}::MIN")),
                (false, false) => ("<", format!("{t}::MAX")),
            };
            // NaN propagates, as in numpy.
            let nan = if float { " || v.is_nan()" } else { "" };
            format!("|g| g.fold({init}, |a, v| if v {cmp} a{nan} {{ v }} else {{ a }})")
        }
        ReduceKind::L2 => {
            let sqrt = cx.kernels.use_math(MathFn::Sqrt, dtype)?;
            format!("|g| {sqrt}({})", sum_of("v * v"))
        }
        ReduceKind::LogSum => {
            let ln = cx.kernels.use_math(MathFn::Log, dtype)?;
            format!("|g| {ln}({})", sum_of("v"))
        }
        ReduceKind::LogSumExp => {
            // The largest finite element is subtracted first (ONNX's reference does too).
            let ln = cx.kernels.use_math(MathFn::Log, dtype)?;
            let exp = cx.kernels.use_math(MathFn::Exp, dtype)?;
            format!(
                "|g| {{ let m = g.clone().fold({t}::NEG_INFINITY, |a, v| if v > a && v.is_finite() {{ v }} else {{ a }}); \
                 let m = if m == {t}::NEG_INFINITY {{ {zero} }} else {{ m }}; \
                 {ln}({}) + m }}",
                sum_of(&format!("{exp}(v - m)"))
            )
        }
        ReduceKind::Mean => return Err("ReduceMean has its own kernel".into()),
    })
}

/// Writes a call of the generic `reduce` kernel over `axes` with the closure `f`.
fn reduce_call(cx: &mut NodeCx, x: &TensorType, axes: &[usize], f: &str) -> Result<(), String> {
    let ((kept, ks), (red, rs)) = split_axes(&x.shape, axes);
    cx.use_kernel(Kernel::Reduce, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "reduce({xs}, {ys}, &{}, &{}, &{}, &{}, {f});",
        usizes(&kept),
        usizes(&ks),
        usizes(&red),
        usizes(&rs)
    ));
    Ok(())
}

fn reduce(cx: &mut NodeCx, kind: ReduceKind, a: &ReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let axes = reduce_axes(cx, a)?;
    if axes.is_empty() {
        return copy(cx);
    }
    let f = reduce_fn(cx, kind, x.dtype)?;
    reduce_call(cx, x, &axes, &f)
}

/// ArgMax/ArgMin: the generic reduction over the one axis, with a closure that tracks the
/// position of the best element (NaN beats every number, as numpy's argmax).
fn arg_reduce(cx: &mut NodeCx, a: &ArgReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let t = literal::elem(x.dtype)?;
    if x.dtype == DType::Bool {
        return Err(format!("{} is not defined for bool tensors", a.name()));
    }
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let cmp = match (a.max, a.select_last_index) {
        (true, false) => ">",
        (true, true) => ">=",
        (false, false) => "<",
        (false, true) => "<=",
    };
    let better = match (x.dtype.is_float(), a.select_last_index) {
        (false, _) => format!("v {cmp} b"),
        (true, false) => format!("!b.is_nan() && (v.is_nan() || v {cmp} b)"),
        (true, true) => format!("v.is_nan() || (!b.is_nan() && v {cmp} b)"),
    };
    let f = format!(
        "|g| {{ let (mut best, mut b) = (0i64, 0{t}); for (j, v) in g.enumerate() {{ \
         if j == 0 || {better} {{ best = j as i64; b = v; }} }} best }}"
    );
    reduce_call(cx, x, &[axis], &f)
}

fn cumsum(cx: &mut NodeCx, a: &CumSumAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "x")?;
    let (outer, len, inner) = kiln_ir::ops::cumsum::cumsum_layout(a, x)?;
    cx.use_kernel(Kernel::CumSum, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "cumsum({xs}, {ys}, {outer}, {len}, {inner}, {}, {});",
        a.exclusive, a.reverse
    ));
    Ok(())
}

fn top_k(cx: &mut NodeCx, a: &TopKAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    literal::elem(x.dtype)?;
    if x.dtype == DType::Bool {
        return Err("TopK is not defined for bool tensors".into());
    }
    let (outer, len, inner) = kiln_ir::ops::topk::topk_layout(a, x)?;
    cx.use_kernel(Kernel::TopK, x.dtype)?;
    let indices = optional_write(cx, 1)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "top_k({xs}, {ys}, {indices}, {outer}, {len}, {inner}, {}, {});",
        a.k, a.largest
    ));
    Ok(())
}

fn reduce_mean(cx: &mut NodeCx, a: &ReduceAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    let axes = reduce_axes(cx, a)?;
    if axes.is_empty() {
        return copy(cx);
    }
    // The output's strides laid along the input's axes, 0 on the reduced ones.
    let kept: Vec<usize> = (0..x.rank())
        .map(|d| if axes.contains(&d) { 1 } else { x.shape[d] })
        .collect();
    let out: Vec<usize> = row_major(&kept)
        .into_iter()
        .enumerate()
        .map(|(d, s)| if axes.contains(&d) { 0 } else { s })
        .collect();
    let (shape, strides) = collapse(&x.shape, &[row_major(&x.shape), out]);
    let count: usize = axes.iter().map(|&d| x.shape[d]).product();
    cx.use_kernel(Kernel::ReduceMean, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "reduce_mean({xs}, {ys}, &{}, &{}, {count});",
        usizes(&shape),
        usizes(&strides[1])
    ));
    Ok(())
}

/// Whether a LayerNormalization's Scale or B of shape `p`, broadcast to X of shape `x`
/// normalised from `axis`, repeats one contiguous run along every row (what the kernel
/// reads): after its leading 1s it must be a trailing part of the normalised shape.
fn repeats_along_rows(p: &[usize], x: &[usize], axis: usize) -> bool {
    let first = p.iter().position(|&d| d != 1).unwrap_or(p.len());
    let rest = &p[first..];
    rest.len() <= x.len() - axis && x.ends_with(rest)
}

fn layer_norm(cx: &mut NodeCx, a: &LayerNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let axis = normalize_axis(a.axis, x.rank())
        .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
    let (_, len) = kiln_ir::ops::norm::layer_norm_rows(a, x)?;
    for (slot, what) in [(1, "Scale"), (2, "B")] {
        if slot == 2 && !cx.has_input(2) {
            continue;
        }
        let t = cx.in_ty(slot, what)?;
        if !repeats_along_rows(&t.shape, &x.shape, axis) {
            return Err(format!(
                "{what} {t} broadcasts over X {x} in a way the kernel does not support: it \
                 must match the trailing axes of the normalised shape"
            ));
        }
    }
    cx.use_kernel(Kernel::LayerNorm, x.dtype)?;
    let eps = literal::from_f64(x.dtype, a.epsilon as f64)?;
    let scale = cx.read(1)?;
    let bias = if cx.has_input(2) {
        format!("Some({})", cx.read(2)?)
    } else {
        "None".into()
    };
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "layer_norm({xs}, {ys}, {scale}, {bias}, {eps}, {len});"
    ));
    // The Mean and InvStdDev outputs, when the node has them.
    if cx.node.outputs.len() > 1 {
        cx.use_kernel(Kernel::LayerNormStats, x.dtype)?;
        let stats = [optional_write(cx, 1)?, optional_write(cx, 2)?];
        cx.body.line(format!(
            "layer_norm_stats({xs}, {}, {}, {eps}, {len});",
            stats[0], stats[1]
        ));
    }
    Ok(())
}

fn group_norm(cx: &mut NodeCx, a: &GroupNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let (_, len, spatial, channels) = kiln_ir::ops::norm::group_norm_layout(a, x)?;
    for (slot, what) in [(1, "scale"), (2, "B")] {
        let t = cx.in_ty(slot, what)?;
        if t.numel() == 0 || channels % t.numel() != 0 {
            return Err(format!(
                "{what} {t} must have one element per channel or group"
            ));
        }
    }
    cx.use_kernel(Kernel::GroupNorm, x.dtype)?;
    let eps = literal::from_f64(x.dtype, a.epsilon as f64)?;
    let (scale, bias) = (cx.read(1)?, cx.read(2)?);
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "group_norm({xs}, {ys}, {scale}, {bias}, {eps}, {len}, {spatial}, {channels});"
    ));
    Ok(())
}

fn lp_norm(cx: &mut NodeCx, a: &LpNormAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "input")?;
    let (outer, len, inner) = kiln_ir::ops::norm::lp_norm_layout(a, x)?;
    cx.use_kernel(Kernel::LpNorm, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "lp_norm({xs}, {ys}, {outer}, {len}, {inner}, {});",
        a.p == 1
    ));
    Ok(())
}

fn lrn(cx: &mut NodeCx, a: &LrnAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    if x.rank() < 2 || a.size == 0 {
        return Err(format!("LRN needs X of rank ≥ 2 and size ≥ 1, got {x}"));
    }
    let (items, channels) = (x.shape[0], x.shape[1]);
    let spatial: usize = x.shape[2..].iter().product();
    cx.use_kernel(Kernel::Lrn, x.dtype)?;
    let pow = cx.kernels.use_math(MathFn::Pow, x.dtype)?;
    let lit = |v: f32| literal::from_f64(x.dtype, v as f64);
    let (alpha, beta, bias) = (lit(a.alpha)?, lit(a.beta)?, lit(a.bias)?);
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "lrn({xs}, {ys}, {items}, {channels}, {spatial}, {}, {alpha}, {beta}, {bias}, {pow});",
        a.size
    ));
    Ok(())
}

fn mvn(cx: &mut NodeCx, a: &MvnAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "X")?;
    let axes = kiln_ir::ops::norm::mvn_axes(a, x)?;
    let ((kept, ks), (red, rs)) = split_axes(&x.shape, &axes);
    cx.use_kernel(Kernel::Mvn, x.dtype)?;
    let eps = literal::from_f64(x.dtype, kiln_ir::ops::norm::MVN_EPSILON)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "mvn({xs}, {ys}, &{}, &{}, &{}, &{}, {eps});",
        usizes(&kept),
        usizes(&ks),
        usizes(&red),
        usizes(&rs)
    ));
    Ok(())
}

/// Reshape, Flatten, Identity: the same elements in the same order.
/// Dropout in inference: the data passes through, the mask (if asked for) is all true.
fn dropout(cx: &mut NodeCx) -> Result<(), String> {
    copy(cx)?;
    if cx.node.outputs.len() > 1 {
        let mask = cx.write(1)?;
        cx.body.line(format!("{mask}.fill(true);"));
    }
    Ok(())
}

/// The element function of LeakyRelu, HardSigmoid or HardSwish on `dtype` (f32 or f64;
/// the parameters are rounded to it, as the ONNX reference computes in the tensor's type).
fn activation_fn(cx: &mut NodeCx, a: Activation, dtype: DType) -> Result<String, String> {
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(format!(
            "{} needs f32 or f64 tensors, got {dtype}",
            a.name()
        ));
    }
    let lit = |v: f64| literal::from_f64(dtype, v);
    let (zero, one) = (lit(0.0)?, lit(1.0)?);
    let t = literal::elem(dtype)?;
    // Clamped to [0, 1]; NaN passes through, as in the reference.
    let hard = |t: &str| {
        format!("if {t} < {zero} {{ {zero} }} else if {t} > {one} {{ {one} }} else {{ {t} }}")
    };
    Ok(match a {
        Activation::LeakyRelu { alpha } => {
            let al = lit(alpha as f64)?;
            format!("|v| if v < {zero} {{ {al} * v }} else {{ v }}")
        }
        Activation::HardSigmoid { alpha, beta } => {
            let (al, be) = (lit(alpha as f64)?, lit(beta as f64)?);
            format!("|v| {{ let t = {al} * v + {be}; {} }}", hard("t"))
        }
        Activation::HardSwish => {
            let (sixth, half) = (lit(1.0 / 6.0)?, lit(0.5)?);
            format!(
                "|v| {{ let t = v * {sixth} + {half}; v * ({}) }}",
                hard("t")
            )
        }
        // As the spec writes it; where erf(x / sqrt 2) is near -1 the absolute error stays
        // within |x| ulp(1) / 2.
        Activation::Gelu { tanh: false } => {
            let erf = cx.kernels.use_math(MathFn::Erf, dtype)?;
            let half = lit(0.5)?;
            format!("|v| {half} * v * ({one} + {erf}(v * core::{t}::consts::FRAC_1_SQRT_2))")
        }
        Activation::Gelu { tanh: true } => {
            let tanh = cx.kernels.use_math(MathFn::Tanh, dtype)?;
            let half = lit(0.5)?;
            let k = lit((2.0 / std::f64::consts::PI).sqrt())?;
            let c = lit(0.044715)?;
            format!("|v| {half} * v * ({one} + {tanh}({k} * (v + {c} * v * v * v)))")
        }
        Activation::Elu { alpha } => {
            let exp = cx.kernels.use_math(MathFn::Exp, dtype)?;
            let al = lit(alpha as f64)?;
            format!("|v: {t}| if v < {zero} {{ {al} * ({exp}(v) - {one}) }} else {{ v }}")
        }
        Activation::Selu { alpha, gamma } => {
            let exp = cx.kernels.use_math(MathFn::Exp, dtype)?;
            let (al, ga) = (lit(alpha as f64)?, lit(gamma as f64)?);
            format!("|v: {t}| {ga} * if v > {zero} {{ v }} else {{ {al} * ({exp}(v) - {one}) }}")
        }
        Activation::Celu { alpha } => {
            let exp = cx.kernels.use_math(MathFn::Exp, dtype)?;
            let al = lit(alpha as f64)?;
            format!(
                "|v: {t}| if v > {zero} {{ v }} else {{ let t = {al} * ({exp}(v / {al}) - {one}); \
                 if t > {zero} {{ {zero} }} else {{ t }} }}"
            )
        }
        Activation::ThresholdedRelu { alpha } => {
            let al = lit(alpha as f64)?;
            format!("|v: {t}| if v > {al} {{ v }} else {{ {zero} }}")
        }
        Activation::Softplus => softplus_fn(cx, dtype)?,
        Activation::Softsign => {
            format!("|v: {t}| v / ({one} + if v < {zero} {{ -v }} else {{ v }})")
        }
        Activation::Mish => {
            let sp = softplus_fn(cx, dtype)?;
            let tanh = cx.kernels.use_math(MathFn::Tanh, dtype)?;
            format!("|v: {t}| v * {tanh}(({sp})(v))")
        }
    })
}

/// `ln(1 + e^v)` as `max(v, 0) + ln(1 + e^-|v|)`, the logarithm of `1 + e` taken as
/// `ln(u) e / (u - 1)` with `u = 1 + e` (exact to rounding even where `e` is tiny).
fn softplus_fn(cx: &mut NodeCx, dtype: DType) -> Result<String, String> {
    let exp = cx.kernels.use_math(MathFn::Exp, dtype)?;
    let log = cx.kernels.use_math(MathFn::Log, dtype)?;
    let t = literal::elem(dtype)?;
    Ok(format!(
        "|v: {t}| {{ let e = {exp}(if v > 0.0 {{ -v }} else {{ v }}); let u = 1.0 + e; \
         let l = if u == 1.0 {{ e }} else {{ {log}(u) * e / (u - 1.0) }}; \
         (if v > 0.0 {{ v }} else {{ 0.0 }}) + l }}"
    ))
}

fn activation(cx: &mut NodeCx, a: Activation) -> Result<(), String> {
    let dtype = cx.in_ty(0, "X")?.dtype;
    let f = activation_fn(cx, a, dtype)?;
    let f = with_epilogue(cx, f, 1, dtype)?;
    cx.use_kernel(Kernel::Map, dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("map({xs}, {ys}, {f});"));
    Ok(())
}

fn copy(cx: &mut NodeCx) -> Result<(), String> {
    literal::elem(cx.in_ty(0, "input")?.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("{ys}.copy_from_slice({xs});"));
    Ok(())
}

/// The element function of a Cast from `from` to `to` (different types). `as` where it
/// agrees with the reference semantics; float to integer spelled out, because `as`
/// saturates where the reference gives numpy's x86-64 results (`kiln_ir::ops::cast`).
fn cast_fn(from: DType, to: DType) -> Result<String, String> {
    let is_half = |d: DType| matches!(d, DType::F16 | DType::BF16);
    // The 16-bit floats go through f32 (exact from them; rounded once to them, from f64
    // straight to f16).
    if is_half(from) {
        let widen = if from == DType::F16 {
            "f16_to_f32"
        } else {
            "bf16_to_f32"
        };
        return Ok(match to {
            DType::F16 => "|v: u16| f64_to_f16(f64::from(bf16_to_f32(v)))".into(),
            DType::BF16 => format!("|v: u16| f32_to_bf16({widen}(v))"),
            _ => format!("|v: u16| ({})({widen}(v))", cast_fn(DType::F32, to)?),
        });
    }
    if is_half(to) {
        let t = literal::elem(from)?;
        let v = match from {
            DType::Bool => "u8::from(v)",
            _ => "v",
        };
        // To bf16 from f64 rounds twice (to f32, then bf16), as ONNX's reference does.
        return Ok(if to == DType::F16 {
            format!("|v: {t}| f64_to_f16({v} as f64)")
        } else {
            format!("|v: {t}| f32_to_bf16({v} as f32)")
        });
    }
    let (t, u) = (literal::elem(from)?, literal::elem(to)?);
    // Powers of two in the source type, written as `{:?}` writes them (the shortest digits
    // that read back exactly).
    let two = |e: i32| literal::from_f64(from, 2f64.powi(e));
    // x86-64's truncating conversions: MIN when out of range or NaN (`as` saturates, which
    // gives MIN below the range as well).
    let x86_i32 = format!("if v < {} {{ v as i32 }} else {{ i32::MIN }}", two(31)?);
    let x86_i64 = format!("if v < {} {{ v as i64 }} else {{ i64::MIN }}", two(63)?);
    let body = match to {
        DType::Bool if from.is_float() => "v != 0.0".to_string(),
        DType::Bool => "v != 0".to_string(),
        _ if from == DType::Bool => format!("{u}::from(v)"),
        _ if !from.is_float() || to.is_float() => format!("v as {u}"),
        DType::I32 => x86_i32,
        DType::I64 => x86_i64,
        // Below 2^31 the i32 result reinterpreted; then the truncation; from 2^32 on 0, and
        // NaN 2^31 (u64 alike with 2^63 and 2^64).
        DType::U32 => format!(
            "if v < {} {{ v as i32 as u32 }} else if v < {} {{ v as u32 }} \
             else if v.is_nan() {{ 0x8000_0000 }} else {{ 0 }}",
            two(31)?,
            two(32)?
        ),
        DType::U64 => format!(
            "if v < {} {{ v as i64 as u64 }} else if v < {} {{ v as u64 }} \
             else if v.is_nan() {{ 0x8000_0000_0000_0000 }} else {{ 0 }}",
            two(63)?,
            two(64)?
        ),
        // i8, i16, u8, u16: the i32 result, wrapped.
        _ => format!("({x86_i32}) as {u}"),
    };
    Ok(format!("|v: {t}| {body}"))
}

fn cast(cx: &mut NodeCx, a: &CastAttrs) -> Result<(), String> {
    let from = cx.in_ty(0, "input")?.dtype;
    if from == a.to {
        return copy(cx);
    }
    let f = cast_fn(from, a.to)?;
    cx.use_kernel(Kernel::Convert, from)?;
    if [from, a.to]
        .iter()
        .any(|d| matches!(d, DType::F16 | DType::BF16))
    {
        cx.use_kernel(Kernel::Half, DType::U16)?;
    }
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!("convert({xs}, {ys}, {f});"));
    Ok(())
}

fn transpose(cx: &mut NodeCx, a: &TransposeAttrs) -> Result<(), String> {
    let (x, y) = (cx.in_ty(0, "data")?, cx.out_ty(0)?);
    let perm = transpose_perm(a, x.rank())?;
    let rm = row_major(&x.shape);
    let xs: Vec<usize> = perm.iter().map(|&p| rm[p]).collect();
    let (shape, strides) = collapse(&y.shape, &[xs]);
    if strides[0] == [1] || y.numel() == 1 {
        // The permutation only moves unit axes.
        return copy(cx);
    }
    cx.use_kernel(Kernel::Transpose, x.dtype)?;
    literal::elem(x.dtype)?;
    let (xl, yl) = (cx.read(0)?, cx.write(0)?);
    cx.body.line(format!(
        "transpose({xl}, {yl}, &{}, &{});",
        usizes(&shape),
        usizes(&strides[0])
    ));
    Ok(())
}

fn concat(cx: &mut NodeCx, a: &ConcatAttrs) -> Result<(), String> {
    emit_concat(cx, a, &[])
}

/// A Concat that copies every input but those in `in_place` (slots), which their producers
/// wrote in place, each as one contiguous run of the output: only possible when every axis
/// before the Concat's has size 1.
pub(crate) fn emit_concat(
    cx: &mut NodeCx,
    a: &ConcatAttrs,
    in_place: &[usize],
) -> Result<(), String> {
    let y = cx.out_ty(0)?;
    literal::elem(y.dtype)?;
    let axis = normalize_axis(a.axis, y.rank())
        .ok_or_else(|| format!("axis {} is out of range for {y}", a.axis))?;
    let outer: usize = y.shape[..axis].iter().product();
    let stride: usize = y.shape[axis..].iter().product();
    if y.numel() == 0 {
        return Ok(());
    }
    if outer != 1 && !in_place.is_empty() {
        return Err(format!(
            "inputs on axis {axis} of {y} are not contiguous runs of it: none is written in place"
        ));
    }
    let ys = cx.write(0)?;
    let mut offset = 0;
    for slot in 0..cx.node.inputs.len() {
        let t = cx.in_ty(slot, "inputs")?;
        let block: usize = t.shape[axis..].iter().product();
        if block == 0 {
            continue;
        }
        if in_place.contains(&slot) {
            offset += block;
            continue;
        }
        let xs = cx.read(slot)?;
        if outer == 1 {
            let range = if offset == 0 {
                format!("..{block}")
            } else {
                format!("{offset}..{}", offset + block)
            };
            cx.body
                .line(format!("{ys}[{range}].copy_from_slice({xs});"));
        } else {
            cx.use_kernel(Kernel::Concat, y.dtype)?;
            cx.body.line(format!(
                "concat_part({xs}, {ys}, {block}, {stride}, {offset});"
            ));
        }
        offset += block;
    }
    Ok(())
}

/// Emitters of the shape and data-movement ops (`kiln_ir::ops::{view, gather, generate}`).
mod movement {
    use super::*;
    use kiln_ir::ops::gather::Reduction;
    use kiln_ir::ops::{GatherAttrs, ScatterAttrs, TriluAttrs, View, generate, view};

    /// The views of input 0 that the node's outputs are.
    fn node_views(cx: &NodeCx, x: &[usize]) -> Result<Vec<View>, String> {
        Ok(match &cx.node.op {
            Op::Slice(a) => vec![view::slice_view(a, x)?],
            Op::Split(a) => view::split_views(a, x)?,
            Op::Expand(a) => vec![view::expand_view(a, x)?],
            Op::Tile(a) => vec![view::tile_view(a, x)?],
            Op::DepthToSpace(a) => vec![view::depth_to_space_view(a, x)?.0],
            Op::SpaceToDepth(a) => vec![view::space_to_depth_view(a, x)?.0],
            other => return Err(format!("{} is not a view", other.name())),
        })
    }

    pub(super) fn views(cx: &mut NodeCx) -> Result<(), String> {
        let x = cx.in_ty(0, "input")?;
        literal::elem(x.dtype)?;
        let views = node_views(cx, &x.shape)?;
        for (slot, v) in views.iter().enumerate() {
            let n: usize = v.shape.iter().product();
            if n == 0 || slot >= cx.node.outputs.len() {
                continue;
            }
            let (xs, ys) = (cx.read(0)?, cx.write(slot)?);
            if v.is_contiguous() {
                let range = if v.base == 0 && n == x.numel() {
                    String::new()
                } else {
                    format!("[{}..{}]", v.base, v.base + n)
                };
                cx.body.line(format!("{ys}.copy_from_slice(&{xs}{range});"));
                continue;
            }
            let v = v.simplified();
            cx.use_kernel(Kernel::Strided, x.dtype)?;
            let strides: Vec<String> = v.strides.iter().map(|s| s.to_string()).collect();
            cx.body.line(format!(
                "strided({xs}, {ys}, {}, &{}, &[{}]);",
                v.base,
                usizes(&v.shape),
                strides.join(", ")
            ));
        }
        Ok(())
    }

    /// Shape, Size, EyeLike, ConstantOfShape and Range, which the loader folds unless their
    /// results are big: computed from the node's types and attributes.
    pub(super) fn generated(cx: &mut NodeCx) -> Result<(), String> {
        let y = cx.out_ty(0)?;
        let t = literal::elem(y.dtype)?;
        let node = cx.node;
        let x = cx.in_ty(0, "input")?;
        if let Some(v) = generate::from_type(&node.op, x) {
            let v = v?;
            let ys = cx.write(0)?;
            if let Op::EyeLike(a) = &node.op {
                // Zeros, then the ones of diagonal k.
                let (r, c) = (y.shape[0] as i64, y.shape[1] as i64);
                let (first, last) = ((-a.k).max(0), r.min(c - a.k));
                let zero = literal::from_f64(y.dtype, 0.0)?;
                let one = literal::from_f64(y.dtype, 1.0)?;
                cx.body.line(format!("{ys}.fill({zero});"));
                if last > first {
                    let start = first * (c + 1) + a.k;
                    cx.body.line(format!(
                        "for f in ({start}..).step_by({}).take({}) {{ {ys}[f] = {one}; }}",
                        c + 1,
                        last - first
                    ));
                }
            } else {
                let vals: Vec<String> = (0..v.numel())
                    .map(|i| literal::element(&v.data, i))
                    .collect();
                cx.body
                    .line(format!("{ys}.copy_from_slice(&[{}]);", vals.join(", ")));
            }
            return Ok(());
        }
        match &node.op {
            Op::ConstantOfShape(a) => {
                let ys = cx.write(0)?;
                let v = literal::element(&a.value.data, 0);
                cx.body.line(format!("{ys}.fill({v});"));
            }
            Op::Range => {
                let (Some(s), Some(d)) = (cx.const_input(0), cx.const_input(2)) else {
                    return Err("Range needs constant start and delta".into());
                };
                let (s, d) = (literal::element(&s.data, 0), literal::element(&d.data, 0));
                let ys = cx.write(0)?;
                let f = if y.dtype.is_float() {
                    format!("{s} + (i as {t}) * {d}")
                } else {
                    format!("({s} as {t}).wrapping_add((i as {t}).wrapping_mul({d}))")
                };
                cx.body.line(format!(
                    "for (i, o) in {ys}.iter_mut().enumerate() {{ *o = {f}; }}"
                ));
            }
            other => return Err(format!("{} has no generated form", other.name())),
        }
        Ok(())
    }

    pub(super) fn trilu(cx: &mut NodeCx, a: &TriluAttrs) -> Result<(), String> {
        let x = cx.in_ty(0, "input")?;
        literal::elem(x.dtype)?;
        let r = x.rank();
        let (rows, cols) = (x.shape[r - 2], x.shape[r - 1]);
        cx.use_kernel(Kernel::Trilu, x.dtype)?;
        let (xs, ys) = (cx.read(0)?, cx.write(0)?);
        cx.body.line(format!(
            "trilu({xs}, {ys}, {rows}, {cols}, {}, {});",
            a.k, a.upper
        ));
        Ok(())
    }

    fn index_elem(cx: &NodeCx, slot: usize) -> Result<&'static str, String> {
        let t = cx.in_ty(slot, "indices")?;
        match t.dtype {
            DType::I32 | DType::I64 => literal::elem(t.dtype),
            other => Err(format!("indices must be int32 or int64, got {other}")),
        }
    }

    pub(super) fn gather(cx: &mut NodeCx, a: &GatherAttrs) -> Result<(), String> {
        let x = cx.in_ty(0, "data")?;
        literal::elem(x.dtype)?;
        index_elem(cx, 1)?;
        let axis = normalize_axis(a.axis, x.rank())
            .ok_or_else(|| format!("axis {} is out of range for {x}", a.axis))?;
        let d = x.shape[axis];
        let inner: usize = x.shape[axis + 1..].iter().product();
        cx.use_kernel(Kernel::Gather, x.dtype)?;
        let (xs, is, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
        cx.body
            .line(format!("gather_rows({xs}, {is}, {ys}, {d}, {inner});"));
        Ok(())
    }

    /// The element function combining old and new values of a scatter.
    fn combine(r: Reduction, dtype: DType) -> Result<String, String> {
        let t = literal::elem(dtype)?;
        let body = match (r, dtype) {
            (Reduction::None, _) => "q",
            (Reduction::Add | Reduction::Max, DType::Bool) => "p | q",
            (Reduction::Mul | Reduction::Min, DType::Bool) => "p & q",
            (Reduction::Add, d) if d.is_float() => "p + q",
            (Reduction::Mul, d) if d.is_float() => "p * q",
            (Reduction::Add, _) => "p.wrapping_add(q)",
            (Reduction::Mul, _) => "p.wrapping_mul(q)",
            // numpy's maximum and minimum: a NaN on either side wins.
            (Reduction::Max, _) => "if p != p { p } else if q != q || q > p { q } else { p }",
            (Reduction::Min, _) => "if p != p { p } else if q != q || q < p { q } else { p }",
        };
        let p = if r == Reduction::None { "_" } else { "p" };
        Ok(format!("|{p}: {t}, q: {t}| {body}"))
    }

    pub(super) fn gather_elements(cx: &mut NodeCx, scatter: bool) -> Result<(), String> {
        let (axis_attr, reduction) = match &cx.node.op {
            Op::ScatterElements(ScatterAttrs { axis, reduction }) => (*axis, *reduction),
            Op::GatherElements(g) => (g.axis, Reduction::None),
            _ => return Err("not GatherElements or ScatterElements".into()),
        };
        let x = cx.in_ty(0, "data")?;
        let i = cx.in_ty(1, "indices")?;
        literal::elem(x.dtype)?;
        index_elem(cx, 1)?;
        let axis = normalize_axis(axis_attr, x.rank())
            .ok_or_else(|| format!("axis {axis_attr} is out of range for {x}"))?;
        let d = x.shape[axis];
        let geo = format!(
            "&{}, &{}, {axis}, {d}",
            usizes(&i.shape),
            usizes(&row_major(&x.shape))
        );
        if scatter {
            let f = combine(reduction, x.dtype)?;
            let (xs, ys) = (cx.read(0)?, cx.write(0)?);
            cx.body.line(format!("{ys}.copy_from_slice({xs});"));
            if i.numel() > 0 {
                cx.use_kernel(Kernel::ScatterElements, x.dtype)?;
                let (is, us) = (cx.read(1)?, cx.read(2)?);
                cx.body
                    .line(format!("scatter_elements({ys}, {is}, {us}, {geo}, {f});"));
            }
        } else {
            cx.use_kernel(Kernel::GatherElements, x.dtype)?;
            let (xs, is, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
            cx.body
                .line(format!("gather_elements({xs}, {is}, {ys}, {geo});"));
        }
        Ok(())
    }

    pub(super) fn gather_nd(
        cx: &mut NodeCx,
        b: usize,
        scatter: Option<Reduction>,
    ) -> Result<(), String> {
        let x = cx.in_ty(0, "data")?;
        let i = cx.in_ty(1, "indices")?;
        literal::elem(x.dtype)?;
        if i.dtype != DType::I64 {
            return Err(format!("indices must be int64, got {}", i.dtype));
        }
        let q = i.rank();
        let m = i.shape[q - 1];
        if q == 0 || b + m > x.rank() {
            return Err(format!("indices {i} do not fit data {x}"));
        }
        let rm = row_major(&x.shape);
        let dims = usizes(&x.shape[b..b + m]);
        let strides = usizes(&rm[b..b + m]);
        let slice: usize = x.shape[b + m..].iter().product();
        let per: usize = i.shape[b..q - 1].iter().product();
        let batch: usize = x.shape[b..].iter().product();
        match scatter {
            None => {
                cx.use_kernel(Kernel::GatherNd, x.dtype)?;
                let (xs, is, ys) = (cx.read(0)?, cx.read(1)?, cx.write(0)?);
                cx.body.line(format!(
                    "gather_nd({xs}, {is}, {ys}, &{dims}, &{strides}, {per}, {batch}, {slice});"
                ));
            }
            Some(r) => {
                let f = combine(r, x.dtype)?;
                cx.use_kernel(Kernel::ScatterNd, x.dtype)?;
                let (xs, ys) = (cx.read(0)?, cx.write(0)?);
                cx.body.line(format!("{ys}.copy_from_slice({xs});"));
                let (is, us) = (cx.read(1)?, cx.read(2)?);
                cx.body.line(format!(
                    "scatter_nd({ys}, {is}, {us}, &{dims}, &{strides}, {slice}, {f});"
                ));
            }
        }
        Ok(())
    }

    pub(super) fn one_hot(cx: &mut NodeCx) -> Result<(), String> {
        let Op::OneHot(a) = &cx.node.op else {
            return Err("not OneHot".into());
        };
        let y = cx.out_ty(0)?;
        let i = cx.in_ty(0, "indices")?;
        literal::elem(y.dtype)?;
        let it = literal::elem(i.dtype)?;
        let axis = normalize_axis(a.axis, y.rank())
            .ok_or_else(|| format!("axis {} is out of range for {y}", a.axis))?;
        let depth = y.shape[axis];
        let inner: usize = y.shape[axis + 1..].iter().product();
        let to_int = if i.dtype.is_float() {
            format!("|v: {it}| v as i64")
        } else if i.dtype == DType::Bool {
            return Err("bool indices are not supported".into());
        } else {
            format!("|v: {it}| v as i64")
        };
        cx.use_kernel(Kernel::OneHot, y.dtype)?;
        let (is, vs, ys) = (cx.read(0)?, cx.read(2)?, cx.write(0)?);
        cx.body.line(format!(
            "one_hot({is}, {vs}, {ys}, {depth}, {}, {to_int});",
            inner.max(1)
        ));
        Ok(())
    }
}

/// The axes of a Pad as the kernel walks them, with the input stride of each: unit axes
/// without padding dropped, and an axis without padding or cropping merged into the one
/// before it when that one has none either, or in constant mode (where a padded row of the
/// merged axis is whole rows of constants). Never empty unless every axis is unpadded.
fn pad_axes(geo: &[PadAxis], strides: &[usize], mode: PadMode) -> Vec<(PadAxis, usize)> {
    let mut axes: Vec<(PadAxis, usize)> = Vec::new();
    for (g, &s) in geo.iter().zip(strides) {
        if g.is_plain() && g.output == 1 {
            continue;
        }
        match axes.last_mut() {
            Some((p, ps)) if g.is_plain() && (p.is_plain() || mode == PadMode::Constant) => {
                let m = g.output;
                *p = PadAxis {
                    input: p.input * m,
                    output: p.output * m,
                    before: p.before * m,
                    start: p.start * m,
                    len: p.len * m,
                };
                *ps = s;
            }
            _ => axes.push((*g, s)),
        }
    }
    axes
}

fn pad(cx: &mut NodeCx, a: &PadAttrs) -> Result<(), String> {
    let x = cx.in_ty(0, "data")?;
    literal::elem(x.dtype)?;
    let geo = a.geometry(&x.shape)?;
    let axes = pad_axes(&geo, &row_major(&x.shape), a.mode);
    if axes.iter().all(|(g, _)| g.is_plain()) {
        return copy(cx);
    }
    let value = literal::from_f64(x.dtype, a.value)?;
    let mode = match a.mode {
        PadMode::Constant => 0,
        PadMode::Reflect => 1,
        PadMode::Edge => 2,
        PadMode::Wrap => 3,
    };
    cx.use_kernel(Kernel::Pad, x.dtype)?;
    let (xs, ys) = (cx.read(0)?, cx.write(0)?);
    let field =
        |f: fn(&PadAxis) -> usize| usizes(&axes.iter().map(|(g, _)| f(g)).collect::<Vec<_>>());
    let b = &mut cx.body;
    b.open(format!("pad({xs}, {ys}, &PadAxes {{"));
    b.line(format!("out: {},", field(|g| g.output)));
    b.line(format!("before: {},", field(|g| g.before)));
    b.line(format!("start: {},", field(|g| g.start)));
    b.line(format!("len: {},", field(|g| g.len)));
    let strides: Vec<usize> = axes.iter().map(|&(_, s)| s).collect();
    b.line(format!("stride: {},", usizes(&strides)));
    b.close(format!("}}, {mode}, {value});"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_merges_contiguous_axes() {
        // Same shapes: one flat axis.
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![12, 4, 1]]);
        assert_eq!((s, st), (vec![24], vec![vec![1], vec![1]]));
        // A row vector broadcast over rows.
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![0, 0, 1]]);
        assert_eq!((s, st), (vec![6, 4], vec![vec![4, 1], vec![0, 1]]));
        // A scalar result.
        let (s, st) = collapse(&[1, 1], &[vec![0, 0]]);
        assert_eq!((s, st), (vec![1], vec![vec![0]]));
        // Transpose of the last two axes of [2, 3, 4]: no merging across the swap.
        let (s, st) = collapse(&[2, 4, 3], &[vec![12, 1, 4]]);
        assert_eq!((s, st), (vec![2, 4, 3], vec![vec![12, 1, 4]]));
    }

    #[test]
    fn broadcast_strides_are_zero_on_broadcast_axes() {
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
        assert_eq!(broadcast_strides(&[], &[2]), vec![0]);
        assert_eq!(batch_strides(&[2, 3], &[3], 6), vec![0, 6]);
    }

    #[test]
    fn pad_axes_merge_what_the_kernel_may_treat_as_one() {
        let x = [2usize, 3, 4, 5];
        let strides = row_major(&x);
        // NCHW padded on H and W: N and C merge; H and W stay.
        let a = PadAttrs {
            pads: vec![0, 0, 1, 2, 0, 0, 1, 2],
            ..PadAttrs::default()
        };
        let axes = pad_axes(&a.geometry(&x).unwrap(), &strides, a.mode);
        let outs: Vec<(usize, usize)> = axes.iter().map(|(g, s)| (g.output, *s)).collect();
        assert_eq!(outs, vec![(6, 20), (6, 5), (9, 1)]);
        // Padding H only: in constant mode W merges into H, in edge mode it cannot.
        let a = PadAttrs {
            pads: vec![0, 0, 1, 0, 0, 0, 0, 0],
            ..PadAttrs::default()
        };
        let geo = a.geometry(&x).unwrap();
        let axes = pad_axes(&geo, &strides, PadMode::Constant);
        let g = axes.last().unwrap().0;
        assert_eq!((axes.len(), g.output, g.before, g.len), (2, 25, 5, 20));
        assert_eq!(pad_axes(&geo, &strides, PadMode::Edge).len(), 3);
        // A crop at the end of W leaves it shorter than the input's rows: W must not merge
        // into the padded H (found by ops_proptest).
        let a = PadAttrs {
            pads: vec![0, 0, 1, 0, 0, 0, 0, -1],
            ..PadAttrs::default()
        };
        let axes = pad_axes(&a.geometry(&x).unwrap(), &strides, PadMode::Constant);
        let outs: Vec<(usize, usize)> = axes.iter().map(|(g, s)| (g.output, *s)).collect();
        assert_eq!(outs, vec![(6, 20), (5, 5), (4, 1)]);
    }
}
