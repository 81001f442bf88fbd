//! Algebraic folds into the weights of Conv and Gemm: BatchNormalization, and Mul, Div,
//! Add or Sub by a per-channel constant; MatMul followed by Add becomes a Gemm; and a zero
//! Pad goes into the padding of the Conv or AveragePool after it. Decomposed HardSwish,
//! LayerNormalization and GELU subgraphs are recognised and become one op each.
//! Arithmetic is done in f64 and rounded once to the weights' type.

use crate::rewrite::{absorb, add_const, const_input, set_inputs, sole_consumer};
use kiln_ir::ops::pad::PadAxis;
use kiln_ir::ops::{AutoPad, BinaryOp, GemmAttrs, PadMode, ReduceKind, WindowAttrs};
use kiln_ir::{DType, Graph, NodeId, Op, Tensor, TensorData, ValueId};

fn to_tensor(dtype: DType, shape: Vec<usize>, v: Vec<f64>) -> Option<Tensor> {
    let data = match dtype {
        DType::F32 => TensorData::F32(v.into_iter().map(|x| x as f32).collect()),
        DType::F64 => TensorData::F64(v),
        _ => return None,
    };
    Tensor::new(shape, data).ok()
}

/// A constant `k` that, broadcast against an output of `shape`, varies at most along
/// `axis`: its value per index of that axis.
fn per_channel(k: &Tensor, shape: &[usize], axis: usize) -> Option<Vec<f64>> {
    let r = shape.len();
    if k.shape.len() > r {
        return None;
    }
    let lead = r - k.shape.len();
    let mut along = None;
    for (d, &dim) in k.shape.iter().enumerate() {
        if d + lead == axis {
            along = Some(dim);
        } else if dim != 1 {
            return None;
        }
    }
    let c = shape[axis];
    let v = k.data.to_f64_vec();
    match along {
        Some(n) if n == c => Some(v),
        Some(1) | None => v.first().map(|&x| vec![x; c]),
        _ => None,
    }
}

/// `y = y * scale + shift` per output channel, folded into a Conv's weights and bias.
/// Returns false (and changes nothing) when the Conv's weights are not constants.
fn fold_into_conv(g: &mut Graph, n: NodeId, scale: &[f64], shift: &[f64]) -> bool {
    let Some(w) = const_input(g, n, 1).cloned() else {
        return false;
    };
    let bias = match g.node(n).inputs.get(2).copied().flatten() {
        Some(v) => match g.value(v).const_tensor() {
            Some(t) => t.data.to_f64_vec(),
            None => return false,
        },
        None => vec![0.0; scale.len()],
    };
    let m = w.shape[0];
    if m != scale.len() || bias.len() != m || m == 0 {
        return false;
    }
    let per = w.numel() / m;
    let wv: Vec<f64> = w
        .data
        .to_f64_vec()
        .iter()
        .enumerate()
        .map(|(i, &x)| x * scale[i / per])
        .collect();
    let bv: Vec<f64> = (0..m).map(|i| bias[i] * scale[i] + shift[i]).collect();
    let dtype = w.dtype();
    let (Some(w2), Some(b2)) = (
        to_tensor(dtype, w.shape.clone(), wv),
        to_tensor(dtype, vec![m], bv),
    ) else {
        return false;
    };
    let name = g.node(n).name.clone();
    let wv = add_const(g, &format!("{name}.weight"), w2);
    let bv = add_const(g, &format!("{name}.bias"), b2);
    set_inputs(g, n, &[g.node(n).inputs[0], Some(wv), Some(bv)]);
    true
}

