//! Runs the kiln-generated ResNet-8 on one CIFAR-10-sized input and prints the top class.
//! The model module itself is `no_std` and allocation-free; only this demo uses std.

#[forbid(unsafe_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

/// The arena lives in static memory on a device; here a `static` would need a lock, so the
/// demo boxes it. `Arena::new()` is `const`, so a firmware crate can put it in a `static`.
fn main() {
    let raw = include_bytes!(concat!(env!("OUT_DIR"), "/input_0.bin"));
    let mut input = [0f32; 3 * 32 * 32];
    for (x, b) in input.iter_mut().zip(raw.chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let mut arena = Box::new(model::Arena::new());
    let mut probs = [0f32; 10];
    model::run(
        &model::Inputs { input_1: &input },
        &mut model::Outputs { identity: &mut probs },
        &mut arena,
    );
    let (top, p) = probs
        .iter()
        .enumerate()
        .fold((0, f32::MIN), |best, (i, &p)| if p > best.1 { (i, p) } else { best });
    const CLASSES: [&str; 10] =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
    println!("arena: {} bytes", model::ARENA_BYTES);
    println!("top class: {top} ({}) with probability {p:.4}", CLASSES[top]);
}
