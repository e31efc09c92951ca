//! Per-epoch checkpoints: the model's weights, the optimiser's state and the run's progress
//! in one safetensors file (progress as JSON metadata), written atomically, so that a resumed
//! run continues exactly where the last complete epoch ended.
use super::events::EpochSummary;
use super::optimizer::Optimizer;
use crate::model::arch::Arch;
use crate::train::monitor::Monitor;
use crate::error::{Error, Result};
use crate::model::saved::SavedModel;
use crate::model::snapshot::HostSnapshot;
use crate::model::weights;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use tch::Tensor;

pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
const FORMAT: &str = "resnet-napi-checkpoint/1";
const PROGRESS_KEY: &str = "progress";

/// The best epoch so far by the monitored metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Best {
    pub epoch: usize,
    pub value: f64,
}

/// Where a run stands after a completed epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub format: String,
    pub arch: Arch,
    pub classes: Vec<String>,
    pub image_size: u32,
    /// The last completed epoch (1-based).
    pub epoch: usize,
    /// Optimiser updates so far: the learning-rate schedule's position.
    pub steps: i64,
    pub history: Vec<EpochSummary>,
    pub best: Option<Best>,
    pub epochs_without_improvement: usize,
    /// Processes that trained together (1 unless distributed); checkpoints from before
    /// distributed training have none and count as 1.
    #[serde(default = "one")]
    pub world_size: usize,
}

fn one() -> usize {
    1
}

impl Progress {
    pub fn start(model: &SavedModel) -> Self {
        Progress {
            format: FORMAT.to_string(),
            arch: model.meta.arch,
            classes: model.meta.classes.clone(),
            image_size: model.meta.image_size,
            epoch: 0,
            steps: 0,
            history: Vec::new(),
            best: None,
            epochs_without_improvement: 0,
            world_size: 1,
        }
    }

    /// Records the monitored value of the latest epoch; true when it is the best so far.
    pub fn record(&mut self, monitor: Monitor, value: Option<f64>, min_delta: f64) -> bool {
        let Some(value) = value else { return false };
        let improved = self.best.as_ref().is_none_or(|best| monitor.improves(value, best.value, min_delta));
        if improved {
            self.best = Some(Best { epoch: self.epoch, value });
            self.epochs_without_improvement = 0;
        } else {
            self.epochs_without_improvement += 1;
        }
        improved
    }
}

/// The prefix of the optimiser state's names in a checkpoint.
const OPTIMIZER_PREFIX: &str = "optimizer.";

/// Whether a checkpoint tensor is the optimiser's state (not the model's).
pub fn is_optimizer_state(name: &str) -> bool {
    name.starts_with(OPTIMIZER_PREFIX)
}

/// What a checkpoint holds: the model's variables and the optimiser's state, on their devices.
pub fn tensors(model: &SavedModel, optimizer: &Optimizer) -> Result<Vec<(String, Tensor)>> {
    let mut named: Vec<(String, Tensor)> = model.vs.variables().into_iter().collect();
    named.extend(optimizer.state_tensors()?);
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

/// Writes the checkpoint of `snapshot` (a host copy of `tensors`) and `progress`, atomically.
pub fn write(dir: &Path, snapshot: &HostSnapshot, progress: &Progress) -> Result<()> {
    let progress_json = serde_json::to_string(progress).map_err(|error| Error::Libtorch(error.to_string()))?;
    let metadata = HashMap::from([(PROGRESS_KEY.to_string(), progress_json)]);
    weights::write_snapshot(&dir.join(CHECKPOINT_FILE), snapshot, |_| true, Some(metadata))
}

/// Reads a checkpoint's progress, checks that it belongs to `model`'s architecture and
/// classes, loads its weights into `model`, and returns the optimiser state to restore.
pub fn restore(dir: &Path, model: &SavedModel) -> Result<(Progress, HashMap<String, Tensor>)> {
    let path = dir.join(CHECKPOINT_FILE);
    if !path.is_file() {
        return Err(Error::model_file(&path, "expected a checkpoint to resume from (a previous run's output directory), found none"));
    }
    let (optimizer_state, metadata) = weights::read_file(&path, OPTIMIZER_PREFIX)?;
    let text = metadata.get(PROGRESS_KEY).ok_or_else(|| Error::model_file(&path, "checkpoint lacks its progress record"))?;
    let progress: Progress =
        serde_json::from_str(text).map_err(|error| Error::model_file(&path, format!("checkpoint progress is not valid: {error}")))?;
    if progress.format != FORMAT {
        return Err(Error::model_file(&path, format!("expected format {FORMAT:?}, found {:?}", progress.format)));
    }
    let ours = (model.meta.arch, &model.meta.classes, model.meta.image_size);
    if (progress.arch, &progress.classes, progress.image_size) != ours {
        return Err(Error::InvalidOption(format!(
            "Expected resume to continue the same arch, classes and imageSize ({}, {:?}, {}) but the checkpoint {} has ({}, {:?}, {})",
            ours.0.name(),
            ours.1,
            ours.2,
            path.display(),
            progress.arch.name(),
            progress.classes,
            progress.image_size
        )));
    }
    let bytes = std::fs::read(&path).map_err(|error| Error::model_file(&path, format!("cannot read: {error}")))?;
    weights::load_bytes(&model.vs, &bytes, &path)?;
    Ok((progress, optimizer_state))
}