/// `y = y * scale + shift` per output column, folded into a Gemm's B and C.
fn fold_into_gemm(g: &mut Graph, n: NodeId, a: &GemmAttrs, scale: &[f64], shift: &[f64]) -> bool {
    let Some(b) = const_input(g, n, 1).cloned() else {
        return false;
    };
    let y = g.value(g.node(n).outputs[0]).ty.shape.clone();
    let [m, nn] = y[..] else { return false };
    if scale.len() != nn || b.shape.len() != 2 {
        return false;
    }
    // C broadcast to m x n, times beta.
    let c_full: Vec<f64> = match g.node(n).inputs.get(2).copied().flatten() {
        Some(v) => {
            let Some(c) = g.value(v).const_tensor() else {
                return false;
            };
            let cv = c.data.to_f64_vec();
            let (cm, cn) = match c.shape[..] {
                [] => (1, 1),
                [cn] => (1, cn),
                [cm, cn] => (cm, cn),
                _ => return false,
            };
            (0..m * nn)
                .map(|i| {
                    let (r, col) = (i / nn, i % nn);
                    a.beta as f64
                        * cv[(if cm == 1 { 0 } else { r }) * cn + if cn == 1 { 0 } else { col }]
                })
                .collect()
        }
        None => vec![0.0; m * nn],
    };
    let bvals = b.data.to_f64_vec();
    let bv: Vec<f64> = bvals
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            // B is k x n, or n x k when transposed: the column index is the output column.
            let col = if a.trans_b {
                i / b.shape[1]
            } else {
                i % b.shape[1]
            };
            x * scale[col]
        })
        .collect();
    let cv: Vec<f64> = c_full
        .iter()
        .enumerate()
        .map(|(i, &x)| x * scale[i % nn] + shift[i % nn])
        .collect();
    let rows_equal = (0..m).all(|r| cv[r * nn..(r + 1) * nn] == cv[..nn]);
    let (c_shape, c_vals) = if rows_equal {
        (vec![nn], cv[..nn].to_vec())
    } else {
        (vec![m, nn], cv)
    };
    let dtype = b.dtype();
    let (Some(b2), Some(c2)) = (
        to_tensor(dtype, b.shape.clone(), bv),
        to_tensor(dtype, c_shape, c_vals),
    ) else {
        return false;
    };
    let name = g.node(n).name.clone();
    let bv = add_const(g, &format!("{name}.B"), b2);
    let cv = add_const(g, &format!("{name}.C"), c2);
    set_inputs(g, n, &[g.node(n).inputs[0], Some(bv), Some(cv)]);
    g.node_mut(n).op = Op::Gemm(GemmAttrs {
        beta: 1.0,
        ..a.clone()
    });
    true
}

/// Folds per-channel `scale`/`shift` into producer `p` (Conv or Gemm with f32/f64 output).
fn fold_affine_into(g: &mut Graph, p: NodeId, scale: &[f64], shift: &[f64]) -> bool {
    match g.node(p).op.clone() {
        Op::Conv(_) => fold_into_conv(g, p, scale, shift),
        Op::Gemm(a) => fold_into_gemm(g, p, &a, scale, shift),
        // foldable_producer checked the operands are 2-D and B constant: Gemm's A x B.
        Op::MatMul => {
            g.node_mut(p).op = Op::Gemm(GemmAttrs::default());
            fold_into_gemm(g, p, &GemmAttrs::default(), scale, shift)
        }
        _ => false,
    }
}

/// The Conv or Gemm producing input `slot` of `n`, if `n` is its only reader, it has no
/// epilogue, and its output is f32/f64; with the producer's channel axis (1 for both).
fn foldable_producer(g: &Graph, n: NodeId, slot: usize) -> Option<(NodeId, ValueId)> {
    let y = (*g.node(n).inputs.get(slot)?)?;
    let p = g.producer(y)?;
    let node = g.node(p);
    // A MatMul of 2-D operands with constant B is a Gemm, and folds as one.
    let matmul_2d = node.op == Op::MatMul
        && node
            .inputs
            .iter()
            .flatten()
            .all(|&v| g.value(v).ty.rank() == 2)
        && const_input(g, p, 1).is_some();
    let ok = (matches!(node.op, Op::Conv(_) | Op::Gemm(_)) || matmul_2d)
        && node.epilogue.is_empty()
        && node.outputs.len() == 1
        && matches!(g.value(y).ty.dtype, DType::F32 | DType::F64)
        && sole_consumer(g, y) == Some(n)
        && g.value(g.node(n).outputs[0]).ty == g.value(y).ty;
    ok.then_some((p, y))
}

