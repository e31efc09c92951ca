//! What the training report shows of the final model's validation: the metrics, and the
//! samples with the highest loss, each with a small JPEG thumbnail so the page stays small.
use crate::data::decode::decode_path;
use crate::data::folder::Sample;
use crate::metrics::{Evaluation, SampleOutcome, Tally};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::{resize, FilterType};
use image::RgbImage;
use serde::Serialize;
use std::path::Path;

/// Samples shown in the report's grid.
pub const WORST_SAMPLES: usize = 48;
/// Longest side of a thumbnail in pixels; smaller images keep their size.
pub const THUMBNAIL_SIDE: u32 = 96;
const THUMBNAIL_QUALITY: u8 = 80;

/// One validation image as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewedSample {
    pub path: String,
    pub label: usize,
    pub predicted: usize,
    pub loss: f64,
    /// Probability of the predicted class.
    pub probability: f64,
    /// JPEG bytes; empty when the file could no longer be read.
    #[serde(skip)]
    pub thumbnail: Vec<u8>,
}

/// The final model's validation, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReview {
    /// The epoch whose model was validated (the last one trained).
    pub epoch: usize,
    pub evaluation: Evaluation,
    /// Highest loss first, at most `WORST_SAMPLES`.
    pub worst: Vec<ReviewedSample>,
}

impl ValidationReview {
    /// Picks the highest-loss outcomes and makes their thumbnails.
    pub fn new(epoch: usize, classes: &[String], samples: &[Sample], tally: &Tally, mut outcomes: Vec<SampleOutcome>) -> Self {
        outcomes.sort_by(|a, b| b.loss.total_cmp(&a.loss).then(a.index.cmp(&b.index)));
        outcomes.truncate(WORST_SAMPLES);
        let worst = outcomes
            .into_iter()
            .filter_map(|outcome| {
                let path = &samples.get(outcome.index)?.path;
                Some(ReviewedSample {
                    path: path.to_string_lossy().into_owned(),
                    label: outcome.label,
                    predicted: outcome.predicted,
                    loss: outcome.loss,
                    probability: outcome.probability,
                    thumbnail: thumbnail_jpeg(path, THUMBNAIL_SIDE).unwrap_or_default(),
                })
            })
            .collect();
        ValidationReview { epoch, evaluation: tally.summary(classes), worst }
    }
}

/// The image at `path` shrunk to fit `side` x `side` (aspect kept, never enlarged), as JPEG.
pub fn thumbnail_jpeg(path: &Path, side: u32) -> Result<Vec<u8>, String> {
    let image = decode_path(path, side)?;
    let (width, height) = image.dimensions();
    let scale = (side as f64 / width.max(height) as f64).min(1.0);
    let (new_width, new_height) = (((width as f64 * scale).round() as u32).max(1), ((height as f64 * scale).round() as u32).max(1));
    let small: RgbImage =
        if scale < 1.0 { resize(&image, new_width, new_height, FilterType::Triangle) } else { image };
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, THUMBNAIL_QUALITY).encode_image(&small).map_err(|error| format!("cannot encode a thumbnail: {error}"))?;
    Ok(bytes)
}
