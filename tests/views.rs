//! Zero-copy views and in-place execution, end to end: small graphs that exercise every
//! sharing rule of the memory planner (view chains, views of graph inputs, constants and
//! graph outputs, views producing graph outputs, in-place unary, Clip and binary ops over
//! either operand with the other broadcast, values that must not be overwritten because
//! they are read later or twice) are compiled with sharing on and off, built into one
//! runner crate, run, and compared with the reference semantics (`kiln::ir::eval::run`).
//! The variants must also agree with each other exactly: sharing storage changes where
//! values live, never the arithmetic.

mod common;

use common::sharing::{Variant, compile, input_data, run_variants};

use kiln::ir::builder::Builder;
use kiln::ir::ops::{
    BinaryOp, ClipAttrs, ConvAttrs, FlattenAttrs, ReshapeAttrs, TransposeAttrs, UnaryOp,
    WindowAttrs,
};
use kiln::ir::{DType, Graph, Op, Tensor, TensorData, ValueId, ValueKind};
use kiln::passes::MemoryPlan;
use kiln::passes::memory::{PlanOptions, check_aliases, check_plan, plan_memory_with};

/// Shorthands over the IR's graph builder.
trait Ops {
    fn f32s(&mut self, name: &str, shape: &[usize], seed: usize) -> ValueId;
    fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId;
    fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId;
    fn reshape(&mut self, x: ValueId, shape: &[i64]) -> ValueId;
    fn flatten(&mut self, x: ValueId, axis: i64) -> ValueId;
}

impl Ops for Builder {
    fn f32s(&mut self, name: &str, shape: &[usize], seed: usize) -> ValueId {
        self.weights(name, shape, seed, 0.25)
    }

    fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId {
        self.one(Op::Unary(op), &[x])
    }

    fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.one(Op::Binary(op), &[a, b])
    }

    fn reshape(&mut self, x: ValueId, shape: &[i64]) -> ValueId {
        let name = format!("shape{}", self.g.value_count());
        let s = self.constant(&name, &[shape.len()], TensorData::I64(shape.to_vec()));
        self.one(Op::Reshape(ReshapeAttrs::default()), &[x, s])
    }

    fn flatten(&mut self, x: ValueId, axis: i64) -> ValueId {
        self.one(Op::Flatten(FlattenAttrs { axis }), &[x])
    }
}

use BinaryOp::{Add, Div, Mul, Sub};
use UnaryOp::{Relu, Sigmoid, Tanh};

/// Relu, then a chain of views (Reshape, Flatten, Identity) read by Sigmoid, which
/// overwrites the Relu's buffer, then Tanh in place, and a Flatten producing the graph
/// output, which copies (its input is stored in the arena with other values).
fn view_chain() -> Graph {
    let mut b = Builder::new("view_chain");
    let x = b.input("x", DType::F32, &[2, 3, 4]);
    let r = b.unary(Relu, x);
    let v1 = b.reshape(r, &[6, 4]);
    let v2 = b.flatten(v1, 0);
    let v3 = b.one(Op::Identity, &[v2]);
    let s = b.unary(Sigmoid, v3);
    let v4 = b.reshape(s, &[2, 12]);
    let t = b.unary(Tanh, v4);
    let y = b.flatten(t, 1);
    b.output(y);
    b.g
}

/// Views of a graph input and of a constant are read in place and never written: the ops
/// reading them get buffers of their own. Graph outputs that are views of read-only
/// storage copy it.
fn read_only_views() -> Graph {
    let mut b = Builder::new("read_only_views");
    let x = b.input("x", DType::F32, &[2, 3]);
    let k = b.f32s("k", &[6], 1);
    let vx = b.reshape(x, &[3, 2]);
    let vk = b.reshape(k, &[3, 2]);
    let a = b.binary(Add, vx, vk);
    let vi = b.one(Op::Identity, &[vk]);
    let m = b.binary(Mul, a, vi);
    let m = b.unary(Relu, m);
    let c = b.unary(Relu, vx);
    let ix = b.one(Op::Identity, &[x]);
    let fk = b.flatten(k, 0);
    // A Transpose that moves only a unit axis is a view too.
    let u = b.reshape(x, &[1, 6]);
    let ut = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[u]);
    let ur = b.unary(Tanh, ut);
    for v in [m, c, ix, fk, ur] {
        b.output(v);
    }
    b.g
}