/// BatchNormalization after a Conv, Gemm or 2-D MatMul, folded into its weights.
pub fn fold_batchnorm(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut folded = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        let Op::BatchNormalization(a) = g.node(n).op.clone() else {
            continue;
        };
        if a.training_momentum.is_some() {
            continue; // normalises with the batch's statistics, not the constant inputs
        }
        let Some((p, y)) = foldable_producer(g, n, 0) else {
            continue;
        };
        let stats: Option<Vec<Vec<f64>>> = (1..5)
            .map(|k| const_input(g, n, k).map(|t| t.data.to_f64_vec()))
            .collect();
        let Some(stats) = stats else { continue };
        let [gamma, beta, mean, var] = &stats[..] else {
            continue;
        };
        let c = g.value(y).ty.shape[1];
        if [gamma, beta, mean, var].iter().any(|v| v.len() != c) {
            continue;
        }
        let scale: Vec<f64> = (0..c)
            .map(|i| gamma[i] / (var[i] + a.epsilon as f64).sqrt())
            .collect();
        let shift: Vec<f64> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
        if fold_affine_into(g, p, &scale, &shift) {
            folded.push(format!("{:?} into {:?}", g.node(n).name, g.node(p).name));
            absorb(g, p, n, "folded");
        }
    }
    Ok(folded)
}

/// Mul, Div, Add or Sub of a Conv or Gemm output by a per-channel constant, folded into
/// its weights and bias.
pub fn fold_affine(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut folded = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        if !g.contains_node(n) {
            continue;
        }
        let Op::Binary(op) = g.node(n).op else {
            continue;
        };
        // The producer's output on one side, a constant on the other.
        let sides = [(0usize, 1usize), (1, 0)];
        for (ys, ks) in sides {
            let Some((p, y)) = foldable_producer(g, n, ys) else {
                continue;
            };
            let Some(k) = const_input(g, n, ks) else {
                continue;
            };
            let shape = g.value(y).ty.shape.clone();
            if shape.len() < 2 {
                continue;
            }
            let Some(kv) = per_channel(k, &shape, 1) else {
                continue;
            };
            let c = kv.len();
            let (scale, shift) = match (op, ys) {
                (BinaryOp::Mul, _) => (kv, vec![0.0; c]),
                (BinaryOp::Div, 0) => (kv.iter().map(|x| 1.0 / x).collect(), vec![0.0; c]),
                (BinaryOp::Add, _) => (vec![1.0; c], kv),
                (BinaryOp::Sub, 0) => (vec![1.0; c], kv.iter().map(|x| -x).collect()),
                _ => continue,
            };
            if fold_affine_into(g, p, &scale, &shift) {
                folded.push(format!(
                    "{} {:?} into {:?}",
                    op.name(),
                    g.node(n).name,
                    g.node(p).name
                ));
                absorb(g, p, n, "folded");
                break;
            }
        }
    }
    Ok(folded)
}

/// The window of a Conv, or of an AveragePool that counts padding (`count_include_pad`),
/// with explicit padding: where a zero Pad in front of it can go.
fn zero_padded_window(op: &mut Op) -> Option<&mut WindowAttrs> {
    let w = match op {
        Op::Conv(a) => &mut a.window,
        Op::AveragePool(a) if a.count_include_pad => &mut a.window,
        _ => return None,
    };
    // ceil_mode: a last window starting in the Pad's end padding is kept, in `pads` dropped.
    (w.auto_pad == AutoPad::NotSet && !w.ceil_mode).then_some(w)
}

