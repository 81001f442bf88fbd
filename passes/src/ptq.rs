//! Post-training quantization (`kiln compile --quantize int8 --calibration DIR`): kiln
//! quantizes a float model itself, calibrated on sample inputs run through the reference
//! semantics (no Python, no onnxruntime).
//!
//! It writes the QDQ form onnxruntime's quantizer writes (QuantizeLinear → DequantizeLinear
//! on each activation an integer kernel would read or write; DequantizeLinear of int8
//! constants for weights), so `quantize-qdq` then makes the integer ops exactly as for a
//! model quantized elsewhere: one path to test, not two.
//! - Activations: uint8, asymmetric, range from the calibration (MinMax, or a percentile
//!   of the values to ignore rare outliers), always including 0 so zero padding is exact.
//! - Weights: int8, symmetric (zero point 0), one scale per output channel.
//! - A Relu, or a Clip from 0, after a quantized op is dropped and its output's
//!   quantization put on the op instead (as onnxruntime does): with zero point 0 the
//!   QuantizeLinear clamps at 0 itself, so this is exact and saves a pass over the data.
//! - Mixed precision: each quantized layer's error is measured in isolation (its inputs,
//!   weights and output rounded to their quantization, against the float layer on the same
//!   float inputs); a layer above the threshold stays float, and the report says which.

use crate::quantize::DataInputs;
use crate::rewrite::replace_uses;
use kiln_ir::ops::quant::{QuantAttrs, quantize_one, round_half_even_f64};
use kiln_ir::ops::{BinaryOp, UnaryOp};
use kiln_ir::{DType, Graph, Node, NodeId, Op, Tensor, TensorData, TensorType, ValueId, ValueKind};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How the range of an activation is taken from the calibration data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// The smallest and largest value seen.
    MinMax,
    /// The given percentile at each end (e.g. 99.99: the lowest and highest 0.01% are
    /// clipped), from a histogram of the values seen.
    Percentile(f64),
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::MinMax => write!(f, "minmax"),
            Method::Percentile(p) => write!(f, "percentile={p}"),
        }
    }
}

/// The default threshold of [`PtqOptions::float_threshold`]: a layer whose own rounding
/// costs more than 10% relative RMS error stays float (typical layers measure 0.5–3%).
pub const DEFAULT_FLOAT_THRESHOLD: f64 = 0.1;

/// How to quantize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PtqOptions {
    pub method: Method,
    /// A layer whose error in isolation (relative RMS, see [`LayerReport::error`]) is above
    /// this stays float; `None` quantizes every layer kiln can.
    pub float_threshold: Option<f64>,
}

/// The default calibration: the 99.999th percentile at each end. Measured on the seven
/// corpus models, it is never worse than MinMax and much better where rare outliers set
/// the range (ppocrv4_rec: cosine 0.964 against 0.874); on a small tensor and few samples
/// it is MinMax.
pub const DEFAULT_METHOD: Method = Method::Percentile(99.999);

impl Default for PtqOptions {
    fn default() -> Self {
        PtqOptions {
            method: DEFAULT_METHOD,
            float_threshold: Some(DEFAULT_FLOAT_THRESHOLD),
        }
    }
}

/// One quantized (or deliberately float) layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerReport {
    /// The node's ONNX op type and name.
    pub op: String,
    pub name: String,
    /// The error the layer adds alone: its inputs, weights and output rounded to their
    /// quantization, against the float layer on the same float inputs, as
    /// ‖quantized − float‖ / ‖float‖ over all calibration samples.
    pub error: f64,
    /// Left float: its error passed the threshold.
    pub float: bool,
}

/// What post-training quantization did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PtqReport {
    /// Calibration samples run.
    pub samples: usize,
    /// The layers with integer forms, in graph order.
    pub layers: Vec<LayerReport>,
    /// Activations given a quantization.
    pub activations: usize,
    /// Relu/Clip nodes dropped into the quantization of the op before them.
    pub absorbed: usize,
}

/// What kind of node it is for quantization.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// Conv, Gemm or MatMul by a constant weight at input 1: the weight is quantized per
    /// output channel along `axis`; input 0 and the output are activations.
    Weighted { axis: usize },
    /// Every float run-time input and the output are quantized: Add/Mul/MatMul of two
    /// activations, pools, Softmax, and elementwise functions (tabulated).
    Compute,
    /// Moves or selects elements: its output takes its data input's quantization.
    Movement,
}

