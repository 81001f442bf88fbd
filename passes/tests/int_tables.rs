//! `fuse-int-tables`: integer elementwise ops of one 8-bit tensor composed into one table,
//! and a table moved into the IntConv or IntGemm before it. The graph after the pass must
//! give exactly the integers the ops one after the other gave (reference semantics), for
//! every input value, over random tables, factors and zero points; and where the pattern's
//! conditions fail (a second reader, broadcasting, a graph output) nothing may change.

use kiln_ir::builder::{Builder, window};
use kiln_ir::ops::ConvAttrs;
use kiln_ir::ops::qint::{
    IntBinaryAttrs, IntBinaryKind, IntConvAttrs, IntGemmAttrs, IntLutAttrs, IntOp, QOut, Requant,
    qrange,
};
use kiln_ir::{DType, Graph, Op, Tensor, TensorData, ValueId};
use kiln_passes::fuse_int::fuse_int_tables;
use proptest::prelude::*;

fn dtype(i8: bool) -> DType {
    if i8 { DType::I8 } else { DType::U8 }
}

/// Every value of the 8-bit type, repeated over `n` elements (so each appears).
fn all_values(d: DType, n: usize) -> TensorData {
    let (lo, _) = qrange(d).unwrap();
    let v = (0..n).map(|i| lo + (i % 256) as i32);
    match d {
        DType::I8 => TensorData::I8(v.map(|x| x as i8).collect()),
        _ => TensorData::U8(v.map(|x| x as u8).collect()),
    }
}

fn lut(b: &mut Builder, x: ValueId, table: Vec<i32>, out: DType) -> ValueId {
    b.one(Op::Int(IntOp::Lut(IntLutAttrs { table, out })), &[x])
}

fn binary(
    b: &mut Builder,
    mul: bool,
    x: ValueId,
    y: ValueId,
    zeros: [i32; 2],
    out: QOut,
) -> ValueId {
    let kind = if mul {
        IntBinaryKind::Mul
    } else {
        IntBinaryKind::Add
    };
    let scales = if mul {
        [0.02, 0.004, 0.05]
    } else {
        [0.02, 0.03, 0.04]
    };
    let a = IntBinaryAttrs::new(kind, zeros, scales, out).unwrap();
    b.one(Op::Int(IntOp::Binary(a)), &[x, y])
}

/// An IntConv (3x3, 4 -> 3 channels, per-channel factors) of `x` `[1, 4, 6, 6]`.
fn int_conv(b: &mut Builder, x: ValueId, x_zero: i32, out: QOut) -> ValueId {
    let w: Vec<i8> = (0..3 * 4 * 9).map(|i| ((i * 37) % 21) as i8 - 10).collect();
    let w = b.constant("w", &[3, 4, 3, 3], TensorData::I8(w));
    let requant = [0.003f32, 0.0021, 0.0047]
        .iter()
        .map(|&f| Requant::from_f32(f).unwrap())
        .collect();
    let op = Op::Int(IntOp::Conv(Box::new(IntConvAttrs {
        conv: ConvAttrs {
            window: window(&[3, 3], &[1, 1], &[1, 1, 1, 1]),
            group: 1,
        },
        x_zero,
        requant,
        out,
        table: None,
    })));
    b.one(op, &[x, w])
}

fn int_gemm(b: &mut Builder, x: ValueId, a_zero: i32, out: QOut) -> ValueId {
    let w: Vec<i8> = (0..16 * 5).map(|i| ((i * 29) % 31) as i8 - 15).collect();
    let w = b.constant("w", &[16, 5], TensorData::I8(w));
    let op = Op::Int(IntOp::Gemm(IntGemmAttrs {
        a_zero,
        requant: vec![Requant::from_f32(0.0031).unwrap()],
        out,
        table: None,
    }));
    b.one(op, &[x, w])
}

fn ops(g: &Graph) -> Vec<&'static str> {
    g.node_ids().map(|n| g.node(n).op.name()).collect()
}