/// A Conv whose output only a Flatten reads writes the graph output array directly; a
/// Relu read again later keeps its buffer and the Reshape producing an output copies; a
/// view of a graph output reads the caller's array.
fn output_arrays() -> Graph {
    let mut b = Builder::new("output_arrays");
    let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
    let w = b.f32s("w", &[3, 2, 3, 3], 2);
    let conv = Op::Conv(ConvAttrs {
        window: WindowAttrs {
            pads: vec![1, 1, 1, 1],
            ..Default::default()
        },
        group: 1,
    });
    let c = b.one(conv, &[x, w]);
    let f = b.flatten(c, 1);
    let g = b.unary(Relu, x);
    let gr = b.reshape(g, &[50]);
    let gt = b.unary(Tanh, g);
    let o = b.unary(Sigmoid, x);
    let ov = b.reshape(o, &[50]);
    let or = b.unary(Relu, ov);
    for v in [f, gr, gt, o, or] {
        b.output(v);
    }
    b.g
}

/// In-place binary ops over either operand with the other broadcast (a row, a column, a
/// scalar, a graph input), Clip with attribute and run-time bounds in place.
fn in_place_ops() -> Graph {
    let mut b = Builder::new("in_place_ops");
    let x = b.input("x", DType::F32, &[2, 3]);
    let y = b.input("y", DType::F32, &[2, 3]);
    let lo = b.input("lo", DType::F32, &[]);
    let hi = b.input("hi", DType::F32, &[]);
    let row = b.f32s("row", &[3], 3);
    let col = b.constant("col", &[2, 1], TensorData::F32(vec![2.0, -0.5]));
    let half = b.constant("half", &[], TensorData::F32(vec![0.5]));
    let a = b.unary(Relu, x);
    let s = b.binary(Sub, row, a); // overwrites the right operand
    let d = b.binary(Div, s, col); // the left
    let m = b.binary(Mul, half, d); // the right, a scalar on the left
    let e = b.binary(Add, m, y); // the left, a graph input on the right
    let clip = Op::Clip(ClipAttrs {
        min: Some(-0.5),
        max: Some(0.75),
    });
    let c1 = b.one(clip, &[e]);
    let c2 = b.one(Op::Clip(ClipAttrs::default()), &[c1, lo, hi]);
    let ry = b.unary(Relu, y);
    let h = b.binary(Sub, c2, ry); // both die here: the left
    let v = b.reshape(h, &[3, 2]);
    let v = b.reshape(v, &[2, 3]);
    let last = b.binary(Sub, row, v); // the right, through views
    b.output(last);
    b.g
}

/// Values read later, or twice by one node, are not overwritten.
fn read_later() -> Graph {
    let mut b = Builder::new("read_later");
    let x = b.input("x", DType::F32, &[4, 3]);
    let a = b.unary(Relu, x);
    let s = b.unary(Sigmoid, a); // a is read again below
    let c = b.binary(Add, s, a);
    let d = b.binary(Mul, a, c);
    let e = b.binary(Add, d, d); // d twice
    let f1 = b.reshape(e, &[12]);
    let f2 = b.flatten(e, 0);
    let f2 = b.reshape(f2, &[12]);
    let g = b.binary(Mul, f1, f2); // e twice, through two views
    let v = b.reshape(a, &[12]); // a view of a, read last
    let h = b.binary(Sub, g, v); // g dies here: overwritten
    let t = b.unary(Tanh, h);
    b.output(t);
    b.output(c);
    b.g
}