/// Quantizes `g` (an imported, verified float graph) on `samples` (each one tensor per
/// graph input, in order): prepares it with the float passes that change which ops there
/// are (constant folding, BatchNormalization and affine folds...), calibrates, and inserts
/// the QDQ nodes. The pipeline's `quantize-qdq` then makes the integer ops.
pub fn quantize(
    g: &mut Graph,
    samples: &[Vec<Tensor>],
    opts: &PtqOptions,
) -> Result<PtqReport, String> {
    if samples.is_empty() {
        return Err("no calibration samples".into());
    }
    prepare(g)?;
    let order = g.schedule().map_err(|_| "the graph has a cycle")?;
    let roles: BTreeMap<NodeId, Role> = order
        .iter()
        .filter_map(|&n| role(g, n).map(|r| (n, r)))
        .collect();
    let stats = calibrate(g, samples, opts.method)?;
    let mut float_nodes = HashSet::new();
    let mut plan = choose(g, &order, &roles, &float_nodes, &stats, opts.method);
    let errors = layer_errors(g, samples, &roles, &plan)?;
    if let Some(t) = opts.float_threshold {
        float_nodes = errors
            .iter()
            .filter(|(_, e)| e.is_nan() || **e > t)
            .map(|(n, _)| *n)
            .collect();
        if !float_nodes.is_empty() {
            plan = choose(g, &order, &roles, &float_nodes, &stats, opts.method);
        }
    }
    let layers = roles
        .iter()
        .filter(|(_, r)| **r != Role::Movement)
        .filter_map(|(n, _)| {
            let e = *errors.get(n)?;
            let node = g.node(*n);
            Some(LayerReport {
                op: node.onnx_op.clone(),
                name: node.name.clone(),
                error: e,
                float: float_nodes.contains(n),
            })
        })
        .collect();
    let report = PtqReport {
        samples: samples.len(),
        layers,
        activations: plan.params.len(),
        absorbed: plan.absorbed.len(),
    };
    insert(g, &roles, &float_nodes, &plan);
    crate::cleanup::eliminate_dead_code(g)?;
    Ok(report)
}

/// The float passes that decide which ops there are to quantize: a BatchNormalization or
/// a Mul by constants left after a Conv would otherwise sit between the Conv and its
/// quantization, and a decomposed LayerNormalization would be quantized piece by piece.
/// Not `fuse-epilogues`: the QDQ patterns need the plain ops.
fn prepare(g: &mut Graph) -> Result<(), String> {
    crate::lower::widen_half(g)?;
    for pass in crate::pipeline::PIPELINE {
        if matches!(
            pass.name,
            "quantize-qdq" | "fuse-int-tables" | "fuse-epilogues" | "schedule-for-memory"
        ) {
            continue;
        }
        (pass.run)(g).map_err(|e| format!("pass {}: {e}", pass.name))?;
    }
    Ok(())
}

fn is_float_act(g: &Graph, v: ValueId) -> bool {
    let val = g.value(v);
    val.ty.dtype == DType::F32 && !matches!(val.kind, ValueKind::Const(_))
}

fn const_of(g: &Graph, v: Option<ValueId>) -> Option<&Tensor> {
    v.and_then(|v| g.value(v).const_tensor())
}

