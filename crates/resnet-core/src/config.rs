//! Resolved options of a training run and the preprocessing a model carries with it.
//! Defaults live here, once; the binding only fills in what the caller gave.
use crate::distributed::Topology;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The torchvision ResNet variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Resnet18,
    Resnet34,
    Resnet50,
    Resnet101,
    Resnet152,
}

impl Arch {
    pub const ALL: [Arch; 5] =
        [Arch::Resnet18, Arch::Resnet34, Arch::Resnet50, Arch::Resnet101, Arch::Resnet152];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Resnet18 => "resnet18",
            Arch::Resnet34 => "resnet34",
            Arch::Resnet50 => "resnet50",
            Arch::Resnet101 => "resnet101",
            Arch::Resnet152 => "resnet152",
        }
    }

    pub fn parse(name: &str) -> Result<Arch> {
        Arch::ALL.into_iter().find(|arch| arch.name() == name).ok_or_else(|| {
            Error::InvalidOption(format!(
                "Expected one of resnet18, resnet34, resnet50, resnet101, resnet152 for arch but received {name:?}"
            ))
        })
    }
}

/// How an image becomes `imageSize x imageSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    /// Straight to the square, aspect ignored (the notebook's transform).
    Stretch,
    /// Shorter side to round(size / 0.875), then a centre crop (torchvision's eval convention).
    Crop,
}

/// The evaluation transform stored in `model.json`: predict and evaluate use only this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub resize: ResizeMode,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// ImageNet's per-channel statistics, used by torchvision's pretrained models.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

impl Preprocess {
    /// The notebook's recipe: stretch, mean 0.5, std 0.5.
    pub fn notebook() -> Self {
        Preprocess { resize: ResizeMode::Stretch, mean: [0.5; 3], std: [0.5; 3] }
    }

    /// torchvision's evaluation transform: resize and centre crop, ImageNet mean/std.
    pub fn standard() -> Self {
        Preprocess { resize: ResizeMode::Crop, mean: IMAGENET_MEAN, std: IMAGENET_STD }
    }

    pub fn validate(&self) -> Result<()> {
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) || self.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::InvalidOption(format!(
                "Expected finite mean and positive std for preprocess but received mean {:?}, std {:?}",
                self.mean, self.std
            )));
        }
        Ok(())
    }
}

/// Random augmentation of training images, recorded in `model.json` under "train".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Augment {
    /// Random-resized-crop area range (fraction of the image); `None`: the evaluation resize.
    pub crop_scale: Option<[f32; 2]>,
    /// Random-resized-crop aspect-ratio range.
    pub crop_ratio: [f32; 2],
    pub horizontal_flip: bool,
}

impl Augment {
    /// No augmentation: training images get the evaluation transform (the notebook's way).
    pub fn none() -> Self {
        Augment { crop_scale: None, crop_ratio: [3.0 / 4.0, 4.0 / 3.0], horizontal_flip: false }
    }

    /// Random-resized-crop and horizontal flip. The area range starts at 0.35, as fastai's
    /// default, rather than torchvision's 0.08, which suits long ImageNet schedules better
    /// than the few epochs of a typical fine-tune or small dataset.
    pub fn standard() -> Self {
        Augment { crop_scale: Some([0.35, 1.0]), crop_ratio: [3.0 / 4.0, 4.0 / 3.0], horizontal_flip: true }
    }

    pub fn validate(&self) -> Result<()> {
        let ordered = |range: [f32; 2]| range[0].is_finite() && range[1].is_finite() && 0.0 < range[0] && range[0] <= range[1];
        if self.crop_scale.is_some_and(|scale| !ordered(scale) || scale[1] > 1.0) || !ordered(self.crop_ratio) {
            return Err(Error::InvalidOption(format!(
                "Expected 0 < min <= max <= 1 for cropScale and 0 < min <= max for cropRatio but received {:?} and {:?}",
                self.crop_scale, self.crop_ratio
            )));
        }
        Ok(())
    }
}

