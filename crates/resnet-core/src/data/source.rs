//! Where the training and validation images are.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

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

    /// One folder of class folders, split by `validation_fraction` (0 to 1, exclusive: checked
    /// with the other options by `TrainConfig::validate`).
    pub fn split(root: &Path, validation_fraction: f64) -> Result<Self> {
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
