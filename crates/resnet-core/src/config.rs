//! The resolved options of a training run (`TrainConfig`): every default lives here or in
//! the recipe it starts from; `options` reads a caller's options into it.
use crate::data::cache::CacheMode;
use crate::data::preprocess::{Augment, Preprocess};
use crate::data::source::DataSource;
use crate::distributed::Topology;
use crate::error::{invalid_option, Result};
use crate::model::arch::Arch;
use crate::options::spec::spec;
use crate::precision::Precision;
use crate::train::class_weights::ClassWeights;
use crate::train::monitor::Monitor;
use crate::train::optimizer::{OptimizerConfig, OptimizerKind};
use crate::train::recipe::Recipe;
use crate::train::schedule::ScheduleKind;
use std::path::PathBuf;

/// Everything a training run needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub data: DataSource,
    pub arch: Arch,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: OptimizerConfig,
    pub schedule: ScheduleKind,
    /// Epochs of linear warm-up (constant and cosine schedules).
    pub warmup_epochs: f64,
    pub label_smoothing: f64,
    pub class_weights: ClassWeights,
    /// Clip the global gradient norm to this.
    pub gradient_clip: Option<f64>,
    pub monitor: Monitor,
    /// Stop after this many epochs without improvement of `monitor` by more than `min_delta`.
    pub patience: Option<usize>,
    pub min_delta: f64,
    /// A previous run's output directory to continue from its last checkpoint.
    pub resume: Option<PathBuf>,
    pub image_size: u32,
    /// "auto", "cpu", "cuda" or "cuda:N".
    pub device: String,
    pub output: PathBuf,
    pub seed: u64,
    /// The evaluation transform (also saved in `model.json`).
    pub preprocess: Preprocess,
    /// Random augmentation of training images.
    pub augment: Augment,
    /// Threads decoding images; 0 means one per core.
    pub workers: usize,
    pub cache: CacheMode,
    /// A torchvision-style `state_dict` (safetensors file, or a model directory) whose body
    /// weights start the network; the classifier is new, sized for this dataset's classes.
    pub pretrained: Option<PathBuf>,
    /// With `pretrained`: epochs that train only the head (and batch norm) before the whole
    /// network trains, fastai's `fine_tune` recipe. Counted within `epochs`.
    pub freeze_epochs: usize,
    /// With `pretrained`: the body's learning rate as a fraction of the head's once unfrozen.
    pub body_lr_factor: f64,
    pub precision: Precision,
    /// Lay activations and convolution weights out channels_last (on by default: faster on
    /// oneDNN and cuDNN alike).
    pub channels_last: bool,
    /// Keep batch norm's statistics, scale and shift as they are (from `pretrained`, or as
    /// initialised) and normalise with them while the rest trains.
    pub freeze_batch_norm: bool,
    /// This process's place in a data-parallel run (`Topology::from_env`); `None`: one
    /// process trains alone. `batch_size` is per rank.
    pub distributed: Option<Topology>,
}

impl TrainConfig {
    /// The standard recipe (`Recipe::Standard`) for `data`: resnet34, 10 epochs, batch 64,
    /// 256 px.
    pub fn new(data: DataSource, output: PathBuf) -> Self {
        let mut config = TrainConfig {
            data,
            arch: Arch::Resnet34,
            epochs: 10,
            batch_size: 64,
            learning_rate: 0.0,
            optimizer: OptimizerConfig::new(OptimizerKind::AdamW),
            schedule: ScheduleKind::Constant,
            warmup_epochs: 0.0,
            label_smoothing: 0.0,
            class_weights: ClassWeights::Equal,
            gradient_clip: None,
            monitor: Monitor::ValLoss,
            patience: None,
            min_delta: 0.0,
            resume: None,
            image_size: 256,
            device: "auto".to_string(),
            output,
            seed: 42,
            preprocess: Preprocess::standard(),
            augment: Augment::standard(),
            workers: 0,
            cache: CacheMode::Auto,
            pretrained: None,
            freeze_epochs: 0,
            body_lr_factor: 0.1,
            precision: Precision::Auto,
            channels_last: true,
            freeze_batch_norm: false,
            distributed: None,
        };
        config.apply_recipe(Recipe::Standard);
        config
    }

    /// Sets every field the recipe decides (`freeze_epochs` from whether `pretrained` is set).
    pub fn apply_recipe(&mut self, recipe: Recipe) {
        self.optimizer = recipe.optimizer(recipe.optimizer_kind());
        self.learning_rate = recipe.learning_rate();
        self.schedule = recipe.schedule();
        self.label_smoothing = recipe.label_smoothing();
        (self.augment, self.preprocess) = recipe.transforms();
        self.freeze_epochs = recipe.freeze_epochs(self.pretrained.is_some());
    }

    /// Checks every field against the options' table (`options::spec`) and the rules that
    /// join fields. The device is checked by its form; whether it exists, when training starts.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, value: f64| spec(name).number(&value.into()).map(drop);
        check("epochs", self.epochs as f64)?;
        check("batchSize", self.batch_size as f64)?;
        check("learningRate", self.learning_rate)?;
        check("weightDecay", self.optimizer.weight_decay)?;
        check("momentum", self.optimizer.momentum)?;
        check("labelSmoothing", self.label_smoothing)?;
        if let Some(clip) = self.gradient_clip {
            check("gradientClip", clip)?;
        }
        check("warmupEpochs", self.warmup_epochs)?;
        check("minDelta", self.min_delta)?;
        check("freezeEpochs", self.freeze_epochs as f64)?;
        check("bodyLrFactor", self.body_lr_factor)?;
        check("imageSize", self.image_size as f64)?;
        check("workers", self.workers as f64)?;
        if let Some(patience) = self.patience {
            check("patience", patience as f64)?;
        }
        if let DataSource::Split { validation_fraction, .. } = self.data {
            check("validationSplit", validation_fraction)?;
        }
        if self.warmup_epochs >= self.epochs as f64 {
            return Err(invalid_option("a number from 0 to less than epochs", "warmupEpochs", &self.warmup_epochs.to_string()));
        }
        if self.freeze_epochs > 0 && self.pretrained.is_none() {
            return Err(invalid_option("pretrained weights to freeze (set pretrained)", "freezeEpochs", &self.freeze_epochs.to_string()));
        }
        if self.freeze_epochs > self.epochs {
            return Err(invalid_option("at most epochs", "freezeEpochs", &self.freeze_epochs.to_string()));
        }
        if let Some(topology) = &self.distributed {
            topology.validate()?;
        }
        self.augment.validate()?;
        self.preprocess.validate()
    }
}
