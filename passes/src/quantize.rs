//! `quantize-qdq`: QDQ patterns (DequantizeLinear → float op → QuantizeLinear, the form
//! onnxruntime's quantizer writes) become kiln's integer ops (`ir::ops::qint`), which read
//! and write the 8-bit values themselves:
//! - Conv, Gemm and MatMul by constant int8 weights → IntConv / IntGemm (i8 weights, i32
//!   bias, fixed-point requantization per output channel);
//! - Add and Mul of two quantized tensors → IntAdd / IntMul;
//! - any elementwise function of one quantized tensor (Sigmoid, HardSigmoid, Relu, Clip, a
//!   Div or Pow by a scalar constant...) → IntLut, its 256 results tabulated through the
//!   reference semantics;
//! - ops that only move or select elements (Reshape, Transpose, Concat, Slice, MaxPool,
//!   nearest Resize...) run on the integers; an input whose scale or zero point differs
//!   from the output's is first mapped by an IntLut.
//!
//! Everything else stays float between its DequantizeLinear and QuantizeLinear; `kiln
//! inspect` shows which. The factors are computed as onnxruntime's fused kernels compute
//! them (`x_scale * w_scale / y_scale` in f32) and kept exactly (`qint::Requant`).

use crate::cleanup::eliminate_dead_code;
use crate::rewrite::{add_const, replace_inputs, replace_uses};
use kiln_ir::graph::{Merged, Quantization};
use kiln_ir::ops::qint::{
    IntBinaryAttrs, IntBinaryKind, IntConvAttrs, IntGemmAttrs, IntLutAttrs, IntMatMulAttrs, IntOp,
    IntPoolAttrs, IntSoftmaxAttrs, QOut, Requant,
};
use kiln_ir::ops::quant::quantize_one;
use kiln_ir::ops::resize::ResizeMode;
use kiln_ir::ops::{AutoPad, BinaryOp, ResizeAttrs, SoftmaxAttrs};
use kiln_ir::{DType, Graph, Node, NodeId, Op, Tensor, TensorData, ValueId};

/// The constant quantization parameters of a DequantizeLinear or QuantizeLinear.
#[derive(Clone, Debug, PartialEq)]
struct QParams {
    /// The scales (f32), one or one per element of `axis`.
    scale: Vec<f32>,
    zero: Vec<i32>,
    axis: Option<usize>,
    dtype: DType,
}

impl QParams {
    fn per_tensor(&self) -> bool {
        self.scale.len() == 1 && self.zero.len() == 1
    }

    /// The same mapping between reals and integers (per tensor).
    fn same(&self, o: &QParams) -> bool {
        self.per_tensor()
            && o.per_tensor()
            && self.dtype == o.dtype
            && self.scale[0].to_bits() == o.scale[0].to_bits()
            && self.zero[0] == o.zero[0]
    }

    fn real(&self, q: i32) -> f32 {
        (q - self.zero[0]) as f32 * self.scale[0]
    }

    fn quantize(&self, v: f32) -> i32 {
        quantize_one(v, self.scale[0], self.zero[0] as f32, self.dtype) as i32
    }

    fn out(&self) -> Result<QOut, String> {
        QOut::new(self.dtype, self.zero[0])
    }

    /// Its per-tensor form, as recorded on a value.
    fn quantization(&self) -> Quantization {
        Quantization {
            scale: self.scale[0],
            zero_point: self.zero[0],
        }
    }
}

/// The parameters of Q/DQ node `n` (inputs x, scale, zero point?), when they are
/// constants with one scale or one per element of an axis (not blocked).
fn params(g: &Graph, n: NodeId) -> Option<QParams> {
    let node = g.node(n);
    let (Op::DequantizeLinear(a) | Op::QuantizeLinear(a)) = &node.op else {
        return None;
    };
    if a.block_size != 0 {
        return None;
    }
    let scale_v = node.inputs.get(1).copied().flatten()?;
    let scale = g.value(scale_v).const_tensor()?;
    if scale.dtype() != DType::F32 {
        return None;
    }
    let scale: Vec<f32> = scale
        .data
        .to_f64_vec()
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let int_ty = match node.op {
        Op::DequantizeLinear(_) => g.value(node.inputs[0]?).ty.dtype,
        _ => g.value(node.outputs[0]).ty.dtype,
    };
    let zero = match node.inputs.get(2).copied().flatten() {
        Some(z) => {
            let t = g.value(z).const_tensor()?;
            t.data.to_f64_vec().into_iter().map(|v| v as i32).collect()
        }
        None => vec![0; scale.len()],
    };
    if scale.is_empty() || zero.len() != scale.len() {
        return None;
    }
    let x_rank = g.value(node.inputs[0]?).ty.rank() as i64;
    let axis = if scale.len() == 1 && g.value(scale_v).ty.rank() <= 1 {
        None
    } else {
        let ax = if a.axis < 0 { a.axis + x_rank } else { a.axis };
        Some(usize::try_from(ax).ok()?)
    };
    if scale.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return None;
    }
    Some(QParams {
        scale,
        zero,
        axis,
        dtype: int_ty,
    })
}