/// A Pad with constant 0 that only pads (never crops) the spatial axes, read by nothing but
/// input 0 of a Conv (or an AveragePool with `count_include_pad=1`) with explicit padding,
/// folded into that op's `pads`. MaxPool is left alone: its Indices output counts positions
/// of the padded tensor, and integer tensors have no −∞ to pad with.
pub fn fold_pad(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut folded = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        let node = g.node(n);
        let Op::Pad(pad) = &node.op else {
            continue;
        };
        let (Some(Some(x)), &[y]) = (node.inputs.first().copied(), &node.outputs[..]) else {
            continue;
        };
        let shape = &g.value(x).ty.shape;
        if pad.mode != PadMode::Constant || pad.value != 0.0 || shape.len() < 3 {
            continue;
        }
        let Ok(geo) = pad.geometry(shape) else {
            continue;
        };
        let spatial_only = geo[..2].iter().all(PadAxis::is_plain)
            && geo.iter().all(|a| a.start == 0 && a.len == a.input);
        let Some(c) = sole_consumer(g, y) else {
            continue;
        };
        let reads = &g.node(c).inputs;
        let only_input_0 =
            reads.first() == Some(&Some(y)) && reads.iter().filter(|&&i| i == Some(y)).count() == 1;
        if !spatial_only || !only_input_0 {
            continue;
        }
        let mut op = g.node(c).op.clone();
        let Some(w) = zero_padded_window(&mut op) else {
            continue;
        };
        let k = shape.len() - 2;
        if w.pads.is_empty() {
            w.pads = vec![0; 2 * k];
        }
        if w.pads.len() != 2 * k {
            continue;
        }
        let sums: Option<Vec<usize>> = (0..2 * k)
            .map(|i| {
                let a = &geo[2 + i % k];
                w.pads[i].checked_add(if i < k { a.before } else { a.after() })
            })
            .collect();
        let Some(sums) = sums else {
            continue;
        };
        w.pads = sums;
        let label = format!("{:?} into {:?}", g.node(n).name, g.node(c).name);
        g.node_mut(c).op = op;
        g.set_input(c, 0, Some(x));
        crate::rewrite::record_merge(g, c, n, "folded");
        g.remove_node(n);
        folded.push(label);
    }
    Ok(folded)
}

/// MatMul of 2-D operands followed by an Add of a bias that broadcasts to its output
/// becomes one Gemm (`C` = the bias).
pub fn matmul_add_to_gemm(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut folded = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        if !g.contains_node(n) {
            continue;
        }
        if g.node(n).op != Op::Binary(BinaryOp::Add) {
            continue;
        }
        for (ys, ks) in [(0usize, 1usize), (1, 0)] {
            let (Some(Some(y)), Some(Some(k))) = (
                g.node(n).inputs.get(ys).copied(),
                g.node(n).inputs.get(ks).copied(),
            ) else {
                continue;
            };
            let Some(p) = g.producer(y) else { continue };
            let mm = g.node(p);
            let yt = &g.value(y).ty;
            let kt = &g.value(k).ty;
            let ok = mm.op == Op::MatMul
                && mm.epilogue.is_empty()
                && sole_consumer(g, y) == Some(n)
                && y != k
                && yt.rank() == 2
                && mm
                    .inputs
                    .iter()
                    .flatten()
                    .all(|&v| g.value(v).ty.rank() == 2)
                && kt.dtype == yt.dtype
                && kt.rank() <= 2
                && g.value(g.node(n).outputs[0]).ty == *yt
                && unidirectional(&kt.shape, &yt.shape);
            if !ok {
                continue;
            }
            let label = format!("{:?} + {:?}", mm.name, g.node(n).name);
            g.node_mut(p).op = Op::Gemm(GemmAttrs::default());
            g.push_input(p, k);
            absorb(g, p, n, "bias of Gemm");
            folded.push(label);
            break;
        }
    }
    Ok(folded)
}

/// Whether `k` broadcasts to `y` without `y` growing (ONNX's unidirectional broadcast).
fn unidirectional(k: &[usize], y: &[usize]) -> bool {
    k.len() <= y.len()
        && k.iter()
            .rev()
            .zip(y.iter().rev())
            .all(|(&a, &b)| a == b || a == 1)
}

