//! Small hand-built graphs for the codegen tests: a builder that infers each node's output
//! types with the IR's own shape inference, and the test models themselves.

#![allow(dead_code)]

use kiln_ir::ops::{
    AveragePoolAttrs, BatchNormAttrs, BinaryOp, ClipAttrs, ConcatAttrs, ConvAttrs, FlattenAttrs,
    GemmAttrs, MaxPoolAttrs, ReshapeAttrs, SoftmaxAttrs, TransposeAttrs, UnaryOp,
};
use kiln_ir::{DType, Graph, Op, TensorData, ValueId};

pub use kiln_ir::builder::{Builder, i64s, window};

/// Conv -> BatchNorm -> Relu -> MaxPool -> Reshape -> Gemm -> Softmax on a 1x3x8x8 image.
pub fn cnn() -> Graph {
    let mut b = Builder::new("cnn");
    let x = b.input("image", DType::F32, &[1, 3, 8, 8]);
    let w = b.weights("conv1.weight", &[4, 3, 3, 3], 1, 0.05);
    let bias = b.weights("conv1.bias", &[4], 2, 0.1);
    let conv = Op::Conv(ConvAttrs {
        window: window(&[], &[], &[1, 1, 1, 1]),
        group: 1,
    });
    let c = b.one(conv, &[x, w, bias]);
    let scale = b.weights("bn.scale", &[4], 3, 0.2);
    let shift = b.weights("bn.bias", &[4], 4, 0.1);
    let mean = b.weights("bn.mean", &[4], 5, 0.01);
    let var = b.constant("bn.var", &[4], TensorData::F32(vec![0.5, 1.0, 1.5, 2.0]));
    let bn = b.one(
        Op::BatchNormalization(BatchNormAttrs {
            epsilon: 1e-5,
            training_momentum: None,
        }),
        &[c, scale, shift, mean, var],
    );
    let r = b.one(Op::Unary(UnaryOp::Relu), &[bn]);
    let pool = Op::MaxPool(MaxPoolAttrs {
        window: window(&[2, 2], &[2, 2], &[]),
        storage_order: 0,
    });
    let p = b.one(pool, &[r]);
    let shape = i64s(&mut b, "flat_shape", &[1, -1]);
    let flat = b.one(Op::Reshape(ReshapeAttrs::default()), &[p, shape]);
    let fc_w = b.weights("fc.weight", &[5, 64], 6, 0.02);
    let fc_b = b.weights("fc.bias", &[5], 7, 0.1);
    let gemm = Op::Gemm(GemmAttrs {
        trans_b: true,
        ..Default::default()
    });
    let logits = b.one(gemm, &[flat, fc_w, fc_b]);
    let prob = b.one(
        Op::Softmax(SoftmaxAttrs {
            axis: 1,
            coerce_2d: false,
        }),
        &[logits],
    );
    b.output(prob);
    b.g
}

/// Integer arithmetic with broadcasting, plus outputs that are an input, a constant, and
/// one value twice.
pub fn integers() -> Graph {
    let mut b = Builder::new("integers");
    let a = b.input("a", DType::I32, &[2, 3]);
    let c = b.input("type", DType::I32, &[3]);
    let d = b.constant("divisor", &[2, 1], TensorData::I32(vec![2, -3]));
    let sum = b.one(Op::Binary(BinaryOp::Add), &[a, c]);
    let q = b.one(Op::Binary(BinaryOp::Div), &[sum, d]);
    let diff = b.one(Op::Binary(BinaryOp::Sub), &[q, a]);
    let prod = b.one(Op::Binary(BinaryOp::Mul), &[diff, diff]);
    let big = b.input("big", DType::I64, &[4]);
    let k = b.constant("k", &[], TensorData::I64(vec![i64::MAX]));
    let wrapped = b.one(Op::Binary(BinaryOp::Add), &[big, k]);
    b.output(prod);
    b.output(prod);
    b.output(c);
    b.output(wrapped);
    b.output(k);
    b.g
}

