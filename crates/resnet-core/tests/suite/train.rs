//! The training loop end to end on a generated dataset: it learns, saves a loadable model
//! after every epoch, reports bad files, and stops when asked.
use crate::common;
use resnet_core::{train, Recipe, SavedModel, TrainConfig, TrainEvent};
use std::sync::atomic::{AtomicBool, Ordering};

fn config(root: &std::path::Path, output: &std::path::Path) -> TrainConfig {
    common::small_config(root, output, 3)
}

#[test]
fn trains_saves_and_reports() {
    let _alone = common::alone();
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
    let evaluation = loaded.evaluate_dir(root.path(), 16, 0, false, &mut |_| {}).unwrap();
    assert!((evaluation.accuracy - last.val_accuracy.unwrap()).abs() < 1e-9);
    assert_eq!(evaluation.count, 24);
    assert!(output.path().join("history.json").exists());
}

#[test]
fn abort_stops_with_aborted_and_an_empty_dataset_is_an_error() {
    let _alone = common::alone();
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

fn losses(history: &[resnet_core::EpochSummary]) -> Vec<(f64, f64, f64)> {
    history.iter().map(|e| (e.loss, e.val_loss.unwrap(), e.learning_rate)).collect()
}

#[test]
fn two_epochs_and_a_resume_of_two_equal_four_epochs() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 10, 4);
    let (whole, first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut four = config(root.path(), whole.path());
    four.epochs = 4;
    four.optimizer = resnet_core::OptimizerConfig::new(resnet_core::OptimizerKind::AdamW);
    four.schedule = resnet_core::ScheduleKind::Cosine;
    four.warmup_epochs = 1.0;
    (four.augment, four.preprocess) = Recipe::Standard.transforms();
    let reference = train(&four, &mut |_| {}, &AtomicBool::new(false)).unwrap();

    let mut two = four.clone();
    two.output = first.path().to_path_buf();
    let cancel = AtomicBool::new(false);
    // Stop the first run after its second epoch, as an abort would.
    let partial = train(
        &two,
        &mut |event| {
            if matches!(&event, TrainEvent::Epoch(e) if e.epoch == 2) {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert_eq!(partial.unwrap_err().code(), "ERR_ABORTED");
    let mut resumed = four.clone();
    resumed.resume = Some(first.path().to_path_buf());
    resumed.output = second.path().to_path_buf();
    let mut resumed_epochs = Vec::new();
    let outcome = train(&resumed, &mut |event| if let TrainEvent::Epoch(e) = event { resumed_epochs.push(e.epoch) }, &AtomicBool::new(false)).unwrap();

    assert_eq!(resumed_epochs, [3, 4], "only the remaining epochs run");
    let (a, b) = (losses(&reference.history), losses(&outcome.history));
    assert_eq!(a.len(), 4);
    for (epoch, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x.0 - y.0).abs() < 1e-5 && (x.1 - y.1).abs() < 1e-5 && (x.2 - y.2).abs() < 1e-12, "epoch {}: {x:?} vs {y:?}", epoch + 1);
    }
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 8, 3);
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut first = config(root.path(), a.path());
    first.epochs = 2;
    (first.augment, first.preprocess) = Recipe::Standard.transforms();
    let mut second = first.clone();
    second.output = b.path().to_path_buf();
    let x = train(&first, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let y = train(&second, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(losses(&x.history), losses(&y.history));
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 8, 3);
    let mut config = config(root.path(), output.path());
    config.epochs = 5;
    config.monitor = resnet_core::Monitor::ValAccuracy;
    config.patience = Some(1);
    config.min_delta = 1.0; // nothing beats the first epoch by a whole 100%
    let outcome = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert!(outcome.stopped_early);
    assert_eq!(outcome.history.len(), 2);
    assert_eq!(outcome.best_epoch, Some(1));
    let best = SavedModel::load(&output.path().join("best"), tch::Device::Cpu).unwrap();
    let best_accuracy = best.evaluate_dir(root.path(), 16, 0, false, &mut |_| {}).unwrap().accuracy;
    assert!((best_accuracy - outcome.history[0].val_accuracy.unwrap()).abs() < 1e-9);
}

#[test]
fn a_checkpoint_with_broken_optimizer_state_is_a_model_file_error() {
    use resnet_core::model::weights::{read_file, write_file};
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 6, 2);
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut one = config(root.path(), first.path());
    one.epochs = 1;
    train(&one, &mut |_| {}, &AtomicBool::new(false)).unwrap();

    // The checkpoint loses one Adam moment, its progress record kept.
    let path = first.path().join("checkpoint.safetensors");
    let (mut named, metadata) = read_file(&path, "").unwrap();
    let lost = named.keys().find(|key| key.starts_with("optimizer.") && key.ends_with(".0")).unwrap().clone();
    named.remove(&lost);
    write_file(&path, &named.into_iter().collect::<Vec<_>>(), Some(metadata)).unwrap();

    let mut resumed = one.clone();
    resumed.epochs = 2;
    resumed.resume = Some(first.path().to_path_buf());
    resumed.output = second.path().to_path_buf();
    let error = train(&resumed, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.code(), "ERR_MODEL_FILE", "{error}");
    let message = error.to_string();
    assert!(message.contains("checkpoint.safetensors") && message.contains(&lost), "{message}");
}
