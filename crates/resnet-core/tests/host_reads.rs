//! The training loop reads from the model's device only at progress intervals: on a GPU each
//! read makes the host wait for all the queued work. Counted through `host_reads`, which
//! every device-to-host copy of the loop (metrics, per-sample outcomes) goes through; writing
//! the model and checkpoint at an epoch's end is file output, not counted.
mod common;
use resnet_core::host_reads::reads_on_this_thread;
use resnet_core::train::run::PROGRESS_INTERVAL;
use resnet_core::{train, TrainEvent};
use std::sync::atomic::AtomicBool;

#[test]
fn an_epoch_reads_from_the_device_once_per_progress_interval() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 30, 4);
    let mut config = common::small_config(root.path(), output.path(), 2);
    config.batch_size = 2;
    let batches = 90usize.div_ceil(2);

    let mut reads_at_epoch_end = Vec::new();
    let mut batch_losses = Vec::new();
    let before = reads_on_this_thread();
    train(
        &config,
        &mut |event| match event {
            TrainEvent::Epoch(_) => reads_at_epoch_end.push(reads_on_this_thread()),
            TrainEvent::Batch(progress) if progress.epoch == 1 => batch_losses.push(progress.loss),
            _ => {}
        },
        &AtomicBool::new(false),
    )
    .unwrap();

    // Training: the first batch, every PROGRESS_INTERVAL-th after it, the epoch's end.
    // Validation: its sums once, its per-sample outcomes once.
    let budget = batches.div_ceil(PROGRESS_INTERVAL) + 1 + 2;
    let mut previous = before;
    for (epoch, &reads) in reads_at_epoch_end.iter().enumerate() {
        let epoch_reads = reads - previous;
        assert!(epoch_reads >= 3, "epoch {}: {epoch_reads} reads; metrics must still be read", epoch + 1);
        assert!(epoch_reads <= budget, "epoch {}: {epoch_reads} reads for {batches} batches (budget {budget})", epoch + 1);
        previous = reads;
    }
    assert_eq!(reads_at_epoch_end.len(), 2);
    // Batch events between reads repeat the last figures read.
    assert_eq!(batch_losses.len(), batches);
    assert!(batch_losses[0] > 0.0);
    assert!(batch_losses[1..PROGRESS_INTERVAL].iter().all(|&loss| loss == batch_losses[0]), "{batch_losses:?}");
    assert_ne!(batch_losses[PROGRESS_INTERVAL], batch_losses[0]);
}