/// Every op family once more: transposes, concats, MatMul broadcasting, Gemm variants,
/// Clip with run-time and constant bounds, pools with padding, ceil mode and indices,
/// 1-D/3-D/grouped/depthwise Conv, Sigmoid/Tanh/Softmax/BatchNorm in f32 and f64, and a
/// graph without inputs.
pub fn families() -> Vec<(&'static str, Graph)> {
    vec![
        ("movement", movement()),
        ("products", products()),
        ("clips", clips()),
        ("pools", pools()),
        ("convs", convs()),
        ("floats", floats()),
        ("constants", constants()),
        ("casts", casts()),
        ("normalization", normalization()),
        ("generated", generated()),
    ]
}

/// Shape, Size, EyeLike, ConstantOfShape and Range left unfolded (the loader folds small
/// ones): the values the lowering computes from types and attributes.
fn generated() -> Graph {
    use kiln_ir::Tensor;
    use kiln_ir::ops::{ConstantOfShapeAttrs, EyeLikeAttrs, ShapeAttrs};
    let mut b = Builder::new("generated");
    let x = b.input("x", DType::F32, &[3, 5]);
    let shape = b.one(
        Op::Shape(ShapeAttrs {
            start: 0,
            end: None,
        }),
        &[x],
    );
    let size = b.one(Op::Size, &[x]);
    let eye = b.one(Op::EyeLike(EyeLikeAttrs { dtype: None, k: 1 }), &[x]);
    let eye_i = b.one(
        Op::EyeLike(EyeLikeAttrs {
            dtype: Some(DType::I32),
            k: -2,
        }),
        &[x],
    );
    let dims = b.constant("dims", &[2], TensorData::I64(vec![2, 3]));
    let fill = |v: TensorData| {
        Op::ConstantOfShape(ConstantOfShapeAttrs {
            value: Tensor::new(vec![1], v).unwrap(),
        })
    };
    let c_i = b.one(fill(TensorData::I64(vec![-(1 << 60) - 7])), &[dims]);
    let c_f = b.one(fill(TensorData::F32(vec![2.5])), &[dims]);
    let scalar = |b: &mut Builder, name: &str, v: TensorData| b.constant(name, &[], v);
    let (s, l, d) = (
        scalar(&mut b, "s", TensorData::F32(vec![0.5])),
        scalar(&mut b, "l", TensorData::F32(vec![3.0])),
        scalar(&mut b, "d", TensorData::F32(vec![0.75])),
    );
    let r_f = b.one(Op::Range, &[s, l, d]);
    let (s, l, d) = (
        scalar(&mut b, "si", TensorData::I32(vec![10])),
        scalar(&mut b, "li", TensorData::I32(vec![-5])),
        scalar(&mut b, "di", TensorData::I32(vec![-4])),
    );
    let r_i = b.one(Op::Range, &[s, l, d]);
    for v in [shape, size, eye, eye_i, c_i, c_f, r_f, r_i] {
        b.output(v);
    }
    b.g
}