/// The DequantizeLinear producing input `slot` of `n`: its integer input and parameters.
fn dq_input(g: &Graph, n: NodeId, slot: usize) -> Option<(ValueId, QParams, NodeId)> {
    let v = g.node(n).inputs.get(slot).copied().flatten()?;
    let p = g.producer(v)?;
    if !matches!(g.node(p).op, Op::DequantizeLinear(_)) {
        return None;
    }
    let q = params(g, p)?;
    Some((g.node(p).inputs[0]?, q, p))
}

/// An 8-bit activation input: per tensor, u8 or i8.
fn act_input(g: &Graph, n: NodeId, slot: usize) -> Option<(ValueId, QParams, NodeId)> {
    dq_input(g, n, slot).filter(|(_, q, _)| q.per_tensor() && is_q8(q.dtype))
}

fn is_q8(d: DType) -> bool {
    matches!(d, DType::U8 | DType::I8)
}

/// Where `n`'s single output goes: QuantizeLinear nodes alone, all with the same
/// per-tensor parameters. Their output values and the parameters.
fn q_output(g: &Graph, n: NodeId) -> Option<(Vec<ValueId>, Vec<NodeId>, QParams)> {
    let node = g.node(n);
    let [y] = node.outputs.as_slice() else {
        return None;
    };
    if g.outputs.contains(y) || !node.epilogue.is_empty() {
        return None;
    }
    let cons = g.consumers(*y);
    let mut outs = Vec::new();
    let mut qp: Option<QParams> = None;
    for &c in &cons {
        let cn = g.node(c);
        if !matches!(cn.op, Op::QuantizeLinear(_)) || cn.inputs[0] != Some(*y) {
            return None;
        }
        let p = params(g, c)?;
        if !p.per_tensor() || !is_q8(p.dtype) {
            return None;
        }
        if let Some(q) = &qp
            && !q.same(&p)
        {
            return None;
        }
        qp = Some(p);
        outs.push(cn.outputs[0]);
    }
    // Only the first Q's value may be a graph output; the others are rewired to it.
    if outs.iter().skip(1).any(|v| g.outputs.contains(v)) {
        return None;
    }
    Some((outs, cons, qp?))
}

/// What the rewrite of one node produces: the integer op, its inputs, and the nodes it
/// absorbed (its DequantizeLinear inputs).
struct Rewrite {
    op: Op,
    inputs: Vec<Option<ValueId>>,
    merged: Vec<Merged>,
}

/// Rewrites every QDQ pattern it can; returns one line per node made integer.
pub fn quantize_qdq(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    // Until nothing changes: quantizing a node's input earlier (before a data movement)
    // gives its producer a QuantizeLinear to fold, which a pass in order has passed.
    // Each round rewrites at least one of the finitely many float nodes, or stops.
    loop {
        let round = quantize_round(g)?;
        if round.is_empty() {
            break;
        }
        done.extend(round);
    }
    if !done.is_empty() {
        // Each 8-bit value keeps its quantization, which the integer ops reading and
        // writing it hold only as derived factors (the ports' scale and zero point).
        let mut marks = Vec::new();
        for n in g.node_ids() {
            let node = g.node(n);
            let v = match node.op {
                Op::DequantizeLinear(_) => node.inputs[0],
                Op::QuantizeLinear(_) => Some(node.outputs[0]),
                _ => None,
            };
            if let (Some(v), Some(p)) = (v, params(g, n))
                && p.per_tensor()
            {
                marks.push((v, p));
            }
        }
        for (v, p) in marks {
            g.value_mut(v).quant = Some(p.quantization());
        }
        // The DequantizeLinear nodes of rewritten inputs, and the float values, now unread.
        eliminate_dead_code(g)?;
    }
    Ok(done)
}

