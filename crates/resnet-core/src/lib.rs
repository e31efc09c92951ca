//! resnet-core: ResNet image classifiers on libtorch, trained on folders of images.
//! Pure Rust; the Node binding lives in the `resnet-napi` crate.
//!
//! Reading order, bottom up: `error`, `options` (every option's rules), `config`, `device`, `fsutil`; `data` (folder scan,
//! decode, transform, loader) beside `model` (blocks, resnet, weights, saved); `host_reads`,
//! `metrics`, `distributed` (c10d process groups); `train`, `inference` and `export` on top.
pub mod choice;
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
pub mod options;
pub mod precision;
pub mod train;

pub use config::TrainConfig;
pub use data::cache::CacheMode;
pub use data::preprocess::{Augment, Preprocess, ResizeMode};
pub use data::source::DataSource;
pub use model::arch::Arch;
pub use choice::Choice;
pub use precision::Precision;
pub use train::class_weights::ClassWeights;
pub use train::monitor::Monitor;
pub use train::optimizer::{OptimizerConfig, OptimizerKind};
pub use train::recipe::Recipe;
pub use train::schedule::ScheduleKind;
pub use error::{Error, Result};
pub use inference::{ImageInput, Prediction};
pub use metrics::{ClassMetrics, Evaluation, SampleOutcome};
pub use model::saved::SavedModel;
pub use train::events::{BatchProgress, EpochSummary, TrainEvent, Warning};
pub use train::review::{ReviewedSample, ValidationReview};
pub use train::run::{train, TrainOutcome};
pub use train::timings::RunTimings;