/// Sqrt, Erf, Gelu (both forms), Pow (constant special and general exponents, run-time
/// exponents, mixed and integer types), ReduceMean and LayerNormalization, in f32 and f64.
fn normalization() -> Graph {
    use kiln_ir::ops::{Activation, LayerNormAttrs, ReduceAttrs, ReduceKind};
    let mut b = Builder::new("normalization");
    let mut outs = Vec::new();
    for dtype in [DType::F32, DType::F64] {
        let x = b.input(&format!("x_{dtype}"), dtype, &[2, 3, 4]);
        let e = b.input(&format!("e_{dtype}"), dtype, &[4]);
        let c = |b: &mut Builder, name: &str, shape: &[usize], v: Vec<f64>| {
            let data = if dtype == DType::F32 {
                TensorData::F32(v.into_iter().map(|x| x as f32).collect())
            } else {
                TensorData::F64(v)
            };
            b.constant(&format!("{name}_{dtype}"), shape, data)
        };
        for op in [UnaryOp::Sqrt, UnaryOp::Erf] {
            outs.push(b.one(Op::Unary(op), &[x]));
        }
        for tanh in [false, true] {
            outs.push(b.one(Op::Activation(Activation::Gelu { tanh }), &[x]));
        }
        for k in [0.0, 1.0, 2.0, 3.0, -1.0, 0.5, -0.5, 1.5] {
            let k = c(&mut b, &format!("k{k}"), &[], vec![k]);
            outs.push(b.one(Op::Pow, &[x, k]));
        }
        outs.push(b.one(Op::Pow, &[x, e]));
        let ints = b.constant(
            &format!("n_{dtype}"),
            &[4],
            TensorData::I64(vec![0, 3, -2, 5]),
        );
        outs.push(b.one(Op::Pow, &[x, ints]));
        let mean = |axes: Option<Vec<i64>>, keepdims: bool| {
            Op::Reduce(
                ReduceKind::Mean,
                ReduceAttrs {
                    axes,
                    keepdims,
                    noop_with_empty_axes: false,
                },
            )
        };
        outs.push(b.one(mean(Some(vec![1]), true), &[x]));
        outs.push(b.one(mean(Some(vec![0, -1]), false), &[x]));
        outs.push(b.one(mean(None, false), &[x]));
        let last = i64s(&mut b, &format!("last_{dtype}"), &[-1]);
        outs.push(b.one(mean(None, true), &[x, last]));
        let ln = |axis| {
            Op::LayerNormalization(LayerNormAttrs {
                axis,
                epsilon: 1e-3,
            })
        };
        let g4 = c(&mut b, "g4", &[4], vec![0.5, 1.0, -2.0, 1.5]);
        let b4 = c(&mut b, "b4", &[1, 4], vec![0.1, 0.2, 0.3, -0.4]);
        outs.push(b.one(ln(-1), &[x, g4, b4]));
        let g12 = c(
            &mut b,
            "g12",
            &[3, 4],
            (0..12).map(|i| i as f64 / 4.0 - 1.0).collect(),
        );
        outs.push(b.one(ln(1), &[x, g12]));
        let one = c(&mut b, "one", &[], vec![1.0]);
        outs.push(b.one(ln(0), &[x, one, g4]));
    }
    // Integer powers, and an integer base to a float power.
    let xi = b.input("xi", DType::I32, &[2, 3]);
    let ni = b.input("ni", DType::I32, &[3]);
    outs.push(b.one(Op::Pow, &[xi, ni]));
    let nu = b.constant("nu", &[3], TensorData::U8(vec![0, 1, 7]));
    outs.push(b.one(Op::Pow, &[xi, nu]));
    let xl = b.input("xl", DType::I64, &[3]);
    let nl = b.constant("nl", &[3], TensorData::U64(vec![2, 0, 65]));
    outs.push(b.one(Op::Pow, &[xl, nl]));
    let two = b.constant("two", &[], TensorData::F32(vec![2.0]));
    outs.push(b.one(Op::Pow, &[xi, two]));
    for v in outs {
        b.output(v);
    }
    b.g
}

/// Cast between every pair of types the emitter supports, on values at and beyond the edges
/// of the integer types, NaN and infinities (constants, so the emitted kernels see them),
/// and from a run-time input.
fn casts() -> Graph {
    use kiln_ir::ops::CastAttrs;
    const ODD: [f64; 36] = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        3.7,
        -3.7,
        300.5,
        -300.5,
        70000.5,
        -70000.5,
        3e9,
        -3e9,
        5e9,
        -5e9,
        1e19,
        -1e19,
        2e19,
        1e30,
        -1e30,
        -0.5,
        -1.0,
        9.3e18,
        1.8e19,
        0.0,
        -0.0,
        2147483520.0,
        2147483648.0,
        4294967040.0,
        4294967296.0,
        -2147483648.0,
        -2147483904.0,
        9223371487098961920.0,
        9223372036854775808.0,
        18446742974197923840.0,
        18446744073709551616.0,
        -9223372036854775808.0,
        -9223373136366403584.0,
    ];
    let ints: [i64; 14] = [
        i64::MIN,
        -(1 << 31) - 1,
        -129,
        -1,
        0,
        1,
        127,
        255,
        256,
        65535,
        70000,
        (1 << 31) + (1 << 23) + 1,
        (1 << 53) + 1,
        i64::MAX,
    ];
    let data = [
        ("f", TensorData::F32(ODD.map(|v| v as f32).to_vec())),
        ("d", TensorData::F64(ODD.to_vec())),
        ("i64", TensorData::I64(ints.to_vec())),
        ("u64", TensorData::U64(ints.map(|v| v as u64).to_vec())),
        ("i32", TensorData::I32(ints.map(|v| v as i32).to_vec())),
        ("u32", TensorData::U32(ints.map(|v| v as u32).to_vec())),
        ("i16", TensorData::I16(ints.map(|v| v as i16).to_vec())),
        ("u16", TensorData::U16(ints.map(|v| v as u16).to_vec())),
        ("i8", TensorData::I8(ints.map(|v| v as i8).to_vec())),
        ("u8", TensorData::U8(ints.map(|v| v as u8).to_vec())),
        ("flags", TensorData::Bool(vec![true, false, true])),
    ];
    let mut b = Builder::new("casts");
    let mut sources: Vec<ValueId> = data
        .into_iter()
        .map(|(name, d)| b.constant(name, &[d.len()], d))
        .collect();
    sources.push(b.input("x", DType::F32, &[2, 3]));
    for x in sources {
        for to in DType::ALL {
            if !matches!(to, DType::F16 | DType::BF16) {
                let y = b.one(Op::Cast(CastAttrs { to }), &[x]);
                b.output(y);
            }
        }
    }
    b.g
}

