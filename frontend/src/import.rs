//! Per-op import: ONNX attributes -> the IR's typed attribute structs, with every
//! opset-dependent default resolved here so that the IR attributes are final.

use crate::attrs::Attrs;
use crate::error::{FrontendError, NodeCtx};
use crate::onnx::NodeProto;
use crate::onnx::tensor_proto::DataType;
use crate::tensor::{dtype_from_onnx, onnx_dtype_name};
use kiln_ir::ops::CastAttrs;
use kiln_ir::ops::QuantAttrs;
use kiln_ir::ops::{Activation, SqueezeAttrs, UnsqueezeAttrs};
use kiln_ir::ops::{
    ArgReduceAttrs, CumSumAttrs, GroupNormAttrs, LayerNormAttrs, LpNormAttrs, LpPoolAttrs,
    LrnAttrs, MvnAttrs, ReduceAttrs, ReduceKind, TopKAttrs,
};
use kiln_ir::ops::{
    AutoPad, AveragePoolAttrs, BatchNormAttrs, BinaryOp, ClipAttrs, ConcatAttrs, ConvAttrs,
    FlattenAttrs, GemmAttrs, MaxPoolAttrs, ReshapeAttrs, SoftmaxAttrs, TransposeAttrs, UnaryOp,
    WindowAttrs,
};
use kiln_ir::ops::{CompareOp, LogicalOp, VariadicOp};
use kiln_ir::ops::{PadAttrs, PadMode};
use kiln_ir::{Op, Tensor, TensorData};

/// The ai.onnx operators kiln imports (sorted; quoted in the unsupported-op message).
pub const SUPPORTED_OPS: &[&str] = &[
    "Abs",
    "Add",
    "And",
    "ArgMax",
    "ArgMin",
    "AveragePool",
    "BatchNormalization",
    "BitShift",
    "Cast",
    "CastLike",
    "Ceil",
    "Celu",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvInteger",
    "ConvTranspose",
    "Cos",
    "CumSum",
    "DepthToSpace",
    "DequantizeLinear",
    "Div",
    "Dropout",
    "DynamicQuantizeLinear",
    "Einsum",
    "Elu",
    "Equal",
    "Erf",
    "Exp",
    "Expand",
    "EyeLike",
    "Flatten",
    "Floor",
    "GRU",
    "Gather",
    "GatherElements",
    "GatherND",
    "Gelu",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Greater",
    "GreaterOrEqual",
    "GroupNormalization",
    "HardSigmoid",
    "HardSwish",
    "Hardmax",
    "Identity",
    "InstanceNormalization",
    "LRN",
    "LSTM",
    "LayerNormalization",
    "LeakyRelu",
    "Less",
    "LessOrEqual",
    "Log",
    "LogSoftmax",
    "LpNormalization",
    "LpPool",
    "MatMul",
    "MatMulInteger",
    "Max",
    "MaxPool",
    "Mean",
    "MeanVarianceNormalization",
    "Min",
    "Mish",
    "Mod",
    "Mul",
    "Neg",
    "Not",
    "OneHot",
    "Or",
    "PRelu",
    "Pad",
    "Pow",
    "QLinearConv",
    "QLinearMatMul",
    "QuantizeLinear",
    "RNN",
    "Range",
    "Reciprocal",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
    "Relu",
    "Reshape",
    "Resize",
    "Round",
    "ScatterElements",
    "ScatterND",
    "Selu",
    "Shape",
    "Sigmoid",
    "Sign",
    "Sin",
    "Size",
    "Slice",
    "Softmax",
    "Softplus",
    "Softsign",
    "SpaceToDepth",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "ThresholdedRelu",
    "Tile",
    "TopK",
    "Transpose",
    "Trilu",
    "Unsqueeze",
    "Upsample",
    "Where",
    "Xor",
];

