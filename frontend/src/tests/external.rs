//! External tensor data: resolved next to the model, never outside its folder.

use super::*;
use crate::onnx::{StringStringEntryProto, tensor_proto::DataLocation, tensor_proto::DataType};
use kiln_ir::TensorData;
use std::path::Path;

fn external(location: &str, offset: Option<u64>, length: Option<u64>) -> TensorProto {
    let mut entries = vec![("location", location.to_string())];
    if let Some(o) = offset {
        entries.push(("offset", o.to_string()));
    }
    if let Some(l) = length {
        entries.push(("length", l.to_string()));
    }
    TensorProto {
        name: Some("w".into()),
        dims: vec![4],
        data_type: Some(DataType::Float as i32),
        data_location: Some(DataLocation::External as i32),
        external_data: entries
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v),
            })
            .collect(),
        ..Default::default()
    }
}

fn with_weights(t: TensorProto) -> ModelBuilder {
    model(13)
        .input(f32_input("x", &[4]))
        .init(t)
        .node(node("Add", &["x", "w"], &["y"], vec![]))
        .output("y")
}

const VALUES: [f32; 4] = [1.0, 2.0, 3.0, 4.0];

/// A temporary folder tree: `root/model/` holds the model and its data, `root/secret.bin`
/// lies outside it.
struct Tree {
    _root: tempfile::TempDir,
    model_dir: std::path::PathBuf,
    root: std::path::PathBuf,
}

fn tree() -> Tree {
    let root = tempfile::tempdir().unwrap();
    let model_dir = root.path().join("model");
    std::fs::create_dir_all(model_dir.join("data")).unwrap();
    let mut blob = vec![0xAAu8; 8];
    blob.extend(VALUES.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(model_dir.join("weights.bin"), &blob).unwrap();
    std::fs::write(model_dir.join("data").join("w.bin"), &blob[8..]).unwrap();
    std::fs::write(root.path().join("secret.bin"), &blob[8..]).unwrap();
    Tree {
        root: root.path().to_path_buf(),
        model_dir,
        _root: root,
    }
}

fn load_in(dir: &Path, t: TensorProto) -> Result<kiln_ir::Graph, FrontendError> {
    let path = dir.join("model.onnx");
    std::fs::write(&path, with_weights(t).bytes()).unwrap();
    crate::load_model(&path, &LoadOptions::default())
}

fn weights(g: &kiln_ir::Graph) -> TensorData {
    value_named(g, "w").const_tensor().unwrap().data.clone()
}

#[test]
fn external_data_inside_the_model_folder_loads() {
    let t = tree();
    let g = load_in(&t.model_dir, external("weights.bin", Some(8), Some(16))).unwrap();
    assert_eq!(weights(&g), TensorData::F32(VALUES.to_vec()));
    let g = load_in(&t.model_dir, external("data/w.bin", None, None)).unwrap();
    assert_eq!(weights(&g), TensorData::F32(VALUES.to_vec()));
    // From memory, with the folder given explicitly.
    let bytes = with_weights(external("weights.bin", Some(8), None)).bytes();
    let g = load_model_bytes(&bytes, Some(&t.model_dir), &LoadOptions::default()).unwrap();
    assert_eq!(weights(&g), TensorData::F32(VALUES.to_vec()));
}

fn refused(r: Result<kiln_ir::Graph, FrontendError>, parts: &[&str]) {
    match r {
        Err(e @ FrontendError::ExternalData { .. }) => {
            let msg = e.to_string();
            assert_contains(&msg, &["initializer \"w\"", "external file"]);
            assert_contains(&msg, parts);
        }
        Err(e) => panic!("expected an external-data error, got {e:?}"),
        Ok(_) => panic!("expected an external-data error, the model loaded"),
    }
}

#[test]
fn parent_components_are_refused() {
    let t = tree();
    refused(
        load_in(&t.model_dir, external("../secret.bin", None, None)),
        &["\"..\""],
    );
    refused(
        load_in(&t.model_dir, external("data/../../secret.bin", None, None)),
        &["\"..\""],
    );
}

#[test]
fn absolute_paths_are_refused() {
    let t = tree();
    let abs = t.root.join("secret.bin");
    refused(
        load_in(&t.model_dir, external(abs.to_str().unwrap(), None, None)),
        &["absolute path"],
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_folder_are_refused() {
    let t = tree();
    std::os::unix::fs::symlink(t.root.join("secret.bin"), t.model_dir.join("link.bin")).unwrap();
    refused(
        load_in(&t.model_dir, external("link.bin", None, None)),
        &["outside the model's folder"],
    );
    std::os::unix::fs::symlink(&t.root, t.model_dir.join("up")).unwrap();
    refused(
        load_in(&t.model_dir, external("up/secret.bin", None, None)),
        &["outside the model's folder"],
    );
    // A link that stays inside the folder is fine.
    std::os::unix::fs::symlink(
        t.model_dir.join("data/w.bin"),
        t.model_dir.join("inside.bin"),
    )
    .unwrap();
    let g = load_in(&t.model_dir, external("inside.bin", None, None)).unwrap();
    assert_eq!(weights(&g), TensorData::F32(VALUES.to_vec()));
}

#[test]
fn ranges_past_the_end_and_bad_entries_are_refused() {
    let t = tree();
    refused(
        load_in(&t.model_dir, external("weights.bin", Some(100), None)),
        &["past the end"],
    );
    refused(
        load_in(&t.model_dir, external("weights.bin", Some(16), Some(16))),
        &["past the end"],
    );
    refused(
        load_in(
            &t.model_dir,
            external("weights.bin", Some(u64::MAX), Some(16)),
        ),
        &["past the end"],
    );
    refused(
        load_in(&t.model_dir, external("weights.bin", Some(0), Some(8))),
        &["length is 8", "need 16"],
    );
    refused(
        load_in(&t.model_dir, external("missing.bin", None, None)),
        &["cannot open"],
    );
    refused(
        load_in(&t.model_dir, external("", None, None)),
        &["no \"location\""],
    );
    refused(
        load_in(&t.model_dir, external("data", None, None)),
        &["not a regular file"],
    );
    let mut bad_offset = external("weights.bin", None, None);
    bad_offset.external_data.push(StringStringEntryProto {
        key: Some("offset".into()),
        value: Some("-4".into()),
    });
    refused(load_in(&t.model_dir, bad_offset), &["offset \"-4\""]);
}

#[test]
fn external_data_needs_a_folder() {
    let bytes = with_weights(external("weights.bin", None, None)).bytes();
    refused(
        load_model_bytes(&bytes, None, &LoadOptions::default()),
        &["loaded from memory"],
    );
}
