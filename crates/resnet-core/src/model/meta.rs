//! `model.json`: what a saved model is (arch, classes) and how its inputs are prepared.
use crate::data::preprocess::{Augment, Preprocess};
use crate::model::arch::Arch;
use crate::error::{Error, Result};
use crate::fsutil::regular_file_within;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "resnet-napi/1";
pub const META_FILE: &str = "model.json";
/// Far above any real class list (100,000 names of 100 characters is 10 MB).
const MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelMeta {
    pub format: String,
    pub arch: Arch,
    pub classes: Vec<String>,
    pub image_size: u32,
    /// The evaluation transform: predict and evaluate use exactly this.
    pub preprocess: Preprocess,
    /// How training images were augmented (a record; absent in models from elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<Augment>,
}

impl ModelMeta {
    pub fn new(arch: Arch, classes: Vec<String>, image_size: u32, preprocess: Preprocess, train: Option<Augment>) -> Self {
        ModelMeta { format: FORMAT.to_string(), arch, classes, image_size, preprocess, train }
    }

    /// Reads and checks `model.json` in `dir`; every problem names the file. Only a regular
    /// file inside `dir` of at most `MAX_BYTES` is read.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(META_FILE);
        let size = regular_file_within(dir, &path).map_err(|reason| Error::model_file(&path, format!("cannot read model.json: {reason}")))?;
        if size > MAX_BYTES {
            return Err(Error::model_file(&path, format!("expected model.json of at most {MAX_BYTES} bytes, found {size} bytes")));
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|error| Error::model_file(&path, format!("cannot read model.json: {error}")))?;
        Self::parse(&text, &path)
    }

    /// Parses and checks the text of a `model.json` found at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let meta: ModelMeta = serde_json::from_str(text)
            .map_err(|error| Error::model_file(path, format!("model.json is not valid: {error}")))?;
        if meta.format != FORMAT {
            return Err(Error::model_file(path, format!("expected format {FORMAT:?}, found {:?}", meta.format)));
        }
        if meta.classes.is_empty() {
            return Err(Error::model_file(path, "expected at least one class in \"classes\", found none"));
        }
        if !(16..=4096).contains(&meta.image_size) {
            return Err(Error::model_file(path, format!("expected imageSize between 16 and 4096, found {}", meta.image_size)));
        }
        meta.preprocess.validate().map_err(|error| Error::model_file(path, error.to_string()))?;
        Ok(meta)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
