//! Weight statics read back bit for bit in generated code, whichever way the printer spells
//! them: array literals (small tensors), `u128` words unpacked by a `const fn` (from 1024
//! elements), and words unpacked in parts of 65536 elements then joined (larger ones).
//! Each model's output is one of its constants, so the generated code copies the static
//! into the output and the expectation is the constant itself: every element type, with
//! NaN payloads (quiet, signalling, negative), -0.0, infinities, subnormals, integer
//! extremes and pseudo-random bit patterns.

mod common;

use kiln::codegen::EmitKind;
use kiln::harness::{self, Case, Profile};
use kiln::ir::builder::Builder;
use kiln::ir::{Graph, Tensor, TensorData};

/// Pseudo-random 64-bit patterns (SplitMix64), so every bit of every lane varies.
fn patterns(n: usize, seed: u64) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .collect()
}

fn f32_data(n: usize, seed: u64) -> TensorData {
    let edges = [
        0x7fc0_0000u32, // the canonical quiet NaN
        0x7fc0_0001,    // a quiet NaN with a payload
        0x7f80_0001,    // a signalling NaN
        0xffc0_0000,    // a negative NaN
        0x7f80_0000,    // +inf
        0xff80_0000,    // -inf
        0x8000_0000,    // -0.0
        0x0000_0001,    // the smallest subnormal
        0x007f_ffff,    // the largest subnormal
        0x0080_0000,    // the smallest normal
        0x7f7f_ffff,    // the largest finite
        0xff7f_ffff,    // the lowest finite
    ];
    let mut v: Vec<f32> = edges.iter().map(|&b| f32::from_bits(b)).collect();
    v.extend(patterns(n, seed).iter().map(|&p| f32::from_bits(p as u32)));
    v.truncate(n);
    TensorData::F32(v)
}

fn f64_data(n: usize, seed: u64) -> TensorData {
    let edges = [
        0x7ff8_0000_0000_0000u64,
        0x7ff8_0000_0000_0001,
        0x7ff0_0000_0000_0001,
        0xfff8_0000_0000_0000,
        0x7ff0_0000_0000_0000,
        0xfff0_0000_0000_0000,
        0x8000_0000_0000_0000,
        0x0000_0000_0000_0001,
        0x7fef_ffff_ffff_ffff,
    ];
    let mut v: Vec<f64> = edges.iter().map(|&b| f64::from_bits(b)).collect();
    v.extend(patterns(n, seed).iter().map(|&p| f64::from_bits(p)));
    v.truncate(n);
    TensorData::F64(v)
}

/// `n` elements of `dtype`'s data: the type's extremes, -1 and 0, then random patterns.
fn int_data(name: &str, n: usize, seed: u64) -> TensorData {
    let p = patterns(n, seed);
    let take = |edges: Vec<u64>| -> Vec<u64> {
        let mut v = edges;
        v.extend(&p);
        v.truncate(n);
        v
    };
    match name {
        "i8" => TensorData::I8(
            take(vec![0x80, 0x7f, 0xff, 0])
                .iter()
                .map(|&x| x as i8)
                .collect(),
        ),
        "u8" => TensorData::U8(take(vec![0, 0xff]).iter().map(|&x| x as u8).collect()),
        "i16" => TensorData::I16(
            take(vec![0x8000, 0x7fff, 0xffff, 0])
                .iter()
                .map(|&x| x as i16)
                .collect(),
        ),
        "u16" => TensorData::U16(take(vec![0, 0xffff]).iter().map(|&x| x as u16).collect()),
        // f16 and bf16 are their bits: NaN with a payload, -0.0, infinity, a subnormal.
        "f16" => TensorData::F16(
            take(vec![0x7e01, 0x8000, 0x7c00, 0x0001])
                .iter()
                .map(|&x| x as u16)
                .collect(),
        ),
        "bf16" => TensorData::BF16(
            take(vec![0x7fc1, 0x8000, 0xff80, 0x0001])
                .iter()
                .map(|&x| x as u16)
                .collect(),
        ),
        "i32" => TensorData::I32(
            take(vec![0x8000_0000, 0x7fff_ffff, 0xffff_ffff, 0])
                .iter()
                .map(|&x| x as i32)
                .collect(),
        ),
        "u32" => TensorData::U32(
            take(vec![0, 0xffff_ffff])
                .iter()
                .map(|&x| x as u32)
                .collect(),
        ),
        "i64" => TensorData::I64(
            take(vec![1 << 63, (1 << 63) - 1, u64::MAX, 0])
                .iter()
                .map(|&x| x as i64)
                .collect(),
        ),
        "u64" => TensorData::U64(take(vec![0, u64::MAX])),
        "bool" => TensorData::Bool(take(vec![1, 0]).iter().map(|&x| x & 1 == 1).collect()),
        other => panic!("no data for {other}"),
    }
}