/// Runs the pass; the outputs must equal the original graph's exactly.
fn same_after(mut g: Graph, feed: &[Tensor]) -> Result<(Graph, Vec<String>), TestCaseError> {
    let before = kiln_ir::eval::run(&g, feed).map_err(TestCaseError::fail)?;
    let changes = fuse_int_tables(&mut g).map_err(TestCaseError::fail)?;
    if let Err(d) = kiln_ir::verify(&g) {
        return Err(TestCaseError::fail(format!("{d:?}\n{}", g.dump())));
    }
    let after = kiln_ir::eval::run(&g, feed).map_err(TestCaseError::fail)?;
    prop_assert_eq!(after, before, "{}", g.dump());
    Ok((g, changes))
}

fn table(d: DType) -> impl Strategy<Value = Vec<i32>> {
    let (lo, hi) = qrange(d).unwrap();
    proptest::collection::vec(lo..=hi, 256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// SiLU as QDQ leaves it after `quantize-qdq`: `IntMul(y, IntLut(y))` after an
    /// IntConv, either operand order, then a second table. One IntConv is left.
    #[test]
    fn a_conv_then_a_function_of_its_output_becomes_one_conv(
        i8 in any::<bool>(),
        t1 in table(DType::U8),
        t2 in table(DType::U8),
        swap in any::<bool>(),
        mul in any::<bool>(),
        zy in 0i32..256,
        zm in 0i32..256,
    ) {
        let d = dtype(i8);
        let mut b = Builder::new("t");
        let x = b.input("x", d, &[1, 4, 6, 6]);
        let y = int_conv(&mut b, x, if i8 { -3 } else { 120 }, QOut::new(DType::U8, zy).unwrap());
        let s = lut(&mut b, y, t1, DType::U8);
        let (p, q) = if swap { (s, y) } else { (y, s) };
        let zeros = if swap { [0, zy] } else { [zy, 0] };
        let m = binary(&mut b, mul, p, q, zeros, QOut::new(DType::U8, zm).unwrap());
        let out = lut(&mut b, m, t2, DType::U8);
        b.output(out);
        let feed = [Tensor::new(vec![1, 4, 6, 6], all_values(d, 144)).unwrap()];
        let (g, changes) = same_after(b.g, &feed)?;
        prop_assert_eq!(ops(&g), vec!["IntConv"], "{:?}", changes);
    }

    /// Tables of tables and binaries of two functions of the same tensor, on i8 and u8,
    /// without a producer to move into: one IntLut is left.
    #[test]
    fn functions_of_one_tensor_compose_into_one_table(
        i8 in any::<bool>(),
        t1 in table(DType::I8),
        t2 in table(DType::U8),
        mul in any::<bool>(),
    ) {
        let d = dtype(i8);
        let mut b = Builder::new("t");
        let x = b.input("x", d, &[2, 300]);
        let f = lut(&mut b, x, t1, DType::I8);
        let g1 = lut(&mut b, x, t2, DType::U8);
        let m = binary(&mut b, mul, f, g1, [-5, 17], QOut::new(DType::I8, 3).unwrap());
        let sq = binary(&mut b, true, m, m, [3, 3], QOut::new(DType::U8, 0).unwrap());
        b.output(sq);
        let feed = [Tensor::new(vec![2, 300], all_values(d, 600)).unwrap()];
        let (g, _) = same_after(b.g, &feed)?;
        prop_assert_eq!(ops(&g), vec!["IntLut"]);
    }

    /// PP-LCNet's steps after a convolution, as `quantize-qdq` leaves them: a Mul and an
    /// Add by one-element constants (either side), HardSwish in parts (`Mul(v, Clip(Add(v,
    /// 3)))`, its Add and Clip tables of v), a Div table, then the affine pair again. One
    /// IntConv is left.
    #[test]
    fn scalar_constants_and_hardswish_in_parts_become_one_conv(
        c1 in 0i32..256,
        c2 in 0i32..256,
        t in table(DType::U8),
        zy in 0i32..256,
        left in any::<bool>(),
    ) {
        let mut b = Builder::new("t");
        let x = b.input("x", DType::U8, &[1, 4, 6, 6]);
        let u8q = |z| QOut::new(DType::U8, z).unwrap();
        let y = int_conv(&mut b, x, 7, u8q(zy));
        let k1 = b.constant("k1", &[1], TensorData::U8(vec![c1 as u8]));
        let k2 = b.constant("k2", &[1, 1, 1, 1], TensorData::U8(vec![c2 as u8]));
        let m = if left {
            binary(&mut b, true, k1, y, [0, zy], u8q(5))
        } else {
            binary(&mut b, true, y, k1, [zy, 0], u8q(5))
        };
        let a = binary(&mut b, false, m, k2, [5, 9], u8q(12));
        let shifted = lut(&mut b, a, t, DType::U8);
        let hs = binary(&mut b, true, a, shifted, [12, 0], u8q(40));
        let div = lut(&mut b, hs, (0..256).map(|i| i / 2).collect(), DType::U8);
        let m2 = binary(&mut b, true, div, k1, [0, 3], u8q(1));
        b.output(m2);
        let feed = [Tensor::new(vec![1, 4, 6, 6], all_values(DType::U8, 144)).unwrap()];
        let (g, _) = same_after(b.g, &feed)?;
        prop_assert_eq!(ops(&g), vec!["IntConv"]);
    }

    /// A table after an IntGemm moves into it.
    #[test]
    fn a_table_after_a_gemm_moves_into_it(t in table(DType::I8), za in -128i32..128) {
        let mut b = Builder::new("t");
        let x = b.input("x", DType::I8, &[16, 16]);
        let y = int_gemm(&mut b, x, za, QOut::new(DType::I8, -7).unwrap());
        let out = lut(&mut b, y, t, DType::I8);
        b.output(out);
        let feed = [Tensor::new(vec![16, 16], all_values(DType::I8, 256)).unwrap()];
        let (g, _) = same_after(b.g, &feed)?;
        prop_assert_eq!(ops(&g), vec!["IntGemm"]);
    }
}

/// Where a condition fails the pass leaves the ops: the table's input read elsewhere too
/// (a graph output), an operand that broadcasts, a table changing the type after a Conv.
#[test]
fn tables_stay_apart_where_they_cannot_merge() {
    let t: Vec<i32> = (0..256).map(|i| 255 - i).collect();
    let u8q = |z| QOut::new(DType::U8, z).unwrap();

    // The IntConv's output is also a graph output: the table cannot move into it.
    let mut b = Builder::new("t");
    let x = b.input("x", DType::U8, &[1, 4, 6, 6]);
    let y = int_conv(&mut b, x, 100, u8q(10));
    let s = lut(&mut b, y, t.clone(), DType::U8);
    b.output(y);
    b.output(s);
    let mut g = b.g;
    fuse_int_tables(&mut g).unwrap();
    assert_eq!(ops(&g), vec!["IntConv", "IntLut"]);

    // `IntMul(x, IntLut(z))` of two different tensors, and an operand that broadcasts.
    let mut b = Builder::new("t");
    let x = b.input("x", DType::U8, &[4, 8]);
    let z = b.input("z", DType::U8, &[4, 8]);
    let r = b.input("r", DType::U8, &[8]);
    let s = lut(&mut b, z, t.clone(), DType::U8);
    let m = binary(&mut b, true, x, s, [0, 0], u8q(0));
    let n = binary(&mut b, false, m, r, [0, 0], u8q(0));
    b.output(n);
    let mut g = b.g;
    fuse_int_tables(&mut g).unwrap();
    assert_eq!(ops(&g), vec!["IntLut", "IntMul", "IntAdd"]);

    // A constant of one element per channel: not a function of the value alone.
    let mut b = Builder::new("t");
    let x = b.input("x", DType::U8, &[1, 4, 6, 6]);
    let y = int_conv(&mut b, x, 100, u8q(10));
    let k = b.constant("k", &[1, 3, 1, 1], TensorData::U8(vec![1, 2, 3]));
    let m = binary(&mut b, true, y, k, [10, 0], u8q(0));
    b.output(m);
    let mut g = b.g;
    fuse_int_tables(&mut g).unwrap();
    assert_eq!(ops(&g), vec!["IntConv", "IntMul"]);

    // A table to i8 after a u8 IntConv.
    let mut b = Builder::new("t");
    let x = b.input("x", DType::U8, &[1, 4, 6, 6]);
    let y = int_conv(&mut b, x, 100, u8q(10));
    let s = lut(&mut b, y, (0..256).map(|i| i - 128).collect(), DType::I8);
    b.output(s);
    let mut g = b.g;
    fuse_int_tables(&mut g).unwrap();
    assert_eq!(ops(&g), vec!["IntConv", "IntLut"]);
}
