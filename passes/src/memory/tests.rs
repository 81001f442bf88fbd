//! Sharing (views and in-place execution) on small graphs, and a simulation of random
//! plans on a virtual arena checked against the reference semantics.

use super::plan::plan_once;
use super::*;
use kiln_ir::builder::{Builder, i64s, window};
use kiln_ir::ops::{
    BinaryOp, ClipAttrs, ConcatAttrs, ConvAttrs, FlattenAttrs, ReshapeAttrs, UnaryOp,
};
use kiln_ir::{Graph, NodeId, Op, Tensor, TensorData, ValueKind};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const OFF: PlanOptions = PlanOptions {
    views: false,
    in_place: false,
    concat_in_place: false,
    scratch: None,
};
const VIEWS: PlanOptions = PlanOptions {
    views: true,
    in_place: false,
    concat_in_place: false,
    scratch: None,
};

fn relu() -> Op {
    Op::Unary(UnaryOp::Relu)
}

fn reshape(b: &mut Builder, x: ValueId, shape: &[i64]) -> ValueId {
    let s = i64s(b, &format!("shape{}", b.g.value_count()), shape);
    b.one(Op::Reshape(ReshapeAttrs::default()), &[x, s])
}

fn conv(b: &mut Builder, x: ValueId) -> ValueId {
    let c = b.g.value(x).ty.shape[1];
    let w = b.weights(&format!("w{}", b.g.value_count()), &[c, c, 3, 3], 1, 0.1);
    let op = Op::Conv(ConvAttrs {
        window: window(&[], &[], &[1, 1, 1, 1]),
        group: 1,
    });
    b.one(op, &[x, w])
}

/// Plans `g` with `opts` and checks the plan both ways.
fn plan(g: &Graph, opts: &PlanOptions) -> MemoryPlan {
    let vg = kiln_ir::verify(g).expect("a valid graph");
    let p = plan_memory_with(&vg, opts);
    check_plan(&p).unwrap();
    check_aliases(&vg, &p).unwrap();
    p
}

fn node_of(g: &Graph, v: ValueId) -> NodeId {
    g.producer(v).expect("produced")
}

fn has_buffer(p: &MemoryPlan, v: ValueId) -> bool {
    p.buffers.iter().any(|b| b.value == v)
}

#[test]
fn a_view_in_a_relu_chain_saves_a_buffer() {
    let mut b = Builder::new("chain");
    let x = b.input("x", DType::F32, &[2, 3, 4]);
    let r1 = b.one(relu(), &[x]);
    let v = reshape(&mut b, r1, &[6, 4]);
    let r2 = b.one(relu(), &[v]);
    let r3 = b.one(relu(), &[r2]);
    b.output(r3);
    let off = plan(&b.g, &OFF);
    let on = plan(&b.g, &VIEWS);
    assert_eq!(off.buffers.len(), 3);
    assert_eq!(on.buffers.len(), off.buffers.len() - 1);
    assert_eq!(on.aliases, BTreeMap::from([(v, r1)]));
    assert_eq!(on.views, BTreeSet::from([node_of(&b.g, v)]));
    assert_eq!(on.placement(v), on.placement(r1));
    // r1's buffer lives until its view is last read.
    let root = on.buffers.iter().find(|b| b.value == r1).unwrap();
    assert_eq!((root.first, root.last), (0, 2));
    // With in-place on too, every Relu but the first overwrites its input.
    let all = plan(&b.g, &PlanOptions::default());
    assert_eq!(all.buffers.len(), 1);
    assert_eq!(all.in_place.len(), 1, "r3 is a graph output");
    assert_eq!(all.storage(r2), r1);
}

#[test]
fn relu_after_conv_overwrites_the_conv_output() {
    let mut b = Builder::new("conv_relu");
    let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
    let c = conv(&mut b, x);
    let r = b.one(relu(), &[c]);
    let y = conv(&mut b, r);
    b.output(y);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.in_place, BTreeSet::from([node_of(&b.g, r)]));
    assert_eq!(p.aliases, BTreeMap::from([(r, c)]));
    assert_eq!(p.buffers.len(), 1);
    assert_eq!((p.buffers[0].first, p.buffers[0].last), (0, 2));
    assert_eq!(p.placement(r), p.placement(c));
    assert_eq!(plan(&b.g, &OFF).buffers.len(), 2);
}

#[test]
fn a_value_read_later_is_not_overwritten() {
    let mut b = Builder::new("residual");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let c = conv(&mut b, x);
    let r = b.one(relu(), &[c]);
    // c is read again here: the Relu must not overwrite it; the Add may overwrite
    // either operand, both die here, and takes the left one.
    let s = b.one(Op::Binary(BinaryOp::Add), &[r, c]);
    let y = conv(&mut b, s);
    b.output(y);
    let p = plan(&b.g, &PlanOptions::default());
    assert!(!p.in_place.contains(&node_of(&b.g, r)));
    assert!(p.in_place.contains(&node_of(&b.g, s)));
    assert_eq!(p.storage(s), r);
    assert_ne!(p.storage(r), c);
    // Through a view: the Relu's input is a view of c, read again later through c.
    let mut b = Builder::new("through_a_view");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let c = conv(&mut b, x);
    let v = b.one(Op::Identity, &[c]);
    let r = b.one(relu(), &[v]);
    let s = b.one(Op::Binary(BinaryOp::Mul), &[c, r]);
    b.output(s);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.storage(v), c);
    assert!(p.in_place.is_empty(), "{:?}", p.in_place);
}

