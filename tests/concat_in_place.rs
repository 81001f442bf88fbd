//! Concats written in place, end to end: small graphs whose Concat inputs are written by
//! their producers straight into the Concat's output (channel concatenation of Convs,
//! nested DenseNet-style concatenations, rows of MatMuls on axis 0, an output that is the
//! caller's array directly or through a view), mixed with inputs that must be copied (a
//! graph input, a constant, a value read after the Concat or twice by it, a leading axis
//! longer than one), with in-place and view sharing on values inside the concatenation.
//! Each is compiled with the sharing options on and off, built into one runner crate, run,
//! and compared with the reference semantics (`kiln::ir::eval::run`); the variants must
//! agree with each other exactly.

mod common;

use common::sharing::{Variant, compile, input_data, run_variants};

use kiln::ir::builder::{Builder, window};
use kiln::ir::ops::{
    BinaryOp, ConcatAttrs, ConvAttrs, FlattenAttrs, ReshapeAttrs, TransposeAttrs, UnaryOp,
};
use kiln::ir::{DType, Graph, Op, TensorData, ValueId};
use kiln::passes::MemoryPlan;
use kiln::passes::memory::PlanOptions;

/// Shorthands over the IR's graph builder.
trait Ops {
    fn conv(&mut self, x: ValueId, cout: usize) -> ValueId;
    fn concat(&mut self, axis: i64, xs: &[ValueId]) -> ValueId;
    fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId;
    fn reshape(&mut self, x: ValueId, shape: &[i64]) -> ValueId;
}

impl Ops for Builder {
    /// A 3x3 Conv, pad 1, to `cout` channels.
    fn conv(&mut self, x: ValueId, cout: usize) -> ValueId {
        let c = self.g.value(x).ty.shape[1];
        let n = self.g.value_count();
        let w = self.weights(&format!("w{n}"), &[cout, c, 3, 3], n, 0.05);
        let op = Op::Conv(ConvAttrs {
            window: window(&[], &[], &[1, 1, 1, 1]),
            group: 1,
        });
        self.one(op, &[x, w])
    }

    fn concat(&mut self, axis: i64, xs: &[ValueId]) -> ValueId {
        self.one(Op::Concat(ConcatAttrs { axis }), xs)
    }

    fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId {
        self.one(Op::Unary(op), &[x])
    }

    fn reshape(&mut self, x: ValueId, shape: &[i64]) -> ValueId {
        let name = format!("shape{}", self.g.value_count());
        let s = self.constant(&name, &[shape.len()], TensorData::I64(shape.to_vec()));
        self.one(Op::Reshape(ReshapeAttrs::default()), &[x, s])
    }
}

use UnaryOp::{Relu, Sigmoid, Tanh};

/// Two Convs concatenated on channels (batch 1), the first with a Relu in place over it,
/// read by a Conv: the Convs write their channels of the Concat, which emits nothing.
fn channels() -> Graph {
    let mut b = Builder::new("channels");
    let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
    let a = b.conv(x, 3);
    let a = b.unary(Relu, a);
    let c = b.conv(x, 2);
    let y = b.concat(1, &[a, c]);
    let z = b.conv(y, 2);
    b.output(z);
    b.g
}

/// A graph input, a constant, a value read after the Concat and one read twice by it are
/// copied; the two Convs beside them are written in place.
fn copied_inputs() -> Graph {
    let mut b = Builder::new("copied_inputs");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let k = b.weights("k", &[1, 1, 4, 4], 3, 0.5);
    let a = b.conv(x, 1);
    let later = b.conv(x, 2);
    let twice = b.conv(x, 1);
    let c = b.conv(x, 3);
    let y = b.concat(1, &[x, k, a, later, twice, twice, c]);
    let r = b.unary(Tanh, later);
    let z = b.conv(y, 2);
    b.output(z);
    b.output(r);
    b.g
}

/// DenseNet: each layer reads the running concatenation and appends its output. The
/// earlier reader of each input is fine; the concatenations nest into one buffer.
fn dense() -> Graph {
    let mut b = Builder::new("dense");
    let x = b.input("x", DType::F32, &[1, 1, 4, 4]);
    let mut cat = b.conv(x, 2);
    for _ in 0..3 {
        let f = b.conv(cat, 1);
        let f = b.unary(Relu, f);
        cat = b.concat(1, &[cat, f]);
    }
    let z = b.conv(cat, 1);
    b.output(z);
    b.g
}