fn role(g: &Graph, n: NodeId) -> Option<Role> {
    let node = g.node(n);
    let [y] = node.outputs.as_slice() else {
        // MaxPool's Indices: only when nothing reads them.
        let ok = matches!(node.op, Op::MaxPool(_))
            && node.outputs[1..]
                .iter()
                .all(|v| g.consumers(*v).is_empty() && !g.outputs.contains(v));
        return ok.then_some(Role::Movement);
    };
    if g.value(*y).ty.dtype != DType::F32 || !node.epilogue.is_empty() {
        return None;
    }
    let input = |k: usize| node.inputs.get(k).copied().flatten();
    let act = |k: usize| input(k).is_some_and(|v| is_float_act(g, v));
    let weight =
        |k: usize| const_of(g, input(k)).filter(|t| t.dtype() == DType::F32 && t.shape.len() >= 2);
    let const_or_none = |k: usize| input(k).is_none() || const_of(g, input(k)).is_some();
    // Elementwise: one float activation, the other inputs scalar constants.
    let scalar_rest = || {
        let acts = (0..node.inputs.len()).filter(|&k| act(k)).count();
        acts == 1
            && (0..node.inputs.len()).all(|k| {
                act(k)
                    || input(k).is_none()
                    || const_of(g, input(k)).is_some_and(|t| t.numel() == 1)
            })
    };
    match &node.op {
        Op::Conv(_)
            if act(0) && weight(1).is_some_and(|w| w.shape.len() >= 3) && const_or_none(2) =>
        {
            Some(Role::Weighted { axis: 0 })
        }
        Op::Gemm(a)
            if act(0)
                && !a.trans_a
                && weight(1).is_some_and(|w| w.shape.len() == 2)
                && const_or_none(2)
                && (input(2).is_none() || a.beta == 1.0) =>
        {
            Some(Role::Weighted {
                axis: if a.trans_b { 0 } else { 1 },
            })
        }
        Op::MatMul if act(0) && weight(1).is_some_and(|w| w.shape.len() == 2) => {
            Some(Role::Weighted { axis: 1 })
        }
        Op::MatMul if act(0) && act(1) => Some(Role::Compute),
        Op::Binary(BinaryOp::Add | BinaryOp::Mul) if act(0) && act(1) => Some(Role::Compute),
        Op::Binary(_) | Op::Unary(_) | Op::Activation(_) | Op::Clip(_) | Op::Pow
            if scalar_rest() =>
        {
            Some(Role::Compute)
        }
        Op::Softmax(_) | Op::AveragePool(_) | Op::GlobalAveragePool if act(0) => {
            Some(Role::Compute)
        }
        op => match crate::quantize::data_movement(op) {
            // Shape operands folded into attributes may linger as constant inputs.
            Some(DataInputs::All)
                if act(0) && (0..node.inputs.len()).all(|k| act(k) || const_or_none(k)) =>
            {
                Some(Role::Movement)
            }
            Some(DataInputs::First) if act(0) => Some(Role::Movement),
            _ => None,
        },
    }
}

/// One activation's calibration: its range and, for percentiles, a histogram.
#[derive(Clone, Debug)]
struct Stats {
    min: f32,
    max: f32,
    hist: Option<Histogram>,
}

/// Counts over [-range, range] in equal bins; `range` doubles (merging bin pairs, which is
/// exact) when a value falls outside, so one pass over the data suffices.
#[derive(Clone, Debug)]
struct Histogram {
    range: f32,
    bins: Vec<u64>,
}

const BINS: usize = 4096;

impl Histogram {
    fn new() -> Self {
        Histogram {
            range: 0.0,
            bins: vec![0; BINS],
        }
    }

    fn add(&mut self, xs: &[f32]) {
        let absmax = xs
            .iter()
            .filter(|x| x.is_finite())
            .fold(0f32, |m, x| m.max(x.abs()));
        if self.range == 0.0 {
            self.range = if absmax > 0.0 {
                2f32.powi(absmax.log2().ceil() as i32)
            } else {
                1.0
            };
        }
        while absmax > self.range {
            let mut merged = vec![0; BINS];
            for j in 0..BINS / 2 {
                merged[BINS / 4 + j] = self.bins[2 * j] + self.bins[2 * j + 1];
            }
            self.bins = merged;
            self.range *= 2.0;
        }
        let w = 2.0 * self.range / BINS as f32;
        for &x in xs.iter().filter(|x| x.is_finite()) {
            let k = (((x + self.range) / w) as usize).min(BINS - 1);
            self.bins[k] += 1;
        }
    }

    /// The value below which a fraction `q` of the counts lie (a bin edge).
    fn quantile(&self, q: f64) -> f32 {
        let total: u64 = self.bins.iter().sum();
        let want = (q * total as f64).ceil() as u64;
        let w = 2.0 * self.range / BINS as f32;
        let mut seen = 0;
        for (k, &c) in self.bins.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                // Lower quantiles take the bin's low edge, upper ones its high edge, so
                // the range never shrinks past the values counted.
                return -self.range + w * (k + usize::from(q > 0.5)) as f32;
            }
        }
        self.range
    }
}

impl Stats {
    fn range(&self, method: Method) -> (f32, f32) {
        match (method, &self.hist) {
            (Method::Percentile(p), Some(h)) => {
                let q = (p / 100.0).clamp(0.5, 1.0);
                (
                    h.quantile(1.0 - q).max(self.min),
                    h.quantile(q).min(self.max),
                )
            }
            _ => (self.min, self.max),
        }
    }
}

fn floats(t: &Tensor) -> Option<&[f32]> {
    match &t.data {
        TensorData::F32(v) => Some(v),
        _ => None,
    }
}