/// A named set of training settings: the optimiser, its schedule, the loss and the
/// transforms. `Standard` is the default: on real photos (bench/results/photos.md) it trains
/// far better models than the notebook's settings, which `Notebook` keeps exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// AdamW (lr 0.003, weight decay 0.05 off norm and bias), one-cycle, label smoothing 0.1;
    /// random-resized-crop + flip for training; resize + centre crop for evaluation;
    /// ImageNet mean/std. With pretrained weights, one frozen epoch first (fastai's fine_tune).
    Standard,
    /// Adam, lr 0.005, constant; stretch to the square, no augmentation, mean/std 0.5.
    Notebook,
}

impl Recipe {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "standard" => Ok(Recipe::Standard),
            "notebook" => Ok(Recipe::Notebook),
            other => Err(Error::InvalidOption(format!(
                "Expected one of standard, notebook for recipe but received {other:?}"
            ))),
        }
    }

    pub fn transforms(self) -> (Augment, Preprocess) {
        match self {
            Recipe::Standard => (Augment::standard(), Preprocess::standard()),
            Recipe::Notebook => (Augment::none(), Preprocess::notebook()),
        }
    }

    /// The recipe's optimiser.
    pub fn optimizer_kind(self) -> OptimizerKind {
        match self {
            Recipe::Standard => OptimizerKind::AdamW,
            Recipe::Notebook => OptimizerKind::Adam,
        }
    }

    /// The settings of optimiser `kind` under this recipe: the recipe's own for its optimiser,
    /// PyTorch's defaults for any other (a weight decay tuned for AdamW would be far too
    /// strong as SGD's L2 term).
    pub fn optimizer(self, kind: OptimizerKind) -> OptimizerConfig {
        let mut optimizer = OptimizerConfig::new(kind);
        if self == Recipe::Standard && kind == OptimizerKind::AdamW {
            optimizer.weight_decay = 0.05;
        }
        optimizer
    }

    pub fn learning_rate(self) -> f64 {
        match self {
            Recipe::Standard => 0.003,
            Recipe::Notebook => 0.005,
        }
    }

    pub fn schedule(self) -> ScheduleKind {
        match self {
            Recipe::Standard => ScheduleKind::OneCycle,
            Recipe::Notebook => ScheduleKind::Constant,
        }
    }

    pub fn label_smoothing(self) -> f64 {
        match self {
            Recipe::Standard => 0.1,
            Recipe::Notebook => 0.0,
        }
    }

    /// Epochs that train only the new head before the body, when starting from pretrained
    /// weights.
    pub fn freeze_epochs(self, pretrained: bool) -> usize {
        usize::from(pretrained && self == Recipe::Standard)
    }

    /// Sets every field of `config` this recipe decides (`freeze_epochs` from whether
    /// `config.pretrained` is set).
    pub fn apply(self, config: &mut TrainConfig) {
        config.optimizer = self.optimizer(self.optimizer_kind());
        config.learning_rate = self.learning_rate();
        config.schedule = self.schedule();
        config.label_smoothing = self.label_smoothing();
        (config.augment, config.preprocess) = self.transforms();
        config.freeze_epochs = self.freeze_epochs(config.pretrained.is_some());
    }
}

/// How much each class's images weigh in the training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    /// Every image alike (plain cross-entropy).
    Equal,
    /// Inversely proportional to the class's training images (scikit-learn's "balanced"), for
    /// imbalanced folders.
    Balanced,
}

impl ClassWeights {
    /// The loss weight of each class given its training images (`None`: all alike). Balanced:
    /// images / (classes x class images); a class without images gets 0 (it has no term).
    pub fn weights(self, counts: &[usize]) -> Option<Vec<f32>> {
        let total: usize = counts.iter().sum();
        match self {
            ClassWeights::Equal => None,
            ClassWeights::Balanced => Some(
                counts.iter().map(|&count| if count == 0 { 0.0 } else { total as f32 / (counts.len() * count) as f32 }).collect(),
            ),
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "equal" => Ok(ClassWeights::Equal),
            "balanced" => Ok(ClassWeights::Balanced),
            other => Err(Error::InvalidOption(format!("Expected one of equal, balanced for classWeights but received {other:?}"))),
        }
    }
}