/// `Mul(x, HardSigmoid(x))` with HardSigmoid's alpha 1/6 and beta 1/2 (how exporters spell
/// HardSwish when the opset lacks it) becomes one HardSwish.
pub fn recognize_hardswish(g: &mut Graph) -> Result<Vec<String>, String> {
    use kiln_ir::ops::Activation;
    let mut found = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for m in ids {
        if !g.contains_node(m) || g.node(m).op != Op::Binary(BinaryOp::Mul) {
            continue;
        }
        let ins = g.node(m).inputs.clone();
        let [Some(a), Some(b)] = ins[..] else {
            continue;
        };
        for (x, gate) in [(a, b), (b, a)] {
            let Some(h) = g.producer(gate) else { continue };
            let hn = g.node(h);
            let is_gate = matches!(hn.op, Op::Activation(Activation::HardSigmoid { alpha, beta })
                if (alpha as f64 - 1.0 / 6.0).abs() < 1e-6 && beta == 0.5);
            if !is_gate
                || hn.inputs.first() != Some(&Some(x))
                || sole_consumer(g, gate) != Some(m)
                || g.value(x).ty != g.value(g.node(m).outputs[0]).ty
            {
                continue;
            }
            let label = format!("{:?} * {:?}", hn.name, g.node(m).name);
            g.set_input(m, 0, Some(x));
            g.set_input(m, 1, None);
            let node = g.node_mut(m);
            node.inputs.truncate(1);
            node.op = Op::Activation(Activation::HardSwish);
            g.remove_node(h);
            found.push(label);
            break;
        }
    }
    Ok(found)
}

/// The single value of a constant with one element (any rank), if input `slot` of `n` is
/// one.
fn scalar_const(g: &Graph, n: NodeId, slot: usize) -> Option<f64> {
    let t = const_input(g, n, slot)?;
    (t.numel() == 1)
        .then(|| t.data.to_f64_vec().first().copied())
        .flatten()
}

/// Whether `v` is within 1e-6 relative of `want`.
fn near(v: f64, want: f64) -> bool {
    (v - want).abs() <= 1e-6 * want.abs()
}

/// The node producing `v` if it runs `op` (epilogue-free) and `v` has no reader but `by`.
fn only_for(g: &Graph, v: ValueId, by: NodeId, op: &Op) -> Option<NodeId> {
    let p = g.producer(v)?;
    let node = g.node(p);
    (node.op == *op && node.epilogue.is_empty() && sole_consumer(g, v) == Some(by)).then_some(p)
}

/// For a binary node `n` with `v` as one operand: the other operand's slot.
fn other_slot(g: &Graph, n: NodeId, v: ValueId) -> Option<usize> {
    match g.node(n).inputs[..] {
        [Some(a), Some(b)] if a == v && b != v => Some(1),
        [Some(a), Some(b)] if b == v && a != v => Some(0),
        _ => None,
    }
}

/// The reduced axes of a ReduceMean node (`None` if they are not known or it keeps no dims).
fn mean_axes(g: &Graph, n: NodeId) -> Option<(Vec<usize>, ValueId)> {
    let node = g.node(n);
    let Op::Reduce(ReduceKind::Mean, a) = &node.op else {
        return None;
    };
    let x = (*node.inputs.first()?)?;
    let operand = node.inputs.get(1).copied().flatten().map(|v| {
        let val = g.value(v);
        kiln_ir::ops::InferInput {
            ty: &val.ty,
            value: val.const_tensor(),
        }
    });
    let axes = kiln_ir::ops::reduce::reduced_axes(a, g.value(x).ty.rank(), operand).ok()?;
    (a.keepdims && node.epilogue.is_empty()).then_some((axes, x))
}

/// A constant `k` multiplied into (or added to) a tensor of `shape` normalised from `axis`,
/// when it varies only along the normalised axes: its values spread over `shape[axis..]`.
fn per_feature(k: &Tensor, shape: &[usize], axis: usize) -> Option<Vec<f64>> {
    let r = shape.len();
    if k.shape.len() > r {
        return None;
    }
    let lead = r - k.shape.len();
    // Right-aligned: the axes before `axis` must be 1 (or absent); the rest 1 or equal.
    for (d, &dim) in k.shape.iter().enumerate() {
        let at = d + lead;
        if dim != 1 && (at < axis || dim != shape[at]) {
            return None;
        }
    }
    let v = k.data.to_f64_vec();
    let norm = &shape[axis..];
    // k's strides along the normalised axes (0 where it broadcasts).
    let mut strides = vec![0usize; norm.len()];
    let mut step = 1;
    for d in (0..k.shape.len()).rev() {
        let at = d + lead;
        if at >= axis && k.shape[d] != 1 {
            strides[at - axis] = step;
        }
        step *= k.shape[d];
    }
    let n: usize = norm.iter().product();
    let mut out = Vec::with_capacity(n);
    let mut coord = vec![0usize; norm.len()];
    for _ in 0..n {
        out.push(
            v[coord
                .iter()
                .zip(&strides)
                .map(|(c, s)| c * s)
                .sum::<usize>()],
        );
        for d in (0..norm.len()).rev() {
            coord[d] += 1;
            if coord[d] < norm[d] {
                break;
            }
            coord[d] = 0;
        }
    }
    Some(out)
}