fn quantize_round(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let order = g.schedule().map_err(|_| "the graph has a cycle")?;
    for n in order {
        if !g.contains_node(n) {
            continue;
        }
        if matches!(
            g.node(n).op,
            Op::QuantizeLinear(_) | Op::DequantizeLinear(_)
        ) {
            continue;
        }
        if let Some((op, inputs)) = qlinear(g, n) {
            let name = op.name();
            replace_inputs(g, n, &inputs);
            let node = g.node_mut(n);
            node.op = op;
            done.push(format!("{} {:?} -> {name}", node.onnx_op, node.name));
            continue;
        }
        let Some((outs, qs, qy)) = q_output(g, n) else {
            continue;
        };
        let Some(rw) = rewrite(g, n, &qy, qs[0])? else {
            continue;
        };
        let mut merged = Vec::new();
        for &q in &qs {
            let qn = g.remove_node(q).expect("consumer exists");
            merged.push(Merged {
                op: qn.onnx_op,
                name: qn.name,
                how: "fused",
            });
        }
        for &v in &outs[1..] {
            replace_uses(g, v, outs[0]);
        }
        let name = rw.op.name();
        replace_inputs(g, n, &rw.inputs);
        let node = g.node_mut(n);
        node.op = rw.op;
        node.merged.extend(rw.merged);
        node.merged.extend(merged);
        done.push(format!("{} {:?} -> {name}", node.onnx_op, node.name));
        // The float output, now unread, is left without a producer.
        g.set_output(n, 0, outs[0]);
        g.value_mut(outs[0]).quant = Some(qy.quantization());
    }
    Ok(done)
}

fn merged_dq(g: &Graph, dq: NodeId) -> Merged {
    Merged {
        op: g.node(dq).onnx_op.clone(),
        name: g.node(dq).name.clone(),
        how: "fused",
    }
}

/// Which inputs of an op that only moves or selects elements carry the data: such ops
/// run on the integers themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataInputs {
    /// Every input (Concat), or the only one.
    All,
    /// Input 0 (Gather's indices and Resize's operands are not data).
    First,
}

/// Whether `op` only moves or selects elements (Reshape, Transpose, Concat, MaxPool,
/// nearest Resize...), and which of its inputs are data.
pub fn data_movement(op: &Op) -> Option<DataInputs> {
    match op {
        Op::Reshape(_)
        | Op::Flatten(_)
        | Op::Squeeze(_)
        | Op::Unsqueeze(_)
        | Op::Identity
        | Op::Transpose(_)
        | Op::Slice(_)
        | Op::SpaceToDepth(_)
        | Op::DepthToSpace(_)
        | Op::MaxPool(_)
        | Op::Concat(_) => Some(DataInputs::All),
        Op::Gather(_)
        | Op::Resize(ResizeAttrs {
            mode: ResizeMode::Nearest,
            ..
        }) => Some(DataInputs::First),
        _ => None,
    }
}

/// The integer form of node `n` whose output is quantized with `qy`, if kiln has one.
fn rewrite(g: &mut Graph, n: NodeId, qy: &QParams, q: NodeId) -> Result<Option<Rewrite>, String> {
    let op = g.node(n).op.clone();
    match data_movement(&op) {
        Some(DataInputs::All) => return movement(g, n, qy, q),
        Some(DataInputs::First) => return movement_slots(g, n, qy, q, &[0]),
        None => {}
    }
    Ok(match op {
        Op::Conv(a) => conv(g, n, a, qy),
        Op::Gemm(a) => {
            if a.trans_a || a.beta != 1.0 && g.node(n).inputs.get(2).copied().flatten().is_some() {
                None
            } else {
                gemm(g, n, a.trans_b, f64::from(a.alpha), qy)
            }
        }
        Op::MatMul => match gemm(g, n, false, 1.0, qy) {
            Some(r) => Some(r),
            None if two_acts(g, n) => matmul(g, n, qy),
            None => None,
        },
        Op::AveragePool(a) => {
            let w = &a.window;
            // Every window full: no padding and no partial window at the end (ceil_mode),
            // which IntAvgPool's output shape assumes.
            let flat = w.pads.iter().all(|&p| p == 0)
                && w.dilations.iter().all(|&d| d == 1)
                && !w.ceil_mode
                && matches!(w.auto_pad, AutoPad::NotSet | AutoPad::Valid);
            let k = &w.kernel_shape;
            let st = if w.strides.is_empty() {
                vec![1; k.len()]
            } else {
                w.strides.clone()
            };
            match (k.as_slice(), st.as_slice()) {
                (&[kh, kw], &[sh, sw]) if flat => avg_pool(g, n, [kh, kw], [sh, sw], qy),
                (&[kw], &[sw]) if flat => avg_pool(g, n, [1, kw], [1, sw], qy),
                _ => None,
            }
        }
        Op::Softmax(a) => softmax(g, n, &a, qy),
        Op::GlobalAveragePool => {
            let x = g.node(n).inputs[0].map(|v| g.value(v).ty.shape.clone());
            match x.as_deref() {
                Some(&[_, _, h, w]) => avg_pool(g, n, [h, w], [1, 1], qy),
                Some(&[_, _, w]) => avg_pool(g, n, [1, w], [1, 1], qy),
                _ => None,
            }
        }
        Op::Binary(b @ (BinaryOp::Add | BinaryOp::Mul)) if two_acts(g, n) => binary(g, n, b, qy)?,
        _ => lut(g, n, qy)?,
    })
}

