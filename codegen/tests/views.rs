//! The emitter under a memory plan with views and in-place nodes: views emit no code and
//! their readers bind the root storage, in-place nodes call the in-place kernels, and a
//! plan that would make a kernel read and write overlapping memory (a planner bug) is
//! refused rather than compiled. Running the generated code is `tests/views.rs` at the
//! workspace root.

mod common;

use common::{emit, run_body};
use kiln_codegen::CodegenError;
use kiln_ir::builder::Builder;
use kiln_ir::ops::{BinaryOp, ClipAttrs, FlattenAttrs, ReshapeAttrs, UnaryOp};
use kiln_ir::{DType, Graph, Op, TensorData, ValueId};
use kiln_passes::MemoryPlan;
use kiln_passes::memory::{PlanOptions, plan_memory_with};

/// Relu (of a graph input: a fresh buffer), a Reshape view, Sigmoid, a Sub whose left
/// operand is a broadcast row, Clip, an Add of a value with itself, Tanh.
fn chain() -> (Graph, [ValueId; 8]) {
    let mut b = Builder::new("chain");
    let x = b.input("x", DType::F32, &[2, 3]);
    let row = b.constant("row", &[3], TensorData::F32(vec![0.5, -1.0, 2.0]));
    let shape = b.constant("shape", &[1], TensorData::I64(vec![6]));
    let r = b.one(Op::Unary(UnaryOp::Relu), &[x]);
    let v = b.one(Op::Reshape(ReshapeAttrs::default()), &[r, shape]);
    let s = b.one(Op::Unary(UnaryOp::Sigmoid), &[v]);
    let back = b.constant("back", &[2], TensorData::I64(vec![2, 3]));
    let s2 = b.one(Op::Reshape(ReshapeAttrs::default()), &[s, back]);
    let d = b.one(Op::Binary(BinaryOp::Sub), &[row, s2]);
    let c = b.one(
        Op::Clip(ClipAttrs {
            min: Some(-1.0),
            max: Some(1.0),
        }),
        &[d],
    );
    let twice = b.one(Op::Binary(BinaryOp::Add), &[c, c]);
    let t = b.one(Op::Unary(UnaryOp::Tanh), &[twice]);
    let y = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[t]);
    b.g.outputs.push(y);
    (b.g, [r, v, s, s2, d, c, twice, t])
}

fn plan(g: &Graph, opts: &PlanOptions) -> MemoryPlan {
    let vg = kiln_ir::verify(g).unwrap();
    plan_memory_with(&vg, opts)
}

#[test]
fn views_emit_nothing_and_in_place_nodes_call_in_place_kernels() {
    let (g, [_, _, _, _, _, _, twice, t]) = chain();
    let p = plan(&g, &PlanOptions::default());
    let out = emit(&g, &p).unwrap();
    let run = run_body(&out);
    assert_eq!(
        run.matches("a view of its input's storage").count(),
        2,
        "{run}"
    );
    for call in [
        "map(x0, y0, |v| if v < 0.0",
        "map_in_place(y0, sigmoid_f32)",
        // The row is the left operand: the closure takes the overwritten right one first.
        "broadcast_in_place(y0, x0, &[2, 3], &[0, 1], |q, p| p - q)",
        "clip_in_place(y0, Some(-1.0), Some(1.0))",
        // c + c reads one buffer twice: not in place.
        "broadcast(x0, x1, y0,",
        "map_in_place(y0, tanh_f32)",
        // Flatten writes a graph output from an in-place value: a copy.
        "y0.copy_from_slice(x0)",
    ] {
        assert!(run.contains(call), "no {call:?} in\n{run}");
    }
    assert!(!p.in_place.contains(&g.producer(twice).unwrap()));
    assert!(p.in_place.contains(&g.producer(t).unwrap()));
    // Only the kernels in use are emitted (no dead code under `deny(warnings)`).
    let text = &out.files[0].contents;
    for k in [
        "fn map<",
        "fn map_in_place<",
        "fn broadcast<",
        "fn broadcast_in_place<",
    ] {
        assert!(text.contains(k), "{k}");
    }
    assert!(!text.contains("fn clip<"));
    assert_eq!(emit(&g, &p).unwrap(), out, "deterministic");
}

#[test]
fn without_sharing_every_node_has_its_own_output() {
    let (g, _) = chain();
    let off = PlanOptions {
        views: false,
        in_place: false,
        concat_in_place: false,
        scratch: None,
    };
    let run = run_body(&emit(&g, &plan(&g, &off)).unwrap());
    assert!(
        !run.contains("_in_place(") && !run.contains("a view of"),
        "{run}"
    );
    assert_eq!(run.matches("copy_from_slice").count(), 3, "{run}");
}

fn nodes_error(e: CodegenError) -> String {
    match e {
        CodegenError::Nodes(v) => v.iter().map(|n| n.message.clone()).collect(),
        other => panic!("{other}"),
    }
}

#[test]
fn plans_that_would_overlap_a_read_and_a_write_are_refused() {
    let (g, [_, _, _, _, _, c, twice, _]) = chain();
    let good = plan(&g, &PlanOptions::default());
    // c + c overwriting c while reading it as the other operand.
    let mut bad = good.clone();
    let root = bad.storage(c);
    bad.aliases.insert(twice, root);
    bad.buffers.retain(|b| b.value != twice);
    bad.placements.remove(&twice);
    bad.in_place.insert(g.producer(twice).unwrap());
    let msg = nodes_error(emit(&g, &bad).unwrap_err());
    assert!(msg.contains("overlaps output"), "{msg}");
}

#[test]
fn plans_that_write_read_only_storage_or_misplace_views_are_refused() {
    let (g, [r, v, ..]) = chain();
    let good = plan(&g, &PlanOptions::default());
    // The Relu writing over the graph input it reads.
    let mut bad = good.clone();
    let x = g.inputs[0];
    let root = bad.storage(r);
    for (_, t) in bad.aliases.iter_mut() {
        if *t == root {
            *t = x;
        }
    }
    bad.aliases.insert(r, x);
    bad.buffers.retain(|b| b.value != root);
    bad.placements.remove(&root);
    bad.in_place.insert(g.producer(r).unwrap());
    let msg = nodes_error(emit(&g, &bad).unwrap_err());
    assert!(msg.contains("graph input or constant"), "{msg}");
    // A view whose output the plan stores elsewhere than its input.
    let mut bad = good.clone();
    bad.aliases.remove(&v);
    let msg = nodes_error(emit(&g, &bad).unwrap_err());
    assert!(msg.contains("view of another value"), "{msg}");
}
