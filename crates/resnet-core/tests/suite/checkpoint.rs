//! The checkpoint's files (train/checkpoint.rs): the weights written once an epoch, named by
//! the checkpoint through a second name of the epoch's model file; the files of the epoch
//! before removed once the new checkpoint is on disk; older checkpoints that held the weights
//! themselves still resume; a missing or misnamed weights file is a model-file error.
use crate::common;
use crate::saving::{epoch_files, two_class_model, wait_until_written};
use resnet_core::model::snapshot::HostSnapshot;
use resnet_core::model::weights::{read_file, write_snapshot};
use resnet_core::train::checkpoint::{self, weights_file_name, CHECKPOINT_FILE};
use resnet_core::train::saver::EpochSaver;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// The checkpoint weights files in `dir`, sorted.
fn weights_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("checkpoint-weights-"))
        .collect();
    names.sort();
    names
}

fn restored_fc_bias(dir: &Path) -> f64 {
    let model = two_class_model();
    checkpoint::restore(dir, &model).unwrap();
    model.vs.variables()["fc.bias"].f_double_value(&[0]).unwrap()
}

#[test]
fn the_checkpoint_names_a_second_name_of_its_epochs_model_file_and_holds_no_weights() {
    let _alone = common::alone();
    let output = tempfile::tempdir().unwrap();
    // What a killed run may leave: a weights file no checkpoint names.
    std::fs::write(output.path().join(weights_file_name(7)), b"stale").unwrap();
    let model = two_class_model();
    let saver = EpochSaver::start(output.path(), &output.path().join("best")).unwrap();
    saver.submit(epoch_files(&model, 1, false)).unwrap();
    wait_until_written(&saver, 1);

    let weights = output.path().join(weights_file_name(1));
    assert_eq!(weights_files(output.path()), [weights_file_name(1)], "the stale file is gone");
    assert_eq!(inode(&weights), inode(&output.path().join("model.safetensors")), "one file, two names");
    let (tensors, metadata) = read_file(&output.path().join(CHECKPOINT_FILE), "").unwrap();
    assert!(tensors.keys().all(|name| checkpoint::is_optimizer_state(name)), "model variables in the checkpoint: {:?}", tensors.keys());
    assert!(metadata["progress"].contains("\"weights\":\"checkpoint-weights-1.safetensors\""), "{}", metadata["progress"]);
    assert_eq!(restored_fc_bias(output.path()), 1.0);

    saver.submit(epoch_files(&model, 2, false)).unwrap();
    saver.finish().unwrap();
    assert_eq!(weights_files(output.path()), [weights_file_name(2)], "epoch 1's weights file goes with its checkpoint");
    assert_eq!(std::fs::metadata(output.path().join("model.safetensors")).unwrap().nlink(), 2);
    assert_eq!(restored_fc_bias(output.path()), 2.0);
}

#[test]
fn a_format_1_checkpoint_that_holds_the_weights_still_resumes() {
    let _alone = common::alone();
    let output = tempfile::tempdir().unwrap();
    let model = two_class_model();
    let files = epoch_files(&model, 3, false);
    // Written as the library wrote it before the weights moved out: every tensor, format 1.
    let mut progress = serde_json::to_value(&files.progress).unwrap();
    progress["format"] = "resnet-napi-checkpoint/1".into();
    let metadata = HashMap::from([("progress".to_string(), progress.to_string())]);
    write_snapshot(&output.path().join(CHECKPOINT_FILE), &files.tensors, |_| true, Some(metadata)).unwrap();

    assert_eq!(restored_fc_bias(output.path()), 3.0);
    let (progress, _) = checkpoint::restore(output.path(), &two_class_model()).unwrap();
    assert_eq!(progress.epoch, 3);
}

#[test]
fn a_missing_or_misnamed_weights_file_is_a_model_file_error_naming_it() {
    let _alone = common::alone();
    let output = tempfile::tempdir().unwrap();
    let model = two_class_model();
    let saver = EpochSaver::start(output.path(), &output.path().join("best")).unwrap();
    saver.submit(epoch_files(&model, 1, false)).unwrap();
    saver.finish().unwrap();
    let checkpoint_path = output.path().join(CHECKPOINT_FILE);

    std::fs::remove_file(output.path().join(weights_file_name(1))).unwrap();
    let error = checkpoint::restore(output.path(), &two_class_model()).unwrap_err();
    assert_eq!(error.code(), "ERR_MODEL_FILE", "{error}");
    assert!(error.to_string().contains("checkpoint-weights-1.safetensors"), "{error}");

    // A checkpoint naming a file elsewhere is refused before anything is read.
    let (tensors, mut metadata) = read_file(&checkpoint_path, "").unwrap();
    let progress = metadata["progress"].replace("checkpoint-weights-1.safetensors", "../model.safetensors");
    metadata.insert("progress".into(), progress);
    let named: Vec<_> = tensors.into_iter().collect();
    write_snapshot(&checkpoint_path, &HostSnapshot::take(&named).unwrap(), |_| true, Some(metadata)).unwrap();
    let error = checkpoint::restore(output.path(), &two_class_model()).unwrap_err();
    assert_eq!(error.code(), "ERR_MODEL_FILE", "{error}");
    assert!(error.to_string().contains("../model.safetensors"), "{error}");
}