fn two_acts(g: &Graph, n: NodeId) -> bool {
    act_input(g, n, 0).is_some() && act_input(g, n, 1).is_some()
}

fn conv(g: &mut Graph, n: NodeId, a: kiln_ir::ops::ConvAttrs, qy: &QParams) -> Option<Rewrite> {
    let (x, qx, dqx) = act_input(g, n, 0)?;
    let (w, qw, dqw) = dq_input(g, n, 1)?;
    let wt = g.value(w).const_tensor()?.clone();
    let m = *wt.shape.first()?;
    if wt.dtype() != DType::I8 || qw.zero.iter().any(|&z| z != 0) || wt.shape.len() > 4 {
        return None;
    }
    if !(qw.per_tensor() || qw.axis == Some(0) && qw.scale.len() == m) {
        return None;
    }
    let factors = |c: usize| qx.scale[0] * qw.scale[if qw.per_tensor() { 0 } else { c }];
    let (bias, mut merged) = bias_input(g, n, 2, m, &factors)?;
    let requant = requants(m, qw.per_tensor(), &|c| factors(c) / qy.scale[0])?;
    merged.extend([merged_dq(g, dqx), merged_dq(g, dqw)]);
    Some(Rewrite {
        op: Op::Int(IntOp::Conv(Box::new(IntConvAttrs {
            conv: a,
            x_zero: qx.zero[0],
            requant,
            out: qy.out().ok()?,
            table: None,
        }))),
        inputs: vec![Some(x), Some(w), bias],
        merged,
    })
}

/// One factor per output channel (or one for all), in fixed point.
fn requants(m: usize, per_tensor: bool, f: &dyn Fn(usize) -> f32) -> Option<Vec<Requant>> {
    let count = if per_tensor { 1 } else { m };
    (0..count).map(|c| Requant::from_f32(f(c)).ok()).collect()
}

/// The i32 bias at input `slot` for output channels whose accumulator scale is
/// `acc_scale(c)`: a DequantizeLinear of i32 constants (rescaled if its scale is not the
/// accumulator's) or a float constant, quantized here. `Some((None, ..))` when absent.
fn bias_input(
    g: &mut Graph,
    n: NodeId,
    slot: usize,
    m: usize,
    acc_scale: &dyn Fn(usize) -> f32,
) -> Option<(Option<ValueId>, Vec<Merged>)> {
    let Some(v) = g.node(n).inputs.get(slot).copied().flatten() else {
        return Some((None, Vec::new()));
    };
    let pick = |v: &[f64], c: usize| v[if v.len() == 1 { 0 } else { c }];
    // Reals rounded to the accumulator's steps.
    let quantize = |reals: &dyn Fn(usize) -> f64| -> Option<Vec<i32>> {
        (0..m)
            .map(|c| {
                let q =
                    kiln_ir::ops::quant::round_half_even_f64(reals(c) / f64::from(acc_scale(c)));
                (q.abs() < f64::from(i32::MAX)).then_some(q as i32)
            })
            .collect()
    };
    let (ints, merged) = match dq_input(g, n, slot) {
        Some((b, qb, dq)) => {
            let raw = g.value(b).const_tensor()?.data.to_f64_vec();
            if raw.len() != m && raw.len() != 1 {
                return None;
            }
            let zero: Vec<f64> = qb.zero.iter().map(|&z| f64::from(z)).collect();
            let scale: Vec<f64> = qb.scale.iter().map(|&s| f64::from(s)).collect();
            // Exactly the integers when the scales agree (onnxruntime's quantizer makes
            // them agree); otherwise rescaled.
            let same =
                (0..m).all(|c| pick(&zero, c) == 0.0 && pick(&scale, c) as f32 == acc_scale(c));
            let ints = if same {
                (0..m).map(|c| pick(&raw, c) as i32).collect()
            } else {
                quantize(&|c| (pick(&raw, c) - pick(&zero, c)) * pick(&scale, c))?
            };
            (ints, vec![merged_dq(g, dq)])
        }
        None => {
            let t = g.value(v).const_tensor()?;
            if !matches!(t.dtype(), DType::F32) || (t.numel() != m && t.numel() != 1) {
                return None;
            }
            let raw = t.data.to_f64_vec();
            (quantize(&|c| pick(&raw, c))?, Vec::new())
        }
    };
    let id = add_const(
        g,
        &format!("{}.bias_i32", g.node(n).name),
        Tensor::new(vec![m], TensorData::I32(ints)).ok()?,
    );
    Some((Some(id), merged))
}