fn movement() -> Graph {
    let mut b = Builder::new("movement");
    let x = b.input("x", DType::F32, &[2, 3, 4]);
    let t = b.one(
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![2, 0, 1]),
        }),
        &[x],
    );
    let k = b.weights("k", &[4, 1, 3], 3, 1.0);
    let cat = b.one(Op::Concat(ConcatAttrs { axis: 1 }), &[t, k, t]);
    let u = b.input("u", DType::U8, &[2, 2]);
    let ut = b.one(Op::Transpose(TransposeAttrs { perm: None }), &[u]);
    let ucat = b.one(Op::Concat(ConcatAttrs { axis: 0 }), &[u, ut]);
    let fl = b.one(Op::Flatten(FlattenAttrs { axis: 1 }), &[cat]);
    let id = b.one(Op::Identity, &[ucat]);
    let flags = b.input("flags", DType::Bool, &[1, 3]);
    let fcat = b.one(Op::Concat(ConcatAttrs { axis: -1 }), &[flags, flags]);
    let unit = b.one(
        Op::Transpose(TransposeAttrs {
            perm: Some(vec![1, 0]),
        }),
        &[flags],
    );
    b.output(fl);
    b.output(id);
    b.output(fcat);
    b.output(unit);
    b.g
}

fn products() -> Graph {
    let mut b = Builder::new("products");
    let a = b.input("a", DType::F32, &[2, 1, 3, 4]);
    let m = b.input("m", DType::F32, &[3, 4, 5]);
    let v = b.input("v", DType::F32, &[4]);
    let y = b.one(Op::MatMul, &[a, m]);
    let row = b.one(Op::MatMul, &[v, m]);
    let ia = b.input("ia", DType::I64, &[2, 3]);
    let ib = b.constant("ib", &[3], TensorData::I64(vec![3, -1, 2]));
    let iv = b.one(Op::MatMul, &[ia, ib]);
    let ga = b.input("ga", DType::F32, &[4, 3]);
    let gb = b.weights("gb", &[4, 2], 1, 0.25);
    let gc = b.weights("gc", &[3, 1], 2, 0.5);
    let g = Op::Gemm(GemmAttrs {
        alpha: 0.5,
        beta: 2.0,
        trans_a: true,
        trans_b: false,
    });
    let gy = b.one(g, &[ga, gb, gc]);
    let gi = b.input("gi", DType::I32, &[2, 2]);
    let gw = b.constant("gw", &[2, 2], TensorData::I32(vec![1, -2, 3, 4]));
    let gic = b.constant("gic", &[2], TensorData::I32(vec![10, 20]));
    let g = Op::Gemm(GemmAttrs {
        alpha: 2.0,
        beta: -1.0,
        trans_a: false,
        trans_b: true,
    });
    let giy = b.one(g, &[gi, gw, gic]);
    b.output(y);
    b.output(row);
    b.output(iv);
    b.output(gy);
    b.output(giy);
    b.g
}

