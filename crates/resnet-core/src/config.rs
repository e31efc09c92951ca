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

impl Preprocess {
    /// The notebook's recipe: stretch, mean 0.5, std 0.5.
    pub fn notebook() -> Self {
        Preprocess { resize: ResizeMode::Stretch, mean: [0.5; 3], std: [0.5; 3] }
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
pub struct DataSource {
    pub train: PathBuf,
    pub validation: PathBuf,
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
        Ok(DataSource { train, validation })
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
    pub preprocess: Preprocess,
    /// Threads decoding images; 0 means one per core.
    pub workers: usize,
}

impl TrainConfig {
    /// The notebook's settings (Adam, lr 0.005, batch 64, 256 px, mean/std 0.5) for `data`.
    pub fn new(data: DataSource, output: PathBuf) -> Self {
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
            preprocess: Preprocess::notebook(),
            workers: 0,
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
        self.preprocess.validate()
    }
}