/// Gemm (`trans_b`, `alpha`) or MatMul by constant i8 weights B.
fn gemm(g: &mut Graph, n: NodeId, trans_b: bool, alpha: f64, qy: &QParams) -> Option<Rewrite> {
    let (x, qx, dqx) = act_input(g, n, 0)?;
    let (w, qw, dqw) = dq_input(g, n, 1)?;
    let wt = g.value(w).const_tensor()?.clone();
    let [r, c] = wt.shape[..] else {
        return None;
    };
    if wt.dtype() != DType::I8 || qw.zero.iter().any(|&z| z != 0) {
        return None;
    }
    let (k, nn) = if trans_b { (c, r) } else { (r, c) };
    let out_axis = if trans_b { 0 } else { 1 };
    if !(qw.per_tensor() || qw.axis == Some(out_axis) && qw.scale.len() == nn) {
        return None;
    }
    if g.value(x).ty.shape.last() != Some(&k) {
        return None;
    }
    let has_bias = g.node(n).inputs.get(2).copied().flatten().is_some();
    if has_bias && g.value(x).ty.rank() != 2 {
        return None;
    }
    let TensorData::I8(raw) = &wt.data else {
        return None;
    };
    // IntGemm reads B as [K, N]: a transposed B is stored transposed once.
    let wk = if trans_b {
        let t: Vec<i8> = (0..k * nn).map(|e| raw[(e % nn) * k + e / nn]).collect();
        let name = format!("{}.weights_i8", g.node(n).name);
        add_const(g, &name, Tensor::new(vec![k, nn], TensorData::I8(t)).ok()?)
    } else {
        w
    };
    let alpha = alpha as f32;
    let factors = |j: usize| qx.scale[0] * qw.scale[if qw.per_tensor() { 0 } else { j }];
    let (bias, mut merged) = bias_input(g, n, 2, nn, &factors)?;
    let requant = requants(nn, qw.per_tensor(), &|j| alpha * factors(j) / qy.scale[0])?;
    merged.extend([merged_dq(g, dqx), merged_dq(g, dqw)]);
    Some(Rewrite {
        op: Op::Int(IntOp::Gemm(IntGemmAttrs {
            a_zero: qx.zero[0],
            requant,
            out: qy.out().ok()?,
            table: None,
        })),
        inputs: vec![Some(x), Some(wk), bias],
        merged,
    })
}

fn binary(g: &mut Graph, n: NodeId, b: BinaryOp, qy: &QParams) -> Result<Option<Rewrite>, String> {
    let (Some((xa, qa, da)), Some((xb, qb, db))) = (act_input(g, n, 0), act_input(g, n, 1)) else {
        return Ok(None);
    };
    let kind = if b == BinaryOp::Add {
        IntBinaryKind::Add
    } else {
        IntBinaryKind::Mul
    };
    let s = |v: f32| f64::from(v);
    let Ok(attrs) = IntBinaryAttrs::new(
        kind,
        [qa.zero[0], qb.zero[0]],
        [s(qa.scale[0]), s(qb.scale[0]), s(qy.scale[0])],
        qy.out()?,
    ) else {
        return Ok(None);
    };
    Ok(Some(Rewrite {
        op: Op::Int(IntOp::Binary(attrs)),
        inputs: vec![Some(xa), Some(xb)],
        merged: vec![merged_dq(g, da), merged_dq(g, db)],
    }))
}