/// LayerNormalization as exporters spell it without the op (opsets < 17):
/// `d = x - ReduceMean(x)`, `d / Sqrt(ReduceMean(Pow(d, 2)) + eps)` (or `Mul(d, d)` for the
/// square), over trailing axes with keepdims, then optionally `* gamma` and `+ beta` with
/// per-feature constants, becomes one LayerNormalization (gamma and beta as its Scale and B).
/// Every intermediate value must have no other reader (`d` exactly the square and the Div).
pub fn recognize_layernorm(g: &mut Graph) -> Result<Vec<String>, String> {
    use kiln_ir::ops::LayerNormAttrs;
    let mut found = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for div in ids {
        if !g.contains_node(div) || g.node(div).op != Op::Binary(BinaryOp::Div) {
            continue;
        }
        let Some(hit) = layernorm_at(g, div) else {
            continue;
        };
        let LayerNormMatch {
            x,
            axis,
            eps,
            mut inner,
            mut last,
        } = hit;
        let ty = g.value(x).ty.clone();
        // Optional per-feature scale and shift after it.
        let mut scale = None;
        let mut shift = None;
        for (op, dest) in [(BinaryOp::Mul, 0usize), (BinaryOp::Add, 1)] {
            let y = g.node(last).outputs[0];
            let Some(c) = sole_consumer(g, y) else { break };
            let cn = g.node(c);
            if cn.op != Op::Binary(op) || !cn.epilogue.is_empty() || g.value(cn.outputs[0]).ty != ty
            {
                continue;
            }
            let Some(k) = other_slot(g, c, y) else {
                continue;
            };
            let Some(vals) = const_input(g, c, k).and_then(|t| per_feature(t, &ty.shape, axis))
            else {
                continue;
            };
            if dest == 0 {
                scale = Some(vals);
            } else {
                shift = Some(vals);
            }
            inner.push(last);
            last = c;
        }
        let norm = ty.shape[axis..].to_vec();
        let n: usize = norm.iter().product();
        let scale = scale.unwrap_or_else(|| vec![1.0; n]);
        let (Some(scale_t), Some(shift_t)) = (
            to_tensor(ty.dtype, norm.clone(), scale),
            shift.map_or(Some(None), |v| {
                to_tensor(ty.dtype, norm.clone(), v).map(Some)
            }),
        ) else {
            continue;
        };
        let name = g.node(last).name.clone();
        let sv = add_const(g, &format!("{name}.scale"), scale_t);
        let mut ins = vec![Some(x), Some(sv)];
        if let Some(t) = shift_t {
            ins.push(Some(add_const(g, &format!("{name}.bias"), t)));
        }
        let label = format!(
            "{} nodes from {:?} to {:?}",
            inner.len() + 1,
            g.node(inner[0]).name,
            name
        );
        for &k in &inner {
            g.remove_node(k);
        }
        let len = g.node(last).inputs.len();
        for slot in 0..len.max(ins.len()) {
            let v = ins.get(slot).copied().flatten();
            if slot < len {
                g.set_input(last, slot, v);
            } else if let Some(v) = v {
                g.push_input(last, v);
            }
        }
        let node = g.node_mut(last);
        node.inputs.truncate(ins.len());
        node.op = Op::LayerNormalization(LayerNormAttrs {
            axis: axis as i64,
            epsilon: eps as f32,
        });
        found.push(label);
    }
    Ok(found)
}

