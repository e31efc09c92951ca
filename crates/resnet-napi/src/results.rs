//! The core's results as typed JavaScript values: epoch summaries, training events, the
//! evaluation, the validation review and a model's metadata. No JSON text crosses into
//! JavaScript; the facade's public types are checked against these by the TypeScript compiler.
use napi::bindgen_prelude::{Buffer, Float32Array};
use napi_derive::napi;
use resnet_core::data::folder::Skipped;
use resnet_core::model::meta::ModelMeta;
use resnet_core::{Augment, EpochSummary, Evaluation, Prediction, Preprocess, ReviewedSample, RunTimings, TrainEvent, ValidationReview};

/// One training event, tagged with its `type`.
#[napi(discriminant = "type", discriminant_case = "lowercase", use_nullable = true)]
pub enum NativeTrainingEvent {
    Start {
        device: String,
        classes: Vec<String>,
        class_counts: Vec<u32>,
        train_images: u32,
        validation_images: u32,
        rank: u32,
        world_size: u32,
        backend: Option<String>,
    },
    Batch {
        epoch: u32,
        batch: u32,
        batches: u32,
        loss: f64,
        images_per_second: f64,
        learning_rate: f64,
    },
    Epoch {
        epoch: u32,
        epochs: u32,
        loss: f64,
        accuracy: f64,
        val_loss: Option<f64>,
        val_accuracy: Option<f64>,
        seconds: f64,
        learning_rate: f64,
    },
    Checkpoint {
        epoch: u32,
        output: String,
    },
    Warning {
        message: String,
        path: Option<String>,
    },
}

impl From<TrainEvent> for NativeTrainingEvent {
    fn from(event: TrainEvent) -> Self {
        match event {
            TrainEvent::Start { device, classes, class_counts, train_images, validation_images, distributed } => NativeTrainingEvent::Start {
                device,
                classes,
                class_counts: class_counts.into_iter().map(|count| count as u32).collect(),
                train_images: train_images as u32,
                validation_images: validation_images as u32,
                rank: distributed.as_ref().map_or(0, |info| info.rank as u32),
                world_size: distributed.as_ref().map_or(1, |info| info.world_size as u32),
                backend: distributed.map(|info| info.backend.to_string()),
            },
            TrainEvent::Batch(progress) => NativeTrainingEvent::Batch {
                epoch: progress.epoch as u32,
                batch: progress.batch as u32,
                batches: progress.batches as u32,
                loss: progress.loss,
                images_per_second: progress.images_per_second,
                learning_rate: progress.learning_rate,
            },
            TrainEvent::Epoch(summary) => {
                let NativeEpochSummary { epoch, epochs, loss, accuracy, val_loss, val_accuracy, seconds, learning_rate } = (&summary).into();
                NativeTrainingEvent::Epoch { epoch, epochs, loss, accuracy, val_loss, val_accuracy, seconds, learning_rate }
            }
            TrainEvent::Checkpoint { epoch, output } => NativeTrainingEvent::Checkpoint { epoch: epoch as u32, output: output.display().to_string() },
            TrainEvent::Warning(warning) => NativeTrainingEvent::Warning {
                message: warning.message,
                path: warning.path.map(|path| path.display().to_string()),
            },
        }
    }
}

#[napi(object, use_nullable = true)]
pub struct NativeEpochSummary {
    pub epoch: u32,
    pub epochs: u32,
    pub loss: f64,
    pub accuracy: f64,
    /// null when there are no validation images.
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub seconds: f64,
    pub learning_rate: f64,
}

impl From<&EpochSummary> for NativeEpochSummary {
    fn from(summary: &EpochSummary) -> Self {
        NativeEpochSummary {
            epoch: summary.epoch as u32,
            epochs: summary.epochs as u32,
            loss: summary.loss,
            accuracy: summary.accuracy,
            val_loss: summary.val_loss,
            val_accuracy: summary.val_accuracy,
            seconds: summary.seconds,
            learning_rate: summary.learning_rate,
        }
    }
}

/// Where a run's time went, in seconds, as measured on the training thread (`TrainResult.timings`
/// adds the report and the whole call).
#[napi(object)]
pub struct NativeRunTimings {
    /// From the call to the first epoch: folders, the network on its device, a resumed
    /// run's checkpoint.
    pub startup: f64,
    /// The epochs' training passes, waiting for decoded batches included.
    pub training: f64,
    /// The validation passes.
    pub validation: f64,
    /// The training thread's share of saving: copying each epoch's weights and optimiser state
    /// to host memory (the files are written beside the next epoch).
    pub saving: f64,
    /// After the last epoch: waiting for its files, the validation review.
    pub finishing: f64,
    /// The training thread's whole time.
    pub total: f64,
}

impl From<&RunTimings> for NativeRunTimings {
    fn from(timings: &RunTimings) -> Self {
        NativeRunTimings {
            startup: timings.startup,
            training: timings.training,
            validation: timings.validation,
            saving: timings.saving,
            finishing: timings.finishing,
            total: timings.total,
        }
    }
}

#[napi(object)]
pub struct NativeClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u32,
}

#[napi(object)]
pub struct NativeConfusion {
    pub actual: String,
    pub predicted: String,
    pub count: u32,
}