/// The arithmetic of the forward and backward passes, in training and inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bf16 autocast on CUDA and on processors that compute bfloat16 natively
    /// (`device::cpu_has_native_bf16`), float32 on other processors (where bf16 is emulated).
    Auto,
    Fp32,
    /// bf16 autocast: convolutions and matrix products in bfloat16, reductions and the loss
    /// in float32; the weights and the optimiser stay float32.
    Bf16,
}

impl Precision {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(Precision::Auto),
            "fp32" => Ok(Precision::Fp32),
            "bf16" => Ok(Precision::Bf16),
            other => Err(Error::InvalidOption(format!("Expected one of auto, fp32, bf16 for precision but received {other:?}"))),
        }
    }

    /// Whether this precision autocasts to bf16 on `device`.
    pub fn uses_bf16(self, device: tch::Device) -> bool {
        match self {
            Precision::Auto => device.is_cuda() || (device == tch::Device::Cpu && crate::device::cpu_has_native_bf16()),
            Precision::Fp32 => false,
            Precision::Bf16 => true,
        }
    }
}

/// Whether decoded images are kept in memory between epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Off,
    /// Up to this many bytes of decoded images (default: half the available memory).
    Memory(Option<u64>),
    /// A quarter of the memory available when the run starts.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adam,
    AdamW,
    Sgd,
}

impl OptimizerKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            "sgd" => Ok(OptimizerKind::Sgd),
            other => Err(Error::InvalidOption(format!(
                "Expected one of adam, adamw, sgd for optimizer but received {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub weight_decay: f64,
    /// Apply weight decay to batch-norm weights and to biases too (PyTorch's default); false
    /// leaves them out, the usual choice for ResNets.
    pub decay_norm_and_bias: bool,
    pub betas: (f64, f64),
    pub eps: f64,
    /// SGD's momentum and Nesterov switch.
    pub momentum: f64,
    pub nesterov: bool,
}

impl OptimizerConfig {
    /// Adam as the notebook used it: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(kind: OptimizerKind) -> Self {
        OptimizerConfig {
            kind,
            weight_decay: if kind == OptimizerKind::AdamW { 0.01 } else { 0.0 },
            decay_norm_and_bias: false,
            betas: (0.9, 0.999),
            eps: 1e-8,
            momentum: 0.9,
            nesterov: false,
        }
    }
}

/// How the learning rate moves over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// The base rate throughout (after any warm-up).
    Constant,
    /// Linear warm-up, then cosine decay to 0.
    Cosine,
    /// PyTorch's OneCycleLR (cosine, 30% rising).
    OneCycle,
}

impl ScheduleKind {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "constant" => Ok(ScheduleKind::Constant),
            "cosine" => Ok(ScheduleKind::Cosine),
            "onecycle" => Ok(ScheduleKind::OneCycle),
            other => Err(Error::InvalidOption(format!(
                "Expected one of constant, cosine, onecycle for schedule but received {other:?}"
            ))),
        }
    }
}

/// The validation figure that picks the best epoch and drives early stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Monitor {
    ValLoss,
    ValAccuracy,
}

impl Monitor {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "valLoss" => Ok(Monitor::ValLoss),
            "valAccuracy" => Ok(Monitor::ValAccuracy),
            other => Err(Error::InvalidOption(format!("Expected one of valLoss, valAccuracy for monitor but received {other:?}"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Monitor::ValLoss => "valLoss",
            Monitor::ValAccuracy => "valAccuracy",
        }
    }

    /// Whether `candidate` beats `best` by more than `min_delta`.
    pub fn improves(self, candidate: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Monitor::ValLoss => candidate < best - min_delta,
            Monitor::ValAccuracy => candidate > best + min_delta,
        }
    }
}

/// Where the training and validation images are.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// Separate folders of class folders.
    Folders { train: PathBuf, validation: PathBuf },
    /// One folder of class folders, split per class (stratified, seeded): this fraction
    /// of each class validates.
    Split { root: PathBuf, validation_fraction: f64 },
}

