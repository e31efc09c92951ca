//! Resolved options of a training run and the preprocessing a model carries with it.
//! Defaults live here, once; the binding only fills in what the caller gave.
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

/// A named set of transforms: the notebook's, or the one that trains well by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipe {
    /// Random-resized-crop + flip for training; resize + centre crop for evaluation; ImageNet mean/std.
    Standard,
    /// Stretch to the square, no augmentation, mean/std 0.5.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub optimizer: OptimizerKind,
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
}

impl TrainConfig {
    /// The notebook's optimiser settings (Adam, lr 0.005, batch 64, 256 px) with the standard
    /// recipe's transforms, for `data`.
    pub fn new(data: DataSource, output: PathBuf) -> Self {
        let (augment, preprocess) = Recipe::Standard.transforms();
        TrainConfig {
            data,
            arch: Arch::Resnet34,
            epochs: 10,
            batch_size: 64,
            learning_rate: 0.005,
            optimizer: OptimizerKind::Adam,
            image_size: 256,
            device: "auto".to_string(),
            output,
            seed: 42,
            preprocess,
            augment,
            workers: 0,
            cache: CacheMode::Auto,
        }
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
        if !(32..=2048).contains(&self.image_size) {
            return invalid("an integer between 32 and 2048", "imageSize", self.image_size.to_string());
        }
        crate::device::parse_device(&self.device)?;
        self.augment.validate()?;
        self.preprocess.validate()
    }
}