/// A model whose one output is the constant `data`.
fn constant_model(name: &str, data: TensorData) -> (Graph, Tensor) {
    let n = data.len();
    let t = Tensor::new(vec![n], data.clone()).expect("shape");
    let mut b = Builder::new(name);
    let c = b.constant("w", &[n], data);
    b.output(c);
    (b.g, t)
}

/// The element patterns of a tensor, so NaNs compare by their bits.
fn bits(t: &Tensor) -> Vec<u64> {
    match &t.data {
        TensorData::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        TensorData::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        TensorData::I8(v) => v.iter().map(|&x| x as u64).collect(),
        TensorData::I16(v) => v.iter().map(|&x| x as u64).collect(),
        TensorData::I32(v) => v.iter().map(|&x| x as u64).collect(),
        TensorData::I64(v) => v.iter().map(|&x| x as u64).collect(),
        TensorData::U8(v) => v.iter().map(|&x| u64::from(x)).collect(),
        TensorData::U16(v) | TensorData::F16(v) | TensorData::BF16(v) => {
            v.iter().map(|&x| u64::from(x)).collect()
        }
        TensorData::U32(v) => v.iter().map(|&x| u64::from(x)).collect(),
        TensorData::U64(v) => v.clone(),
        TensorData::Bool(v) => v.iter().map(|&x| u64::from(x)).collect(),
    }
}

#[test]
fn statics_read_back_bit_for_bit() {
    // (name, data, how the static must be spelled)
    let mut cases: Vec<(String, TensorData, &str)> = vec![
        ("f32_literal".into(), f32_data(40, 1), "literal"),
        // Not a multiple of 16: the last elements are unpacked one by one.
        ("f32_packed".into(), f32_data(1024 + 13, 2), "packed"),
        // Past one part of 65536 elements, and not a multiple of 16 either.
        (
            "f32_parts".into(),
            f32_data(65536 * 2 + 1000 + 5, 3),
            "parts",
        ),
        ("f64_packed".into(), f64_data(1024 + 3, 4), "packed"),
        ("f64_parts".into(), f64_data(65536 + 7, 5), "parts"),
        ("u8_parts".into(), int_data("u8", 65536 + 17, 6), "parts"),
    ];
    for (i, t) in [
        "i8", "u8", "i16", "u16", "f16", "bf16", "i32", "u32", "i64", "u64", "bool",
    ]
    .iter()
    .enumerate()
    {
        cases.push((
            format!("{t}_packed"),
            int_data(t, 1024 + 15, 10 + i as u64),
            "packed",
        ));
        cases.push((
            format!("{t}_literal"),
            int_data(t, 20, 30 + i as u64),
            "literal",
        ));
    }
    let models: Vec<(Graph, Tensor)> = cases
        .iter()
        .map(|(name, data, _)| constant_model(name, data.clone()))
        .collect();
    let compiled: Vec<_> = models
        .iter()
        .zip(&cases)
        .map(|((g, _), (name, _, _))| {
            kiln::compile_graph(
                g.clone(),
                name,
                String::new(),
                EmitKind::Module,
                &kiln::CompileOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"))
        })
        .collect();
    // The test covers each spelling it claims to.
    for (c, (name, data, how)) in compiled.iter().zip(&cases) {
        let text = &c.generated.files[0].contents;
        let unpack = format!(
            "unpack_{}(&[",
            match data {
                TensorData::F16(_) | TensorData::BF16(_) => "u16".to_string(),
                d => d.dtype().name().to_string(),
            }
        );
        let (packed, parts) = (text.contains(&unpack), text.contains("join(&[&P0, &P1"));
        let want = match *how {
            "literal" => (false, false),
            "packed" => (true, false),
            _ => (true, true),
        };
        assert_eq!((packed, parts), want, "{name} is not spelled {how}");
    }
    let runner = harness::build_runner(
        &compiled
            .iter()
            .map(|c| Case {
                generated: &c.generated,
            })
            .collect::<Vec<_>>(),
        &common::repo().join("target").join("kiln-weights"),
        &common::gen_target(),
        Profile::Fast,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (i, ((_, want), (name, _, _))) in models.iter().zip(&cases).enumerate() {
        let got = runner.run(i, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.len(), 1, "{name}");
        assert_eq!(got[0].dtype(), want.dtype(), "{name}");
        let (g, w) = (bits(&got[0]), bits(want));
        let first_bad = g.iter().zip(&w).position(|(a, b)| a != b);
        assert_eq!(
            first_bad,
            None,
            "{name}: element {first_bad:?} differs ({} elements)",
            w.len()
        );
        assert_eq!(g.len(), w.len(), "{name}");
    }
}
