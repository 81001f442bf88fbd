//! Runs the kiln-generated ResNet-8 on one CIFAR-10-sized input and prints the top class.
//! The model module itself is `no_std` and allocation-free; only this demo uses std.

#[forbid(unsafe_code)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

/// The arena (`model::ARENA_BYTES`: 192 KiB of activations, plus on a host the scratch of
/// its fast convolutions; the build prints it) lives in a zero-initialised static, not on the
/// stack: `Arena::new()` is `const`. With std a lock makes it safe to share; on no_std
/// firmware `static_cell::ConstStaticCell` hands it out once as `&'static mut`.
static ARENA: std::sync::Mutex<model::Arena> = std::sync::Mutex::new(model::Arena::new());

fn main() {
    let raw = include_bytes!(concat!(env!("OUT_DIR"), "/input_0.bin"));
    let mut input = [0f32; model::INPUT_1_ELEMENTS];
    for (x, b) in input.iter_mut().zip(raw.chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let mut probs = [0f32; model::IDENTITY_ELEMENTS];
    model::run(
        &model::Inputs { input_1: &input },
        &mut model::Outputs {
            identity: &mut probs,
        },
        &mut ARENA.lock().unwrap(),
    );
    let (top, p) =
        probs.iter().enumerate().fold(
            (0, f32::MIN),
            |best, (i, &p)| if p > best.1 { (i, p) } else { best },
        );
    const CLASSES: [&str; 10] = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ];
    println!(
        "{} ({} MACs), sha256 {}",
        model::MODEL_FILE,
        model::MACS,
        model::MODEL_SHA256
    );
    println!("arena: {} bytes", model::ARENA_BYTES);
    println!(
        "top class: {top} ({}) with probability {p:.4}",
        CLASSES[top]
    );
}