/// Runs every sample through the reference semantics, recording each float activation's
/// range (and histogram, for percentiles).
fn calibrate(
    g: &Graph,
    samples: &[Vec<Tensor>],
    method: Method,
) -> Result<HashMap<ValueId, Stats>, String> {
    let mut stats: HashMap<ValueId, Stats> = HashMap::new();
    let mut record = |v: ValueId, t: &Tensor| {
        let Some(xs) = floats(t) else { return };
        let s = stats.entry(v).or_insert_with(|| Stats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            hist: matches!(method, Method::Percentile(_)).then(Histogram::new),
        });
        for &x in xs.iter().filter(|x| x.is_finite()) {
            s.min = s.min.min(x);
            s.max = s.max.max(x);
        }
        if let Some(h) = &mut s.hist {
            h.add(xs);
        }
    };
    for (k, sample) in samples.iter().enumerate() {
        for (&v, t) in g.inputs.iter().zip(sample) {
            record(v, t);
        }
        kiln_ir::eval::run_observed(g, sample, &mut |n, _, outs| {
            for (&v, t) in g.node(n).outputs.iter().zip(outs) {
                record(v, t);
            }
            Ok(())
        })
        .map_err(|e| format!("calibration sample {k}: {e}"))?;
    }
    Ok(stats)
}

/// A uint8 activation quantization.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ActQ {
    scale: f32,
    zero: i32,
}

impl ActQ {
    /// Asymmetric over [lo, hi] widened to include 0, as onnxruntime's quantizer does (so
    /// 0 — padding, Relu's floor — is exact).
    fn from_range(lo: f32, hi: f32) -> ActQ {
        let lo = f64::from(lo.min(0.0));
        let hi = f64::from(hi.max(0.0));
        let width = hi - lo;
        if width.is_nan() || width <= f64::from(f32::MIN_POSITIVE) || width.is_infinite() {
            return ActQ {
                scale: 1.0,
                zero: 0,
            };
        }
        let scale = (hi - lo) / 255.0;
        let zero = round_half_even_f64(-lo / scale).clamp(0.0, 255.0) as i32;
        ActQ {
            scale: scale as f32,
            zero,
        }
    }

    fn fake(&self, t: &Tensor) -> Tensor {
        let Some(xs) = floats(t) else {
            return t.clone();
        };
        let v = xs
            .iter()
            .map(|&x| {
                let q = quantize_one(x, self.scale, self.zero as f32, DType::U8) as i32;
                (q - self.zero) as f32 * self.scale
            })
            .collect();
        Tensor::new(t.shape.clone(), TensorData::F32(v)).expect("same shape")
    }
}

/// Which activations get which quantization, and which Relu/Clip nodes are dropped.
#[derive(Clone, Debug, Default)]
struct Plan {
    params: HashMap<ValueId, ActQ>,
    /// Dropped Relu/Clip node → the value before it, which takes its output's
    /// quantization.
    absorbed: HashMap<NodeId, ValueId>,
}

fn choose(
    g: &Graph,
    order: &[NodeId],
    roles: &BTreeMap<NodeId, Role>,
    float_nodes: &HashSet<NodeId>,
    stats: &HashMap<ValueId, Stats>,
    method: Method,
) -> Plan {
    let quantization = |v: ValueId| -> Option<ActQ> {
        let (lo, hi) = stats.get(&v)?.range(method);
        Some(ActQ::from_range(lo, hi))
    };
    let mut plan = Plan::default();
    let live = |n: &NodeId| !float_nodes.contains(n);
    for n in order.iter().filter(|n| live(n)) {
        let node = g.node(*n);
        let acts: Vec<ValueId> = match roles.get(n) {
            Some(Role::Weighted { .. }) => vec![node.inputs[0].expect("checked in role")],
            Some(Role::Compute) => node
                .inputs
                .iter()
                .flatten()
                .copied()
                .filter(|&v| is_float_act(g, v))
                .collect(),
            _ => continue,
        };
        for v in acts.into_iter().chain([node.outputs[0]]) {
            if let Some(q) = quantization(v) {
                plan.params.insert(v, q);
            }
        }
    }
    // In order, so a chain of movements passes the quantization along.
    for n in order.iter().filter(|n| live(n)) {
        if roles.get(n) != Some(&Role::Movement) {
            continue;
        }
        let node = g.node(*n);
        let y = node.outputs[0];
        if matches!(node.op, Op::Concat(_)) {
            // Its own range: the inputs differ and are mapped into it.
            if node
                .inputs
                .iter()
                .flatten()
                .all(|v| plan.params.contains_key(v))
                && let Some(q) = quantization(y)
            {
                plan.params.insert(y, q);
            }
        } else if let Some(q) = node.inputs[0].and_then(|x| plan.params.get(&x).copied()) {
            plan.params.insert(y, q);
        }
    }
    // A Relu, or a Clip from 0, whose input only it reads and whose producer is quantized:
    // the producer's QuantizeLinear clamps at 0 (zero point 0) in its place.
    for (&r, _) in roles
        .iter()
        .filter(|(n, r)| **r == Role::Compute && live(n))
    {
        let node = g.node(r);
        let (Some(x), y) = (node.inputs[0], node.outputs[0]) else {
            continue;
        };
        if !clamps_at_zero(g, r) || g.outputs.contains(&x) || g.outputs.contains(&y) {
            continue;
        }
        let Some(p) = g.producer(x) else { continue };
        let producer_quantized = live(&p)
            && matches!(roles.get(&p), Some(Role::Weighted { .. } | Role::Compute))
            && !plan.absorbed.contains_key(&p);
        let sole = g.consumers(x) == vec![r];
        if let (true, true, Some(qy)) = (producer_quantized, sole, plan.params.get(&y).copied())
            && qy.zero == 0
        {
            plan.params.insert(x, qy);
            plan.absorbed.insert(r, x);
        }
    }
    plan
}