#[test]
fn a_value_read_twice_by_one_node_is_not_overwritten() {
    let mut b = Builder::new("square");
    let x = b.input("x", DType::F32, &[3, 4]);
    let r = b.one(relu(), &[x]);
    let v = reshape(&mut b, r, &[12]);
    let w = reshape(&mut b, r, &[12]);
    let sq = b.one(Op::Binary(BinaryOp::Mul), &[v, w]);
    let y = b.one(relu(), &[sq]);
    b.output(y);
    let p = plan(&b.g, &PlanOptions::default());
    assert!(!p.in_place.contains(&node_of(&b.g, sq)));
    assert_eq!(p.storage(w), r);
}

#[test]
fn the_right_operand_is_overwritten_when_the_left_broadcasts() {
    let mut b = Builder::new("bias");
    let x = b.input("x", DType::F32, &[2, 3]);
    let r = b.one(relu(), &[x]);
    let bias = b.weights("bias", &[3], 0, 0.5);
    let s = b.one(Op::Binary(BinaryOp::Sub), &[bias, r]);
    let t = b.one(Op::Clip(ClipAttrs::default()), &[s]);
    let y = b.one(relu(), &[t]);
    b.output(y);
    let p = plan(&b.g, &PlanOptions::default());
    let (ns, nt) = (node_of(&b.g, s), node_of(&b.g, t));
    assert_eq!(p.in_place, BTreeSet::from([ns, nt]));
    assert_eq!((p.storage(s), p.storage(t)), (r, r));
    assert_eq!(p.buffers.len(), 1);
}

#[test]
fn views_of_inputs_and_constants_stay_out_of_the_arena_and_are_never_written() {
    let mut b = Builder::new("read_only");
    let x = b.input("x", DType::F32, &[2, 3]);
    let k = b.weights("k", &[6], 0, 0.5);
    let vx = b.one(Op::Flatten(FlattenAttrs { axis: 0 }), &[x]);
    let vk = b.one(Op::Identity, &[k]);
    let vk2 = reshape(&mut b, vk, &[1, 6]);
    // Each operand dies here, but lives outside the arena: a fresh buffer.
    let s = b.one(Op::Binary(BinaryOp::Add), &[vx, vk2]);
    let r = b.one(relu(), &[vx]);
    b.output(s);
    b.output(r);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.storage(vx), x);
    assert_eq!((p.storage(vk), p.storage(vk2)), (k, k));
    assert!(p.buffers.is_empty(), "{:?}", p.buffers);
    assert!(p.in_place.is_empty());
    assert_eq!(p.placement(vx), None);
    assert_eq!(p.views.len(), 3);
}

#[test]
fn a_view_producing_a_graph_output_copies_or_takes_the_output_array() {
    let mut b = Builder::new("tail");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let c = conv(&mut b, x);
    let f = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[c]);
    b.output(f);
    // c is used by the Flatten alone: the Conv writes the output array.
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.aliases, BTreeMap::from([(c, f)]));
    assert!(p.buffers.is_empty());
    assert_eq!(p.views, BTreeSet::from([node_of(&b.g, f)]));
    // c is read again: the Flatten copies.
    let r = b.one(relu(), &[c]);
    b.output(r);
    let p = plan(&b.g, &PlanOptions::default());
    assert!(p.views.is_empty());
    assert!(has_buffer(&p, c));
}

#[test]
fn a_view_of_a_graph_output_reads_the_callers_array() {
    let mut b = Builder::new("reread");
    let x = b.input("x", DType::F32, &[4]);
    let r = b.one(relu(), &[x]);
    let v = reshape(&mut b, r, &[2, 2]);
    let y = b.one(relu(), &[v]);
    let z = b.one(relu(), &[y]);
    b.output(r);
    b.output(z);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.storage(v), r);
    // The Relu reading the view does not overwrite the caller's array.
    assert!(!p.in_place.contains(&node_of(&b.g, y)));
    assert!(p.in_place.contains(&node_of(&b.g, z)) || b.g.outputs.contains(&z));
    assert!(has_buffer(&p, y));
}

/// With sharing off, the plan is the plain one: a buffer per arena activation, from its
/// producer to its last use, and nothing aliased.
#[test]
fn options_off_give_the_plain_plan() {
    let mut b = Builder::new("plain");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let c = conv(&mut b, x);
    let r = b.one(relu(), &[c]);
    let v = reshape(&mut b, r, &[1, 32]);
    let s = b.one(Op::Binary(BinaryOp::Add), &[v, v]);
    let f = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[s]);
    b.output(f);
    let p = plan(&b.g, &OFF);
    assert!(p.aliases.is_empty() && p.views.is_empty() && p.in_place.is_empty());
    let spans: Vec<(ValueId, usize, usize)> = p
        .buffers
        .iter()
        .map(|b| (b.value, b.first, b.last))
        .collect();
    assert_eq!(spans, [(c, 0, 1), (r, 1, 2), (v, 2, 3), (s, 3, 4)]);
    // On: the Relu overwrites c, v is a view of it, the Add reads v twice so gets a
    // buffer, which the last Flatten turns into the output array.
    let on = plan(&b.g, &PlanOptions::default());
    assert_eq!(on.aliases, BTreeMap::from([(r, c), (v, c), (s, f)]));
    assert_eq!(on.buffers.len(), 1, "{:?}", on.buffers);
    assert!(on.arena_bytes() <= p.arena_bytes());
}