/// Integer ops in place (wrapping arithmetic, division by a broadcast column, a signed
/// Relu, Clip by constants), an i8 Relu between real transposes, and f64.
fn integers_and_f64() -> Graph {
    let mut b = Builder::new("integers_and_f64");
    let i = b.input("i", DType::I32, &[2, 3]);
    let k = b.constant("k", &[3], TensorData::I32(vec![7, -3, i32::MAX]));
    let d = b.constant("d", &[2, 1], TensorData::I32(vec![2, -3]));
    let a = b.binary(Add, i, k);
    let q = b.binary(Div, a, d);
    let s = b.binary(Sub, k, q);
    let r = b.unary(Relu, s);
    let one = b.constant("one", &[], TensorData::I32(vec![1]));
    let big = b.constant("big", &[], TensorData::I32(vec![1 << 20]));
    let cl = b.one(Op::Clip(ClipAttrs::default()), &[r, one, big]);
    let u = b.input("u", DType::I8, &[2, 3]);
    let ut = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[u]);
    let ur = b.unary(Relu, ut);
    let uo = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[ur]);
    let f = b.input("f", DType::F64, &[5]);
    let ft = b.unary(Tanh, f);
    let fk = b.constant("fk", &[1], TensorData::F64(vec![0.125]));
    let fa = b.binary(Add, fk, ft);
    let fs = b.unary(Sigmoid, fa);
    for v in [cl, uo, fs] {
        b.output(v);
    }
    b.g
}

fn graphs() -> Vec<Graph> {
    vec![
        view_chain(),
        read_only_views(),
        output_arrays(),
        in_place_ops(),
        read_later(),
        integers_and_f64(),
    ]
}

const VARIANTS: [(&str, PlanOptions); 4] = [
    (
        "off",
        PlanOptions {
            views: false,
            in_place: false,
            concat_in_place: false,
            scratch: None,
        },
    ),
    (
        "views",
        PlanOptions {
            views: true,
            in_place: false,
            concat_in_place: false,
            scratch: None,
        },
    ),
    (
        "in-place",
        PlanOptions {
            views: false,
            in_place: true,
            concat_in_place: false,
            scratch: None,
        },
    ),
    (
        "both",
        PlanOptions {
            views: true,
            in_place: true,
            concat_in_place: true,
            scratch: None,
        },
    ),
];

/// `kiln::ir::eval::run`, on a copy of `g` whose outputs are each listed once.
fn reference(g: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    let mut unique = g.clone();
    unique.outputs.clear();
    for &v in &g.outputs {
        if !unique.outputs.contains(&v) {
            unique.outputs.push(v);
        }
    }
    let outs = kiln::ir::eval::run(&unique, inputs).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    g.outputs
        .iter()
        .map(|v| outs[unique.outputs.iter().position(|u| u == v).expect("kept")].clone())
        .collect()
}

/// Every rule fires somewhere, so the suite tests what it says it does.
#[test]
fn the_graphs_exercise_every_rule() {
    let gs = graphs();
    let plans: Vec<MemoryPlan> = gs
        .iter()
        .map(|g| compile(g, &PlanOptions::default()).0)
        .collect();
    let find = |name: &str| {
        let i = gs.iter().position(|g| g.name == name).expect("a graph");
        (&gs[i], &plans[i])
    };
    let kind_of = |g: &Graph, v: ValueId| g.value(v).kind.clone();

    let (_, p) = find("view_chain");
    assert_eq!(p.views.len(), 4, "{:?}", p.views);
    assert_eq!(p.in_place.len(), 2, "Sigmoid and Tanh");
    assert_eq!(p.buffers.len(), 1, "everything lives in the Relu's buffer");

    let (g, p) = find("read_only_views");
    assert!(
        p.aliases
            .values()
            .any(|&t| matches!(kind_of(g, t), ValueKind::Input))
    );
    assert!(
        p.aliases
            .values()
            .any(|&t| matches!(kind_of(g, t), ValueKind::Const(_)))
    );
    // The Mul over the Add's buffer; not the Relu after it (it writes a graph output),
    // nothing over x or k.
    assert_eq!(p.in_place.len(), 1, "{:?}", p.in_place);

    let (g, p) = find("output_arrays");
    let op_of = |v: ValueId| g.producer(v).map(|n| g.node(n).op.name());
    let into_outputs: Vec<(Option<&str>, Option<&str>)> = p
        .aliases
        .iter()
        .filter(|(_, t)| g.outputs.contains(t))
        .map(|(&v, &t)| (op_of(v), op_of(t)))
        .collect();
    // The Conv writes the Flatten's output array; the Reshape reads the Sigmoid's.
    assert!(
        into_outputs.contains(&(Some("Conv"), Some("Flatten"))),
        "{into_outputs:?}"
    );
    assert!(
        into_outputs.contains(&(Some("Reshape"), Some("Sigmoid"))),
        "{into_outputs:?}"
    );

    let (g, p) = find("in_place_ops");
    let overwritten_slots: Vec<usize> = p
        .in_place
        .iter()
        .filter(|n| matches!(g.node(**n).op, Op::Binary(_)))
        .map(|&n| {
            let node = g.node(n);
            let root = p.storage(node.outputs[0]);
            node.inputs
                .iter()
                .position(|i| i.is_some_and(|i| p.storage(i) == root))
                .unwrap()
        })
        .collect();
    assert!(overwritten_slots.contains(&0) && overwritten_slots.contains(&1));
    let clips = p
        .in_place
        .iter()
        .filter(|n| matches!(g.node(**n).op, Op::Clip(_)))
        .count();
    assert_eq!(clips, 2);

    let (g, p) = find("read_later");
    assert!(!p.in_place.is_empty());
    for &n in &p.in_place {
        let node = g.node(n);
        let ins: Vec<ValueId> = node.inputs.iter().flatten().copied().collect();
        assert!(
            ins.len() < 2 || p.storage(ins[0]) != p.storage(ins[1]),
            "{} reads one buffer twice and overwrites it",
            node.name
        );
    }
    let (_, p) = find("integers_and_f64");
    // Div, Sub, Relu on i32, Relu on i8, Add on f64; the last op of each chain writes a
    // graph output.
    assert_eq!(p.in_place.len(), 5, "{:?}", p.in_place);
}