/// Relu, or Clip with a lower bound of exactly 0 (and any upper bound).
fn clamps_at_zero(g: &Graph, n: NodeId) -> bool {
    let node = g.node(n);
    match &node.op {
        Op::Unary(UnaryOp::Relu) => true,
        Op::Clip(a) => {
            let min = a.min.or_else(|| {
                const_of(g, node.inputs.get(1).copied().flatten())
                    .and_then(|t| t.data.to_f64_vec().first().map(|&v| v as f32))
            });
            min == Some(0.0)
        }
        _ => false,
    }
}

/// A constant weight quantized to int8, symmetric, one scale per index of `axis`.
struct QWeight {
    q: Vec<i8>,
    scales: Vec<f32>,
    axis: usize,
    shape: Vec<usize>,
}

impl QWeight {
    /// The weight of layer `n` quantized as `plan` needs: each channel's scale at least
    /// large enough that its float bias, stored as an i32 in steps of x_scale·w_scale,
    /// fits with a factor of 2 to spare (a near-dead channel with tiny weights and a real
    /// bias would otherwise overflow, and the layer could not be integer; onnxruntime's
    /// quantizer widens such scales too).
    fn for_layer(g: &Graph, n: NodeId, axis: usize, plan: &Plan) -> Option<QWeight> {
        let node = g.node(n);
        let w = const_of(g, node.inputs[1])?;
        let sx = node.inputs[0]
            .and_then(|x| plan.params.get(&x))
            .map(|q| q.scale)?;
        let c = *w.shape.get(axis)?;
        let bias: Vec<f64> = const_of(g, node.inputs.get(2).copied().flatten())
            .map(|t| t.data.to_f64_vec())
            .unwrap_or_default();
        let min_scale = |ch: usize| -> f32 {
            let b = match bias.len() {
                0 => 0.0,
                1 => bias[0],
                len if len == c => bias[ch],
                _ => 0.0,
            };
            (b.abs() / (f64::from(sx) * f64::from(1u32 << 30))) as f32
        };
        QWeight::new(w, axis, &min_scale)
    }

    fn new(w: &Tensor, axis: usize, min_scale: &dyn Fn(usize) -> f32) -> Option<QWeight> {
        let xs = floats(w)?;
        let c = *w.shape.get(axis)?;
        let inner: usize = w.shape[axis + 1..].iter().product();
        let ch = |i: usize| (i / inner) % c;
        let mut absmax = vec![0f32; c];
        for (i, &x) in xs.iter().enumerate() {
            absmax[ch(i)] = absmax[ch(i)].max(x.abs());
        }
        // ±127, not -128: the range stays symmetric, so -w quantizes to -q. A channel of
        // zeros (pruned) borrows the largest other scale: any scale stores its zeros, but
        // its bias is stored in steps of x_scale·w_scale and its factor must be a
        // fixed-point number, which neither 1.0 nor a tiny scale guarantees.
        // So is a channel whose scale would be subnormal.
        let live = |m: f32| (m / 127.0).is_normal();
        let fallback = absmax
            .iter()
            .filter(|m| live(**m))
            .fold(0f32, |a, &m| a.max(m / 127.0));
        let scales: Vec<f32> = absmax
            .iter()
            .enumerate()
            .map(|(ch, &m)| {
                let s = if live(m) {
                    m / 127.0
                } else if fallback > 0.0 {
                    fallback
                } else {
                    1.0
                };
                s.max(min_scale(ch))
            })
            .collect();
        let q = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                kiln_ir::ops::quant::round_half_even(x / scales[ch(i)]).clamp(-127.0, 127.0) as i8
            })
            .collect();
        Some(QWeight {
            q,
            scales,
            axis,
            shape: w.shape.clone(),
        })
    }

    /// The reals the integers stand for.
    fn dequantized(&self) -> Tensor {
        let inner: usize = self.shape[self.axis + 1..].iter().product();
        let c = self.scales.len();
        let v = self
            .q
            .iter()
            .enumerate()
            .map(|(i, &q)| f32::from(q) * self.scales[(i / inner) % c])
            .collect();
        Tensor::new(self.shape.clone(), TensorData::F32(v)).expect("same shape")
    }
}