const CONCAT: PlanOptions = PlanOptions {
    views: false,
    in_place: false,
    concat_in_place: true,
    scratch: None,
};
const NO_CONCAT: PlanOptions = PlanOptions {
    views: true,
    in_place: true,
    concat_in_place: false,
    scratch: None,
};

/// A 3x3 Conv (pad 1) of `x` to `cout` channels.
fn conv_to(b: &mut Builder, x: ValueId, cout: usize) -> ValueId {
    let c = b.g.value(x).ty.shape[1];
    let w = b.weights(&format!("w{}", b.g.value_count()), &[cout, c, 3, 3], 1, 0.1);
    let op = Op::Conv(ConvAttrs {
        window: window(&[], &[], &[1, 1, 1, 1]),
        group: 1,
    });
    b.one(op, &[x, w])
}

fn concat(b: &mut Builder, axis: i64, xs: &[ValueId]) -> ValueId {
    b.one(Op::Concat(ConcatAttrs { axis }), xs)
}

fn part(offset: usize, len: usize) -> Part {
    Part { offset, len }
}

#[test]
fn convs_write_their_channels_of_the_concat_in_place() {
    let mut b = Builder::new("channels");
    let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
    let a = conv_to(&mut b, x, 3);
    let c = conv_to(&mut b, x, 2);
    let y = concat(&mut b, 1, &[a, c]);
    let z = conv(&mut b, y);
    b.output(z);
    let off = plan(&b.g, &OFF);
    let on = plan(&b.g, &CONCAT);
    assert_eq!((off.buffers.len(), on.buffers.len()), (3, 1));
    assert_eq!(on.concats, BTreeSet::from([node_of(&b.g, y)]));
    // One buffer, named by the first Conv (whose producer opens it), the Concat's size.
    assert_eq!(on.buffers[0].value, a);
    assert_eq!(
        (on.buffers[0].len, on.buffers[0].first, on.buffers[0].last),
        (125, 0, 3)
    );
    assert_eq!(on.aliases, BTreeMap::from([(c, a), (y, a)]));
    assert_eq!(
        on.parts,
        BTreeMap::from([(a, part(0, 75)), (c, part(75, 50))])
    );
    let py = on.placement(y).unwrap();
    assert_eq!(on.placement(a).unwrap().offset, py.offset);
    assert_eq!(on.placement(c).unwrap().offset, py.offset + 75);
    assert_eq!(
        (on.placement(a).unwrap().len, on.placement(c).unwrap().len),
        (75, 50)
    );
    // Without the copy, the two inputs and the output are never live at once.
    assert_eq!((off.arena_bytes(), on.arena_bytes()), (250 * 4, 125 * 4));
    let all = plan(&b.g, &PlanOptions::default());
    assert_eq!(all.arena_bytes(), on.arena_bytes());
    assert!(plan(&b.g, &NO_CONCAT).concats.is_empty());
}

#[test]
fn inputs_that_must_stay_put_are_copied() {
    // A graph input, a constant, a value read after the Concat, a value read twice by
    // it: copied; the Conv beside them is still written in place.
    let mut b = Builder::new("stay");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let k = b.weights("k", &[1, 1, 4, 4], 3, 0.5);
    let a = conv_to(&mut b, x, 1);
    let later = conv_to(&mut b, x, 2);
    let twice = conv_to(&mut b, x, 1);
    let c = conv_to(&mut b, x, 3);
    let y = concat(&mut b, 1, &[x, k, a, later, twice, twice, c]);
    let r = b.one(relu(), &[later]);
    let z = conv(&mut b, y);
    b.output(z);
    b.output(r);
    let p = plan(&b.g, &PlanOptions::default());
    let cat = node_of(&b.g, y);
    assert_eq!(p.concats, BTreeSet::from([cat]));
    assert_eq!(p.concat_inputs_in_place(&b.g, b.g.node(cat)), [2, 6]);
    assert_eq!((p.storage(a), p.storage(c)), (a, a));
    for v in [later, twice] {
        assert_eq!(p.storage(v), v, "{v:?} keeps its buffer");
    }
    // y has 11 channels of 16 elements: a at channel 3 (after x and k), c at 8.
    assert_eq!(
        (p.part(a), p.part(c)),
        (Some(part(48, 16)), Some(part(128, 48)))
    );
    // Each copied input is read from its own storage while the Concat writes the rest.
    assert!(!p.in_place.contains(&cat) && !p.views.contains(&cat));
}

