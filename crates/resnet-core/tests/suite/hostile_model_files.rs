//! Model directories from strangers: every malformed, mismatched or misleading file is refused
//! with ERR_MODEL_FILE naming the file and the reason, without a crash, a hang, a huge
//! allocation, a read outside the directory, or running anything (safetensors holds no code).
use crate::common;
use resnet_core::model::saved::{SavedModel, META_FILE, WEIGHTS_FILE};
use resnet_core::{Arch, Preprocess};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

/// One saved resnet18 with 2 classes, shared by the cases (each copies what it changes).
fn reference() -> &'static (tempfile::TempDir, Vec<u8>, String) {
    static SAVED: OnceLock<(tempfile::TempDir, Vec<u8>, String)> = OnceLock::new();
    SAVED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let model = SavedModel::new(Arch::Resnet18, vec!["a".into(), "b".into()], 64, Preprocess::notebook(), None, Device::Cpu).unwrap();
        model.save(dir.path()).unwrap();
        let weights = std::fs::read(dir.path().join(WEIGHTS_FILE)).unwrap();
        let meta = std::fs::read_to_string(dir.path().join(META_FILE)).unwrap();
        (dir, weights, meta)
    })
}

/// A model directory with the reference files, then `weights` and `meta` where given.
fn model_dir(weights: Option<&[u8]>, meta: Option<&str>) -> tempfile::TempDir {
    let (_, reference_weights, reference_meta) = reference();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(WEIGHTS_FILE), weights.unwrap_or(reference_weights)).unwrap();
    std::fs::write(dir.path().join(META_FILE), meta.unwrap_or(reference_meta)).unwrap();
    dir
}

fn meta_with(change: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut json: serde_json::Value = serde_json::from_str(&reference().2).unwrap();
    change(&mut json);
    json.to_string()
}

/// Loads `dir` on a watchdog: a hang fails the test instead of blocking it.
fn load_refused(dir: &Path, names: &Path, reason: &str) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned = dir.to_path_buf();
    std::thread::spawn(move || {
        let _ = sender.send(SavedModel::load(&owned, Device::Cpu).map(|_| ()));
    });
    let outcome = receiver.recv_timeout(std::time::Duration::from_secs(60)).expect("loading hung for 60 s");
    let error = outcome.expect_err("a hostile model directory loaded");
    let text = error.to_string();
    assert_eq!(error.code(), "ERR_MODEL_FILE", "{text}");
    assert!(text.contains(&names.display().to_string()), "the path {} is named: {text}", names.display());
    assert!(text.contains(reason), "expected {reason:?} in: {text}");
}

/// safetensors bytes: an 8-byte little-endian header length, the header, the data.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// The reference variables with one of them replaced.
fn variables_with(name: &str, replacement: Tensor) -> Vec<(String, Tensor)> {
    let dir = &reference().0;
    let model = SavedModel::load(dir.path(), Device::Cpu).unwrap();
    model
        .vs
        .variables()
        .into_iter()
        .map(|(key, tensor)| if key == name { (key, replacement.shallow_clone()) } else { (key, tensor) })
        .collect()
}

fn weights_of(named: &[(String, Tensor)]) -> Vec<u8> {
    let file = tempfile::NamedTempFile::new().unwrap();
    Tensor::write_safetensors(named, file.path()).unwrap();
    std::fs::read(file.path()).unwrap()
}

#[test]
fn truncated_weights_at_every_stage_are_refused() {
    let _alone = common::alone();
    let weights = &reference().1;
    let header_end = 8 + u64::from_le_bytes(weights[..8].try_into().unwrap()) as usize;
    let cuts = [0, 1, 7, 8, 9, header_end / 2, header_end - 1, header_end, header_end + 1, weights.len() / 2, weights.len() - 1];
    for cut in cuts {
        let dir = model_dir(Some(&weights[..cut]), None);
        load_refused(dir.path(), &dir.path().join(WEIGHTS_FILE), "not a valid safetensors file");
    }
}