impl DataSource {
    /// A root holding `train/` and `test/` (or `val/`).
    pub fn from_root(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::dataset("expected a dataset folder holding train/ and test/ (or val/), found no folder", root));
        }
        let train = root.join("train");
        if !train.is_dir() {
            return Err(Error::dataset("expected a train/ folder inside the dataset root, found none", root));
        }
        let validation = ["test", "val", "validation"]
            .iter()
            .map(|name| root.join(name))
            .find(|path| path.is_dir())
            .ok_or_else(|| Error::dataset("expected a test/ or val/ folder beside train/, found neither", root))?;
        Ok(DataSource::Folders { train, validation })
    }

    /// One folder of class folders, split by `validation_fraction` (between 0 and 1).
    pub fn split(root: &Path, validation_fraction: f64) -> Result<Self> {
        if !(validation_fraction > 0.0 && validation_fraction < 1.0) {
            return Err(Error::InvalidOption(format!(
                "Expected a number greater than 0 and less than 1 for validationSplit but received {validation_fraction}"
            )));
        }
        if !root.is_dir() {
            return Err(Error::dataset("expected a folder of class folders to split, found no folder", root));
        }
        Ok(DataSource::Split { root: root.to_path_buf(), validation_fraction })
    }

    /// The folder whose class folders define the classes.
    pub fn class_root(&self) -> &Path {
        match self {
            DataSource::Folders { train, .. } => train,
            DataSource::Split { root, .. } => root,
        }
    }
}

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
    /// Lay activations and convolution weights out channels_last; `None`: on (faster on
    /// oneDNN and cuDNN alike).
    pub channels_last: Option<bool>,
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
            channels_last: None,
            freeze_batch_norm: false,
            distributed: None,
        };
        Recipe::Standard.apply(&mut config);
        config
    }

    pub fn validate(&self) -> Result<()> {
        let invalid = |what: &str, name: &str, value: String| {
            Err(Error::InvalidOption(format!("Expected {what} for {name} but received {value}")))
        };
        if self.epochs == 0 || self.epochs > 100_000 {
            return invalid("an integer between 1 and 100000", "epochs", self.epochs.to_string());
        }
        if self.batch_size == 0 || self.batch_size > 65_536 {
            return invalid("an integer between 1 and 65536", "batchSize", self.batch_size.to_string());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate < 10.0) {
            return invalid("a number between 0 and 10", "learningRate", self.learning_rate.to_string());
        }
        let optimizer = &self.optimizer;
        if !(optimizer.weight_decay.is_finite() && (0.0..1.0).contains(&optimizer.weight_decay)) {
            return invalid("a number from 0 to 1", "weightDecay", optimizer.weight_decay.to_string());
        }
        if !(0.0..1.0).contains(&optimizer.momentum) {
            return invalid("a number from 0 to 1", "momentum", optimizer.momentum.to_string());
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return invalid("a number from 0 to 1", "labelSmoothing", self.label_smoothing.to_string());
        }
        if self.gradient_clip.is_some_and(|clip| !(clip.is_finite() && clip > 0.0)) {
            return invalid("a positive number", "gradientClip", format!("{:?}", self.gradient_clip));
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0 && self.warmup_epochs < self.epochs as f64) {
            return invalid("a number from 0 to less than epochs", "warmupEpochs", self.warmup_epochs.to_string());
        }
        if !(self.min_delta.is_finite() && self.min_delta >= 0.0) {
            return invalid("a non-negative number", "minDelta", self.min_delta.to_string());
        }
        if self.freeze_epochs > 0 && self.pretrained.is_none() {
            return invalid("pretrained weights to freeze (set pretrained)", "freezeEpochs", self.freeze_epochs.to_string());
        }
        if self.freeze_epochs > self.epochs {
            return invalid("at most epochs", "freezeEpochs", self.freeze_epochs.to_string());
        }
        if !(self.body_lr_factor.is_finite() && self.body_lr_factor > 0.0 && self.body_lr_factor <= 1.0) {
            return invalid("a number greater than 0 and at most 1", "bodyLrFactor", self.body_lr_factor.to_string());
        }
        if !(32..=2048).contains(&self.image_size) {
            return invalid("an integer between 32 and 2048", "imageSize", self.image_size.to_string());
        }
        crate::device::parse_device(&self.device)?;
        if let Some(topology) = &self.distributed {
            topology.validate()?;
        }
        self.augment.validate()?;
        self.preprocess.validate()
    }
}