#[test]
fn a_leading_axis_longer_than_one_keeps_the_copy() {
    // Batch 2: each input is two runs of the output.
    let mut b = Builder::new("batch2");
    let x = b.input("x", DType::F32, &[2, 2, 4, 4]);
    let a = conv_to(&mut b, x, 1);
    let c = conv_to(&mut b, x, 2);
    let y = concat(&mut b, 1, &[a, c]);
    let z = conv(&mut b, y);
    b.output(z);
    let p = plan(&b.g, &PlanOptions::default());
    assert!(p.concats.is_empty() && p.parts.is_empty());
    assert_eq!(p.buffers.len(), 3);
    // Batch 2 on axis 0, or unit axes before the axis: runs again.
    let mut b = Builder::new("axis0");
    let x = b.input("x", DType::F32, &[2, 2, 4, 4]);
    let a = conv_to(&mut b, x, 2);
    let c = conv_to(&mut b, x, 2);
    let y = concat(&mut b, 0, &[a, c]);
    let s = b.one(relu(), &[x]);
    let s = reshape(&mut b, s, &[1, 1, 64]);
    let t = reshape(&mut b, y, &[1, 1, 128]);
    let u = concat(&mut b, -1, &[s, t]);
    let z = b.one(relu(), &[u]);
    b.output(z);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.concats.len(), 2);
    assert_eq!(p.buffers.len(), 1, "{:?}", p.buffers);
    assert_eq!(p.part(c), Some(part(64 + 64, 64)));
}

#[test]
fn what_shares_an_inputs_buffer_moves_with_it() {
    // a, its in-place Relu and a view of that are one buffer, stored in the Concat's;
    // the Sigmoid after the Concat overwrites the whole of it in place.
    let mut b = Builder::new("chains");
    let x = b.input("x", DType::F32, &[1, 2, 3, 3]);
    let a = conv_to(&mut b, x, 2);
    let r = b.one(relu(), &[a]);
    let v = b.one(Op::Identity, &[r]);
    let c = conv_to(&mut b, x, 1);
    let y = concat(&mut b, 1, &[c, v]);
    let s = b.one(Op::Unary(UnaryOp::Sigmoid), &[y]);
    let z = conv(&mut b, s);
    b.output(z);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.buffers.len(), 1);
    assert_eq!(p.buffers[0].value, a, "a is produced first");
    for m in [a, r, v] {
        assert_eq!((p.storage(m), p.part(m)), (a, Some(part(9, 18))), "{m:?}");
    }
    assert_eq!((p.storage(c), p.part(c)), (a, Some(part(0, 9))));
    assert_eq!((p.storage(s), p.part(s)), (a, None));
    assert!(p.in_place.contains(&node_of(&b.g, r)) && p.in_place.contains(&node_of(&b.g, s)));
    assert_eq!(p.placement(s).unwrap().len, 27);
}

#[test]
fn an_input_read_earlier_is_written_in_place_too() {
    // DenseNet: each layer reads the running concatenation and appends its output; the
    // concatenations nest, one buffer in the end.
    let mut b = Builder::new("dense");
    let x = b.input("x", DType::F32, &[1, 1, 4, 4]);
    let x0 = conv_to(&mut b, x, 2);
    let f0 = conv_to(&mut b, x0, 1);
    let x1 = concat(&mut b, 1, &[x0, f0]);
    let f1 = conv_to(&mut b, x1, 1);
    let x2 = concat(&mut b, 1, &[x1, f1]);
    let z = conv(&mut b, x2);
    b.output(z);
    let p = plan(&b.g, &PlanOptions::default());
    assert_eq!(p.concats.len(), 2);
    assert_eq!(p.buffers.len(), 1, "{:?}", p.buffers);
    assert_eq!((p.buffers[0].value, p.buffers[0].len), (x0, 64));
    assert_eq!(p.part(x0), Some(part(0, 32)));
    assert_eq!(p.part(f0), Some(part(32, 16)));
    assert_eq!(p.part(x1), Some(part(0, 48)));
    assert_eq!(p.part(f1), Some(part(48, 16)));
    assert_eq!(p.part(x2), None);
    let off = plan(&b.g, &NO_CONCAT);
    assert!(p.arena_bytes() < off.arena_bytes());
}

#[test]
fn a_concat_producing_a_graph_output_takes_the_callers_array() {
    let mut b = Builder::new("into_output");
    let x = b.input("x", DType::F32, &[1, 2, 3, 3]);
    let a = conv_to(&mut b, x, 1);
    let r = b.one(relu(), &[a]);
    let c = conv_to(&mut b, x, 2);
    let y = concat(&mut b, 1, &[r, c]);
    b.output(y);
    let p = plan(&b.g, &PlanOptions::default());
    assert!(p.buffers.is_empty(), "{:?}", p.buffers);
    // The in-place Relu overwrites a in the caller's array: both die before the end.
    assert_eq!(p.aliases, BTreeMap::from([(a, y), (r, y), (c, y)]));
    assert_eq!(p.part(c), Some(part(9, 18)));
    // Through a view that produces the output: the Concat's buffer turns around.
    let mut b = Builder::new("through_a_view");
    let x = b.input("x", DType::F32, &[1, 2, 3, 3]);
    let a = conv_to(&mut b, x, 1);
    let c = conv_to(&mut b, x, 2);
    let y = concat(&mut b, 1, &[a, c]);
    let f = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[y]);
    b.output(f);
    let p = plan(&b.g, &PlanOptions::default());
    assert!(p.buffers.is_empty(), "{:?}", p.buffers);
    assert_eq!(p.aliases, BTreeMap::from([(a, f), (c, f), (y, f)]));
    assert_eq!(
        (p.part(a), p.part(c), p.part(y)),
        (Some(part(0, 9)), Some(part(9, 18)), None)
    );
}