/// An elementwise function of one quantized input (its other inputs constants of one
/// element), tabulated: for each integer q, `Q_y(f(DQ_x(q)))` by the reference semantics.
fn lut(g: &mut Graph, n: NodeId, qy: &QParams) -> Result<Option<Rewrite>, String> {
    let node = g.node(n).clone();
    let elementwise = matches!(
        node.op,
        Op::Unary(_) | Op::Activation(_) | Op::Clip(_) | Op::Binary(_) | Op::Pow
    );
    if !elementwise || node.outputs.len() != 1 {
        return Ok(None);
    }
    let mut act = None;
    for slot in 0..node.inputs.len() {
        let Some(v) = node.inputs[slot] else { continue };
        if let Some(a) = act_input(g, n, slot) {
            if act.is_some() {
                return Ok(None);
            }
            act = Some((slot, a));
        } else if g.value(v).const_tensor().is_none_or(|t| t.numel() != 1) {
            return Ok(None);
        }
    }
    let Some((slot, (x, qx, dq))) = act else {
        return Ok(None);
    };
    if g.value(x).ty.shape != g.value(node.outputs[0]).ty.shape {
        return Ok(None);
    }
    let Some(table) = tabulate(&qx, qy, |xs| {
        let t = Tensor::new(vec![256], TensorData::F32(xs.to_vec())).ok()?;
        let args: Vec<Option<&Tensor>> = node
            .inputs
            .iter()
            .enumerate()
            .map(|(k, i)| {
                if k == slot {
                    Some(&t)
                } else {
                    i.and_then(|v| g.value(v).const_tensor())
                }
            })
            .collect();
        let y = node.op.eval(&args).ok()?.into_iter().next()?;
        match y.data {
            TensorData::F32(v) if v.len() == 256 => Some(v),
            _ => None,
        }
    }) else {
        return Ok(None);
    };
    Ok(Some(Rewrite {
        op: Op::Int(IntOp::Lut(IntLutAttrs {
            table,
            out: qy.dtype,
        })),
        inputs: vec![Some(x)],
        merged: vec![merged_dq(g, dq)],
    }))
}

/// `Q_y(f(DQ_x(q)))` for every q of x's type, in order from its minimum.
fn tabulate(
    qx: &QParams,
    qy: &QParams,
    f: impl FnOnce(&[f32]) -> Option<Vec<f32>>,
) -> Option<Vec<i32>> {
    let lo = kiln_ir::ops::qint::qrange(qx.dtype).ok()?.0;
    let xs: Vec<f32> = (0..256).map(|i| qx.real(lo + i)).collect();
    let ys = f(&xs)?;
    Some(ys.into_iter().map(|v| qy.quantize(v)).collect())
}

/// A data-movement op reading all its float inputs from DequantizeLinear nodes.
fn movement(g: &mut Graph, n: NodeId, qy: &QParams, q: NodeId) -> Result<Option<Rewrite>, String> {
    let slots: Vec<usize> = match g.node(n).op {
        Op::Concat(_) => (0..g.node(n).inputs.len()).collect(),
        _ => vec![0],
    };
    movement_slots(g, n, qy, q, &slots)
}

/// The op itself on the integers of inputs `slots`: an input read through a
/// DequantizeLinear takes its integers (first mapped to the output's scale and zero point
/// by an IntLut when they differ); a float input is quantized first, by a copy of the
/// output's QuantizeLinear `q` (moving elements commutes with quantizing them). Its other
/// inputs stay as they are.
fn movement_slots(
    g: &mut Graph,
    n: NodeId,
    qy: &QParams,
    q: NodeId,
    slots: &[usize],
) -> Result<Option<Rewrite>, String> {
    enum Source {
        Int(ValueId, QParams, NodeId),
        Float(ValueId),
    }
    let mut found = Vec::new();
    for &s in slots {
        let Some(v) = g.node(n).inputs.get(s).copied().flatten() else {
            return Ok(None);
        };
        let from_dq = g
            .producer(v)
            .is_some_and(|p| matches!(g.node(p).op, Op::DequantizeLinear(_)));
        match act_input(g, n, s) {
            Some((x, qx, dq)) if qx.dtype == qy.dtype => found.push((s, Source::Int(x, qx, dq))),
            None if !from_dq && g.value(v).ty.dtype == DType::F32 => {
                found.push((s, Source::Float(v)))
            }
            _ => return Ok(None),
        }
    }
    let mut inputs = g.node(n).inputs.clone();
    let mut merged = Vec::new();
    for (s, src) in found {
        let (x, table, opset) = match src {
            Source::Int(x, qx, dq) => {
                merged.push(merged_dq(g, dq));
                if qx.same(qy) {
                    inputs[s] = Some(x);
                    continue;
                }
                let Some(table) = tabulate(&qx, qy, |xs| Some(xs.to_vec())) else {
                    return Ok(None);
                };
                (x, Some(table), g.node(dq).opset)
            }
            Source::Float(x) => (x, None, g.node(q).opset),
        };
        let ty = kiln_ir::TensorType::new(qy.dtype, g.value(x).ty.shape.clone());
        let name = format!("{}.quantized{s}", g.node(n).name);
        let y = g.add_value(&name, ty, kiln_ir::ValueKind::Activation);
        let (op, ins) = match table {
            Some(table) => (
                Op::Int(IntOp::Lut(IntLutAttrs {
                    table,
                    out: qy.dtype,
                })),
                vec![Some(x)],
            ),
            None => {
                let qn = g.node(q);
                let mut ins = qn.inputs.clone();
                ins[0] = Some(x);
                (qn.op.clone(), ins)
            }
        };
        g.add_node(Node {
            name,
            op,
            inputs: ins,
            outputs: vec![y],
            onnx_op: "QuantizeLinear".into(),
            opset,
            epilogue: Vec::new(),
            merged: Vec::new(),
        });
        inputs[s] = Some(y);
    }
    Ok(Some(Rewrite {
        op: g.node(n).op.clone(),
        inputs,
        merged,
    }))
}

