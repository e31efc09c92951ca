//! The training loop end to end on a generated dataset: it learns, saves a loadable model
//! after every epoch, reports bad files, and stops when asked.
mod common;
use resnet_core::{train, Arch, DataSource, Recipe, SavedModel, TrainConfig, TrainEvent};
use std::sync::atomic::{AtomicBool, Ordering};

fn config(root: &std::path::Path, output: &std::path::Path) -> TrainConfig {
    let mut config = TrainConfig::new(DataSource::from_root(root).unwrap(), output.to_path_buf());
    config.arch = Arch::Resnet18;
    config.epochs = 3;
    config.batch_size = 12;
    config.learning_rate = 0.001;
    config.image_size = 32;
    config.device = "cpu".into();
    (config.augment, config.preprocess) = Recipe::Notebook.transforms();
    config
}

#[test]
fn trains_saves_and_reports() {
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 24, 8);
    std::fs::write(root.path().join("train/red/broken.jpg"), b"\xFF\xD8\xFF\xE0 truncated").unwrap();

    let mut events = Vec::new();
    let outcome = train(&config(root.path(), output.path()), &mut |event| events.push(event), &AtomicBool::new(false)).unwrap();

    assert_eq!(outcome.history.len(), 3);
    let first = &outcome.history[0];
    let last = &outcome.history[2];
    assert!(last.loss < first.loss, "loss should fall: {} -> {}", first.loss, last.loss);
    assert!(last.val_accuracy.unwrap() > 0.6, "validation accuracy {:?}", last.val_accuracy);
    let warnings: Vec<_> = events.iter().filter_map(|e| if let TrainEvent::Warning(w) = e { Some(w) } else { None }).collect();
    assert_eq!(warnings.len(), 1, "the broken file is reported once: {warnings:?}");
    assert!(warnings[0].path.as_ref().unwrap().ends_with("broken.jpg"));
    assert_eq!(outcome.skipped, 1);

    let loaded = SavedModel::load(output.path(), tch::Device::Cpu).unwrap();
    assert_eq!(loaded.meta.classes, ["blue", "green", "red"]);
    let evaluation = loaded.evaluate_dir(root.path(), 16, 0, &mut |_| {}).unwrap();
    assert!((evaluation.accuracy - last.val_accuracy.unwrap()).abs() < 1e-9);
    assert_eq!(evaluation.count, 24);
    assert!(output.path().join("history.json").exists());
}

#[test]
fn abort_stops_with_aborted_and_an_empty_dataset_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 6, 2);
    let cancel = AtomicBool::new(false);
    let error = train(
        &config(root.path(), output.path()),
        &mut |event| {
            if matches!(event, TrainEvent::Batch(_)) {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert_eq!(error.code(), "ERR_ABORTED");

    let empty = tempfile::tempdir().unwrap();
    for split in ["train/a", "train/b", "test/a"] {
        std::fs::create_dir_all(empty.path().join(split)).unwrap();
    }
    let error = train(&config(empty.path(), output.path()), &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.code(), "ERR_DATASET");
    assert!(error.to_string().contains("train"), "{error}");
}