/// On this schedule the Concat's buffer, opened by the small first input, would hold
/// room for the large second one through a peak of large temporaries: the plan keeps
/// the copy.
#[test]
fn concats_in_place_that_would_grow_the_arena_are_dropped() {
    let mut b = Builder::new("early");
    let xs = b.input("xs", DType::F32, &[1, 1, 2, 2]);
    let x = b.input("x", DType::F32, &[1, 1, 8, 8]);
    let a = b.one(relu(), &[xs]);
    let t1 = conv(&mut b, x);
    let t2 = conv(&mut b, t1);
    let t3 = conv(&mut b, t2);
    let sa = reshape(&mut b, a, &[1, 4]);
    let s3 = reshape(&mut b, t3, &[1, 64]);
    let y = concat(&mut b, 1, &[sa, s3]);
    let z = b.one(Op::Unary(UnaryOp::Sigmoid), &[y]);
    b.output(z);
    let vg = kiln_ir::verify(&b.g).unwrap();
    assert!(!analyse(&vg, &PlanOptions::default()).concats.is_empty());
    let p = plan(&b.g, &PlanOptions::default());
    assert!(p.concats.is_empty());
    assert_eq!(p.arena_bytes(), plan(&b.g, &NO_CONCAT).arena_bytes());
    let forced = plan_once(&vg, &PlanOptions::default());
    check_plan(&forced).unwrap();
    check_aliases(&vg, &forced).unwrap();
    assert!(forced.arena_bytes() > p.arena_bytes());
}

#[test]
fn check_aliases_catches_misplaced_concat_inputs() {
    let mut b = Builder::new("bad_concat");
    let x = b.input("x", DType::F32, &[1, 2, 3, 3]);
    let a = conv_to(&mut b, x, 1);
    let c = conv_to(&mut b, x, 2);
    let y = concat(&mut b, 1, &[a, c]);
    let z = conv(&mut b, y);
    b.output(z);
    let vg = kiln_ir::verify(&b.g).unwrap();
    let good = plan(&b.g, &PlanOptions::default());
    assert_eq!(good.part(c), Some(part(9, 18)));
    // c one element off: it overlaps a, which is live.
    let mut bad = good.clone();
    bad.parts.insert(c, part(8, 18));
    check_plan(&bad).unwrap();
    let err = check_aliases(&vg, &bad).unwrap_err();
    assert!(err.contains("not at Part"), "{err}");
    // c past the end of the buffer.
    let mut bad = good.clone();
    bad.parts.insert(c, part(10, 18));
    assert!(check_plan(&bad).is_err());
    // The Concat not marked: a and c are stored in part of a buffer for no reason.
    let mut bad = good.clone();
    bad.concats.clear();
    let err = check_aliases(&vg, &bad).unwrap_err();
    assert!(err.contains("no reason"), "{err}");
    // A Concat whose inputs are not runs of its output.
    let mut b2 = Builder::new("batch2");
    let x = b2.input("x", DType::F32, &[2, 1, 3, 3]);
    let a = conv_to(&mut b2, x, 1);
    let c = conv_to(&mut b2, x, 1);
    let y = concat(&mut b2, 1, &[a, c]);
    let z = conv(&mut b2, y);
    b2.output(z);
    let vg2 = kiln_ir::verify(&b2.g).unwrap();
    let mut bad = plan(&b2.g, &OFF);
    bad.concats.insert(node_of(&b2.g, y));
    let err = check_aliases(&vg2, &bad).unwrap_err();
    assert!(err.contains("contiguous"), "{err}");
}

#[test]
fn check_aliases_catches_an_overwrite_of_a_live_value() {
    let mut b = Builder::new("bad");
    let x = b.input("x", DType::F32, &[1, 2, 4, 4]);
    let c = conv(&mut b, x);
    let r = b.one(relu(), &[c]);
    let s = b.one(Op::Binary(BinaryOp::Add), &[r, c]);
    b.output(s);
    let vg = kiln_ir::verify(&b.g).unwrap();
    let mut p = plan_memory_with(&vg, &OFF);
    // Pretend the Relu overwrote c.
    p.buffers.retain(|buf| buf.value != r);
    p.placements.remove(&r);
    p.aliases.insert(r, c);
    p.in_place.insert(node_of(&b.g, r));
    for buf in &mut p.buffers {
        if buf.value == c {
            buf.last = 2;
        }
    }
    check_plan(&p).unwrap();
    let err = check_aliases(&vg, &p).unwrap_err();
    assert!(err.contains("used later"), "{err}");
    // And a write into a graph input.
    let mut p = plan_memory_with(&vg, &OFF);
    p.aliases.insert(c, x);
    p.buffers.retain(|buf| buf.value != c);
    p.placements.remove(&c);
    assert!(check_aliases(&vg, &p).is_err());
}