/// Each quantized layer's error alone (see [`LayerReport::error`]), by node: the samples
/// run through the float graph and, at each quantized layer, the layer runs again on its
/// inputs and weights rounded to their quantization, its output rounded too.
fn layer_errors(
    g: &Graph,
    samples: &[Vec<Tensor>],
    roles: &BTreeMap<NodeId, Role>,
    plan: &Plan,
) -> Result<BTreeMap<NodeId, f64>, String> {
    let mut weights: HashMap<NodeId, Tensor> = HashMap::new();
    for (&n, role) in roles {
        if let Role::Weighted { axis } = role
            && let Some(qw) = QWeight::for_layer(g, n, *axis, plan)
        {
            weights.insert(n, qw.dequantized());
        }
    }
    // The dropped Relu after a value: the float reference passes through it.
    let after: HashMap<ValueId, NodeId> = plan.absorbed.iter().map(|(&r, &x)| (x, r)).collect();
    let mut sums: BTreeMap<NodeId, (f64, f64)> = BTreeMap::new();
    for (k, sample) in samples.iter().enumerate() {
        kiln_ir::eval::run_observed(g, sample, &mut |n, args, outs| {
            let role = match roles.get(&n) {
                Some(r @ (Role::Weighted { .. } | Role::Compute)) => *r,
                _ => return Ok(()),
            };
            let node = g.node(n);
            let y = node.outputs[0];
            let Some(qy) = plan
                .params
                .get(&y)
                .filter(|_| !plan.absorbed.contains_key(&n))
            else {
                return Ok(());
            };
            let faked: Vec<Option<Tensor>> = node
                .inputs
                .iter()
                .zip(args)
                .enumerate()
                .map(|(slot, (v, a))| match (v, a) {
                    (_, None) => None,
                    (_, Some(_)) if slot == 1 && matches!(role, Role::Weighted { .. }) => {
                        weights.get(&n).cloned().or_else(|| a.cloned())
                    }
                    (Some(v), Some(a)) => Some(match plan.params.get(v) {
                        Some(q) => q.fake(a),
                        None => (*a).clone(),
                    }),
                    (None, Some(a)) => Some((*a).clone()),
                })
                .collect();
            let refs: Vec<Option<&Tensor>> = faked.iter().map(Option::as_ref).collect();
            let got = qy.fake(&node.eval(&refs)?[0]);
            let want = match after.get(&y) {
                Some(&r) => {
                    let rn = g.node(r);
                    let mut a: Vec<Option<&Tensor>> = vec![Some(&outs[0])];
                    a.extend(rn.inputs[1..].iter().map(|v| const_of(g, *v)));
                    rn.eval(&a)?.swap_remove(0)
                }
                None => outs[0].clone(),
            };
            let (Some(gv), Some(wv)) = (floats(&got), floats(&want)) else {
                return Ok(());
            };
            let s = sums.entry(n).or_default();
            for (a, b) in gv.iter().zip(wv) {
                let (a, b) = (f64::from(*a), f64::from(*b));
                s.0 += (a - b) * (a - b);
                s.1 += b * b;
            }
            Ok(())
        })
        .map_err(|e| format!("calibration sample {k}: {e}"))?;
    }
    Ok(sums
        .into_iter()
        .map(|(n, (err, reference))| {
            let e = if reference > 0.0 {
                (err / reference).sqrt()
            } else if err > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            (n, e)
        })
        .collect())
}

fn scalar(g: &mut Graph, name: String, data: TensorData) -> ValueId {
    let t = Tensor::new(Vec::new(), data).expect("one element");
    g.add_value(name, t.ty(), ValueKind::Const(t))
}

