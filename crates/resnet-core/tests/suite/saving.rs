//! Saving beside training (train/saver.rs) and what a run leaves when it fails: an aborted run
//! still has its last completed epoch on disk, whole and resumable; a run that runs out of
//! memory says what it tried and what to lower, leaves no files when no epoch completed, and
//! the same process trains again; the run reports where its time went.
use crate::common;
use resnet_core::fault_injection::fail_step_out_of_memory;
use resnet_core::model::snapshot::HostSnapshot;
use resnet_core::train::checkpoint::{self, Progress};
use resnet_core::train::saver::{EpochFiles, EpochSaver};
use resnet_core::{train, SavedModel, TrainEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// A snapshot whose one weight is filled with `value`, and the progress of `epoch`.
pub(crate) fn epoch_files(model: &SavedModel, epoch: usize, improved: bool) -> EpochFiles {
    let _guard = tch::no_grad_guard();
    let named: Vec<(String, Tensor)> =
        model.vs.variables().into_iter().map(|(name, mut tensor)| (name, tensor.f_fill_(epoch as f64).unwrap())).collect();
    let mut progress = Progress::start(model);
    progress.epoch = epoch;
    EpochFiles {
        tensors: Arc::new(HostSnapshot::take(&named).unwrap()),
        improved,
        meta_json: model.meta.to_json(),
        history_json: format!("[{epoch}]"),
        progress,
        config_json: (epoch == 1).then(|| "{\"first\": true}\n".to_string()),
    }
}

pub(crate) fn two_class_model() -> SavedModel {
    SavedModel::new(resnet_core::Arch::Resnet18, vec!["a".into(), "b".into()], 32, resnet_core::Preprocess::standard(), None, Device::Cpu).unwrap()
}

pub(crate) fn weight_value(dir: &std::path::Path) -> f64 {
    let loaded = SavedModel::load(dir, Device::Cpu).unwrap();
    loaded.vs.variables()["fc.bias"].f_double_value(&[0]).unwrap()
}

#[test]
fn the_saver_writes_the_latest_epoch_keeps_the_newest_best_and_the_first_config() {
    let _alone = common::alone();
    let output = tempfile::tempdir().unwrap();
    let model = two_class_model();
    let saver = EpochSaver::start(output.path(), &output.path().join("best")).unwrap();
    // Faster than the writer can keep up: epochs in between may be replaced, never lost at
    // the end, and the best epoch (3) survives a later epoch that did not improve.
    for epoch in 1..=5 {
        saver.submit(epoch_files(&model, epoch, epoch <= 3)).unwrap();
    }
    saver.finish().unwrap();
    assert_eq!(weight_value(output.path()), 5.0);
    assert_eq!(weight_value(&output.path().join("best")), 3.0);
    assert_eq!(std::fs::read_to_string(output.path().join("history.json")).unwrap(), "[5]");
    assert_eq!(std::fs::read_to_string(output.path().join("config.json")).unwrap(), "{\"first\": true}\n");
    let restored = two_class_model();
    let (progress, _) = checkpoint::restore(output.path(), &restored).unwrap();
    assert_eq!(progress.epoch, 5);
    let leftovers: Vec<_> = std::fs::read_dir(output.path()).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn an_improved_epochs_best_copy_is_a_link_to_its_model_file_and_outlives_the_next_epoch() {
    use std::os::unix::fs::MetadataExt;
    let _alone = common::alone();
    let output = tempfile::tempdir().unwrap();
    let (model_file, best_file) = (output.path().join("model.safetensors"), output.path().join("best").join("model.safetensors"));
    let inode = |path: &std::path::Path| std::fs::metadata(path).unwrap().ino();
    let model = two_class_model();
    let saver = EpochSaver::start(output.path(), &output.path().join("best")).unwrap();
    saver.submit(epoch_files(&model, 1, true)).unwrap();
    wait_until_written(&saver, 1);
    assert_eq!(inode(&best_file), inode(&model_file), "best/ names the file the model directory holds");
    // model.safetensors, best/model.safetensors and checkpoint-weights-1.safetensors.
    assert_eq!(std::fs::metadata(&model_file).unwrap().nlink(), 3);
    saver.submit(epoch_files(&model, 2, false)).unwrap();
    saver.finish().unwrap();
    assert_ne!(inode(&best_file), inode(&model_file), "epoch 2's model is a new file");
    assert_eq!(weight_value(output.path()), 2.0);
    assert_eq!(weight_value(&output.path().join("best")), 1.0);
    assert_eq!(std::fs::metadata(&best_file).unwrap().nlink(), 1, "epoch 1's checkpoint weights went with its checkpoint");
}

/// Waits until `saver` has `epoch` on disk (it writes on its own thread).
pub(crate) fn wait_until_written(saver: &EpochSaver, epoch: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while saver.written_epoch() < epoch {
        assert!(std::time::Instant::now() < deadline, "epoch {epoch} was not written within a minute");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_failed_write_stops_the_run_at_its_next_epoch_with_the_error() {
    let _alone = common::alone();
    let output = tempfile::tempdir().unwrap();
    // `best` is a file, so the best copy cannot be written.
    std::fs::write(output.path().join("best"), b"in the way").unwrap();
    let model = two_class_model();
    let saver = EpochSaver::start(output.path(), &output.path().join("best")).unwrap();
    saver.submit(epoch_files(&model, 1, true)).unwrap();
    let mut reported = None;
    for epoch in 2..200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if let Err(error) = saver.submit(epoch_files(&model, epoch, false)) {
            reported = Some(error);
            break;
        }
    }
    let error = reported.expect("the write's failure reaches the training thread");
    assert_eq!(error.code(), "ERR_IO", "{error}");
    assert!(error.to_string().contains("best"), "{error}");
    saver.finish().unwrap();
}

#[test]
fn an_aborted_run_leaves_its_last_completed_epoch_whole_and_resumable() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 8, 2);
    let config = common::small_config(root.path(), output.path(), 50);
    let cancel = AtomicBool::new(false);
    let mut epochs = 0;
    // Abort at the first batch after the second epoch's end: its files may still be on their
    // way to disk when the abort arrives.
    let error = train(
        &config,
        &mut |event| match event {
            TrainEvent::Epoch(_) => epochs += 1,
            TrainEvent::Batch(_) if epochs == 2 => cancel.store(true, Ordering::Relaxed),
            _ => {}
        },
        &cancel,
    )
    .unwrap_err();
    assert_eq!(error.code(), "ERR_ABORTED");
    let model = SavedModel::load(output.path(), Device::Cpu).unwrap();
    let (progress, _) = checkpoint::restore(output.path(), &model).unwrap();
    assert_eq!(progress.epoch, 2, "the checkpoint is the last completed epoch");
    let history: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(output.path().join("history.json")).unwrap()).unwrap();
    assert_eq!(history.len(), 2);
    assert!(output.path().join("config.json").is_file());
}