/// Runs `g` the way generated code would, on storage laid out by `p`: one f32 arena,
/// the caller's input and output arrays, the constants; views do nothing, a Concat
/// written in place copies only the inputs not stored in its output, every other node
/// reads its operands from their storage and writes its output to its storage (each
/// value at its part of it). Writing to a graph input or a constant fails.
fn simulate(g: &Graph, p: &MemoryPlan, inputs: &[Tensor]) -> Result<Vec<Vec<f32>>, String> {
    let pool = p.pools.iter().find(|q| q.dtype == DType::F32);
    let mut arena = vec![f32::NAN; pool.map_or(0, |q| q.len)];
    let mut outs: BTreeMap<ValueId, Vec<f32>> = g
        .outputs
        .iter()
        .map(|&v| (v, vec![f32::NAN; g.value(v).ty.numel()]))
        .collect();
    let f32s = |t: &Tensor| match &t.data {
        TensorData::F32(v) => v.clone(),
        _ => panic!("f32 only"),
    };
    let ins: BTreeMap<ValueId, Vec<f32>> = g
        .inputs
        .iter()
        .zip(inputs)
        .map(|(&v, t)| (v, f32s(t)))
        .collect();
    // The elements of its storage a value occupies.
    let range = |v: ValueId| {
        let len = g.value(v).ty.numel();
        p.part(v).map_or(0..len, |q| q.offset..q.end())
    };
    for &n in &p.schedule {
        if p.views.contains(&n) {
            continue;
        }
        let node = g.node(n);
        let y = node.outputs[0];
        let mut args = Vec::new();
        for x in node.inputs.iter().flatten() {
            let s = p.storage(*x);
            let data = match &g.value(s).kind {
                ValueKind::Input => ins[&s][range(*x)].to_vec(),
                ValueKind::Const(t) => match &t.data {
                    TensorData::F32(v) => v[range(*x)].to_vec(),
                    _ => Vec::new(), // Reshape's shape: not read here.
                },
                ValueKind::Activation if g.outputs.contains(&s) => outs[&s][range(*x)].to_vec(),
                ValueKind::Activation => {
                    let pl = p.placement(*x).ok_or("no placement")?;
                    arena[pl.offset..pl.offset + pl.len].to_vec()
                }
            };
            args.push((data, g.value(*x).ty.shape.clone()));
        }
        let shape = &g.value(y).ty.shape;
        let bcast = |(v, s): &(Vec<f32>, Vec<usize>)| broadcast(v, s, shape);
        // Elements to write, at offsets within the output; None: leave as they are.
        let result: Vec<Option<f32>> = match &node.op {
            Op::Unary(UnaryOp::Relu) => args[0].0.iter().map(|&v| Some(v.max(0.0))).collect(),
            Op::Clip(a) => args[0]
                .0
                .iter()
                .map(|&v| {
                    Some(
                        v.max(a.min.unwrap_or(f32::MIN))
                            .min(a.max.unwrap_or(f32::MAX)),
                    )
                })
                .collect(),
            Op::Binary(op) => {
                let (a, b) = (bcast(&args[0]), bcast(&args[1]));
                a.iter()
                    .zip(&b)
                    .map(|(&a, &b)| {
                        Some(match op {
                            BinaryOp::Add => a + b,
                            BinaryOp::Sub => a - b,
                            BinaryOp::Mul => a * b,
                            BinaryOp::Div => a / b,
                            // Integers only; these graphs are f32.
                            BinaryOp::BitwiseAnd | BinaryOp::BitwiseOr | BinaryOp::BitwiseXor => {
                                unreachable!("no bitwise op on f32")
                            }
                        })
                    })
                    .collect()
            }
            Op::Reshape(_) | Op::Flatten(_) | Op::Identity | Op::Transpose(_) => {
                args[0].0.iter().map(|&v| Some(v)).collect()
            }
            // Block `o` of each input (its axes from `axis` on) at `o * stride + offset`;
            // the inputs stored in the output are already there.
            Op::Concat(a) => {
                let axis = kiln_ir::types::normalize_axis(a.axis, shape.len()).unwrap();
                let stride: usize = shape[axis..].iter().product();
                let mut r = vec![None; shape.iter().product()];
                let mut offset = 0;
                let placed = if p.concats.contains(&n) {
                    p.concat_inputs_in_place(g, node)
                } else {
                    Vec::new()
                };
                for (k, (data, xs)) in args.iter().enumerate() {
                    let block: usize = xs[axis..].iter().product();
                    if block > 0 && !placed.contains(&k) {
                        for (o, src) in data.chunks_exact(block).enumerate() {
                            for (i, &v) in src.iter().enumerate() {
                                r[o * stride + offset + i] = Some(v);
                            }
                        }
                    }
                    offset += block;
                }
                r
            }
            other => return Err(format!("the simulator does not run {other}")),
        };
        let s = p.storage(y);
        let dst: &mut [f32] = match &g.value(s).kind {
            ValueKind::Activation if g.outputs.contains(&s) => {
                let r = range(y);
                &mut outs.get_mut(&s).ok_or("no output array")?[r]
            }
            ValueKind::Activation => {
                let pl = p.placement(y).ok_or("no placement")?;
                &mut arena[pl.offset..pl.offset + pl.len]
            }
            _ => return Err(format!("node {:?} writes read-only storage", node.name)),
        };
        if dst.len() != result.len() {
            return Err(format!(
                "node {:?} writes {} elements",
                node.name,
                dst.len()
            ));
        }
        for (d, r) in dst.iter_mut().zip(result) {
            if let Some(r) = r {
                *d = r;
            }
        }
    }
    Ok(g.outputs.iter().map(|v| outs[v].clone()).collect())
}