#[test]
fn generated_code_matches_the_reference_with_sharing_on_and_off() {
    let gs = graphs();
    let mut built = Vec::new();
    for g in &gs {
        let inputs = input_data(g);
        let want = reference(g, &inputs);
        for (label, opts) in VARIANTS {
            let (plan, generated) = compile(g, &opts);
            let text = &generated.files[0].contents;
            assert!(!text.contains("unsafe {"), "{}", g.name);
            // Deterministic: the same graph and plan give the same bytes.
            assert_eq!(compile(g, &opts).1, generated, "{} {label}", g.name);
            if !opts.views {
                assert!(plan.views.is_empty() && !text.contains("a view of its input"));
            }
            if !opts.in_place {
                assert!(plan.in_place.is_empty() && !text.contains("_in_place("));
            }
            built.push(Variant {
                graph: g,
                label,
                plan,
                generated,
                inputs: inputs.clone(),
                want: want.clone(),
            });
        }
    }
    let failures = run_variants(&built, "kiln-views-runner");
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// On the corpus models as imported, sharing never makes the arena or its lower bound
/// larger, and the plans pass both checks.
#[test]
fn sharing_never_grows_the_corpus_plans() {
    for name in [
        "mlperf_ad_fcae",
        "mlperf_ic_resnet8",
        "mlperf_vww_mobilenetv1",
    ] {
        let path = common::corpus_model(name);
        if !common::require_data(&path, &format!("corpus model {name}")) {
            return;
        }
        let (g, _) = kiln::load(&path, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let vg = kiln::ir::verify(&g).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        let mut arenas = Vec::new();
        for (label, opts) in VARIANTS {
            let p = plan_memory_with(&vg, &opts);
            check_plan(&p).unwrap_or_else(|e| panic!("{name} {label}: {e}"));
            check_aliases(&vg, &p).unwrap_or_else(|e| panic!("{name} {label}: {e}"));
            eprintln!(
                "{name} {label}: {} buffers, arena {} B, lower bound {} B, {} views, {} in place",
                p.buffers.len(),
                p.arena_bytes(),
                p.lower_bound_bytes(),
                p.views.len(),
                p.in_place.len()
            );
            arenas.push((p.arena_bytes(), p.lower_bound_bytes(), p.buffers.len()));
        }
        let (off, both) = (arenas[0], arenas[3]);
        assert!(both.0 <= off.0 && both.1 <= off.1, "{name}: {arenas:?}");
        assert!(
            both.2 < off.2,
            "{name}: sharing saves no buffer: {arenas:?}"
        );
    }
}