/// AveragePool (no padding) or GlobalAveragePool: the integer sum of each window, scaled
/// by `x_scale / (y_scale * count)` (in f32, as onnxruntime's quantized pooling computes it).
fn avg_pool(
    g: &mut Graph,
    n: NodeId,
    kernel: [usize; 2],
    strides: [usize; 2],
    qy: &QParams,
) -> Option<Rewrite> {
    let (x, qx, dq) = act_input(g, n, 0)?;
    if !matches!(g.value(x).ty.rank(), 3 | 4) || qx.dtype != qy.dtype {
        return None;
    }
    let count = (kernel[0] * kernel[1]) as f32;
    let requant = Requant::from_f32(qx.scale[0] / (qy.scale[0] * count)).ok()?;
    Some(Rewrite {
        op: Op::Int(IntOp::AvgPool(IntPoolAttrs {
            kernel,
            strides,
            x_zero: qx.zero[0],
            requant,
            out: qy.out().ok()?,
        })),
        inputs: vec![Some(x)],
        merged: vec![merged_dq(g, dq)],
    })
}

/// MatMul of two quantized tensors (attention's products).
fn matmul(g: &mut Graph, n: NodeId, qy: &QParams) -> Option<Rewrite> {
    let (xa, qa, da) = act_input(g, n, 0)?;
    let (xb, qb, db) = act_input(g, n, 1)?;
    kiln_ir::ops::quant::int_matmul_dims(&g.value(xa).ty.shape, &g.value(xb).ty.shape).ok()?;
    let requant = Requant::from_f32(qa.scale[0] * qb.scale[0] / qy.scale[0]).ok()?;
    Some(Rewrite {
        op: Op::Int(IntOp::MatMul(IntMatMulAttrs {
            a_zero: qa.zero[0],
            b_zero: qb.zero[0],
            requant,
            out: qy.out().ok()?,
        })),
        inputs: vec![Some(xa), Some(xb)],
        merged: vec![merged_dq(g, da), merged_dq(g, db)],
    })
}

/// Softmax over contiguous rows (the last axis, or all axes from `axis` on in opsets
/// before 13), by a table of exponentials of the quantized differences from the row's
/// maximum.
fn softmax(g: &mut Graph, n: NodeId, a: &SoftmaxAttrs, qy: &QParams) -> Option<Rewrite> {
    let (x, qx, dq) = act_input(g, n, 0)?;
    let shape = g.value(x).ty.shape.clone();
    let r = shape.len() as i64;
    let axis = usize::try_from(if a.axis < 0 { a.axis + r } else { a.axis }).ok()?;
    if axis >= shape.len() || !(a.coerce_2d || axis + 1 == shape.len()) {
        return None;
    }
    let row: usize = shape[axis..].iter().product();
    let attrs = IntSoftmaxAttrs::new(row, qx.scale[0], qy.scale[0], qy.out().ok()?).ok()?;
    Some(Rewrite {
        op: Op::Int(IntOp::Softmax(attrs)),
        inputs: vec![Some(x)],
        merged: vec![merged_dq(g, dq)],
    })
}

