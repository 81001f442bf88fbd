//! Loads an ONNX model and prints kiln's IR, or the error a user would see.
//! Usage: cargo run -p kiln-frontend --example dump -- MODEL.onnx [NAME=1x3x32x32 ...]

use kiln_frontend::{LoadOptions, load_model_with_info};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: dump MODEL.onnx [NAME=DIMxDIM... ...]");
        return ExitCode::FAILURE;
    };
    let mut opts = LoadOptions::default();
    for a in args {
        let parsed = a.split_once('=').and_then(|(name, dims)| {
            let dims: Option<Vec<usize>> = dims.split('x').map(|d| d.parse().ok()).collect();
            Some((name.to_string(), dims?))
        });
        match parsed {
            Some((name, dims)) => {
                opts.input_shapes.insert(name, dims);
            }
            None => {
                eprintln!("bad input shape {a:?}; expected NAME=1x3x32x32");
                return ExitCode::FAILURE;
            }
        }
    }
    match load_model_with_info(&path, &opts) {
        Ok((g, info)) => {
            println!("{info:?}");
            print!("{}", g.dump());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