/// numpy broadcasting of `v` (shape `s`) to `out`, flattened.
fn broadcast(v: &[f32], s: &[usize], out: &[usize]) -> Vec<f32> {
    let n: usize = out.iter().product();
    let lead = out.len() - s.len();
    (0..n)
        .map(|mut i| {
            let (mut idx, mut stride) = (0, 1);
            for d in (0..out.len()).rev() {
                let k = i % out[d];
                i /= out[d];
                if d >= lead && s[d - lead] != 1 {
                    idx += k * stride;
                }
                if d >= lead {
                    stride *= s[d - lead];
                }
            }
            v[idx]
        })
        .collect()
}

/// A random graph of f32 elementwise ops and views over values of 6 elements, with
/// graph inputs, constants (a full one, a row and a scalar to broadcast) and outputs.
fn random_graph(steps: &[(u8, usize, usize)], outputs: &[usize]) -> Graph {
    let mut b = Builder::new("random");
    let x0 = b.input("x0", DType::F32, &[2, 3]);
    let x1 = b.input("x1", DType::F32, &[6]);
    let k = b.weights("k", &[2, 3], 1, 0.5);
    let row = b.weights("row", &[3], 2, 0.5);
    let one = b.weights("one", &[], 3, 0.5);
    let mut pool = vec![x0, x1, k];
    // Concatenations (of other sizes) and what reads them: read by nothing else unless
    // listed in `consumed`.
    let mut wide: Vec<ValueId> = Vec::new();
    let mut consumed: BTreeSet<ValueId> = BTreeSet::new();
    let shapes: [&[i64]; 4] = [&[2, 3], &[6], &[3, 2], &[1, 6]];
    for &(kind, i, j) in steps {
        let a = pool[i % pool.len()];
        let bv = pool[j % pool.len()];
        let a_shape = b.g.value(a).ty.shape.clone();
        if kind % 12 >= 9 {
            let all: Vec<ValueId> = pool.iter().chain(&wide).copied().collect();
            let (a, bv) = (all[i % all.len()], all[j % all.len()]);
            let shape = |b: &Builder, v: ValueId| b.g.value(v).ty.shape.clone();
            let v = if kind % 12 == 11 && !wide.is_empty() {
                // Over a concatenation: in place.
                let w = wide[i % wide.len()];
                consumed.insert(w);
                b.one(relu(), &[w])
            } else if shape(&b, a) == [2, 3] && shape(&b, bv) == [2, 3] {
                // On axis 0 each input is a run of the output; on axis 1 it is not.
                b.one(
                    Op::Concat(kiln_ir::ops::ConcatAttrs {
                        axis: (j % 2) as i64,
                    }),
                    &[a, bv],
                )
            } else {
                // Rows [1, n], concatenated on the last axis; two or three of them.
                let mut parts = vec![a, bv];
                if i % 3 == 0 {
                    parts.push(all[(i + j) % all.len()]);
                }
                let rows: Vec<ValueId> = parts
                    .iter()
                    .map(|&v| {
                        if shape(&b, v).len() == 2 && shape(&b, v)[0] == 1 {
                            v
                        } else {
                            b.one(Op::Flatten(FlattenAttrs { axis: 0 }), &[v])
                        }
                    })
                    .collect();
                b.one(Op::Concat(kiln_ir::ops::ConcatAttrs { axis: -1 }), &rows)
            };
            for x in
                b.g.node(node_of(&b.g, v))
                    .inputs
                    .clone()
                    .into_iter()
                    .flatten()
            {
                consumed.insert(x);
            }
            wide.push(v);
            continue;
        }
        let v = match kind % 9 {
            0 => b.one(relu(), &[a]),
            1 => b.one(
                Op::Clip(ClipAttrs {
                    min: Some(-0.5),
                    max: Some(1.0),
                }),
                &[a],
            ),
            2..=4 => {
                let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][(kind % 9 - 2) as usize];
                // Same shapes, or a broadcast constant on either side.
                let other = if b.g.value(bv).ty.shape == a_shape {
                    bv
                } else if a_shape.last() == Some(&3) && j % 2 == 0 {
                    row
                } else {
                    one
                };
                if j % 3 == 0 {
                    b.one(Op::Binary(op), &[other, a])
                } else {
                    b.one(Op::Binary(op), &[a, other])
                }
            }
            5 => reshape(&mut b, a, shapes[j % shapes.len()]),
            6 => b.one(
                Op::Flatten(FlattenAttrs {
                    axis: (j % 2) as i64,
                }),
                &[a],
            ),
            7 => b.one(Op::Identity, &[a]),
            _ if a_shape == [1, 6] => b.one(
                Op::Transpose(kiln_ir::ops::TransposeAttrs { perm: None }),
                &[a],
            ),
            _ => b.one(relu(), &[a]),
        };
        pool.push(v);
    }
    let produced: Vec<ValueId> = pool[3..].iter().chain(&wide).copied().collect();
    for &o in outputs {
        if !produced.is_empty() {
            b.output(produced[o % produced.len()]);
        }
    }
    if pool.len() > 3 {
        b.output(*pool.last().unwrap());
    }
    for &w in &wide {
        if !consumed.contains(&w) {
            b.output(w);
        }
    }
    b.g
}