/// The Concat is a graph output: the producers write the caller's array, the second Conv
/// reading the first's channels there while it writes its own, which a Sigmoid then
/// overwrites in place (in the caller's array). A second Concat reaches its output through
/// a Flatten.
fn into_outputs() -> Graph {
    let mut b = Builder::new("into_outputs");
    let x = b.input("x", DType::F32, &[1, 2, 3, 3]);
    let a = b.conv(x, 2);
    let f = b.conv(a, 1);
    let s = b.unary(Sigmoid, f);
    let y = b.concat(1, &[a, s]);
    let c1 = b.conv(x, 1);
    let c2 = b.conv(x, 2);
    let y2 = b.concat(-3, &[c1, c2]);
    let fl = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[y2]);
    b.output(y);
    b.output(fl);
    b.g
}

/// Rows of two MatMuls concatenated on axis 0 (always runs of the output), Tanh in place
/// over the result, a real Transpose to the output; and the same on batch 2, channel axis:
/// not runs, copied.
fn rows_and_batches() -> Graph {
    let mut b = Builder::new("rows_and_batches");
    let x = b.input("x", DType::F32, &[2, 3]);
    let x2 = b.input("x2", DType::F32, &[3, 3]);
    let w = b.weights("w", &[3, 4], 1, 0.25);
    let m1 = b.one(Op::MatMul, &[x, w]);
    let m2 = b.one(Op::MatMul, &[x2, w]);
    let y = b.concat(0, &[m1, m2]);
    let t = b.unary(Tanh, y);
    let tt = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[t]);
    let xb = b.input("xb", DType::F32, &[2, 1, 3, 3]);
    let a = b.conv(xb, 2);
    let c = b.conv(xb, 1);
    let yb = b.concat(1, &[a, c]);
    let zb = b.conv(yb, 1);
    b.output(tt);
    b.output(zb);
    b.g
}

/// Integer Concats: i32 Relus of graph inputs reshaped to rows (views inside the
/// concatenation), an Add in place over the result; i8 likewise on axis 0.
fn integers() -> Graph {
    let mut b = Builder::new("integers");
    let i = b.input("i", DType::I32, &[2, 3]);
    let j = b.input("j", DType::I32, &[4]);
    let ri = b.unary(Relu, i);
    let ri = b.reshape(ri, &[1, 6]);
    let rj = b.unary(Relu, j);
    let rj = b.reshape(rj, &[1, 4]);
    let y = b.concat(1, &[ri, rj]);
    let k = b.constant(
        "k",
        &[1, 10],
        TensorData::I32((0..10).map(|v| v * 7 - 20).collect()),
    );
    let s = b.one(Op::Binary(BinaryOp::Add), &[y, k]);
    let s = b.unary(Relu, s);
    let u = b.input("u", DType::I8, &[2, 2]);
    let ut = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[u]);
    let ur = b.unary(Relu, u);
    let uy = b.concat(0, &[ut, ur]);
    let un = b.one(Op::Binary(BinaryOp::Sub), &[uy, uy]);
    let un = b.unary(Relu, un);
    b.output(s);
    b.output(un);
    b.output(uy);
    b.g
}

/// The Concat's buffer would hold room for its large second input from the small first
/// one's producer on, through a peak of large temporaries: the planner keeps the copy.
fn early_first_input() -> Graph {
    let mut b = Builder::new("early_first_input");
    let xs = b.input("xs", DType::F32, &[1, 1, 2, 2]);
    let x = b.input("x", DType::F32, &[1, 1, 8, 8]);
    let a = b.unary(Relu, xs);
    let t1 = b.conv(x, 1);
    let t2 = b.conv(t1, 1);
    let t3 = b.conv(t2, 1);
    let sa = b.reshape(a, &[1, 4]);
    let s3 = b.reshape(t3, &[1, 64]);
    let y = b.concat(1, &[sa, s3]);
    let z = b.unary(Sigmoid, y);
    b.output(z);
    b.g
}

fn graphs() -> Vec<Graph> {
    vec![
        channels(),
        copied_inputs(),
        dense(),
        into_outputs(),
        rows_and_batches(),
        integers(),
        early_first_input(),
    ]
}

const fn opts(views: bool, in_place: bool, concat_in_place: bool) -> PlanOptions {
    PlanOptions {
        views,
        in_place,
        concat_in_place,
        scratch: None,
    }
}

const VARIANTS: [(&str, PlanOptions); 4] = [
    ("off", opts(false, false, false)),
    ("sharing", opts(true, true, false)),
    ("concat", opts(false, false, true)),
    ("all", opts(true, true, true)),
];

