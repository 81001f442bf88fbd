//! Small random models over every supported op, with random shapes and attribute values
//! (including out-of-range ones): loading may fail, but must never panic.

use super::*;
use crate::SUPPORTED_OPS;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn int(&mut self) -> i64 {
        match self.below(10) {
            0 => i64::MAX,
            1 => i64::MIN,
            2 => -(self.below(4) as i64),
            _ => self.below(5) as i64,
        }
    }
    fn ints(&mut self) -> Vec<i64> {
        (0..self.below(6)).map(|_| self.int()).collect()
    }
}

fn random_model(r: &mut Rng) -> ModelBuilder {
    let op = SUPPORTED_OPS[r.below(SUPPORTED_OPS.len() as u64) as usize];
    let opset = [1, 4, 6, 7, 9, 11, 13, 18, 23][r.below(9) as usize];
    let mut m = model(opset);
    let n_inputs = r.below(6) as usize;
    let mut names = Vec::new();
    for i in 0..n_inputs {
        let rank = r.below(5);
        let shape: Vec<i64> = (0..rank).map(|_| r.below(5) as i64).collect();
        let name = format!("in{i}");
        if r.below(3) == 0 {
            // A constant operand, e.g. Reshape's shape or Clip's bounds.
            let n: i64 = shape.iter().product();
            if r.below(2) == 0 {
                m = m.init(f32_tensor(&name, &shape, &vec![1.0; n as usize]));
            } else {
                let mut t = f32_tensor(&name, &shape, &[]);
                t.raw_data = None;
                t.data_type = Some(crate::onnx::tensor_proto::DataType::Int64 as i32);
                t.int64_data = (0..n).map(|_| r.int().clamp(-2, 6)).collect();
                m = m.init(t);
            }
        } else {
            m = m.input(f32_input(&name, &shape));
        }
        names.push(if r.below(8) == 0 { String::new() } else { name });
    }
    let mut attrs = Vec::new();
    for name in [
        "pads",
        "strides",
        "dilations",
        "kernel_shape",
        "perm",
        "shape",
        "value_ints",
    ] {
        if r.below(3) == 0 {
            attrs.push(a_ints(name, &r.ints()));
        }
    }
    for name in [
        "axis",
        "group",
        "transA",
        "transB",
        "allowzero",
        "ceil_mode",
        "storage_order",
        "broadcast",
        "training_mode",
        "value_int",
    ] {
        if r.below(4) == 0 {
            attrs.push(a_int(name, r.int()));
        }
    }
    if r.below(4) == 0 {
        let pads = ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "bogus"];
        attrs.push(a_str("auto_pad", pads[r.below(5) as usize]));
    }
    if r.below(6) == 0 {
        attrs.push(a_float("min", -1.0));
    }
    let outs: Vec<String> = (0..1 + r.below(2)).map(|i| format!("out{i}")).collect();
    let ins: Vec<&str> = names.iter().map(String::as_str).collect();
    let out_refs: Vec<&str> = outs.iter().map(String::as_str).collect();
    m.node(node(op, &ins, &out_refs, attrs)).output("out0")
}

#[test]
fn random_small_models_never_panic() {
    // KILN_FUZZ_ITERS runs a longer search locally.
    let iters = std::env::var("KILN_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut loaded = 0;
    for _ in 0..iters {
        let m = random_model(&mut r);
        let bytes = m.bytes();
        let result = std::panic::catch_unwind(|| {
            load_model_bytes(&bytes, None, &LoadOptions::default())
                .map(|g| kiln_ir::verify(&g).is_ok())
        });
        match result {
            Ok(Ok(true)) => loaded += 1,
            Ok(Ok(false)) => panic!("a loaded graph does not verify:\n{:#?}", m.proto()),
            Ok(Err(_)) => {}
            Err(_) => panic!("loading panicked on:\n{:#?}", m.proto()),
        }
    }
    // The generator should also reach the success path, not only errors.
    assert!(
        loaded > iters / 100,
        "only {loaded} of {iters} random models loaded"
    );
    eprintln!("{loaded} of {iters} random models loaded");
}