/// What [`layernorm_at`] found: the normalised input, the first normalised axis, epsilon,
/// the nodes to remove, and the node that becomes the LayerNormalization.
struct LayerNormMatch {
    x: ValueId,
    axis: usize,
    eps: f64,
    inner: Vec<NodeId>,
    last: NodeId,
}

/// The LayerNormalization subgraph ending in the Div `div`, if it is one.
fn layernorm_at(g: &Graph, div: NodeId) -> Option<LayerNormMatch> {
    use kiln_ir::ops::UnaryOp;
    let node = g.node(div);
    let [Some(d), Some(s)] = node.inputs[..] else {
        return None;
    };
    if !node.epilogue.is_empty() || d == s {
        return None;
    }
    let sqrt = only_for(g, s, div, &Op::Unary(UnaryOp::Sqrt))?;
    let e = (*g.node(sqrt).inputs.first()?)?;
    let add = only_for(g, e, sqrt, &Op::Binary(BinaryOp::Add))?;
    let (var, eps) = match g.node(add).inputs[..] {
        [Some(v), Some(_)] if scalar_const(g, add, 1).is_some() => (v, scalar_const(g, add, 1)?),
        [Some(_), Some(v)] => (v, scalar_const(g, add, 0)?),
        _ => return None,
    };
    let r2 = g.producer(var)?;
    if sole_consumer(g, var) != Some(add) {
        return None;
    }
    let (axes2, sq) = mean_axes(g, r2)?;
    // The square of d: Pow(d, 2) or Mul(d, d).
    let square = g.producer(sq)?;
    let sn = g.node(square);
    let squares_d = match (&sn.op, &sn.inputs[..]) {
        (Op::Pow, [Some(a), Some(_)]) => *a == d && scalar_const(g, square, 1) == Some(2.0),
        (Op::Binary(BinaryOp::Mul), [Some(a), Some(b)]) => *a == d && *b == d,
        _ => false,
    };
    if !squares_d || !sn.epilogue.is_empty() || sole_consumer(g, sq) != Some(r2) {
        return None;
    }
    // d = x - mean(x), read by the square and the Div only.
    let sub = g.producer(d)?;
    let subn = g.node(sub);
    let [Some(x), Some(m)] = subn.inputs[..] else {
        return None;
    };
    let mut readers = g.consumers(d);
    readers.sort();
    let mut want = vec![square, div];
    want.sort();
    if subn.op != Op::Binary(BinaryOp::Sub)
        || !subn.epilogue.is_empty()
        || g.outputs.contains(&d)
        || readers != want
        || x == m
    {
        return None;
    }
    let r1 = g.producer(m)?;
    if sole_consumer(g, m) != Some(sub) {
        return None;
    }
    let (axes1, x1) = mean_axes(g, r1)?;
    let ty = &g.value(x).ty;
    let rank = ty.rank();
    let axis = *axes1.first()?;
    let trailing = axes1 == (axis..rank).collect::<Vec<_>>();
    let types_ok = matches!(ty.dtype, DType::F32 | DType::F64)
        && [d, sq, g.node(div).outputs[0]]
            .iter()
            .all(|&v| g.value(v).ty == *ty)
        && g.value(e).ty == g.value(var).ty;
    if x1 != x || axes2 != axes1 || !trailing || !types_ok || !eps.is_finite() {
        return None;
    }
    Some(LayerNormMatch {
        x,
        axis,
        eps,
        inner: vec![r1, sub, square, r2, add, sqrt],
        last: div,
    })
}