#[test]
fn malformed_safetensors_headers_are_refused() {
    let _alone = common::alone();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // Header length far past the end of the file, and the largest possible.
        (safetensors("{}", b"").iter().copied().enumerate().map(|(i, b)| if i < 8 { 0xFF } else { b }).collect(), "not a valid safetensors file"),
        ([&(1u64 << 40).to_le_bytes()[..], b"{}"].concat(), "not a valid safetensors file"),
        // Not JSON, JSON of the wrong shape, a tensor whose bytes lie past the data.
        (safetensors("{abc}", b""), "not a valid safetensors file"),
        (safetensors("[1, 2, 3]", b""), "not a valid safetensors file"),
        (safetensors(r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, b"1234"), "not a valid safetensors file"),
        (safetensors(r#"{"fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, &[0; 8]), "not a valid safetensors file"),
        // A shape whose element count overflows.
        (safetensors(r#"{"fc.bias":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#, &[0; 8]), "not a valid safetensors file"),
        (safetensors(r#"{"fc.bias":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}}"#, &[0; 8]), "not a valid safetensors file"),
        // A well-formed file that holds none of the network's tensors.
        (safetensors(r#"{"other":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, &[0; 8]), "expected a tensor named"),
        // A pickle (what torch.save writes) is data we never interpret, not code we run.
        (b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R.".to_vec(), "not a valid safetensors file"),
        (b"PK\x03\x04 a torch.save zip archive".to_vec(), "not a valid safetensors file"),
    ];
    for (bytes, reason) in &cases {
        let dir = model_dir(Some(bytes), None);
        load_refused(dir.path(), &dir.path().join(WEIGHTS_FILE), reason);
    }
}

#[test]
fn tensors_that_do_not_fit_the_arch_are_refused() {
    let _alone = common::alone();
    // A transposed classifier, a 1x1 kernel where the arch has 3x3, and a scalar.
    let cases = [
        ("fc.weight", Tensor::zeros([512, 2], (Kind::Float, Device::Cpu)), "expected fc.weight with shape [2, 512]"),
        ("layer1.0.conv1.weight", Tensor::zeros([64, 64, 1, 1], (Kind::Float, Device::Cpu)), "expected layer1.0.conv1.weight with shape [64, 64, 3, 3]"),
        ("bn1.running_var", Tensor::zeros([], (Kind::Float, Device::Cpu)), "expected bn1.running_var with shape [64]"),
    ];
    for (name, tensor, reason) in cases {
        let dir = model_dir(Some(&weights_of(&variables_with(name, tensor))), None);
        load_refused(dir.path(), &dir.path().join(WEIGHTS_FILE), reason);
    }
    // Another arch's model.json over resnet18's weights: deeper stages are missing, wider
    // Bottleneck layers do not fit.
    let deeper = model_dir(None, Some(&meta_with(|json| json["arch"] = "resnet34".into())));
    load_refused(deeper.path(), &deeper.path().join(WEIGHTS_FILE), "expected a tensor named \"layer1.2.");
    let wider = model_dir(None, Some(&meta_with(|json| json["arch"] = "resnet50".into())));
    load_refused(wider.path(), &wider.path().join(WEIGHTS_FILE), "with shape");
}

#[test]
fn wrong_dtypes_are_refused() {
    let _alone = common::alone();
    for (kind, found) in [(Kind::Half, "F16"), (Kind::BFloat16, "BF16"), (Kind::Int64, "I64"), (Kind::Uint8, "U8")] {
        let tensor = Tensor::zeros([64], (kind, Device::Cpu));
        let dir = model_dir(Some(&weights_of(&variables_with("bn1.bias", tensor))), None);
        load_refused(dir.path(), &dir.path().join(WEIGHTS_FILE), &format!("expected bn1.bias as float32, found {found}"));
    }
}

#[test]
fn invalid_model_json_is_refused() {
    let _alone = common::alone();
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "model.json is not valid"),
        ("\u{feff}{}".into(), "model.json is not valid"),
        ("[]".into(), "model.json is not valid"),
        ("null".into(), "model.json is not valid"),
        (String::from_utf8_lossy(&[0xFF, 0xFE, 0x00]).into_owned(), "model.json is not valid"),
        (meta_with(|json| json["format"] = "resnet-napi/9".into()), "expected format \"resnet-napi/1\""),
        (meta_with(|json| json["arch"] = "resnet20".into()), "resnet20"),
        (meta_with(|json| json["arch"] = serde_json::json!(18)), "model.json is not valid"),
        (meta_with(|json| json["classes"] = serde_json::json!([])), "expected at least one class"),
        (meta_with(|json| json["classes"] = serde_json::json!("a,b")), "model.json is not valid"),
        (meta_with(|json| json["classes"] = serde_json::json!([1, 2])), "model.json is not valid"),
        (meta_with(|json| json["imageSize"] = serde_json::json!(0)), "expected imageSize between 16 and 4096"),
        (meta_with(|json| json["imageSize"] = serde_json::json!(1_000_000)), "expected imageSize between 16 and 4096"),
        (meta_with(|json| json["imageSize"] = serde_json::json!(-5)), "model.json is not valid"),
        (meta_with(|json| json["imageSize"] = serde_json::json!(1e300)), "model.json is not valid"),
        (meta_with(|json| json["preprocess"]["std"] = serde_json::json!([0.5, 0.0, 0.5])), "std"),
        (meta_with(|json| json["preprocess"]["resize"] = "squash".into()), "model.json is not valid"),
        (meta_with(|json| json.as_object_mut().unwrap().remove("preprocess").map(drop).unwrap()), "missing field `preprocess`"),
        ("{".repeat(100_000), "model.json is not valid"),
    ];
    for (text, reason) in &cases {
        let dir = model_dir(None, Some(text));
        load_refused(dir.path(), &dir.path().join(META_FILE), reason);
    }
}

#[test]
fn a_class_count_that_does_not_fit_the_classifier_is_refused() {
    let _alone = common::alone();
    let three = model_dir(None, Some(&meta_with(|json| json["classes"] = serde_json::json!(["a", "b", "c"]))));
    load_refused(three.path(), &three.path().join(WEIGHTS_FILE), "expected fc.bias with shape [3]");
    // Two million classes would need a 4 GB classifier: refused before anything is allocated.
    let names: Vec<String> = (0..2_000_000).map(|i| i.to_string()).collect();
    let huge = model_dir(None, Some(&meta_with(|json| json["classes"] = serde_json::json!(names))));
    load_refused(huge.path(), &huge.path().join(WEIGHTS_FILE), "expected a classifier for the 2000000 classes");
}

#[test]
fn missing_files_directories_and_special_files_are_refused_without_hanging() {
    let _alone = common::alone();
    let no_json = model_dir(None, None);
    std::fs::remove_file(no_json.path().join(META_FILE)).unwrap();
    load_refused(no_json.path(), &no_json.path().join(META_FILE), "cannot read");

    let json_dir = model_dir(None, None);
    std::fs::remove_file(json_dir.path().join(META_FILE)).unwrap();
    std::fs::create_dir(json_dir.path().join(META_FILE)).unwrap();
    load_refused(json_dir.path(), &json_dir.path().join(META_FILE), "found a directory");

    let weights_dir = model_dir(None, None);
    std::fs::remove_file(weights_dir.path().join(WEIGHTS_FILE)).unwrap();
    std::fs::create_dir(weights_dir.path().join(WEIGHTS_FILE)).unwrap();
    load_refused(weights_dir.path(), &weights_dir.path().join(WEIGHTS_FILE), "found a directory");

    // A FIFO with no writer would block a plain read forever.
    for name in [META_FILE, WEIGHTS_FILE] {
        let fifo = model_dir(None, None);
        let path = fifo.path().join(name);
        std::fs::remove_file(&path).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        load_refused(fifo.path(), &path, "not a regular file");
    }

    // A weights file far larger than the network is refused before it is read (sparse: no disk).
    let oversized = model_dir(None, None);
    let path = oversized.path().join(WEIGHTS_FILE);
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(8 << 30).unwrap();
    load_refused(oversized.path(), &path, "expected weights of at most");

    let not_a_dir = tempfile::NamedTempFile::new().unwrap();
    load_refused(not_a_dir.path(), not_a_dir.path(), "found no directory");
}

#[test]
fn nothing_outside_the_model_directory_is_read() {
    let _alone = common::alone();
    let (reference_dir, _, _) = reference();
    // model.json has no file names; a field naming one elsewhere is ignored, not followed.
    let pointing = tempfile::tempdir().unwrap();
    let outside = reference_dir.path().join(WEIGHTS_FILE);
    let meta = meta_with(|json| {
        json["weights"] = serde_json::json!(outside.display().to_string());
        json["files"] = serde_json::json!(["../x", "/etc/passwd"]);
    });
    std::fs::write(pointing.path().join(META_FILE), meta).unwrap();
    load_refused(pointing.path(), &pointing.path().join(WEIGHTS_FILE), "cannot read weights");

    // Links that lead out of the directory are refused, for both files.
    for name in [WEIGHTS_FILE, META_FILE] {
        let linked = model_dir(None, None);
        let path = linked.path().join(name);
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(reference_dir.path().join(name), &path).unwrap();
        load_refused(linked.path(), &path, "a link leading out of it");
    }

    // A link that stays inside the directory, and a linked directory, are fine.
    let inside = model_dir(None, None);
    std::fs::rename(inside.path().join(WEIGHTS_FILE), inside.path().join("weights-v1.safetensors")).unwrap();
    std::os::unix::fs::symlink("weights-v1.safetensors", inside.path().join(WEIGHTS_FILE)).unwrap();
    SavedModel::load(inside.path(), Device::Cpu).unwrap();
    let holder = tempfile::tempdir().unwrap();
    let link: PathBuf = holder.path().join("model-link");
    std::os::unix::fs::symlink(reference_dir.path(), &link).unwrap();
    SavedModel::load(&link, Device::Cpu).unwrap();
}
