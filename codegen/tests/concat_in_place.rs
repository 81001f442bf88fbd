//! The emitter under a memory plan that writes Concat inputs in place: producers bind
//! their part of the Concat's output (in the arena or in the caller's array), a Concat
//! whose inputs are all in place emits a comment only, one with some copies the others,
//! and a plan that misplaces an input is refused rather than compiled. Running the
//! generated code is `tests/concat_in_place.rs` at the workspace root.

mod common;

use common::{emit, run_body};
use kiln_ir::builder::{Builder, window};
use kiln_ir::ops::{ConcatAttrs, ConvAttrs, UnaryOp};
use kiln_ir::{DType, Graph, Op, ValueId};
use kiln_passes::MemoryPlan;
use kiln_passes::memory::{Part, plan_memory};

fn conv(b: &mut Builder, x: ValueId, cout: usize) -> ValueId {
    let c = b.g.value(x).ty.shape[1];
    let n = b.g.value_count();
    let w = b.weights(&format!("w{n}"), &[cout, c, 3, 3], n, 0.1);
    let op = Op::Conv(ConvAttrs {
        window: window(&[], &[], &[1, 1, 1, 1]),
        group: 1,
    });
    b.one(op, &[x, w])
}

/// x -> Conv a (2 channels), Relu; Conv c (1 channel); Concat(x, a, c) on channels; Conv.
/// With `output`, the Concat is the graph output instead of feeding the last Conv.
fn graph(output: bool) -> (Graph, [ValueId; 3]) {
    let mut b = Builder::new("cat");
    let x = b.input("x", DType::F32, &[1, 1, 3, 3]);
    let a = conv(&mut b, x, 2);
    let a = b.one(Op::Unary(UnaryOp::Relu), &[a]);
    let c = conv(&mut b, x, 1);
    let y = b.one(Op::Concat(ConcatAttrs { axis: 1 }), &[x, a, c]);
    if output {
        b.output(y);
    } else {
        let z = conv(&mut b, y, 1);
        b.output(z);
    }
    (b.g, [a, c, y])
}

fn plan(g: &Graph) -> MemoryPlan {
    plan_memory(&kiln_ir::verify(g).unwrap())
}

#[test]
fn producers_write_their_part_and_the_concat_copies_the_rest() {
    let (g, [a, c, y]) = graph(false);
    let p = plan(&g);
    assert_eq!(p.concats.len(), 1);
    let base = p.placement(y).unwrap().offset;
    assert_eq!(p.placement(a).unwrap().offset, base + 9);
    assert_eq!(p.placement(c).unwrap().offset, base + 27);
    let run = run_body(&emit(&g, &p).unwrap());
    // The Relu in place and the Conv write inside the Concat's buffer.
    let (ra, rc) = (base + 9, base + 27);
    for line in [
        format!("let y0: &mut [f32] = &mut arena.f32[{ra}..{}];", ra + 18),
        "map_in_place(y0,".to_string(),
        format!("let y0: &mut [f32] = &mut arena.f32[{rc}..{}];", rc + 9),
        // The Concat copies only the graph input.
        "y0[..9].copy_from_slice(x0);".to_string(),
    ] {
        assert!(run.contains(&line), "no {line:?} in\n{run}");
    }
    assert_eq!(run.matches("copy_from_slice").count(), 1, "{run}");
    assert!(!run.contains("nothing to copy"), "{run}");
}

#[test]
fn a_concat_of_values_in_place_in_the_callers_array_emits_a_comment() {
    let mut b = Builder::new("out");
    let x = b.input("x", DType::F32, &[1, 1, 3, 3]);
    let a = conv(&mut b, x, 2);
    let c = conv(&mut b, a, 1);
    let y = b.one(Op::Concat(ConcatAttrs { axis: 1 }), &[a, c]);
    b.output(y);
    let p = plan(&b.g);
    assert!(p.buffers.is_empty());
    let out = emit(&b.g, &p).unwrap();
    let run = run_body(&out);
    assert!(
        run.contains("// (its inputs were written in place in its output: nothing to copy)"),
        "{run}"
    );
    // The second Conv reads the first's channels in the caller's array while it writes
    // its own there: the array is split.
    for line in [
        "let y0: &mut [f32] = &mut outputs.concat_3_0[..18];",
        "let rest: &mut [f32] = &mut outputs.concat_3_0[..];",
        "let (gap0, rest) = rest.split_at_mut(18);",
        "let x0: &[f32] = &gap0[..18];",
    ] {
        assert!(run.contains(line), "no {line:?} in\n{run}");
    }
    assert!(!run.contains("copy_from_slice"), "{run}");
    assert_eq!(emit(&b.g, &p).unwrap(), out, "deterministic");
}

#[test]
fn plans_that_misplace_a_concat_input_are_refused() {
    let (g, [_, c, _]) = graph(false);
    let good = plan(&g);
    // c one element into a's channels.
    let mut bad = good.clone();
    bad.parts.insert(c, Part { offset: 26, len: 9 });
    let e = emit(&g, &bad).unwrap_err().to_string();
    assert!(e.contains("wrong offset"), "{e}");
    // The graph output variant: c stored past the end of the caller's array.
    let (g, [_, c, _]) = graph(true);
    let mut bad = plan(&g);
    bad.parts.insert(c, Part { offset: 28, len: 9 });
    let e = emit(&g, &bad).unwrap_err().to_string();
    assert!(e.contains("stores"), "{e}");
}