/// A file an evaluation could not read, and why.
#[napi(object)]
pub struct NativeSkipped {
    pub path: String,
    pub reason: String,
}

#[napi(object)]
pub struct NativeEvaluation {
    pub loss: f64,
    pub accuracy: f64,
    pub top5: f64,
    pub count: u32,
    pub per_class: Vec<NativeClassMetrics>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u32>>,
    /// The most frequent mistakes, most frequent first (at most 10).
    pub most_confused: Vec<NativeConfusion>,
    /// Files this evaluation skipped (a training run reports its skips as warnings instead).
    pub skipped: Vec<NativeSkipped>,
}

impl NativeEvaluation {
    pub fn new(evaluation: Evaluation, skipped: Vec<Skipped>) -> Self {
        NativeEvaluation {
            loss: evaluation.loss,
            accuracy: evaluation.accuracy,
            top5: evaluation.top5,
            count: evaluation.count as u32,
            per_class: evaluation
                .per_class
                .into_iter()
                .map(|c| NativeClassMetrics { class: c.class, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support as u32 })
                .collect(),
            confusion: evaluation.confusion.into_iter().map(|row| row.into_iter().map(|n| n as u32).collect()).collect(),
            most_confused: evaluation
                .most_confused
                .into_iter()
                .map(|pair| NativeConfusion { actual: pair.actual, predicted: pair.predicted, count: pair.count as u32 })
                .collect(),
            skipped: skipped.into_iter().map(|skip| NativeSkipped { path: skip.path.display().to_string(), reason: skip.reason }).collect(),
        }
    }
}

/// One of the validation images that cost the most, with its JPEG thumbnail (empty when the
/// image could not be read again).
#[napi(object)]
pub struct NativeReviewedSample {
    pub path: String,
    pub label: u32,
    pub predicted: u32,
    pub loss: f64,
    /// Probability of the predicted class.
    pub probability: f64,
    /// JPEG bytes; empty when the image could not be read again.
    pub thumbnail: Buffer,
}

/// The last epoch's validation, for the report.
#[napi(object)]
pub struct NativeReview {
    pub epoch: u32,
    pub evaluation: NativeEvaluation,
    pub worst: Vec<NativeReviewedSample>,
}

impl From<ValidationReview> for NativeReview {
    fn from(review: ValidationReview) -> Self {
        let sample = |s: ReviewedSample| NativeReviewedSample {
            path: s.path,
            label: s.label as u32,
            predicted: s.predicted as u32,
            loss: s.loss,
            probability: s.probability,
            thumbnail: s.thumbnail.into(),
        };
        NativeReview {
            epoch: review.epoch as u32,
            evaluation: NativeEvaluation::new(review.evaluation, Vec::new()),
            worst: review.worst.into_iter().map(sample).collect(),
        }
    }
}

/// The evaluation transform of model.json.
#[napi(object)]
pub struct NativePreprocess {
    /// "stretch" | "crop"
    pub resize: String,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// model.json's "train": how training images were augmented.
#[napi(object, use_nullable = true)]
pub struct NativeAugmentation {
    pub crop_scale: Option<Vec<f64>>,
    pub crop_ratio: Vec<f64>,
    pub horizontal_flip: bool,
}

/// A model's model.json.
#[napi(object, use_nullable = true)]
pub struct NativeModelMeta {
    pub format: String,
    pub arch: String,
    pub classes: Vec<String>,
    pub image_size: u32,
    pub preprocess: NativePreprocess,
    /// null for a model saved without it.
    pub train: Option<NativeAugmentation>,
}

impl From<&ModelMeta> for NativeModelMeta {
    fn from(meta: &ModelMeta) -> Self {
        // Through the shortest decimal form, so 0.485f32 reads 0.485 as model.json says.
        let floats = |values: &[f32]| values.iter().map(|v| v.to_string().parse().unwrap_or(f64::from(*v))).collect();
        let preprocess = |p: &Preprocess| NativePreprocess { resize: p.resize.name().into(), mean: floats(&p.mean), std: floats(&p.std) };
        let augmentation = |a: &Augment| NativeAugmentation {
            crop_scale: a.crop_scale.map(|scale| floats(&scale)),
            crop_ratio: floats(&a.crop_ratio),
            horizontal_flip: a.horizontal_flip,
        };
        NativeModelMeta {
            format: meta.format.clone(),
            arch: meta.arch.name().into(),
            classes: meta.classes.clone(),
            image_size: meta.image_size,
            preprocess: preprocess(&meta.preprocess),
            train: meta.train.as_ref().map(augmentation),
        }
    }
}

#[napi(object)]
pub struct NativePrediction {
    pub label: String,
    pub index: u32,
    pub probability: f64,
}

/// A float32 tensor: its elements in row-major order and its shape.
#[napi(object)]
pub struct NativeTensor {
    pub data: Float32Array,
    pub shape: Vec<u32>,
}

impl From<Prediction> for NativePrediction {
    fn from(prediction: Prediction) -> Self {
        NativePrediction { label: prediction.label, index: prediction.index as u32, probability: prediction.probability }
    }
}

impl NativeTensor {
    pub fn new(data: Vec<f32>, shape: &[usize]) -> Self {
        NativeTensor { data: Float32Array::new(data), shape: shape.iter().map(|&d| d as u32).collect() }
    }
}