fn clips() -> Graph {
    let mut b = Builder::new("clips");
    let x = b.input("x", DType::F32, &[10]);
    let lo = b.input("lo", DType::F32, &[]);
    let hi = b.input("hi", DType::F32, &[]);
    let c1 = b.one(Op::Clip(ClipAttrs::default()), &[x, lo, hi]);
    let floor = b.constant("floor", &[], TensorData::F32(vec![-0.75]));
    let c2 = b.node(
        Op::Clip(ClipAttrs::default()),
        &[Some(x), Some(floor), None],
        1,
    )[0];
    let c3 = b.one(
        Op::Clip(ClipAttrs {
            min: Some(-0.5),
            max: Some(0.25),
        }),
        &[x],
    );
    let xi = b.input("xi", DType::I32, &[6]);
    let five = b.constant("five", &[], TensorData::I32(vec![5]));
    let two = b.constant("two", &[], TensorData::I32(vec![2]));
    let c4 = b.one(Op::Clip(ClipAttrs::default()), &[xi, five, two]);
    let r = b.one(Op::Unary(UnaryOp::Relu), &[xi]);
    // Reads two graph outputs back from the caller's buffers.
    let both = b.one(Op::Binary(BinaryOp::Add), &[c1, c2]);
    b.output(c1);
    b.output(both);
    b.output(c2);
    b.output(c3);
    b.output(c4);
    b.output(r);
    b.g
}

fn pools() -> Graph {
    let mut b = Builder::new("pools");
    let x = b.input("x", DType::F32, &[1, 2, 5, 5]);
    let mut w = window(&[3, 3], &[2, 2], &[1, 1, 1, 1]);
    w.ceil_mode = true;
    let avg_in = b.one(
        Op::AveragePool(AveragePoolAttrs {
            window: w.clone(),
            count_include_pad: true,
        }),
        &[x],
    );
    let avg_ex = b.one(
        Op::AveragePool(AveragePoolAttrs {
            window: w,
            count_include_pad: false,
        }),
        &[x],
    );
    let gap = b.one(Op::GlobalAveragePool, &[x]);
    let mp = Op::MaxPool(MaxPoolAttrs {
        window: window(&[2, 3], &[2, 2], &[1, 0, 1, 1]),
        storage_order: 0,
    });
    let m1 = b.node(mp, &[Some(x)], 2);
    let mut w = window(&[2, 2], &[2, 1], &[0, 1, 0, 1]);
    w.dilations = vec![2, 1];
    w.ceil_mode = true;
    let m2 = b.node(
        Op::MaxPool(MaxPoolAttrs {
            window: w,
            storage_order: 1,
        }),
        &[Some(x)],
        2,
    );
    let xi = b.input("xi", DType::I8, &[1, 1, 7]);
    let m3 = b.one(
        Op::MaxPool(MaxPoolAttrs {
            window: window(&[3], &[2], &[1, 1]),
            storage_order: 0,
        }),
        &[xi],
    );
    for v in [avg_in, avg_ex, gap, m1[0], m1[1], m2[0], m2[1], m3] {
        b.output(v);
    }
    b.g
}