fn find<'a>(gs: &'a [Graph], plans: &'a [MemoryPlan], name: &str) -> (&'a Graph, &'a MemoryPlan) {
    let i = gs.iter().position(|g| g.name == name).expect("a graph");
    (&gs[i], &plans[i])
}

/// Every case does what its comment says, so the suite tests what it claims to.
#[test]
fn the_graphs_exercise_every_case() {
    let gs = graphs();
    let plans: Vec<MemoryPlan> = gs
        .iter()
        .map(|g| compile(g, &PlanOptions::default()).0)
        .collect();
    let without: Vec<MemoryPlan> = gs.iter().map(|g| compile(g, &VARIANTS[1].1).0).collect();
    let concat_of = |g: &Graph, p: &MemoryPlan, k: usize| {
        let n = g
            .node_ids()
            .filter(|&n| matches!(g.node(n).op, Op::Concat(_)))
            .nth(k)
            .expect("a Concat");
        (
            p.concats.contains(&n),
            p.concat_inputs_in_place(g, g.node(n)),
        )
    };
    for (g, (p, w)) in gs.iter().zip(plans.iter().zip(&without)) {
        assert!(p.arena_bytes() <= w.arena_bytes(), "{}", g.name);
    }

    let (g, p) = find(&gs, &plans, "channels");
    assert_eq!(concat_of(g, p, 0), (true, vec![0, 1]));
    assert_eq!(p.buffers.len(), 1);
    let (_, w) = find(&gs, &without, "channels");
    assert!(p.arena_bytes() < w.arena_bytes());

    let (g, p) = find(&gs, &plans, "copied_inputs");
    assert_eq!(concat_of(g, p, 0), (true, vec![2, 6]));

    let (g, p) = find(&gs, &plans, "dense");
    assert_eq!(p.concats.len(), 3);
    assert_eq!(p.buffers.len(), 1, "{:?}", p.buffers);
    assert_eq!(concat_of(g, p, 2), (true, vec![0, 1]));

    let (g, p) = find(&gs, &plans, "into_outputs");
    assert!(p.buffers.is_empty(), "{:?}", p.buffers);
    assert_eq!(concat_of(g, p, 0), (true, vec![0, 1]));
    assert_eq!(concat_of(g, p, 1), (true, vec![0, 1]));

    let (g, p) = find(&gs, &plans, "rows_and_batches");
    assert_eq!(concat_of(g, p, 0), (true, vec![0, 1]));
    assert_eq!(concat_of(g, p, 1), (false, vec![]), "batch 2: not runs");

    let (g, p) = find(&gs, &plans, "integers");
    assert_eq!(concat_of(g, p, 0), (true, vec![0, 1]));
    // uy is read by the Sub after the Concat and is a graph output: its inputs go to the
    // caller's array.
    assert_eq!(concat_of(g, p, 1), (true, vec![0, 1]));

    let (g, p) = find(&gs, &plans, "early_first_input");
    let vg = kiln::ir::verify(g).unwrap();
    assert!(
        !kiln::passes::memory::analyse(&vg, &PlanOptions::default())
            .concats
            .is_empty()
    );
    assert!(p.concats.is_empty(), "dropped: it would grow the arena");
}

#[test]
fn generated_code_matches_the_reference_with_concats_in_place_on_and_off() {
    let gs = graphs();
    let mut built = Vec::new();
    for g in &gs {
        let inputs = input_data(g);
        let want = kiln::ir::eval::run(g, &inputs).unwrap_or_else(|e| panic!("{}: {e}", g.name));
        for (label, opts) in VARIANTS {
            let (plan, generated) = compile(g, &opts);
            let text = &generated.files[0].contents;
            assert!(!text.contains("unsafe {"), "{}", g.name);
            assert_eq!(
                compile(g, &opts).1,
                generated,
                "{} {label}: deterministic",
                g.name
            );
            let nothing = "written in place in its output: nothing to copy";
            if !opts.concat_in_place {
                assert!(plan.concats.is_empty() && !text.contains(nothing));
            } else {
                // A Concat all of whose inputs are in place emits only its comment.
                let full = plan.concats.iter().any(|&n| {
                    let node = g.node(n);
                    plan.concat_inputs_in_place(g, node).len() == node.inputs.len()
                });
                assert_eq!(full, text.contains(nothing), "{} {label}", g.name);
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
    let failures = run_variants(&built, "kiln-concat-runner");
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}
