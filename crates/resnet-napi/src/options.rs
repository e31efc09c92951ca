//! Training options as JavaScript passes them (already validated by the facade) and their
//! conversion to the core's `TrainConfig`. Defaults live in the core, not here.
use crate::errors::invalid_option;
use napi_derive::napi;
use resnet_core::{Arch, DataSource, OptimizerKind, Preprocess, ResizeMode, TrainConfig};
use std::path::PathBuf;

#[napi(object)]
pub struct NativeTrainOptions {
    /// A root holding `train/` and `test/` (or `val/`). Either this or `trainDir`.
    pub data: Option<String>,
    pub train_dir: Option<String>,
    pub test_dir: Option<String>,
    /// Directory for the saved model and history.
    pub output: String,
    /// @default "resnet34"
    pub arch: Option<String>,
    /// @default 10
    pub epochs: Option<u32>,
    /// @default 64
    pub batch_size: Option<u32>,
    /// @default 0.005
    pub learning_rate: Option<f64>,
    /// "adam" | "adamw" | "sgd". @default "adam"
    pub optimizer: Option<String>,
    /// @default 256
    pub image_size: Option<u32>,
    /// "auto" | "cpu" | "cuda" | "cuda:N". @default "auto"
    pub device: Option<String>,
    /// @default 42
    pub seed: Option<i64>,
    /// "stretch" | "crop". @default "stretch"
    pub resize: Option<String>,
    /// @default [0.5, 0.5, 0.5]
    pub mean: Option<Vec<f64>>,
    /// @default [0.5, 0.5, 0.5]
    pub std: Option<Vec<f64>>,
    /// Image decoding threads; 0 means one per core. @default 0
    pub workers: Option<u32>,
}

impl TryFrom<NativeTrainOptions> for TrainConfig {
    type Error = napi::Error;

    fn try_from(options: NativeTrainOptions) -> napi::Result<TrainConfig> {
        let data = match (options.data, options.train_dir, options.test_dir) {
            (Some(root), None, None) => DataSource::from_root(&PathBuf::from(root)).map_err(crate::errors::to_napi)?,
            (None, Some(train), Some(test)) => DataSource { train: train.into(), validation: test.into() },
            _ => return Err(invalid_option("Expected either data or both trainDir and testDir".into())),
        };
        let mut config = TrainConfig::new(data, PathBuf::from(options.output));
        if let Some(arch) = options.arch {
            config.arch = Arch::parse(&arch).map_err(crate::errors::to_napi)?;
        }
        if let Some(optimizer) = options.optimizer {
            config.optimizer = OptimizerKind::parse(&optimizer).map_err(crate::errors::to_napi)?;
        }
        config.epochs = options.epochs.map_or(config.epochs, |n| n as usize);
        config.batch_size = options.batch_size.map_or(config.batch_size, |n| n as usize);
        config.learning_rate = options.learning_rate.unwrap_or(config.learning_rate);
        config.image_size = options.image_size.unwrap_or(config.image_size);
        config.device = options.device.unwrap_or(config.device);
        config.seed = options.seed.map_or(config.seed, |seed| seed as u64);
        config.workers = options.workers.map_or(config.workers, |n| n as usize);
        config.preprocess = preprocess(options.resize, options.mean, options.std)?;
        config.validate().map_err(crate::errors::to_napi)?;
        Ok(config)
    }
}

fn preprocess(resize: Option<String>, mean: Option<Vec<f64>>, std: Option<Vec<f64>>) -> napi::Result<Preprocess> {
    let mut preprocess = Preprocess::notebook();
    preprocess.resize = match resize.as_deref() {
        None | Some("stretch") => ResizeMode::Stretch,
        Some("crop") => ResizeMode::Crop,
        Some(other) => return Err(invalid_option(format!("Expected \"stretch\" or \"crop\" for resize but received {other:?}"))),
    };
    if let Some(mean) = mean {
        preprocess.mean = triple("mean", &mean)?;
    }
    if let Some(std) = std {
        preprocess.std = triple("std", &std)?;
    }
    Ok(preprocess)
}

fn triple(name: &str, values: &[f64]) -> napi::Result<[f32; 3]> {
    match values {
        [r, g, b] => Ok([*r as f32, *g as f32, *b as f32]),
        _ => Err(invalid_option(format!("Expected three numbers for {name} but received {} number(s)", values.len()))),
    }
}
