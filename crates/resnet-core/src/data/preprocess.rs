//! What a model does to an image before the network sees it (`Preprocess`, saved in
//! model.json) and how training images are augmented (`Augment`, model.json's "train").
use crate::error::{Error, Result};
use crate::choice::choice;
use serde::{Deserialize, Serialize};

choice! {
    /// How an image becomes `imageSize x imageSize`.
    pub enum ResizeMode for "resize" {
        /// Straight to the square, aspect ignored (the notebook's transform).
        Stretch = "stretch",
        /// Shorter side to round(size / 0.875), then a centre crop (torchvision's eval convention).
        Crop = "crop",
    }
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