fn qdq_node(name: String, op: Op, inputs: Vec<Option<ValueId>>, output: ValueId) -> Node {
    let onnx_op = match op {
        Op::QuantizeLinear(_) => "QuantizeLinear",
        _ => "DequantizeLinear",
    };
    Node {
        name,
        op,
        inputs,
        outputs: vec![output],
        onnx_op: onnx_op.into(),
        opset: 13,
        epilogue: Vec::new(),
        merged: Vec::new(),
    }
}

const PER_TENSOR: QuantAttrs = QuantAttrs {
    axis: 1,
    block_size: 0,
    output_dtype: None,
};

/// Writes the plan into the graph: DequantizeLinear of int8 weights, the dropped Relus
/// bypassed, and QuantizeLinear → DequantizeLinear after each planned activation.
fn insert(
    g: &mut Graph,
    roles: &BTreeMap<NodeId, Role>,
    float_nodes: &HashSet<NodeId>,
    plan: &Plan,
) {
    for (&n, role) in roles {
        let Role::Weighted { axis } = *role else {
            continue;
        };
        if float_nodes.contains(&n) {
            continue;
        }
        let w = g.node(n).inputs[1].expect("checked in role");
        let Some(qw) = QWeight::for_layer(g, n, axis, plan) else {
            continue;
        };
        let name = g.value(w).name.clone();
        let c = qw.scales.len();
        let q = Tensor::new(qw.shape.clone(), TensorData::I8(qw.q)).expect("same shape");
        let s = Tensor::new(vec![c], TensorData::F32(qw.scales)).expect("one per channel");
        let z = Tensor::new(vec![c], TensorData::I8(vec![0; c])).expect("one per channel");
        let qv = g.add_value(format!("{name}_quantized"), q.ty(), ValueKind::Const(q));
        let sv = g.add_value(format!("{name}_scale"), s.ty(), ValueKind::Const(s));
        let zv = g.add_value(format!("{name}_zero_point"), z.ty(), ValueKind::Const(z));
        let ty = g.value(w).ty.clone();
        let dq = g.add_value(format!("{name}_dequantized"), ty, ValueKind::Activation);
        let attrs = QuantAttrs {
            axis: axis as i64,
            ..PER_TENSOR
        };
        g.add_node(qdq_node(
            format!("{name}_DequantizeLinear"),
            Op::DequantizeLinear(attrs),
            vec![Some(qv), Some(sv), Some(zv)],
            dq,
        ));
        g.set_input(n, 1, Some(dq));
    }
    for (&r, &x) in &plan.absorbed {
        let y = g.node(r).outputs[0];
        replace_uses(g, y, x);
    }
    let mut planned: Vec<(ValueId, ActQ)> = plan.params.iter().map(|(v, q)| (*v, *q)).collect();
    planned.sort_by_key(|(v, _)| v.0);
    for (v, q) in planned {
        if g.consumers(v).is_empty() && !g.outputs.contains(&v) {
            continue;
        }
        insert_qdq(g, v, q);
    }
}

