//! What a training run reports while it runs: one closed set of events.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchProgress {
    /// 1-based epoch number.
    pub epoch: usize,
    /// 1-based batch number within the epoch.
    pub batch: usize,
    pub batches: usize,
    /// Mean training loss of the epoch so far.
    pub loss: f64,
    pub images_per_second: f64,
    /// The learning rate of this batch's update.
    pub learning_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochSummary {
    pub epoch: usize,
    pub epochs: usize,
    /// Mean training loss and accuracy over the epoch.
    pub loss: f64,
    pub accuracy: f64,
    /// Validation loss and accuracy; absent when there are no validation images.
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub seconds: f64,
    pub learning_rate: f64,
}

/// Where the emitting process stands in a data-parallel run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RankInfo {
    pub rank: usize,
    pub world_size: usize,
    /// The c10d backend averaging the gradients: "nccl" (CUDA) or "gloo".
    pub backend: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub message: String,
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// The run resolved its data and device and is about to train.
    /// `class_counts[i]` is the number of training images of `classes[i]`.
    /// `distributed`: this rank's place in a data-parallel run (only rank 0 emits it).
    Start {
        device: String,
        classes: Vec<String>,
        class_counts: Vec<usize>,
        train_images: usize,
        validation_images: usize,
        distributed: Option<RankInfo>,
    },
    Batch(BatchProgress),
    Epoch(EpochSummary),
    /// The files of `epoch` (the model, its best copy when it improved, the history and the
    /// checkpoint) are on disk in `output`: a kill from now on resumes from it. Saving runs
    /// beside training, so this follows the epoch's `Epoch` event, at the latest when the run
    /// ends; an epoch overtaken by the next one before its files were written has none.
    Checkpoint { epoch: usize, output: PathBuf },
    Warning(Warning),
}