/// Whether kiln can import this default-domain node: `Err(None)` for an unknown op,
/// `Err(Some(reason))` for a known op used in a way kiln does not support. Attribute type
/// errors are left for [`import`], which reports them precisely. `input_types` holds the
/// ONNX element type code of each input, where the model declares it.
pub(crate) fn check_supported(
    node: &NodeProto,
    ctx: &NodeCtx,
    n_outputs: usize,
    input_types: &[Option<i32>],
) -> Result<(), Option<String>> {
    if !SUPPORTED_OPS.contains(&node.op_type()) {
        return Err(None);
    }
    let a = Attrs::new(ctx, &node.attribute);
    let int = |name: &str| a.int(name).ok().flatten();
    match node.op_type() {
        "BatchNormalization" => {
            let training = int("training_mode").is_some_and(|v| v != 0);
            if ctx.opset < 14 && n_outputs > 1 {
                return Err(Some(
                    "the training outputs of opsets before 14 (mean, var, saved_mean, \
                     saved_var); export the model in inference mode (model.eval()) or at \
                     opset 14 or newer"
                        .into(),
                ));
            }
            if n_outputs > 1 && !training {
                return Err(Some(
                    "running_mean and running_var are outputs only with training_mode=1; \
                     the model is malformed"
                        .into(),
                ));
            }
            if int("spatial") == Some(0) {
                return Err(Some(
                    "spatial=0 (per-activation statistics) is not supported".into(),
                ));
            }
        }
        "Cast" => {
            if let Some(code) = cast_target_code(&a, ctx.opset).ok().flatten()
                && let Some(why) = missing_dtype(code)
            {
                return Err(Some(format!("casts to {}: {why}", onnx_dtype_name(code))));
            }
            if let Some(Some(code)) = input_types.first()
                && let Some(why) = missing_dtype(*code)
            {
                return Err(Some(format!(
                    "casts from {}: {why}",
                    onnx_dtype_name(*code)
                )));
            }
        }
        "CastLike" => {
            for (k, what) in [(0, "casts from"), (1, "casts to")] {
                if let Some(Some(code)) = input_types.get(k)
                    && let Some(why) = missing_dtype(*code)
                {
                    return Err(Some(format!("{what} {}: {why}", onnx_dtype_name(*code))));
                }
            }
        }
        // The Mean and InvStdDev outputs have the element type `stash_type` (default float);
        // kiln computes them in X's type.
        "LayerNormalization" if n_outputs > 1 => {
            let stash = i32::try_from(int("stash_type").unwrap_or(1)).unwrap_or(0);
            if let Some(Some(x)) = input_types.first()
                && *x != stash
            {
                return Err(Some(format!(
                    "the node asks for the Mean and InvStdDev outputs in stash_type {} while X \
                     is {}; kiln computes them in X's element type (set stash_type to it, or \
                     drop the extra outputs)",
                    onnx_dtype_name(stash),
                    onnx_dtype_name(*x)
                )));
            }
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Equal" | "Less" | "Greater" | "And" | "Or"
        | "Xor"
            if ctx.opset < 7 && int("broadcast").is_some_and(|v| v != 0) && a.has("axis") =>
        {
            return Err(Some(
                "legacy broadcasting with an `axis` attribute (opset < 7); re-export the \
                 model with opset 7 or newer"
                    .into(),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// An imported node: its op, plus a constant input the old form of the op kept as an
/// attribute (Reshape's `shape` before opset 5).
pub(crate) struct Imported {
    pub op: Op,
    pub const_input: Option<(usize, Tensor)>,
    /// `Some(k)`: the node keeps only its first `k` inputs; the op's attributes hold the
    /// (constant) rest (Pad's `pads`, `constant_value` and `axes`).
    pub keep_inputs: Option<usize>,
}

impl From<Op> for Imported {
    fn from(op: Op) -> Self {
        Imported {
            op,
            const_input: None,
            keep_inputs: None,
        }
    }
}

/// Checks the input count: `n_inputs` counts positions up to the last non-omitted input;
/// the first `min` positions must be present.
fn arity(
    ctx: &NodeCtx,
    node: &NodeProto,
    n_inputs: usize,
    min: usize,
    max: usize,
) -> Result<(), FrontendError> {
    if n_inputs > max {
        return Err(ctx.error(format!(
            "has {n_inputs} inputs but {} takes at most {max} at this opset",
            ctx.op
        )));
    }
    for i in 0..min {
        if node.input.get(i).is_none_or(|s| s.is_empty()) {
            return Err(ctx.error(format!(
                "required input {i} is missing ({} needs at least {min} inputs)",
                ctx.op
            )));
        }
    }
    Ok(())
}

fn window(a: &Attrs<'_>, pooling: bool) -> Result<WindowAttrs, FrontendError> {
    let auto_pad = match a.string("auto_pad")? {
        None => AutoPad::NotSet,
        Some(s) => AutoPad::parse(&s).ok_or_else(|| {
            a.ctx.attr(
                "auto_pad",
                format!("is {s:?}; it must be NOTSET, SAME_UPPER, SAME_LOWER or VALID"),
            )
        })?,
    };
    let kernel_shape = a.sizes("kernel_shape")?;
    if pooling && kernel_shape.is_empty() {
        return Err(a.ctx.attr(
            "kernel_shape",
            "is required but missing; the model is malformed",
        ));
    }
    Ok(WindowAttrs {
        auto_pad,
        kernel_shape,
        strides: a.sizes("strides")?,
        dilations: a.sizes("dilations")?,
        pads: a.sizes("pads")?,
        ceil_mode: a.flag("ceil_mode", false)?,
    })
}

/// Imports a supported default-domain node other than `Constant` (the loader turns those
/// into constant values). `n_inputs` is as for [`arity`]; `consts` holds the value of each
/// input that is a constant (for operands the op takes as attributes).
pub(crate) fn import(
    node: &NodeProto,
    ctx: &NodeCtx,
    n_inputs: usize,
    consts: &[Option<&Tensor>],
) -> Result<Imported, FrontendError> {
    let a = Attrs::new(ctx, &node.attribute);
    let opset = ctx.opset;
    let check = |min, max| arity(ctx, node, n_inputs, min, max);
    let op = match node.op_type() {
        "Conv" => {
            check(2, 3)?;
            Op::Conv(conv_attrs(ctx, &a)?)
        }
        "ConvTranspose" => {
            check(2, 3)?;
            let ConvAttrs { window: w, group } = conv_attrs(ctx, &a)?;
            Op::ConvTranspose(kiln_ir::ops::ConvTransposeAttrs {
                auto_pad: w.auto_pad,
                kernel_shape: w.kernel_shape,
                strides: w.strides,
                dilations: w.dilations,
                pads: w.pads,
                output_padding: a.sizes("output_padding")?,
                output_shape: a.sizes("output_shape")?,
                group,
            })
        }
        "Gemm" => {
            check(2, 3)?;
            // Opsets < 7 also had `broadcast`; C broadcasting is allowed from 7 on, and the
            // IR checks C's shape either way.
            Op::Gemm(GemmAttrs {
                alpha: a.float_or("alpha", 1.0)?,
                beta: a.float_or("beta", 1.0)?,
                trans_a: a.flag("transA", false)?,
                trans_b: a.flag("transB", false)?,
            })
        }
        "MatMul" => {
            check(2, 2)?;
            Op::MatMul
        }
        "Resize" | "Upsample" => return resize(node, ctx, &a, consts, check),
        "RNN" | "GRU" | "LSTM" => recurrent(node, ctx, &a, check)?,
        "Add" | "Sub" | "Mul" | "Div" => {
            check(2, 2)?;
            // Opset < 7 broadcasting without `axis` aligns B with A's trailing dimensions,
            // which numpy broadcasting also does (check_supported refused the `axis` form).
            Op::Binary(match node.op_type() {
                "Add" => BinaryOp::Add,
                "Sub" => BinaryOp::Sub,
                "Mul" => BinaryOp::Mul,
                _ => BinaryOp::Div,
            })
        }
        "Relu" | "Sigmoid" | "Tanh" | "Sqrt" | "Erf" | "Abs" | "Neg" | "Exp" | "Log"
        | "Reciprocal" | "Floor" | "Ceil" | "Round" | "Sign" | "Sin" | "Cos" => {
            check(1, 1)?;
            Op::Unary(match node.op_type() {
                "Relu" => UnaryOp::Relu,
                "Sigmoid" => UnaryOp::Sigmoid,
                "Sqrt" => UnaryOp::Sqrt,
                "Erf" => UnaryOp::Erf,
                "Abs" => UnaryOp::Abs,
                "Neg" => UnaryOp::Neg,
                "Exp" => UnaryOp::Exp,
                "Log" => UnaryOp::Log,
                "Reciprocal" => UnaryOp::Reciprocal,
                "Floor" => UnaryOp::Floor,
                "Ceil" => UnaryOp::Ceil,
                "Round" => UnaryOp::Round,
                "Sign" => UnaryOp::Sign,
                "Sin" => UnaryOp::Sin,
                "Cos" => UnaryOp::Cos,
                _ => UnaryOp::Tanh,
            })
        }
        "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" => {
            check(2, 2)?;
            Op::Compare(match node.op_type() {
                "Equal" => CompareOp::Equal,
                "Less" => CompareOp::Less,
                "LessOrEqual" => CompareOp::LessOrEqual,
                "Greater" => CompareOp::Greater,
                _ => CompareOp::GreaterOrEqual,
            })
        }
        "And" | "Or" | "Xor" => {
            check(2, 2)?;
            Op::Logical(match node.op_type() {
                "And" => LogicalOp::And,
                "Or" => LogicalOp::Or,
                _ => LogicalOp::Xor,
            })
        }
        "Not" => {
            check(1, 1)?;
            Op::Not
        }
        "Where" => {
            check(3, 3)?;
            Op::Where
        }
        // Before opset 8 the inputs had to have one shape (a special case of broadcasting);
        // opset 6's `consumed_inputs` attribute has no meaning in inference.
        "Max" | "Min" | "Sum" | "Mean" => {
            check(1, usize::MAX)?;
            Op::Variadic(match node.op_type() {
                "Max" => VariadicOp::Max,
                "Min" => VariadicOp::Min,
                "Sum" => VariadicOp::Sum,
                _ => VariadicOp::Mean,
            })
        }
        "PRelu" => {
            check(2, 2)?;
            Op::PRelu
        }
        "Mod" => {
            check(2, 2)?;
            let fmod = match a.int_or("fmod", 0)? {
                0 => false,
                1 => true,
                v => return Err(ctx.attr("fmod", format!("is {v}; it must be 0 or 1"))),
            };
            Op::Mod { fmod }
        }
        "BitShift" => {
            check(2, 2)?;
            let left = match a.string("direction")?.as_deref() {
                Some("LEFT") => true,
                Some("RIGHT") => false,
                Some(other) => {
                    return Err(ctx.attr(
                        "direction",
                        format!("is {other:?}; it must be \"LEFT\" or \"RIGHT\""),
                    ));
                }
                None => {
                    return Err(ctx.attr(
                        "direction",
                        "is required but missing; the model is malformed",
                    ));
                }
            };
            Op::BitShift { left }
        }
        "Pow" => {
            // Opsets < 12 want one float type for both; the IR takes any numeric exponent.
            check(2, 2)?;
            Op::Pow
        }
        // `axes` is an attribute before opset 18 (ReduceSum: 13) and an optional (constant)
        // input from then on, where `noop_with_empty_axes` appears too.
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => {
            let Some(kind) = ReduceKind::parse(node.op_type()) else {
                return Err(ctx.error("is not a reduction kiln knows"));
            };
            let input_form = opset >= if kind == ReduceKind::Sum { 13 } else { 18 };
            check(1, if input_form { 2 } else { 1 })?;
            Op::Reduce(
                kind,
                ReduceAttrs {
                    axes: if input_form { None } else { a.ints("axes")? },
                    keepdims: a.flag("keepdims", true)?,
                    noop_with_empty_axes: input_form && a.flag("noop_with_empty_axes", false)?,
                },
            )
        }
        "CumSum" => {
            check(2, 2)?;
            let needs = "the summation axis";
            let Some(t) = const_operand(node, ctx, consts, 1, "axis", needs)? else {
                return Err(ctx.error("input 1 (axis) is missing; CumSum needs the axis"));
            };
            let axis = match t.as_i64_vec() {
                Some(v) if v.len() == 1 && t.shape.len() <= 1 => v[0],
                _ => {
                    return Err(ctx.error(format!(
                        "input 1 (axis) must be a single integer, but it is {}; the model is \
                         malformed",
                        t.ty()
                    )));
                }
            };
            return Ok(Imported {
                op: Op::CumSum(CumSumAttrs {
                    axis,
                    exclusive: a.flag("exclusive", false)?,
                    reverse: a.flag("reverse", false)?,
                }),
                const_input: None,
                keep_inputs: Some(1),
            });
        }
        // `k` is an attribute in opset 1 and an input from 10 on.
        "TopK" => {
            let k = if opset < 10 {
                check(1, 1)?;
                a.int("k")?.ok_or_else(|| {
                    ctx.attr("k", "is required but missing; the model is malformed")
                })?
            } else {
                check(2, 2)?;
                let needs = "k (it decides the output shape)";
                let Some(t) = const_operand(node, ctx, consts, 1, "K", needs)? else {
                    return Err(ctx.error("input 1 (K) is missing; TopK needs k"));
                };
                match t.as_i64_vec() {
                    Some(v) if v.len() == 1 && t.shape.len() <= 1 => v[0],
                    _ => {
                        return Err(ctx.error(format!(
                            "input 1 (K) must be a single integer, but it is {}; the model is \
                             malformed",
                            t.ty()
                        )));
                    }
                }
            };
            let k = usize::try_from(k).map_err(|_| {
                ctx.error(format!(
                    "k is {k}; it must be ≥ 0, so the model is malformed"
                ))
            })?;
            return Ok(Imported {
                op: Op::TopK(TopKAttrs {
                    axis: a.int_or("axis", -1)?,
                    k,
                    largest: opset < 11 || a.flag("largest", true)?,
                }),
                const_input: None,
                keep_inputs: Some(1),
            });
        }
        "ArgMax" | "ArgMin" => {
            check(1, 1)?;
            Op::ArgReduce(ArgReduceAttrs {
                max: node.op_type() == "ArgMax",
                axis: a.int_or("axis", 0)?,
                keepdims: a.flag("keepdims", true)?,
                select_last_index: opset >= 12 && a.flag("select_last_index", false)?,
            })
        }
        "LayerNormalization" => {
            // `stash_type` only sets the precision of the statistics; kiln's kernels use the
            // input's type and the reference f64.
            check(2, 3)?;
            Op::LayerNormalization(LayerNormAttrs {
                axis: a.int_or("axis", -1)?,
                epsilon: a.float_or("epsilon", 1e-5)?,
            })
        }
        "InstanceNormalization" | "GroupNormalization" => {
            check(3, 3)?;
            let instance = node.op_type() == "InstanceNormalization";
            let num_groups = if instance {
                0
            } else {
                let g = a.int("num_groups")?.ok_or_else(|| {
                    ctx.attr(
                        "num_groups",
                        "is required but missing; the model is malformed",
                    )
                })?;
                usize::try_from(g)
                    .ok()
                    .filter(|&g| g >= 1)
                    .ok_or_else(|| ctx.attr("num_groups", format!("is {g}; it must be ≥ 1")))?
            };
            // GroupNormalization 21's `stash_type` only sets the statistics' precision.
            Op::GroupNormalization(GroupNormAttrs {
                instance,
                num_groups,
                epsilon: a.float_or("epsilon", 1e-5)?,
            })
        }
        "MeanVarianceNormalization" => {
            check(1, 1)?;
            Op::MeanVarianceNormalization(MvnAttrs {
                axes: a.ints("axes")?.unwrap_or_else(|| vec![0, 2, 3]),
            })
        }
        "LpNormalization" => {
            check(1, 1)?;
            let p = a.int_or("p", 2)?;
            if p != 1 && p != 2 {
                return Err(ctx.attr("p", format!("is {p}; it must be 1 or 2")));
            }
            Op::LpNormalization(LpNormAttrs {
                axis: a.int_or("axis", -1)?,
                p: p as u8,
            })
        }
        "LRN" => {
            check(1, 1)?;
            let size = a.int("size")?.ok_or_else(|| {
                ctx.attr("size", "is required but missing; the model is malformed")
            })?;
            let size = usize::try_from(size)
                .ok()
                .filter(|&s| (1..=i32::MAX as usize).contains(&s))
                .ok_or_else(|| ctx.attr("size", format!("is {size}; it must be at least 1")))?;
            Op::Lrn(LrnAttrs {
                alpha: a.float_or("alpha", 1e-4)?,
                beta: a.float_or("beta", 0.75)?,
                bias: a.float_or("bias", 1.0)?,
                size,
            })
        }
        "Gelu" => {
            check(1, 1)?;
            let tanh = match a.string("approximate")?.as_deref() {
                None | Some("none") => false,
                Some("tanh") => true,
                Some(other) => {
                    return Err(ctx.attr(
                        "approximate",
                        format!("is {other:?}; it must be \"none\" or \"tanh\""),
                    ));
                }
            };
            Op::Activation(Activation::Gelu { tanh })
        }
        "Clip" => {
            if opset < 11 {
                check(1, 1)?;
                // Infinite bounds clip nothing, so they are the same as no bound.
                let min = a.float("min")?.filter(|v| *v != f32::NEG_INFINITY);
                let max = a.float("max")?.filter(|v| *v != f32::INFINITY);
                Op::Clip(ClipAttrs { min, max })
            } else {
                check(1, 3)?;
                Op::Clip(ClipAttrs::default())
            }
        }
        "Softmax" => {
            check(1, 1)?;
            let coerce_2d = opset < 13;
            let axis = a.int_or("axis", if coerce_2d { 1 } else { -1 })?;
            Op::Softmax(SoftmaxAttrs { axis, coerce_2d })
        }
        "LogSoftmax" | "Hardmax" => {
            check(1, 1)?;
            let coerce_2d = opset < 13;
            let axis = a.int_or("axis", if coerce_2d { 1 } else { -1 })?;
            let attrs = SoftmaxAttrs { axis, coerce_2d };
            if node.op_type() == "LogSoftmax" {
                Op::LogSoftmax(attrs)
            } else {
                Op::Hardmax(attrs)
            }
        }
        "MaxPool" => {
            check(1, 1)?;
            let storage_order = a.int_or("storage_order", 0)?;
            if !(0..=1).contains(&storage_order) {
                return Err(ctx.attr(
                    "storage_order",
                    format!("is {storage_order}; it must be 0 (row major) or 1 (column major)"),
                ));
            }
            Op::MaxPool(MaxPoolAttrs {
                window: window(&a, true)?,
                storage_order,
            })
        }
        "AveragePool" => {
            check(1, 1)?;
            Op::AveragePool(AveragePoolAttrs {
                window: window(&a, true)?,
                count_include_pad: a.flag("count_include_pad", false)?,
            })
        }
        "GlobalAveragePool" => {
            check(1, 1)?;
            Op::GlobalAveragePool
        }
        "LpPool" => {
            check(1, 1)?;
            let p = a.int_or("p", 2)?;
            let p = u32::try_from(p)
                .ok()
                .filter(|&p| (1..=64).contains(&p))
                .ok_or_else(|| ctx.attr("p", format!("is {p}; it must be between 1 and 64")))?;
            Op::LpPool(LpPoolAttrs {
                window: window(&a, true)?,
                p,
            })
        }
        "GlobalMaxPool" => {
            check(1, 1)?;
            Op::GlobalMaxPool
        }
        "BatchNormalization" => {
            check(5, 5)?;
            let training = opset >= 14 && a.int("training_mode")?.is_some_and(|v| v != 0);
            Op::BatchNormalization(BatchNormAttrs {
                epsilon: a.float_or("epsilon", 1e-5)?,
                training_momentum: if training {
                    Some(a.float_or("momentum", 0.9)?)
                } else {
                    None
                },
            })
        }
        "Reshape" if opset < 5 => {
            check(1, 1)?;
            let shape = a.ints("shape")?.ok_or_else(|| {
                ctx.attr(
                    "shape",
                    "is required before opset 5 but missing; the model is malformed",
                )
            })?;
            let t = Tensor::new(vec![shape.len()], TensorData::I64(shape))
                .map_err(|e| ctx.attr("shape", e))?;
            return Ok(Imported {
                op: Op::Reshape(ReshapeAttrs::default()),
                const_input: Some((1, t)),
                keep_inputs: None,
            });
        }
        "Reshape" => {
            check(2, 2)?;
            Op::Reshape(ReshapeAttrs {
                allowzero: a.flag("allowzero", false)?,
            })
        }
        "Flatten" => {
            check(1, 1)?;
            Op::Flatten(FlattenAttrs {
                axis: a.int_or("axis", 1)?,
            })
        }
        "Transpose" => {
            check(1, 1)?;
            Op::Transpose(TransposeAttrs {
                perm: a.ints("perm")?,
            })
        }
        "Concat" => {
            check(1, usize::MAX)?;
            // `axis` has been required since opset 4; before, it defaulted to 1.
            let axis = match a.int("axis")? {
                Some(v) => v,
                None if opset < 4 => 1,
                None => {
                    return Err(ctx.attr("axis", "is required but missing; the model is malformed"));
                }
            };
            Op::Concat(ConcatAttrs { axis })
        }
        "Shape" | "Size" | "EyeLike" | "ConstantOfShape" | "Range" | "Slice" | "Split"
        | "Expand" | "Tile" | "DepthToSpace" | "SpaceToDepth" | "Trilu" | "Gather"
        | "GatherElements" | "GatherND" | "ScatterND" | "ScatterElements" | "OneHot" => {
            return movement(node, ctx, &a, consts, check);
        }
        "Identity" => {
            check(1, 1)?;
            Op::Identity
        }
        "LeakyRelu" => {
            check(1, 1)?;
            Op::Activation(Activation::LeakyRelu {
                alpha: a.float_or("alpha", 0.01)?,
            })
        }
        "HardSigmoid" => {
            check(1, 1)?;
            Op::Activation(Activation::HardSigmoid {
                alpha: a.float_or("alpha", 0.2)?,
                beta: a.float_or("beta", 0.5)?,
            })
        }
        "HardSwish" => {
            check(1, 1)?;
            Op::Activation(Activation::HardSwish)
        }
        "Elu" => {
            check(1, 1)?;
            Op::Activation(Activation::Elu {
                alpha: a.float_or("alpha", 1.0)?,
            })
        }
        "Selu" => {
            check(1, 1)?;
            Op::Activation(Activation::Selu {
                alpha: a.float_or("alpha", 1.673_263_2)?,
                gamma: a.float_or("gamma", 1.050_701)?,
            })
        }
        "Celu" => {
            check(1, 1)?;
            let alpha = a.float_or("alpha", 1.0)?;
            if alpha == 0.0 || !alpha.is_finite() {
                return Err(ctx.attr(
                    "alpha",
                    format!("is {alpha}; it must be finite and non-zero"),
                ));
            }
            Op::Activation(Activation::Celu { alpha })
        }
        "ThresholdedRelu" => {
            check(1, 1)?;
            Op::Activation(Activation::ThresholdedRelu {
                alpha: a.float_or("alpha", 1.0)?,
            })
        }
        "Softplus" | "Softsign" | "Mish" => {
            check(1, 1)?;
            Op::Activation(match node.op_type() {
                "Softplus" => Activation::Softplus,
                "Softsign" => Activation::Softsign,
                _ => Activation::Mish,
            })
        }
        // `axes` is an attribute before opset 13 and an (optional) input from 13 on.
        "Squeeze" if opset < 13 => {
            check(1, 1)?;
            Op::Squeeze(SqueezeAttrs {
                axes: a.ints("axes")?,
            })
        }
        "Squeeze" => {
            check(1, 2)?;
            Op::Squeeze(SqueezeAttrs::default())
        }
        "Unsqueeze" if opset < 13 => {
            check(1, 1)?;
            let axes = a
                .ints("axes")?
                .ok_or_else(|| ctx.attr("axes", "is required but missing"))?;
            Op::Unsqueeze(UnsqueezeAttrs { axes: Some(axes) })
        }
        "Unsqueeze" => {
            check(2, 2)?;
            Op::Unsqueeze(UnsqueezeAttrs::default())
        }
        "Dropout" => {
            // ratio (an attribute before opset 12, an input after) does not matter in
            // inference; training_mode (12+) is checked by shape inference.
            check(1, 3)?;
            Op::Dropout
        }
        "Pad" => return pad(node, ctx, &a, consts, check),
        "Cast" => {
            // `saturate` (19+) and `round_mode` (24+) only concern float8 targets, which
            // check_supported refused.
            check(1, 1)?;
            let what = if opset < 6 {
                "a type name"
            } else {
                "a type code"
            };
            let code = cast_target_code(&a, opset)?.ok_or_else(|| {
                ctx.attr(
                    "to",
                    format!("({what}) is required but missing; the model is malformed"),
                )
            })?;
            let to = dtype_from_onnx(code).ok_or_else(|| {
                ctx.attr(
                    "to",
                    match missing_dtype(code) {
                        Some(why) => format!("is {}: {why}", onnx_dtype_name(code)),
                        None => format!(
                            "is {}, which is not an element type; the model is malformed",
                            onnx_dtype_name(code)
                        ),
                    },
                )
            })?;
            Op::Cast(CastAttrs { to })
        }
        "QuantizeLinear" | "DequantizeLinear" => {
            check(2, 3)?;
            let block_size = a.int_or("block_size", 0)?;
            let block_size = usize::try_from(block_size)
                .ok()
                .filter(|&b| b <= i32::MAX as usize)
                .ok_or_else(|| {
                    ctx.attr("block_size", format!("is {block_size}; it must be ≥ 0"))
                })?;
            let code = a.int_or("output_dtype", 0)?;
            let output_dtype =
                match code {
                    0 => None,
                    c => Some(i32::try_from(c).ok().and_then(dtype_from_onnx).ok_or_else(
                        || {
                            ctx.attr(
                                "output_dtype",
                                format!("is {c}, which kiln cannot quantise to"),
                            )
                        },
                    )?),
                };
            if a.int_or("precision", 0)? != 0 {
                return Err(ctx.attr(
                    "precision",
                    "is set; kiln divides in the input's precision only (leave it unset)",
                ));
            }
            // `saturate` only concerns float8 outputs, which check_supported refused.
            let q = QuantAttrs {
                axis: a.int_or("axis", 1)?,
                block_size,
                output_dtype,
            };
            if node.op_type() == "QuantizeLinear" {
                Op::QuantizeLinear(q)
            } else {
                Op::DequantizeLinear(q)
            }
        }
        "MatMulInteger" => {
            check(2, 4)?;
            Op::MatMulInteger
        }
        "QLinearMatMul" => {
            check(8, 8)?;
            Op::QLinearMatMul
        }
        "ConvInteger" | "QLinearConv" => {
            let attrs = conv_attrs(ctx, &a)?;
            if node.op_type() == "ConvInteger" {
                check(2, 4)?;
                Op::ConvInteger(attrs)
            } else {
                check(8, 9)?;
                Op::QLinearConv(attrs)
            }
        }
        "Einsum" => {
            if n_inputs == 0 {
                return Err(ctx.error("has no inputs; Einsum needs at least one operand"));
            }
            let equation = a.string("equation")?.ok_or_else(|| {
                ctx.attr(
                    "equation",
                    "is required but missing; the model is malformed",
                )
            })?;
            Op::Einsum(kiln_ir::ops::EinsumAttrs { equation })
        }
        "DynamicQuantizeLinear" => {
            check(1, 1)?;
            Op::DynamicQuantizeLinear
        }
        "CastLike" => {
            // `saturate` and `round_mode` only concern float8 targets, refused above. The
            // loader sets `to` from the `like` operand's type; only its type is read.
            check(2, 2)?;
            return Ok(Imported {
                op: Op::Cast(CastAttrs {
                    to: kiln_ir::DType::F32,
                }),
                const_input: None,
                keep_inputs: Some(1),
            });
        }
        other => {
            // check_supported ran on every node before import, so only listed ops get here.
            return Err(ctx.error(format!("kiln cannot import {other}")));
        }
    };
    Ok(op.into())
}

/// Cast's `to` as an ONNX `TensorProto.DataType` code: an int from opset 6, a type name
/// (`"FLOAT"`) before. `Ok(None)` when absent; an unknown name is code 0 (UNDEFINED).
fn cast_target_code(a: &Attrs<'_>, opset: i64) -> Result<Option<i32>, FrontendError> {
    if opset < 6 {
        return Ok(a
            .string("to")?
            .map(|s| DataType::from_str_name(&s.to_ascii_uppercase()).map_or(0, |d| d as i32)));
    }
    // A code beyond i32 is no data type; -1 is no code either.
    Ok(a.int("to")?.map(|v| i32::try_from(v).unwrap_or(-1)))
}

/// Why kiln cannot hold elements of the ONNX data type `code`: `None` for the types it has
/// and for codes that are no element type at all (UNDEFINED, unknown codes).
fn missing_dtype(code: i32) -> Option<String> {
    use DataType as D;
    if dtype_from_onnx(code).is_some() {
        return None;
    }
    Some(
        match D::try_from(code).ok()? {
            D::Undefined => return None,
            D::String => "kiln has no string tensors",
            D::Float8e4m3fn
            | D::Float8e4m3fnuz
            | D::Float8e5m2
            | D::Float8e5m2fnuz
            | D::Float8e8m0 => "kiln has no float8 element type",
            D::Int4 | D::Uint4 | D::Int2 | D::Uint2 => "kiln has no 4- or 2-bit integer type",
            D::Float4e2m1 | D::Float6e2m3 | D::Float6e3m2 => "kiln has no 4- or 6-bit float type",
            D::Complex64 | D::Complex128 => "kiln has no complex element type",
            // The types kiln has returned above.
            _ => return None,
        }
        .to_string(),
    )
}

/// Input `slot` when it is a constant: `Ok(None)` when the node omits it, an error saying
/// that kiln needs `needs` at compile time when it is only known at run time.
fn const_operand<'t>(
    node: &NodeProto,
    ctx: &NodeCtx,
    consts: &[Option<&'t Tensor>],
    slot: usize,
    what: &str,
    needs: &str,
) -> Result<Option<&'t Tensor>, FrontendError> {
    if node.input.get(slot).is_none_or(|s| s.is_empty()) {
        return Ok(None);
    }
    match consts.get(slot).copied().flatten() {
        Some(t) => Ok(Some(t)),
        None => Err(ctx.error(format!(
            "input {slot} ({what}) is only known at run time, but kiln needs {needs} at \
             compile time: make it an initializer or a Constant node"
        ))),
    }
}

/// A constant 1-D integer operand (Pad's `pads` and `axes`).
fn const_ints(
    t: &Tensor,
    ctx: &NodeCtx,
    slot: usize,
    what: &str,
) -> Result<Vec<i64>, FrontendError> {
    match t.as_i64_vec() {
        Some(v) if t.shape.len() == 1 => Ok(v),
        _ => Err(ctx.error(format!(
            "input {slot} ({what}) must be a 1-D integer tensor, but it is {}; the model is \
             malformed",
            t.ty()
        ))),
    }
}

/// Pad: opsets < 11 keep `pads` (opset 1: `paddings`) and `value` as attributes; from 11
/// on they are inputs (`axes` too from 18), which must be constants because the amounts
/// decide the output shape. Either way the IR gets them as attributes and one input.
fn pad(
    node: &NodeProto,
    ctx: &NodeCtx,
    a: &Attrs<'_>,
    consts: &[Option<&Tensor>],
    check: impl Fn(usize, usize) -> Result<(), FrontendError>,
) -> Result<Imported, FrontendError> {
    let opset = ctx.opset;
    let mode = match a.string("mode")? {
        None => PadMode::Constant,
        Some(s) => match PadMode::parse(&s) {
            Some(PadMode::Wrap) if opset < 19 => {
                return Err(ctx.attr(
                    "mode",
                    format!(
                        "is \"wrap\", which Pad only has from opset 19 (the model imports \
                         opset {opset}); the model is malformed"
                    ),
                ));
            }
            Some(m) => m,
            None => {
                return Err(ctx.attr(
                    "mode",
                    format!("is {s:?}; it must be constant, reflect, edge or wrap"),
                ));
            }
        },
    };
    let attrs = if opset < 11 {
        check(1, 1)?;
        let name = if opset < 2 { "paddings" } else { "pads" };
        let pads = a
            .ints(name)?
            .ok_or_else(|| ctx.attr(name, "is required but missing; the model is malformed"))?;
        PadAttrs {
            mode,
            pads,
            axes: None,
            value: a.float_or("value", 0.0)? as f64,
        }
    } else {
        check(2, if opset < 18 { 3 } else { 4 })?;
        let needs = "the pad amounts (they decide the output shape)";
        let Some(pads) = const_operand(node, ctx, consts, 1, "pads", needs)? else {
            return Err(ctx.error("input 1 (pads) is missing; Pad needs the pad amounts"));
        };
        let pads = const_ints(pads, ctx, 1, "pads")?;
        let axes = match const_operand(node, ctx, consts, 3, "axes", "the padded axes")? {
            Some(t) => Some(const_ints(t, ctx, 3, "axes")?),
            None => None,
        };
        let needs = "the padding value";
        let value = match const_operand(node, ctx, consts, 2, "constant_value", needs)? {
            None => 0.0,
            Some(t) => pad_value(t, ctx)?,
        };
        PadAttrs {
            mode,
            pads,
            axes,
            value,
        }
    };
    Ok(Imported {
        op: Op::Pad(attrs),
        const_input: None,
        keep_inputs: Some(1),
    })
}

/// Pad's `constant_value` operand as the f64 the IR keeps: one element, which for 64-bit
/// integers must survive the round trip through f64.
fn pad_value(t: &Tensor, ctx: &NodeCtx) -> Result<f64, FrontendError> {
    let v = match (&t.data, t.numel()) {
        (_, n) if n != 1 => None,
        (TensorData::I64(v), _) => Some(v[0] as f64).filter(|&f| f as i64 == v[0]),
        (TensorData::U64(v), _) => Some(v[0] as f64).filter(|&f| f as u64 == v[0]),
        _ => t.first_as_f64(),
    };
    v.ok_or_else(|| {
        ctx.error(format!(
            "input 2 (constant_value) must be a single value that kiln can represent exactly, \
             but it is {}{}",
            t.ty(),
            if t.numel() == 1 {
                " with a value beyond 2^53"
            } else {
                ""
            }
        ))
    })
}

/// Conv's attributes (shared by the convolutions): the window and `group`, bounded like the
/// window sizes so the IR's channel arithmetic cannot overflow.
fn conv_attrs(ctx: &NodeCtx, a: &Attrs<'_>) -> Result<ConvAttrs, FrontendError> {
    let group = a.int_or("group", 1)?;
    let group = u32::try_from(group)
        .ok()
        .filter(|&g| (1..=i32::MAX as u32).contains(&g))
        .map(|g| g as usize)
        .ok_or_else(|| {
            ctx.attr(
                "group",
                format!("is {group}; it must be between 1 and {}", i32::MAX),
            )
        })?;
    Ok(ConvAttrs {
        window: window(a, false)?,
        group,
    })
}
/// The shape and data-movement ops (`kiln_ir::ops::{view, gather, generate}`): operands
/// that decide the output shape (Slice's bounds, Split's sizes, Expand's shape, Tile's
/// repeats, Trilu's `k`) must be constants and become attributes.
fn movement(
    node: &NodeProto,
    ctx: &NodeCtx,
    a: &Attrs<'_>,
    consts: &[Option<&Tensor>],
    check: impl Fn(usize, usize) -> Result<(), FrontendError>,
) -> Result<Imported, FrontendError> {
    use kiln_ir::ops::{
        ConstantOfShapeAttrs, DepthToSpaceAttrs, ExpandAttrs, EyeLikeAttrs, GatherAttrs,
        GatherNdAttrs, OneHotAttrs, Reduction, ScatterAttrs, ShapeAttrs, SliceAttrs,
        SpaceToDepthAttrs, SplitAttrs, TileAttrs, TriluAttrs,
    };
    let opset = ctx.opset;
    // A constant 1-D integer operand that decides the output shape.
    let shape_ints =
        |slot: usize, what: &str, needs: &str| -> Result<Option<Vec<i64>>, FrontendError> {
            match const_operand(node, ctx, consts, slot, what, needs)? {
                None => Ok(None),
                Some(t) if t.shape.len() <= 1 => t.as_i64_vec().map(Some).ok_or_else(|| {
                    ctx.error(format!(
                        "input {slot} ({what}) must be an integer tensor, but it is {}; the model \
                     is malformed",
                        t.ty()
                    ))
                }),
                Some(t) => Err(ctx.error(format!(
                    "input {slot} ({what}) must be 1-D, but it is {}; the model is malformed",
                    t.ty()
                ))),
            }
        };
    let views = |op: Op| Imported {
        op,
        const_input: None,
        keep_inputs: Some(1),
    };
    let blocksize = || -> Result<usize, FrontendError> {
        let b = a.int("blocksize")?.ok_or_else(|| {
            ctx.attr(
                "blocksize",
                "is required but missing; the model is malformed",
            )
        })?;
        usize::try_from(b)
            .ok()
            .filter(|&b| (1..=1 << 16).contains(&b))
            .ok_or_else(|| ctx.attr("blocksize", format!("is {b}; it must be at least 1")))
    };
    let reduction = || -> Result<Reduction, FrontendError> {
        match a.string("reduction")? {
            None => Ok(Reduction::None),
            Some(s) => Reduction::parse(&s).ok_or_else(|| {
                ctx.attr(
                    "reduction",
                    format!("is {s:?}; it must be none, add, mul, max or min"),
                )
            }),
        }
    };
    let op = match node.op_type() {
        "Shape" => {
            check(1, 1)?;
            Op::Shape(ShapeAttrs {
                start: if opset >= 15 {
                    a.int_or("start", 0)?
                } else {
                    0
                },
                end: if opset >= 15 { a.int("end")? } else { None },
            })
        }
        "Size" => {
            check(1, 1)?;
            Op::Size
        }
        "EyeLike" => {
            check(1, 1)?;
            let dtype = match a.int("dtype")? {
                None => None,
                Some(code) => Some(
                    i32::try_from(code)
                        .ok()
                        .and_then(dtype_from_onnx)
                        .ok_or_else(|| {
                            ctx.attr(
                                "dtype",
                                format!("is {code}, which is no element type kiln has"),
                            )
                        })?,
                ),
            };
            Op::EyeLike(EyeLikeAttrs {
                dtype,
                k: a.int_or("k", 0)?,
            })
        }
        "ConstantOfShape" => {
            check(1, 1)?;
            let value = match a.tensor("value")? {
                None => Tensor::new(vec![1], TensorData::F32(vec![0.0]))
                    .map_err(|e| ctx.attr("value", e))?,
                Some(tp) => {
                    let budget = std::cell::Cell::new(0);
                    let tctx = crate::tensor::TensorCtx {
                        base_dir: None,
                        max_elements: 1,
                        external_budget: &budget,
                    };
                    crate::tensor::tensor_from_proto(tp, "ConstantOfShape's value", tctx)?
                }
            };
            if value.numel() != 1 {
                return Err(ctx.attr(
                    "value",
                    format!("must hold one element, but it is {}", value.ty()),
                ));
            }
            Op::ConstantOfShape(ConstantOfShapeAttrs { value })
        }
        "Range" => {
            check(3, 3)?;
            Op::Range
        }
        "Slice" if opset < 10 => {
            check(1, 1)?;
            let need = |n: &str| {
                a.ints(n)?
                    .ok_or_else(|| ctx.attr(n, "is required but missing; the model is malformed"))
            };
            Op::Slice(SliceAttrs {
                starts: need("starts")?,
                ends: need("ends")?,
                axes: a.ints("axes")?,
                steps: None,
            })
        }
        "Slice" => {
            check(3, 5)?;
            let needs = "the slice bounds (they decide the output shape)";
            let starts = shape_ints(1, "starts", needs)?.unwrap_or_default();
            let ends = shape_ints(2, "ends", needs)?.unwrap_or_default();
            let axes = shape_ints(3, "axes", "the sliced axes")?;
            let steps = shape_ints(4, "steps", "the steps (they decide the output shape)")?;
            return Ok(views(Op::Slice(SliceAttrs {
                starts,
                ends,
                axes,
                steps,
            })));
        }
        "Split" => {
            let outputs = trimmed_len(&node.output);
            let (split, uneven) =
                if opset < 13 {
                    check(1, if opset < 2 { 2 } else { 1 })?;
                    let split = match a.ints("split")? {
                        Some(s) => Some(s),
                        None if opset < 2 => shape_ints(1, "split", "the part sizes")?,
                        None => None,
                    };
                    (split, false)
                } else {
                    check(1, 2)?;
                    let split =
                        shape_ints(1, "split", "the part sizes (they decide the output shapes)")?;
                    let num = if opset >= 18 {
                        a.int("num_outputs")?
                    } else {
                        None
                    };
                    if let Some(n) = num
                        && (split.is_some() || n != outputs as i64)
                    {
                        return Err(ctx.attr(
                        "num_outputs",
                        format!(
                            "is {n}, but the node has {outputs} outputs{}; the model is malformed",
                            if split.is_some() { " and a split input" } else { "" }
                        ),
                    ));
                    }
                    (split, num.is_some())
                };
            return Ok(views(Op::Split(SplitAttrs {
                axis: a.int_or("axis", 0)?,
                split,
                outputs,
                uneven,
            })));
        }
        "Expand" => {
            check(2, 2)?;
            let shape = shape_ints(1, "shape", "the target shape (it decides the output shape)")?
                .unwrap_or_default();
            return Ok(views(Op::Expand(ExpandAttrs { shape })));
        }
        "Tile" => {
            check(2, 2)?;
            let repeats = shape_ints(1, "repeats", "the repeats (they decide the output shape)")?
                .unwrap_or_default();
            return Ok(views(Op::Tile(TileAttrs { repeats })));
        }
        "DepthToSpace" => {
            check(1, 1)?;
            let crd = match a.string("mode")?.as_deref() {
                None | Some("DCR") => false,
                Some("CRD") if opset >= 11 => true,
                Some(m) => {
                    return Err(ctx.attr("mode", format!("is {m:?}; it must be DCR or CRD")));
                }
            };
            Op::DepthToSpace(DepthToSpaceAttrs {
                blocksize: blocksize()?,
                crd,
            })
        }
        "SpaceToDepth" => {
            check(1, 1)?;
            Op::SpaceToDepth(SpaceToDepthAttrs {
                blocksize: blocksize()?,
            })
        }
        "Trilu" => {
            check(1, 2)?;
            let k = match shape_ints(1, "k", "the diagonal offset k")? {
                None => 0,
                Some(v) => match v.as_slice() {
                    [k] => *k,
                    _ => {
                        return Err(ctx.error(format!(
                            "input 1 (k) must hold one value, but it has {}; the model is malformed",
                            v.len()
                        )));
                    }
                },
            };
            return Ok(views(Op::Trilu(TriluAttrs {
                upper: a.flag("upper", true)?,
                k,
            })));
        }
        "Gather" => {
            check(2, 2)?;
            Op::Gather(GatherAttrs {
                axis: a.int_or("axis", 0)?,
            })
        }
        "GatherElements" => {
            check(2, 2)?;
            Op::GatherElements(GatherAttrs {
                axis: a.int_or("axis", 0)?,
            })
        }
        "GatherND" => {
            check(2, 2)?;
            let b = a.int_or("batch_dims", 0)?;
            let batch_dims = usize::try_from(b)
                .map_err(|_| ctx.attr("batch_dims", format!("is {b}; it must be ≥ 0")))?;
            Op::GatherND(GatherNdAttrs { batch_dims })
        }
        "ScatterND" => {
            check(3, 3)?;
            Op::ScatterND(ScatterAttrs {
                axis: 0,
                reduction: reduction()?,
            })
        }
        "ScatterElements" => {
            check(3, 3)?;
            Op::ScatterElements(ScatterAttrs {
                axis: a.int_or("axis", 0)?,
                reduction: reduction()?,
            })
        }
        "OneHot" => {
            check(3, 3)?;
            const_operand(
                node,
                ctx,
                consts,
                1,
                "depth",
                "the depth (it decides the output shape)",
            )?;
            Op::OneHot(OneHotAttrs {
                axis: a.int_or("axis", -1)?,
            })
        }
        other => return Err(ctx.error(format!("kiln cannot import {other}"))),
    };
    Ok(op.into())
}

/// Outputs up to the last named one.
fn trimmed_len(names: &[String]) -> usize {
    names
        .iter()
        .rposition(|s| !s.is_empty())
        .map_or(0, |p| p + 1)
}

/// A string attribute parsed by `parse`, `default` when absent; an unknown value is an
/// error listing the accepted ones.
fn choice<T>(
    a: &Attrs<'_>,
    name: &str,
    default: T,
    accepted: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, FrontendError> {
    match a.string(name)? {
        None => Ok(default),
        Some(s) => parse(&s).ok_or_else(|| {
            a.ctx
                .attr(name, format!("is {s:?}; it must be one of {accepted}"))
        }),
    }
}

/// Resize (opsets 10 to 19) and Upsample (7, 9). `roi`, `scales` and `sizes` decide the
/// output shape (roi the sampled positions), so they must be constants; they become
/// attributes and the node keeps input X only. Opset 10 Resize and Upsample sample at
/// `x / scale` (asymmetric) and round nearest positions down (up when downsampling), as
/// onnxruntime does.
fn resize(
    node: &NodeProto,
    ctx: &NodeCtx,
    a: &Attrs<'_>,
    consts: &[Option<&Tensor>],
    check: impl Fn(usize, usize) -> Result<(), FrontendError>,
) -> Result<Imported, FrontendError> {
    use kiln_ir::ops::resize::{AspectPolicy, CoordMode, NearestMode, ResizeAttrs, ResizeMode};
    let opset = ctx.opset;
    let upsample = node.op_type() == "Upsample";
    let legacy = upsample || opset < 11;
    let mode = choice(
        a,
        "mode",
        ResizeMode::Nearest,
        "nearest, linear, cubic",
        |s| match s {
            "nearest" => Some(ResizeMode::Nearest),
            "linear" | "bilinear" if legacy => Some(ResizeMode::Linear),
            "linear" => Some(ResizeMode::Linear),
            "cubic" if !legacy => Some(ResizeMode::Cubic),
            _ => None,
        },
    )?;
    let mut attrs = ResizeAttrs {
        mode,
        ..Default::default()
    };
    // (slot, name) of the operands that must be constant.
    let slots: &[(usize, &str)] = if upsample && opset < 9 {
        check(1, 1)?;
        let scales = a.floats("scales")?.ok_or_else(|| {
            ctx.attr(
                "scales",
                "is required before opset 9 but missing; the model is malformed",
            )
        })?;
        attrs.scales = Some(scales.iter().map(|&v| v as f64).collect());
        &[]
    } else if legacy {
        check(2, 2)?;
        &[(1, "scales")]
    } else {
        check(1, 4)?;
        &[(1, "roi"), (2, "scales"), (3, "sizes")]
    };
    if legacy {
        attrs.coord = CoordMode::Asymmetric;
        attrs.nearest = NearestMode::Floor;
    } else {
        attrs.coord = choice(
            a,
            "coordinate_transformation_mode",
            CoordMode::HalfPixel,
            "half_pixel, half_pixel_symmetric (19+), pytorch_half_pixel, align_corners, \
             asymmetric, tf_half_pixel_for_nn (11 only), tf_crop_and_resize",
            |s| {
                CoordMode::parse(s).filter(|m| match m {
                    CoordMode::HalfPixelSymmetric => opset >= 19,
                    CoordMode::TfHalfPixelForNn => opset < 13,
                    _ => true,
                })
            },
        )?;
        attrs.nearest = choice(
            a,
            "nearest_mode",
            NearestMode::RoundPreferFloor,
            "round_prefer_floor, round_prefer_ceil, floor, ceil",
            NearestMode::parse,
        )?;
        attrs.cubic_a = a.float_or("cubic_coeff_a", -0.75)? as f64;
        attrs.exclude_outside = a.flag("exclude_outside", false)?;
        attrs.extrapolation = a.float_or("extrapolation_value", 0.0)? as f64;
        if opset >= 18 {
            attrs.antialias = a.flag("antialias", false)?;
            attrs.axes = a.ints("axes")?;
            attrs.policy = choice(
                a,
                "keep_aspect_ratio_policy",
                AspectPolicy::Stretch,
                "stretch, not_larger, not_smaller",
                |s| match s {
                    "stretch" => Some(AspectPolicy::Stretch),
                    "not_larger" => Some(AspectPolicy::NotLarger),
                    "not_smaller" => Some(AspectPolicy::NotSmaller),
                    _ => None,
                },
            )?;
        }
        if attrs.antialias && mode == ResizeMode::Nearest {
            return Err(ctx.attr("antialias", "is set, but mode nearest has no antialiasing"));
        }
    }
    let present = |slot: usize| node.input.get(slot).is_some_and(|s| !s.is_empty());
    let runtime: Vec<String> = slots
        .iter()
        .filter(|&&(slot, _)| present(slot) && consts.get(slot).copied().flatten().is_none())
        .map(|&(slot, what)| format!("input {slot} ({what}, value {:?})", node.input[slot]))
        .collect();
    if !runtime.is_empty() {
        return Err(ctx.error(format!(
            "{} only known at run time, but kiln needs the output shape and the sampled \
             positions at compile time: make {} an initializer or a Constant node (or bind \
             it with --bind-input)",
            if runtime.len() == 1 {
                format!("{} is", runtime[0])
            } else {
                format!("{} are", runtime.join(" and "))
            },
            if runtime.len() == 1 { "it" } else { "them" }
        )));
    }
    for &(slot, what) in slots {
        let Some(t) = consts
            .get(slot)
            .copied()
            .flatten()
            .filter(|_| present(slot))
        else {
            continue;
        };
        if t.numel() == 0 {
            continue;
        }
        if t.shape.len() != 1 {
            return Err(ctx.error(format!(
                "input {slot} ({what}) must be 1-D, but it is {}; the model is malformed",
                t.ty()
            )));
        }
        match what {
            "sizes" => {
                attrs.sizes = Some(
                    t.as_i64_vec()
                        .filter(|_| !t.dtype().is_float())
                        .ok_or_else(|| {
                            ctx.error(format!(
                                "input {slot} (sizes) must be int64, but it is {}",
                                t.ty()
                            ))
                        })?,
                );
            }
            _ => {
                if !t.dtype().is_float() {
                    return Err(ctx.error(format!(
                        "input {slot} ({what}) must be a float tensor, but it is {}",
                        t.ty()
                    )));
                }
                let v = t.data.to_f64_vec();
                if what == "roi" {
                    attrs.roi = Some(v);
                } else {
                    attrs.scales = Some(v);
                }
            }
        }
    }
    if attrs.coord != CoordMode::TfCropAndResize {
        attrs.roi = None;
    }
    if legacy
        && mode == ResizeMode::Nearest
        && let Some(s) = &attrs.scales
        && s.iter().any(|&v| v < 1.0)
    {
        attrs.nearest = NearestMode::Ceil;
        if s.iter().any(|&v| v > 1.0) {
            return Err(ctx.error(
                "scales both enlarge and shrink axes; kiln does not know which way opset-10 \
                 nearest resizing rounds then (re-export with opset 11 or newer)",
            ));
        }
    }
    Ok(Imported {
        op: Op::Resize(attrs),
        const_input: None,
        keep_inputs: Some(1),
    })
}

/// RNN, GRU and LSTM (opsets 7, 14, 22; `layout` from 14). Opsets before 7 had
/// `output_sequence`, which only said whether Y is computed; kiln always computes it.
fn recurrent(
    node: &NodeProto,
    ctx: &NodeCtx,
    a: &Attrs<'_>,
    check: impl Fn(usize, usize) -> Result<(), FrontendError>,
) -> Result<Op, FrontendError> {
    use kiln_ir::ops::rnn::{Direction, RnnActivation, RnnAttrs, RnnKind};
    let kind = match node.op_type() {
        "RNN" => RnnKind::Rnn,
        "GRU" => RnnKind::Gru,
        _ => RnnKind::Lstm,
    };
    check(3, if kind == RnnKind::Lstm { 8 } else { 6 })?;
    let direction = choice(
        a,
        "direction",
        Direction::Forward,
        "forward, reverse, bidirectional",
        |s| match s {
            "forward" => Some(Direction::Forward),
            "reverse" => Some(Direction::Reverse),
            "bidirectional" => Some(Direction::Bidirectional),
            _ => None,
        },
    )?;
    let hidden = a.int("hidden_size")?.ok_or_else(|| {
        ctx.attr(
            "hidden_size",
            "is missing; kiln needs it (re-export the model with hidden_size set)",
        )
    })?;
    let hidden_size = usize::try_from(hidden)
        .ok()
        .filter(|&h| (1..=i32::MAX as usize).contains(&h))
        .ok_or_else(|| {
            ctx.attr(
                "hidden_size",
                format!("is {hidden}; it must be between 1 and {}", i32::MAX),
            )
        })?;
    let activations = match a.get("activations") {
        None => RnnAttrs::default_activations(kind, direction),
        Some(_) => {
            let names = a.strings("activations")?;
            let alphas = a.floats("activation_alpha")?.unwrap_or_default();
            let betas = a.floats("activation_beta")?.unwrap_or_default();
            let want = kind.activations() * direction.count();
            if names.len() != want {
                return Err(ctx.attr(
                    "activations",
                    format!(
                        "lists {} functions; {} {:?} needs {want}",
                        names.len(),
                        kind.name(),
                        direction
                    ),
                ));
            }
            // Parameters are consumed in order by the functions that take them, with the
            // defaults of the corresponding ONNX operators when the lists run out.
            let (mut ai, mut bi) = (alphas.iter(), betas.iter());
            let mut alpha = |d: f32| ai.next().copied().unwrap_or(d);
            let mut beta = |d: f32| bi.next().copied().unwrap_or(d);
            let mut acts = Vec::with_capacity(want);
            for n in &names {
                acts.push(match n.to_ascii_lowercase().as_str() {
                    "relu" => RnnActivation::Relu,
                    "tanh" => RnnActivation::Tanh,
                    "sigmoid" => RnnActivation::Sigmoid,
                    "softsign" => RnnActivation::Softsign,
                    "affine" => RnnActivation::Affine {
                        alpha: alpha(1.0),
                        beta: beta(0.0),
                    },
                    "leakyrelu" => RnnActivation::LeakyRelu { alpha: alpha(0.01) },
                    "thresholdedrelu" => RnnActivation::ThresholdedRelu { alpha: alpha(1.0) },
                    "scaledtanh" => RnnActivation::ScaledTanh {
                        alpha: alpha(1.0),
                        beta: beta(1.0),
                    },
                    "hardsigmoid" => RnnActivation::HardSigmoid {
                        alpha: alpha(0.2),
                        beta: beta(0.5),
                    },
                    "elu" => RnnActivation::Elu { alpha: alpha(1.0) },
                    other => {
                        return Err(ctx.attr(
                            "activations",
                            format!(
                                "names {other:?}, which kiln does not support (it has Relu, \
                                 Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, \
                                 ScaledTanh, HardSigmoid, Elu, Softsign)"
                            ),
                        ));
                    }
                });
            }
            acts
        }
    };
    let clip = match a.float("clip")? {
        None => None,
        Some(c) if c > 0.0 && !c.is_nan() => Some(c),
        Some(c) => return Err(ctx.attr("clip", format!("is {c}; it must be positive"))),
    };
    let layout = a.int_or("layout", 0)?;
    if !(0..=1).contains(&layout) || (layout == 1 && ctx.opset < 14) {
        return Err(ctx.attr(
            "layout",
            format!("is {layout}; it must be 0 or (from opset 14) 1"),
        ));
    }
    Ok(Op::Rnn(RnnAttrs {
        kind,
        direction,
        hidden_size,
        activations,
        clip,
        input_forget: kind == RnnKind::Lstm && a.flag("input_forget", false)?,
        linear_before_reset: kind == RnnKind::Gru && a.flag("linear_before_reset", false)?,
        batch_first: layout == 1,
    }))
}
