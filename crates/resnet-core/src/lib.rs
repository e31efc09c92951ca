//! resnet-core: ResNet image classifiers on libtorch, trained on folders of images.
//! Pure Rust; the Node binding lives in the `resnet-napi` crate.
//!
//! Reading order, bottom up: `error`, `config`, `device`, `fsutil`; `data` (folder scan,
//! decode, transform, loader) beside `model` (blocks, resnet, weights, saved); `host_reads`,
//! `metrics`, `distributed` (c10d process groups); `train`, `inference` and `export` on top.
pub mod config;
pub mod data;
pub mod device;
pub mod distributed;
pub mod error;
pub mod export;
#[doc(hidden)]
pub mod fault_injection;
pub mod fsutil;
pub mod host_reads;
pub mod inference;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod precision;
pub mod train;

pub use config::{
    Arch, Augment, CacheMode, ClassWeights, DataSource, Monitor, OptimizerConfig, OptimizerKind, Precision, Preprocess, Recipe, ResizeMode, ScheduleKind,
    TrainConfig,
};
pub use error::{Error, Result};
pub use inference::{ImageInput, Prediction};
pub use metrics::{ClassMetrics, Evaluation, SampleOutcome};
pub use model::saved::SavedModel;
pub use train::events::{BatchProgress, EpochSummary, TrainEvent, Warning};
pub use train::review::{ReviewedSample, ValidationReview};
pub use train::run::{train, TrainOutcome};
