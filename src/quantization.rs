//! kiln's post-training quantization from the facade: reading calibration samples,
//! running the pass ([`kiln_passes::ptq`]) when the options ask for it, and the accuracy
//! report of `kiln quantize` (per output, how close the int8 model comes to the float
//! model on a data set; per layer, the error it adds alone, so a user sees which layer
//! hurts).

use crate::{CompileOptions, Error};
use kiln_ir::{Graph, Tensor, TensorData};
use kiln_passes::ptq::PtqReport;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Runs post-training quantization on an imported float graph when `opts` asks for it
/// (the step [`crate::compile_graph`] takes before [`crate::plan`]); `None` when it does not.
pub fn quantize_graph(
    graph: &mut Graph,
    opts: &CompileOptions,
) -> Result<Option<kiln_passes::ptq::PtqReport>, Error> {
    let Some(q) = &opts.quantize else {
        return Ok(None);
    };
    // Calibration runs the graph, so it must be valid first (as the passes need).
    kiln_ir::verify(graph).map_err(Error::Verify)?;
    let samples = read_samples(&q.calibration, graph)?;
    kiln_passes::ptq::quantize(graph, &samples, &q.options)
        .map(Some)
        .map_err(Error::Quantize)
}

/// Reads calibration samples for `graph` from `dir`, which is one of:
/// - a directory of sample directories (`test_data_set_0`, `test_data_set_1`... in name
///   order), each as below;
/// - one sample: `input_<i>.pb` (TensorProto, as in ONNX test data) or `input_<i>.npy`
///   files, or `<input name>.npy` / `<input name>.pb` files;
/// - for a model with one input, `.npy` files, one sample each.
///
/// Tensors are matched to the graph's run-time inputs by name when every input's name is
/// found, else by position. Each must have the input's type and shape.
pub fn read_samples(dir: &Path, graph: &Graph) -> Result<Vec<Vec<Tensor>>, Error> {
    let err = |m: String| Error::Quantize(format!("{}: {m}", dir.display()));
    let is_npy = |p: &Path| p.extension().is_some_and(|x| x == "npy");
    let (files, dirs) = sample_files(dir)?;
    let mut samples = Vec::new();
    let inputs_here = files.iter().any(|p| {
        p.file_stem()
            .is_some_and(|s| s.to_string_lossy().starts_with("input_"))
    });
    if inputs_here || graph.inputs.len() > 1 && !files.is_empty() {
        samples.push(read_sample(dir, files, graph)?);
    } else if !dirs.is_empty() {
        for d in &dirs {
            let (files, _) = sample_files(d)?;
            if !files.is_empty() {
                samples.push(read_sample(d, files, graph)?);
            }
        }
    } else if graph.inputs.len() == 1 {
        for p in files.iter().filter(|p| is_npy(p)) {
            let t = crate::npy::read_npy(p).map_err(Error::Quantize)?;
            samples.push(vec![check_input(graph, 0, t, p)?]);
        }
    }
    if samples.is_empty() {
        return Err(err(
            "no calibration samples: expected test_data_set_*/ directories of input_<i>.pb \
             files, input_<i>.pb or .npy files, or (for a one-input model) one .npy file per \
             sample"
                .into(),
        ));
    }
    Ok(samples)
}

/// The tensor files (`.pb`, `.npy`) and the subdirectories of `d`, each in name order.
fn sample_files(d: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(d)
        .map_err(|e| Error::io(d, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    all.sort();
    let (dirs, rest): (Vec<PathBuf>, Vec<PathBuf>) = all.into_iter().partition(|p| p.is_dir());
    let files = rest
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "pb" || x == "npy"))
        .collect();
    Ok((files, dirs))
}

/// One sample: the tensor `files` of directory `d` (expected outputs beside them are
/// skipped), matched to the graph's inputs.
fn read_sample(d: &Path, files: Vec<PathBuf>, graph: &Graph) -> Result<Vec<Tensor>, Error> {
    let mut files: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| {
            let stem = p.file_stem().unwrap_or_default().to_string_lossy();
            (stem.into_owned(), p)
        })
        .filter(|(stem, _)| !stem.starts_with("output_"))
        .collect();
    // input_<i> by number, not by text (input_10 after input_9).
    files.sort_by_key(|(stem, _)| {
        let n = stem
            .strip_prefix("input_")
            .and_then(|n| n.parse::<usize>().ok());
        (n.is_none(), n, stem.clone())
    });
    let mut tensors = Vec::new();
    for (stem, p) in &files {
        let (name, t) = if p.extension().is_some_and(|x| x == "npy") {
            (
                stem.clone(),
                crate::npy::read_npy(p).map_err(Error::Quantize)?,
            )
        } else {
            let (name, t) = kiln_frontend::read_tensor_pb(p).map_err(|e| Error::File {
                path: p.clone(),
                source: Box::new(e),
            })?;
            (if name.is_empty() { stem.clone() } else { name }, t)
        };
        tensors.push((name, t, p.clone()));
    }
    let names: Vec<&str> = graph
        .inputs
        .iter()
        .map(|&v| graph.value(v).name.as_str())
        .collect();
    let by_name = names
        .iter()
        .all(|n| tensors.iter().any(|(tn, _, _)| tn == n));
    let mut sample = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let found = if by_name {
            tensors.iter().find(|(tn, _, _)| tn == name)
        } else if tensors.len() >= names.len() {
            // Test data lists bound inputs too; positional matching skips none, so it is
            // only right when the counts agree.
            (tensors.len() == names.len()).then(|| &tensors[k])
        } else {
            None
        };
        let Some((_, t, p)) = found else {
            return Err(Error::Quantize(format!(
                "{}: no tensor for input {name:?} (found {} tensor files; name them \
                 input_<i> in input order or after the inputs)",
                d.display(),
                tensors.len()
            )));
        };
        sample.push(check_input(graph, k, t.clone(), p)?);
    }
    Ok(sample)
}

fn check_input(graph: &Graph, k: usize, t: Tensor, from: &Path) -> Result<Tensor, Error> {
    let v = graph.value(graph.inputs[k]);
    if t.ty() != v.ty {
        return Err(Error::Quantize(format!(
            "{}: input {:?} must be {}, the file holds {}",
            from.display(),
            v.name,
            v.ty,
            t.ty()
        )));
    }
    Ok(t)
}

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
    let samples = read_samples(data, &graph)?;
    let mut quantized = graph.clone();
    let quantization = quantize_graph(&mut quantized, opts)?
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
