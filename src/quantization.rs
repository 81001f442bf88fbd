//! The accuracy of kiln's post-training quantization (`kiln quantize`): per output, how
//! close the int8 model comes to the float model on a data set; per layer, the error it
//! adds alone, so a user sees which layer hurts.

use crate::{CompileOptions, Error};
use kiln_ir::{Graph, Tensor, TensorData};
use kiln_passes::ptq::PtqReport;
use std::fmt::Write;
use std::path::Path;

/// One line on what quantization did, for `kiln compile`.
pub fn summary(r: &PtqReport) -> String {
    let float: Vec<String> = r
        .layers
        .iter()
        .filter(|l| l.float)
        .map(|l| format!("{} {:?} ({:.3})", l.op, l.name, l.error))
        .collect();
    let worst = r
        .layers
        .iter()
        .filter(|l| !l.float)
        .max_by(|a, b| a.error.total_cmp(&b.error));
    let mut s = format!(
        "quantized {} of {} layers to int8 on {} calibration sample{}",
        r.layers.len() - float.len(),
        r.layers.len(),
        r.samples,
        if r.samples == 1 { "" } else { "s" }
    );
    if let Some(w) = worst {
        let _ = write!(
            s,
            "; largest layer error {:.3} ({} {:?})",
            w.error, w.op, w.name
        );
    }
    if !float.is_empty() {
        let _ = write!(
            s,
            "; left float (error above the threshold): {}",
            float.join(", ")
        );
    }
    s
}

/// How one output of the quantized model compares with the float model's.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputAccuracy {
    pub name: String,
    /// Cosine similarity over all samples' elements.
    pub cosine: f64,
    pub max_abs: f64,
    /// The largest magnitude of the float output, to read `max_abs` against.
    pub float_max_abs: f64,
    /// Rows (along the last axis, of outputs with more than one element there) whose
    /// arg-max agrees, and rows in all.
    pub top1: Option<(usize, usize)>,
}

/// [`accuracy`]'s result.
#[derive(Clone, Debug)]
pub struct Accuracy {
    pub quantization: PtqReport,
    pub samples: usize,
    pub outputs: Vec<OutputAccuracy>,
}

/// Quantizes `graph` (an imported float graph) as `opts.quantize` asks, runs the float
/// and the quantized graph (optimised: the integer ops as compiled) through the reference
/// semantics on the samples in `data`, and compares their outputs.
pub fn accuracy(graph: Graph, opts: &CompileOptions, data: &Path) -> Result<Accuracy, Error> {
    kiln_ir::verify(&graph).map_err(Error::Verify)?;
    let samples = crate::read_samples(data, &graph)?;
    let mut quantized = graph.clone();
    let quantization = crate::quantize_graph(&mut quantized, opts)?
        .ok_or_else(|| Error::Usage("kiln quantize needs --calibration DIR".into()))?;
    let optimized = kiln_passes::compile::optimize(quantized, &opts.passes_options())?;
    let q = optimized.graph.graph();
    let mut sums: Vec<Sums> = vec![Sums::default(); graph.outputs.len()];
    for (k, s) in samples.iter().enumerate() {
        let run = |g: &Graph| {
            kiln_ir::eval::run(g, s).map_err(|e| Error::Quantize(format!("data sample {k}: {e}")))
        };
        let (want, got) = (run(&graph)?, run(q)?);
        for ((sum, w), g) in sums.iter_mut().zip(&want).zip(&got) {
            sum.add(w, g);
        }
    }
    let outputs = graph
        .outputs
        .iter()
        .zip(sums)
        .map(|(&v, s)| s.finish(graph.value(v).name.clone()))
        .collect();
    Ok(Accuracy {
        quantization,
        samples: samples.len(),
        outputs,
    })
}

#[derive(Clone, Debug, Default)]
struct Sums {
    dot: f64,
    ww: f64,
    gg: f64,
    max_abs: f64,
    float_max_abs: f64,
    top1: Option<(usize, usize)>,
}

fn as_f64(t: &Tensor) -> Vec<f64> {
    match &t.data {
        TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        d => d.to_f64_vec(),
    }
}

impl Sums {
    fn add(&mut self, want: &Tensor, got: &Tensor) {
        let (w, g) = (as_f64(want), as_f64(got));
        for (a, b) in w.iter().zip(&g) {
            self.dot += a * b;
            self.ww += a * a;
            self.gg += b * b;
            self.max_abs = self.max_abs.max((a - b).abs());
            self.float_max_abs = self.float_max_abs.max(a.abs());
        }
        let row = want.shape.last().copied().unwrap_or(1);
        if row > 1 && w.len() == g.len() {
            let argmax = |r: &[f64]| {
                r.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(i, _)| i)
            };
            let (agree, total) = self.top1.get_or_insert((0, 0));
            for (a, b) in w.chunks(row).zip(g.chunks(row)) {
                *agree += usize::from(argmax(a) == argmax(b));
                *total += 1;
            }
        }
    }

    fn finish(self, name: String) -> OutputAccuracy {
        let cosine = if self.ww == 0.0 && self.gg == 0.0 {
            1.0
        } else {
            self.dot / (self.ww.sqrt() * self.gg.sqrt()).max(f64::MIN_POSITIVE)
        };
        OutputAccuracy {
            name,
            cosine,
            max_abs: self.max_abs,
            float_max_abs: self.float_max_abs,
            top1: self.top1,
        }
    }
}

/// The report as text: the outputs, then every layer by the error it adds.
pub fn accuracy_text(a: &Accuracy, threshold: Option<f64>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "int8 against float, reference semantics, {} data sample{}:",
        a.samples,
        if a.samples == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "  {:<24} {:>10} {:>10} {:>10} {:>12}",
        "output", "cosine", "max |d|", "max |f|", "top-1"
    );
    for o in &a.outputs {
        let top1 = o.top1.map_or("-".to_string(), |(k, n)| format!("{k}/{n}"));
        let _ = writeln!(
            s,
            "  {:<24} {:>10.8} {:>10.4} {:>10.4} {:>12}",
            o.name, o.cosine, o.max_abs, o.float_max_abs, top1
        );
    }
    let r = &a.quantization;
    let _ = writeln!(
        s,
        "\nlayers by the error each adds alone (relative RMS of its quantized output against \
         float, on the {} calibration sample{}; float threshold {}):",
        r.samples,
        if r.samples == 1 { "" } else { "s" },
        threshold.map_or("off".into(), |t| t.to_string())
    );
    let mut layers: Vec<_> = r.layers.iter().collect();
    layers.sort_by(|a, b| b.error.total_cmp(&a.error));
    let _ = writeln!(s, "  {:>8}  {:<8} {:<20} name", "error", "", "op");
    for l in layers {
        let _ = writeln!(
            s,
            "  {:>8.4}  {:<8} {:<20} {}",
            l.error,
            if l.float { "float" } else { "int8" },
            l.op,
            l.name
        );
    }
    let _ = writeln!(
        s,
        "\n{} activations quantized; {} Relu/Clip folded into the quantization before them",
        r.activations, r.absorbed
    );
    s
}