proptest! {
    #[test]
    fn random_plans_compute_what_the_reference_does(
        steps in proptest::collection::vec((0u8..12, 0usize..64, 0usize..64), 1..14),
        outputs in proptest::collection::vec(0usize..64, 0..3),
        views in any::<bool>(),
        in_place in any::<bool>(),
        concat_in_place in any::<bool>(),
    ) {
        let g = random_graph(&steps, &outputs);
        let p = plan(&g, &PlanOptions { views, in_place, concat_in_place, scratch: None });
        let feed = [
            Tensor::new(vec![2, 3], TensorData::F32(vec![-1.5, 0.25, 2.0, -0.75, 1.0, 3.5])).unwrap(),
            Tensor::new(vec![6], TensorData::F32(vec![0.5, -2.0, 1.25, -0.5, 4.0, -3.0])).unwrap(),
        ];
        let want = kiln_ir::eval::run(&unique_outputs(&g), &feed).unwrap();
        let got = simulate(&g, &p, &feed).unwrap();
        for (k, &v) in g.outputs.iter().enumerate() {
            let w = &want[unique_outputs(&g).outputs.iter().position(|&u| u == v).unwrap()];
            let TensorData::F32(w) = &w.data else { panic!("f32") };
            prop_assert_eq!(&got[k], w, "output {} of\n{}\n{:?}", k, g.dump(), p);
        }
        let plain = plan(&g, &OFF);
        prop_assert!(p.buffers.len() <= plain.buffers.len());
        if p.concats.is_empty() {
            prop_assert!(p.lower_bound_bytes() <= plain.lower_bound_bytes());
        } else {
            // Concats in place may hold room early (a higher bound), but are kept only
            // when the arena is no larger.
            let copies = plan(&g, &PlanOptions { views, in_place, concat_in_place: false, scratch: None });
            prop_assert!(p.arena_bytes() <= copies.arena_bytes());
        }
    }
}

/// `g` with each output listed once (the evaluator hands out each value once).
fn unique_outputs(g: &Graph) -> Graph {
    let mut u = g.clone();
    u.outputs.clear();
    for &v in &g.outputs {
        if !u.outputs.contains(&v) {
            u.outputs.push(v);
        }
    }
    u
}

/// Scratch space for the fast convolution kernels: only when asked for, for exactly the
/// nodes `kernels::scratch_len` names, live for their step only, and never sharing bytes
/// with a buffer live at the same time (`plan` runs `check_plan`).
#[test]
fn scratch_buffers_live_for_their_step_only() {
    let mut b = Builder::new("g");
    let x = b.input("x", kiln_ir::DType::F32, &[1, 4, 10, 10]);
    let y = conv(&mut b, x);
    let z = conv(&mut b, y);
    b.output(z);
    let target = kiln_ir::Target::X86_64V4;
    let on = PlanOptions {
        scratch: Some(target.into()),
        ..PlanOptions::default()
    };
    let p = plan(&b.g, &on);
    let convs = [node_of(&b.g, y), node_of(&b.g, z)];
    assert_eq!(p.scratch.keys().copied().collect::<Vec<_>>(), {
        let mut c = convs.to_vec();
        c.sort();
        c
    });
    for (step, n) in convs.iter().enumerate() {
        let want = crate::kernels::scratch_len(&b.g, b.g.node(*n), target.into())
            .unwrap()
            .1;
        // One channel of the padded 12x12 input at least, for each of the 4 channels.
        assert!(want >= 4 * 12 * 12, "{want}");
        let buf = p.buffers.iter().find(|x| x.scratch_of == Some(*n)).unwrap();
        assert_eq!((buf.first, buf.last, buf.len), (step, step, want));
        assert_eq!(p.scratch_placement(*n).unwrap().len, want);
    }
    // A target without SIMD or FPU, or no target: the reference kernels need none.
    for scratch in [None, Some(kiln_ir::Target::Thumbv7em { fpu: false }.into())] {
        let p = plan(&b.g, &PlanOptions { scratch, ..on });
        assert!(p.scratch.is_empty() && p.buffers.iter().all(|x| x.scratch_of.is_none()));
    }
}