fn insert_qdq(g: &mut Graph, v: ValueId, q: ActQ) {
    let name = g.value(v).name.clone();
    let ty = g.value(v).ty.clone();
    let s = scalar(g, format!("{name}_scale"), TensorData::F32(vec![q.scale]));
    let z = scalar(
        g,
        format!("{name}_zero_point"),
        TensorData::U8(vec![q.zero as u8]),
    );
    let qv = g.add_value(
        format!("{name}_quantized"),
        TensorType::new(DType::U8, ty.shape.clone()),
        ValueKind::Activation,
    );
    let dq = g.add_value(format!("{name}_dequantized"), ty, ValueKind::Activation);
    // Before the QuantizeLinear reads `v` too; rewired once DequantizeLinear produces `dq`
    // (the graph's edges follow producers).
    let readers = g.consumers(v);
    g.add_node(qdq_node(
        format!("{name}_QuantizeLinear"),
        Op::QuantizeLinear(PER_TENSOR),
        vec![Some(v), Some(s), Some(z)],
        qv,
    ));
    g.add_node(qdq_node(
        format!("{name}_DequantizeLinear"),
        Op::DequantizeLinear(PER_TENSOR),
        vec![Some(qv), Some(s), Some(z)],
        dq,
    ));
    for c in readers {
        for k in 0..g.node(c).inputs.len() {
            if g.node(c).inputs[k] == Some(v) {
                g.set_input(c, k, Some(dq));
            }
        }
    }
    // A graph output is read as the dequantized value, under the model's name.
    if g.outputs.contains(&v) {
        for o in g.outputs.iter_mut().filter(|o| **o == v) {
            *o = dq;
        }
        g.value_mut(dq).name = name.clone();
        g.value_mut(v).name = format!("{name}_float");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_doubling_keeps_every_count_in_place() {
        let mut h = Histogram::new();
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 100.0).collect();
        h.add(&xs);
        assert_eq!(h.range, 8.0);
        // A value far outside doubles the range twice; the counts below it must not move.
        h.add(&[20.0]);
        assert_eq!(h.range, 32.0);
        assert_eq!(h.bins.iter().sum::<u64>(), 1001);
        let w = 2.0 * h.range / BINS as f32;
        for q in [0.1f32, 0.25, 0.5, 0.75, 0.9] {
            // Uniform on [-5, 5): the q-quantile is -5 + 10q, to one bin.
            let now = h.quantile(f64::from(q));
            let want = -5.0 + 10.0 * q;
            assert!((now - want).abs() <= w + 0.01, "q {q}: {now} vs {want}");
        }
        let top = h.quantile(1.0);
        assert!((20.0..=20.0 + w).contains(&top), "{top}");
    }

    #[test]
    fn percentile_ignores_rare_outliers_and_minmax_does_not() {
        let mut xs: Vec<f32> = (0..100_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
        xs[7] = 500.0;
        let mut s = Stats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            hist: Some(Histogram::new()),
        };
        s.min = xs.iter().copied().fold(f32::INFINITY, f32::min);
        s.max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        s.hist.as_mut().unwrap().add(&xs);
        assert_eq!(s.range(Method::MinMax), (0.0, 500.0));
        let (lo, hi) = s.range(Method::Percentile(99.99));
        assert_eq!(lo, 0.0);
        // The histogram's bins over [-1024, 1024] are 0.5 wide: the top edge of the bin
        // holding 0.999.
        assert!((0.999..=1.5).contains(&hi), "{hi}");
    }

    #[test]
    fn activation_quantization_keeps_zero_exact_and_covers_the_range() {
        for (lo, hi) in [
            (-1.0f32, 3.0),
            (0.5, 2.0),
            (-7.25, -0.5),
            (0.0, 0.0),
            (-1e-3, 1e4),
        ] {
            let q = ActQ::from_range(lo, hi);
            let t = Tensor::from_f32(vec![3], vec![0.0, lo, hi]).unwrap();
            let f = q.fake(&t);
            let TensorData::F32(v) = &f.data else {
                panic!()
            };
            assert_eq!(v[0], 0.0, "{lo}..{hi}: 0 must be exact");
            for (x, y) in [(lo, v[1]), (hi, v[2])] {
                assert!(
                    (x - y).abs() <= q.scale / 2.0 * 1.0001,
                    "{lo}..{hi}: {x} -> {y}"
                );
            }
        }
    }

    #[test]
    fn weights_are_symmetric_per_channel_and_within_half_a_step() {
        // [2 channels, 3]: the second channel all zeros (pruned) borrows the first's scale.
        let w = Tensor::from_f32(vec![2, 3], vec![0.5, -1.27, 0.01, 0.0, 0.0, 0.0]).unwrap();
        let q = QWeight::new(&w, 0, &|_| 0.0).unwrap();
        assert_eq!(q.scales, vec![0.01, 0.01]);
        assert_eq!(q.q, vec![50, -127, 1, 0, 0, 0]);
        let neg = Tensor::from_f32(vec![2, 3], vec![-0.5, 1.27, -0.01, 0.0, 0.0, 0.0]).unwrap();
        let qn = QWeight::new(&neg, 0, &|_| 0.0).unwrap();
        assert_eq!(qn.q, q.q.iter().map(|x| -x).collect::<Vec<i8>>());
        let TensorData::F32(back) = q.dequantized().data else {
            panic!()
        };
        let TensorData::F32(orig) = &w.data else {
            panic!()
        };
        for (a, b) in back.iter().zip(orig) {
            assert!((a - b).abs() <= 0.005 + 1e-7, "{a} vs {b}");
        }
        // A bias that would overflow i32 steps widens the scale.
        let wide = QWeight::new(&w, 0, &|c| if c == 0 { 0.5 } else { 0.0 }).unwrap();
        assert_eq!(wide.scales[0], 0.5);
        // Axis 1 (a MatMul's [K, N] weight): one scale per column.
        let m = Tensor::from_f32(vec![2, 2], vec![1.0, 0.1, -2.0, 0.2]).unwrap();
        let qm = QWeight::new(&m, 1, &|_| 0.0).unwrap();
        assert_eq!(qm.scales, vec![2.0 / 127.0, 0.2 / 127.0]);
        assert_eq!(qm.q, vec![64, 64, -127, 127]);
    }
}
