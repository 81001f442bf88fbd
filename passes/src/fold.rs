//! Algebraic folds into the weights of Conv and Gemm: BatchNormalization, and Mul, Div,
//! Add or Sub by a per-channel constant; MatMul followed by Add becomes a Gemm; and a zero
//! Pad goes into the padding of the Conv or AveragePool after it.
//! Arithmetic is done in f64 and rounded once to the weights' type.

use crate::rewrite::{absorb, add_const, const_input, set_inputs, sole_consumer};
use kiln_ir::ops::pad::PadAxis;
use kiln_ir::ops::{AutoPad, BinaryOp, GemmAttrs, PadMode, WindowAttrs};
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
        _ => false,
    }
}

/// The Conv or Gemm producing input `slot` of `n`, if `n` is its only reader, it has no
/// epilogue, and its output is f32/f64; with the producer's channel axis (1 for both).
fn foldable_producer(g: &Graph, n: NodeId, slot: usize) -> Option<(NodeId, ValueId)> {
    let y = (*g.node(n).inputs.get(slot)?)?;
    let p = g.producer(y)?;
    let node = g.node(p);
    let ok = matches!(node.op, Op::Conv(_) | Op::Gemm(_))
        && node.epilogue.is_empty()
        && node.outputs.len() == 1
        && matches!(g.value(y).ty.dtype, DType::F32 | DType::F64)
        && sole_consumer(g, y) == Some(n)
        && g.value(g.node(n).outputs[0]).ty == g.value(y).ty;
    ok.then_some((p, y))
}

/// BatchNormalization after a Conv or Gemm, folded into its weights.
pub fn fold_batchnorm(g: &mut Graph) -> Result<Vec<String>, String> {
    let mut folded = Vec::new();
    let ids: Vec<NodeId> = g.node_ids().collect();
    for n in ids {
        let Op::BatchNormalization(a) = g.node(n).op.clone() else {
            continue;
        };
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
            absorb(g, p, n);
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
        if !g.node_ids().any(|m| m == n) {
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
                absorb(g, p, n);
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
        if !g.node_ids().any(|m| m == n) {
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
            absorb(g, p, n);
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
        if !g.node_ids().any(|k| k == m) || g.node(m).op != Op::Binary(BinaryOp::Mul) {
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