#[test]
fn running_out_of_memory_names_what_to_lower_leaves_no_files_and_the_process_trains_again() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 8, 2);
    let run_dir = output.path().join("run");
    let config = common::small_config(root.path(), &run_dir, 2);
    fail_step_out_of_memory(&run_dir, 0);
    let error = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.code(), "ERR_OUT_OF_MEMORY", "{error}");
    let message = error.to_string();
    for expected in ["training resnet18", "batchSize 12", "imageSize 32", "lower batchSize (for example to 6)", "nothing was saved", "Tried to allocate"] {
        assert!(message.contains(expected), "{expected:?} missing from: {message}");
    }
    let left: Vec<_> = std::fs::read_dir(&run_dir).unwrap().filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "a run that completed no epoch leaves no files: {left:?}");

    // Later in the run: the completed epoch stays, and is named.
    fail_step_out_of_memory(&run_dir, 3);
    let error = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.code(), "ERR_OUT_OF_MEMORY");
    assert!(error.to_string().contains("keeps epoch 1, resumable"), "{error}");
    assert!(SavedModel::load(&run_dir, Device::Cpu).is_ok());

    // The same process trains again.
    let outcome = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(outcome.history.len(), 2);
}

#[test]
fn a_real_allocation_failure_is_out_of_memory_not_a_generic_libtorch_error() {
    let _alone = common::alone();
    let error: resnet_core::Error = Tensor::f_empty([1i64 << 60], (Kind::Float, Device::Cpu)).unwrap_err().into();
    assert_eq!(error.code(), "ERR_OUT_OF_MEMORY", "{error}");
    let (a, b) = (Tensor::f_zeros([2, 3], (Kind::Float, Device::Cpu)).unwrap(), Tensor::f_zeros([4, 5], (Kind::Float, Device::Cpu)).unwrap());
    let error: resnet_core::Error = a.f_matmul(&b).unwrap_err().into();
    assert_eq!(error.code(), "ERR_LIBTORCH");
}

#[test]
fn a_run_reports_where_its_time_went() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 8, 2);
    let outcome = train(&common::small_config(root.path(), output.path(), 2), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let t = outcome.timings;
    for (name, value) in [("startup", t.startup), ("training", t.training), ("validation", t.validation), ("saving", t.saving), ("finishing", t.finishing)] {
        assert!(value > 0.0, "{name} = {value}");
    }
    let phases = t.startup + t.training + t.validation + t.saving + t.finishing;
    assert!(phases <= t.total + 1e-6 && phases > 0.8 * t.total, "phases {phases} against total {}: {t:?}", t.total);
}