/// A constant scalar operand of `n` at `slot`, as f64 (absent: `None`).
fn scalar(g: &Graph, n: NodeId, slot: usize) -> Option<f64> {
    let v = g.node(n).inputs.get(slot).copied().flatten()?;
    let t = g.value(v).const_tensor()?;
    (t.numel() == 1).then(|| t.data.to_f64_vec()[0])
}

/// QLinearConv and QLinearMatMul with constant scales and zero points (the QOperator
/// format): the same integer ops, with the factors onnxruntime computes
/// (`x_scale * w_scale / y_scale` in f32). Int8 weights with zero point 0 (QLinearConv,
/// and QLinearMatMul by a constant B) become IntConv / IntGemm; a QLinearMatMul of two
/// run-time tensors IntMatMul.
fn qlinear(g: &mut Graph, n: NodeId) -> Option<(Op, Vec<Option<ValueId>>)> {
    let node = g.node(n).clone();
    let conv = match &node.op {
        Op::QLinearConv(a) => Some(a.clone()),
        Op::QLinearMatMul => None,
        _ => return None,
    };
    let ins = |k: usize| node.inputs.get(k).copied().flatten();
    let f32s = |k: usize| -> Option<Vec<f32>> {
        let t = g.value(ins(k)?).const_tensor()?;
        (t.dtype() == DType::F32)
            .then(|| t.data.to_f64_vec().into_iter().map(|v| v as f32).collect())
    };
    // Per-tensor input and output (a QLinearMatMul's per-row a_scale is not taken).
    let (xs, ys) = (f32s(1)?, f32s(6)?);
    let (&[xs], &[ys]) = (xs.as_slice(), ys.as_slice()) else {
        return None;
    };
    let (xz, yz) = (scalar(g, n, 2)? as i32, scalar(g, n, 7)? as i32);
    let ws = f32s(4)?;
    let out = QOut::new(g.value(node.outputs[0]).ty.dtype, yz).ok()?;
    let w = ins(3)?;
    let w_const = g.value(w).const_tensor().cloned();
    let w_zero_free = match ins(5) {
        Some(z) => g
            .value(z)
            .const_tensor()
            .is_some_and(|t| t.data.to_f64_vec().iter().all(|&v| v == 0.0)),
        None => true,
    };
    let int8_weights = w_const.as_ref().is_some_and(|t| t.dtype() == DType::I8) && w_zero_free;
    // One factor, or one per output channel (`count` of them).
    let factors = |count: usize| -> Option<Vec<Requant>> {
        if ws.len() != 1 && ws.len() != count {
            return None;
        }
        (0..ws.len())
            .map(|c| Requant::from_f32(xs * ws[c] / ys).ok())
            .collect()
    };
    let rewritten = match conv {
        Some(a) => {
            let wt = w_const?;
            if !int8_weights || !matches!(wt.shape.len(), 3 | 4) {
                return None;
            }
            let requant = factors(wt.shape[0])?;
            Some((
                Op::Int(IntOp::Conv(Box::new(IntConvAttrs {
                    conv: a,
                    x_zero: xz,
                    requant,
                    out,
                    table: None,
                }))),
                vec![ins(0), Some(w), ins(8)],
            ))
        }
        None if int8_weights => {
            let wt = w_const?;
            let [_, nn] = wt.shape[..] else {
                return None;
            };
            if g.value(ins(0)?).ty.rank() < 2 {
                return None;
            }
            let requant = factors(nn)?;
            Some((
                Op::Int(IntOp::Gemm(IntGemmAttrs {
                    a_zero: xz,
                    requant,
                    out,
                    table: None,
                })),
                vec![ins(0), Some(w)],
            ))
        }
        None => {
            let bz = scalar(g, n, 5)? as i32;
            if ws.len() != 1 {
                return None;
            }
            let requant = Requant::from_f32(xs * ws[0] / ys).ok()?;
            Some((
                Op::Int(IntOp::MatMul(IntMatMulAttrs {
                    a_zero: xz,
                    b_zero: bz,
                    requant,
                    out,
                })),
                vec![ins(0), Some(w)],
            ))
        }
    };
    if rewritten.is_some() {
        // The ports' scale and zero point, which the integer op holds only as factors.
        let x = ins(0)?;
        g.value_mut(x).quant.get_or_insert(Quantization {
            scale: xs,
            zero_point: xz,
        });
        g.value_mut(node.outputs[0]).quant = Some(Quantization {
            scale: ys,
            zero_point: yz,
        });
    }
    rewritten
}