fn convs() -> Graph {
    let mut b = Builder::new("convs");
    let x = b.input("x", DType::F32, &[1, 4, 6, 6]);
    let wd = b.weights("dw", &[4, 1, 3, 3], 1, 0.1);
    let mut w = window(&[], &[2, 2], &[2, 2, 2, 2]);
    w.dilations = vec![2, 2];
    let dw = b.one(
        Op::Conv(ConvAttrs {
            window: w,
            group: 4,
        }),
        &[x, wd],
    );
    let x1 = b.input("x1", DType::F32, &[2, 2, 9]);
    let w1 = b.weights("w1", &[3, 2, 3], 2, 0.1);
    let b1 = b.weights("b1", &[3], 3, 0.1);
    let mut w = window(&[3], &[2], &[1, 2]);
    w.dilations = vec![2];
    let c1 = b.one(
        Op::Conv(ConvAttrs {
            window: w,
            group: 1,
        }),
        &[x1, w1, b1],
    );
    let x3 = b.input("x3", DType::F32, &[1, 2, 4, 4, 4]);
    let w3 = b.weights("w3", &[2, 2, 2, 2, 2], 4, 0.1);
    let c3 = b.one(
        Op::Conv(ConvAttrs {
            window: window(&[], &[], &[1, 1, 1, 1, 1, 1]),
            group: 1,
        }),
        &[x3, w3],
    );
    let wg = b.weights("wg", &[6, 2, 3, 3], 5, 0.1);
    let mut w = window(&[], &[2, 2], &[]);
    w.auto_pad = kiln_ir::ops::AutoPad::SameUpper;
    let cg = b.one(
        Op::Conv(ConvAttrs {
            window: w,
            group: 2,
        }),
        &[x, wg],
    );
    // Blocks of four output channels plus a remainder, at stride 2 with uneven padding.
    let x7 = b.input("x7", DType::F32, &[1, 2, 7, 7]);
    let w7 = b.weights("w7", &[6, 2, 3, 3], 6, 0.1);
    let b7 = b.weights("b7", &[6], 7, 0.1);
    let c7 = b.one(
        Op::Conv(ConvAttrs {
            window: window(&[], &[2, 2], &[1, 0, 0, 1]),
            group: 1,
        }),
        &[x7, w7, b7],
    );
    // A pointwise conv: whole rows merge into one run.
    let wp = b.weights("wp", &[5, 4, 1, 1], 8, 0.1);
    let cp = b.one(
        Op::Conv(ConvAttrs {
            window: window(&[], &[], &[]),
            group: 1,
        }),
        &[x, wp],
    );
    for v in [dw, c1, c3, cg, c7, cp] {
        b.output(v);
    }
    b.g
}

fn floats() -> Graph {
    let mut b = Builder::new("floats");
    let x = b.input("x", DType::F32, &[3, 7]);
    let s = b.one(Op::Unary(UnaryOp::Sigmoid), &[x]);
    let t = b.one(Op::Unary(UnaryOp::Tanh), &[x]);
    let xd = b.input("xd", DType::F64, &[2, 3, 4]);
    let sd = b.one(Op::Unary(UnaryOp::Sigmoid), &[xd]);
    let td = b.one(Op::Unary(UnaryOp::Tanh), &[xd]);
    let sm = b.one(
        Op::Softmax(SoftmaxAttrs {
            axis: 1,
            coerce_2d: false,
        }),
        &[xd],
    );
    let sm2 = b.one(
        Op::Softmax(SoftmaxAttrs {
            axis: 1,
            coerce_2d: true,
        }),
        &[xd],
    );
    let stats: Vec<ValueId> = ["scale", "shift", "mean", "var"]
        .iter()
        .map(|n| b.input(n, DType::F64, &[3]))
        .collect();
    let bn = b.one(
        Op::BatchNormalization(BatchNormAttrs {
            epsilon: 1e-3,
            training_momentum: None,
        }),
        &[xd, stats[0], stats[1], stats[2], stats[3]],
    );
    let d = b.one(Op::Binary(BinaryOp::Div), &[xd, xd]);
    for v in [s, t, sd, td, sm, sm2, bn, d] {
        b.output(v);
    }
    b.g
}

fn constants() -> Graph {
    let mut b = Builder::new("constants");
    let p = b.constant("p", &[3], TensorData::F32(vec![1.5, f32::INFINITY, -0.0]));
    let q = b.constant("q", &[3], TensorData::F32(vec![0.25, 1.0, 0.0]));
    let s = b.one(Op::Binary(BinaryOp::Add), &[p, q]);
    b.output(s);
    b.output(q);
    b.g
}

/// Emits `g` under `plan` as a module (default options).
pub fn emit(
    g: &Graph,
    plan: &kiln_passes::MemoryPlan,
) -> Result<kiln_codegen::Generated, kiln_codegen::CodegenError> {
    let vg = kiln_ir::verify(g).unwrap();
    kiln_codegen::emit_rust(
        &vg,
        plan,
        kiln_codegen::EmitKind::Module,
        &kiln_codegen::RustOptions::default(),
    )
}

/// The body of the generated `run`.
pub fn run_body(out: &kiln_codegen::Generated) -> String {
    let text = &out.files[0].contents;
    let start = text.find("pub fn run(").unwrap();
    let end = text[start..].find("\n}\n").unwrap();
    text[start..start + end].to_string()
}
