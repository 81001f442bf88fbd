//! Bytes -> ModelProto: recognising other model formats, decoding within the size and
//! nesting limits, and the model's metadata ([`ModelInfo`]).

use crate::error::FrontendError;
use crate::onnx::ModelProto;
use prost::Message;
use std::collections::BTreeMap;

/// Model-level metadata, for messages and provenance headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelInfo {
    pub ir_version: i64,
    pub producer_name: String,
    pub producer_version: String,
    pub domain: String,
    pub model_version: i64,
    pub doc_string: String,
    pub graph_name: String,
    /// Imported opsets by domain; the default domain is spelled `ai.onnx`.
    pub opset_imports: BTreeMap<String, i64>,
    pub metadata: BTreeMap<String, String>,
    /// The external data files the model's tensors were read from (its folder joined with
    /// each `location`), sorted; empty until the model is loaded.
    pub external_data: Vec<std::path::PathBuf>,
}

impl ModelInfo {
    pub(crate) fn from_model(m: &ModelProto) -> Self {
        let mut opset_imports = BTreeMap::new();
        for o in &m.opset_import {
            // A malformed file may list a domain twice; the first entry is the one used.
            opset_imports
                .entry(domain_name(o.domain()).to_string())
                .or_insert(o.version());
        }
        ModelInfo {
            ir_version: m.ir_version(),
            producer_name: m.producer_name().to_string(),
            producer_version: m.producer_version().to_string(),
            domain: m.domain().to_string(),
            model_version: m.model_version(),
            doc_string: m.doc_string().to_string(),
            graph_name: m.graph.as_ref().map_or("", |g| g.name()).to_string(),
            opset_imports,
            metadata: m
                .metadata_props
                .iter()
                .map(|p| (p.key().to_string(), p.value().to_string()))
                .collect(),
            external_data: Vec::new(),
        }
    }

    /// The ai.onnx opset the model imports.
    pub fn default_opset(&self) -> Option<i64> {
        self.opset_imports.get("ai.onnx").copied()
    }
}

/// `ai.onnx` for the default domain (spelled "" or "ai.onnx"), else the domain itself.
pub(crate) fn domain_name(d: &str) -> &str {
    if d.is_empty() { "ai.onnx" } else { d }
}

/// Recognises files that are models in other formats, for a better message than a
/// protobuf decode error.
fn sniff(bytes: &[u8]) -> Result<(), FrontendError> {
    let not = |format, hint| Err(FrontendError::NotOnnx { format, hint });
    if bytes.get(4..8) == Some(b"TFL3") {
        return not(
            "a TensorFlow Lite flatbuffer",
            "e.g. python -m tf2onnx.convert --tflite model.tflite --output model.onnx",
        );
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return not(
            "a zip archive (PyTorch .pt/.pth checkpoints and Keras .keras files are zip archives)",
            "for PyTorch: torch.onnx.export(model, example_input, \"model.onnx\")",
        );
    }
    if bytes.starts_with(b"\x89HDF\r\n\x1a\n") {
        return not(
            "an HDF5 file (a Keras .h5 model?)",
            "e.g. with tf2onnx: python -m tf2onnx.convert --keras model.h5 --output model.onnx",
        );
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return not(
            "a gzip-compressed file",
            "if it is a compressed ONNX model, decompress it first",
        );
    }
    if let [0x80, 2..=5, ..] = bytes {
        return not(
            "a Python pickle (a legacy PyTorch .pt/.pth file?)",
            "for PyTorch: torch.onnx.export(model, example_input, \"model.onnx\")",
        );
    }
    if bytes.starts_with(b"ir_version") {
        return not(
            "an ONNX model in protobuf text format",
            "save it in the binary format: onnx.save(model, \"model.onnx\")",
        );
    }
    Ok(())
}

/// Sniffs and decodes the bytes of a model.
pub(crate) fn decode_model(bytes: &[u8], max_bytes: u64) -> Result<ModelProto, FrontendError> {
    if bytes.len() as u64 > max_bytes {
        return Err(FrontendError::FileTooLarge {
            what: "the model".into(),
            size: bytes.len() as u64,
            limit: max_bytes,
            names: Default::default(),
        });
    }
    if bytes.is_empty() {
        return Err(FrontendError::Decode("the file is empty".into()));
    }
    sniff(bytes)?;
    let model = ModelProto::decode(bytes).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            FrontendError::Limit(format!(
                "the model nests messages more than {} levels deep (subgraphs inside \
                 subgraphs, or types inside types); kiln's protobuf decoder refuses this to \
                 protect its stack, and no real model nests that deep",
                crate::limits::DECODER_RECURSION_LIMIT
            ))
        } else {
            FrontendError::Decode(format!(
                "{e}; the file is truncated, corrupt or not an ONNX model"
            ))
        }
    })?;
    if model.graph.is_none() {
        return Err(FrontendError::Decode(
            "the data decodes as protobuf but holds no graph; the file is truncated, corrupt or \
             not an ONNX model"
                .into(),
        ));
    }
    Ok(model)
}