/// GELU as exporters spell it without the op (opsets < 20): `0.5 * x * (1 + Erf(x / √2))`,
/// with `x * (1/√2)` for the division, the constants on either side, and the three factors
/// `x`, `1 + Erf(..)` and `0.5` multiplied in any association, becomes one Gelu (an
/// activation, so fusion can then move it into a Conv, Gemm or MatMul). The constants must
/// match within 1e-6 relative and every intermediate value have no other reader.
pub fn recognize_gelu(g: &mut Graph) -> Result<Vec<String>, String> {
    use kiln_ir::ops::{Activation, UnaryOp};
    let mut found = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for erf in ids {
        if !g.contains_node(erf) || g.node(erf).op != Op::Unary(UnaryOp::Erf) {
            continue;
        }
        let Some((x, mut gone, root)) = gelu_at(g, erf) else {
            continue;
        };
        let label = format!("{:?} .. {:?}", g.node(erf).name, g.node(root).name);
        gone.retain(|&k| k != root);
        for k in gone {
            g.remove_node(k);
        }
        g.set_input(root, 0, Some(x));
        g.set_input(root, 1, None);
        let node = g.node_mut(root);
        node.inputs.truncate(1);
        node.op = Op::Activation(Activation::Gelu { tanh: false });
        found.push(label);
    }
    Ok(found)
}

/// The GELU subgraph around the Erf node `erf`: its input `x`, the nodes it spans and the
/// one that writes its result.
fn gelu_at(g: &Graph, erf: NodeId) -> Option<(ValueId, Vec<NodeId>, NodeId)> {
    let en = g.node(erf);
    let (u, e) = ((*en.inputs.first()?)?, *en.outputs.first()?);
    if !en.epilogue.is_empty() {
        return None;
    }
    // u = x / √2 or x * (1/√2).
    let scale = g.producer(u)?;
    let sn = g.node(scale);
    if !sn.epilogue.is_empty() || sole_consumer(g, u) != Some(erf) {
        return None;
    }
    let x = match (&sn.op, &sn.inputs[..]) {
        (Op::Binary(BinaryOp::Div), [Some(x), Some(_)]) => {
            near(scalar_const(g, scale, 1)?, std::f64::consts::SQRT_2).then_some(*x)?
        }
        (Op::Binary(BinaryOp::Mul), [Some(a), Some(b)]) => {
            let (x, k) = if scalar_const(g, scale, 1).is_some() {
                (*a, 1)
            } else {
                (*b, 0)
            };
            near(scalar_const(g, scale, k)?, std::f64::consts::FRAC_1_SQRT_2).then_some(x)?
        }
        _ => return None,
    };
    let ty = &g.value(x).ty;
    // a = 1 + Erf(u).
    let add = sole_consumer(g, e)?;
    let k = other_slot(g, add, e)?;
    if g.node(add).op != Op::Binary(BinaryOp::Add) || !near(scalar_const(g, add, k)?, 1.0) {
        return None;
    }
    let a = g.node(add).outputs[0];
    let is_mul =
        |n: NodeId| g.node(n).op == Op::Binary(BinaryOp::Mul) && g.node(n).epilogue.is_empty();
    let half = |n: NodeId, slot: usize| scalar_const(g, n, slot).is_some_and(|v| near(v, 0.5));
    // The product of x, a and 0.5.
    let m1 = sole_consumer(g, a).filter(|&m| is_mul(m))?;
    let o = other_slot(g, m1, a)?;
    let other = g.node(m1).inputs[o]?;
    let (gone, root) = if other == x || half(m1, o) {
        // (x * a) * 0.5 or (a * 0.5) * x.
        let v = g.node(m1).outputs[0];
        let m2 = sole_consumer(g, v).filter(|&m| is_mul(m))?;
        let o2 = other_slot(g, m2, v)?;
        let fits = if other == x {
            half(m2, o2)
        } else {
            g.node(m2).inputs[o2] == Some(x)
        };
        if !fits || g.value(v).ty != *ty {
            return None;
        }
        (vec![scale, erf, add, m1, m2], m2)
    } else {
        // (x * 0.5) * a.
        let h = g.producer(other)?;
        let hs = other_slot(g, h, x)?;
        let xh = 1 - hs;
        if !is_mul(h)
            || sole_consumer(g, other) != Some(m1)
            || !half(h, hs)
            || g.node(h).inputs[xh] != Some(x)
        {
            return None;
        }
        (vec![scale, erf, add, h, m1], m1)
    };
    let root_out = g.node(root).outputs[0];
    let types_ok = matches!(ty.dtype, DType::F32 | DType::F64)
        && [u, e, a, root_out].iter().all(|&v| g.value(v).ty == *ty);
    types_ok.then_some((x, gone, root))
}
