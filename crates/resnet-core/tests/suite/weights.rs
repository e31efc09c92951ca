//! Saving and loading model directories: same outputs after a round trip, and clear
//! ERR_MODEL_FILE errors for files that do not fit.
use crate::common;
use resnet_core::model::saved::{SavedModel, WEIGHTS_FILE};
use resnet_core::{Arch, Error, Preprocess};
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

fn model(classes: usize) -> SavedModel {
    let names = (0..classes).map(|i| format!("class{i}")).collect();
    SavedModel::new(Arch::Resnet18, names, 64, Preprocess::notebook(), None, Device::Cpu).unwrap()
}

fn logits(model: &SavedModel, input: &Tensor) -> Tensor {
    tch::no_grad(|| model.net.forward_t(input, false))
}

#[test]
fn round_trip_gives_identical_outputs() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let original = model(3);
    original.save(dir.path()).unwrap();
    let loaded = SavedModel::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(loaded.meta, original.meta);
    let input = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
    let difference = (logits(&original, &input) - logits(&loaded, &input)).abs().max().double_value(&[]);
    assert_eq!(difference, 0.0);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("model.json")).unwrap()).unwrap();
    assert_eq!(json["format"], "resnet-napi/1");
    assert_eq!(json["imageSize"], 64);
    assert_eq!(json["preprocess"]["resize"], "stretch");
    assert_eq!(json["preprocess"]["mean"], serde_json::json!([0.5, 0.5, 0.5]));
}

/// Every file of a saved model gets the mode of a plainly created file (0644 with the usual
/// umask), so a model directory copied to a server running as another user stays readable.
#[cfg(unix)]
#[test]
fn saved_files_get_the_usual_permissions() {
    let _alone = common::alone();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "x").unwrap();
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let expected = mode(&plain);
    let saved = dir.path().join("model");
    model(3).save(&saved).unwrap();
    for name in [WEIGHTS_FILE, "model.json"] {
        assert_eq!(mode(&saved.join(name)), expected, "{name}: mode {:o}, expected {expected:o}", mode(&saved.join(name)));
    }
}

#[test]
fn class_count_mismatch_is_a_model_file_error() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    model(3).save(dir.path()).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("model.json")).unwrap()).unwrap();
    json["classes"] = serde_json::json!(["a", "b", "c", "d"]);
    std::fs::write(dir.path().join("model.json"), json.to_string()).unwrap();
    let error = SavedModel::load(dir.path(), Device::Cpu).unwrap_err();
    assert_eq!(error.code(), "ERR_MODEL_FILE");
    assert!(error.to_string().contains("fc.bias") || error.to_string().contains("fc.weight"), "{error}");
}

#[test]
fn truncated_weights_are_a_model_file_error() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    model(2).save(dir.path()).unwrap();
    let path = dir.path().join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let error = SavedModel::load(dir.path(), Device::Cpu).unwrap_err();
    assert!(matches!(error, Error::ModelFile { .. }), "{error}");
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn missing_directory_and_bad_json_are_model_file_errors() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let missing = SavedModel::load(&dir.path().join("nope"), Device::Cpu).unwrap_err();
    assert_eq!(missing.code(), "ERR_MODEL_FILE");
    std::fs::write(dir.path().join("model.json"), "{ not json").unwrap();
    let invalid = SavedModel::load(dir.path(), Device::Cpu).unwrap_err();
    assert_eq!(invalid.code(), "ERR_MODEL_FILE");
    assert!(invalid.to_string().contains("model.json"), "{invalid}");
}

fn assert_model_file_error(dir: &std::path::Path, expected: &str) {
    let error = SavedModel::load(dir, Device::Cpu).unwrap_err();
    assert_eq!(error.code(), "ERR_MODEL_FILE", "{error}");
    assert!(error.to_string().contains(expected), "expected {expected:?} in: {error}");
    assert!(error.to_string().contains(&dir.display().to_string()), "the path is named: {error}");
}

#[test]
fn hostile_weight_files_are_model_file_errors() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    model(2).save(dir.path()).unwrap();
    let weights = dir.path().join(WEIGHTS_FILE);
    // A header length far past the end of the file.
    let mut past_end = 1_000_000u64.to_le_bytes().to_vec();
    past_end.extend_from_slice(b"{}");
    std::fs::write(&weights, &past_end).unwrap();
    assert_model_file_error(dir.path(), "not a valid safetensors file");
    // A header that is not JSON.
    let mut bad_json = 5u64.to_le_bytes().to_vec();
    bad_json.extend_from_slice(b"{abc}");
    std::fs::write(&weights, &bad_json).unwrap();
    assert_model_file_error(dir.path(), "not a valid safetensors file");
    // The right names and shapes in float64.
    let doubles: Vec<(String, Tensor)> = model(2).vs.variables().into_iter().map(|(name, t)| (name, t.to_kind(Kind::Double))).collect();
    Tensor::write_safetensors(&doubles, &weights).unwrap();
    assert_model_file_error(dir.path(), "float32");
    // No weights file at all.
    std::fs::remove_file(&weights).unwrap();
    assert_model_file_error(dir.path(), "cannot read weights");
}

#[test]
fn unknown_arch_and_missing_model_json_are_model_file_errors() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    model(2).save(dir.path()).unwrap();
    let meta = dir.path().join("model.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    std::fs::write(&meta, text.replace("\"resnet18\"", "\"resnet20\"")).unwrap();
    assert_model_file_error(dir.path(), "resnet20");
    std::fs::remove_file(&meta).unwrap();
    assert_model_file_error(dir.path(), "cannot read model.json");
}
