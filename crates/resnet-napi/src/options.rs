//! Training options as JavaScript passes them (already validated by the facade) and their
//! conversion to the core's `TrainConfig`. Defaults live in the core, not here.
use crate::errors::invalid_option;
use napi_derive::napi;
use resnet_core::distributed::Topology;
use resnet_core::{
    Arch, Augment, CacheMode, ClassWeights, DataSource, Monitor, OptimizerKind, Precision, Recipe, ResizeMode, ScheduleKind, TrainConfig,
};
use std::path::PathBuf;

#[napi(object)]
pub struct NativeTrainOptions {
    /// A root holding `train/` and `test/` (or `val/`), or with `validationSplit` a folder of
    /// class folders. Either this or `trainDir` and `testDir`.
    pub data: Option<String>,
    /// Fraction of each class held out for validation when `data` is one folder of classes.
    pub validation_split: Option<f64>,
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
    /// @default 0.003 (recipe "notebook": 0.005)
    pub learning_rate: Option<f64>,
    /// "adam" | "adamw" | "sgd". @default "adamw" (recipe "notebook": "adam")
    pub optimizer: Option<String>,
    /// @default 0.05 for the standard recipe's adamw; otherwise PyTorch's default (adam, sgd: 0; adamw: 0.01)
    pub weight_decay: Option<f64>,
    /// Decay batch-norm weights and biases too. @default false
    pub decay_norm_and_bias: Option<bool>,
    /// SGD momentum. @default 0.9
    pub momentum: Option<f64>,
    /// @default false
    pub nesterov: Option<bool>,
    /// "constant" | "cosine" | "onecycle". @default "onecycle" (recipe "notebook": "constant")
    pub schedule: Option<String>,
    /// @default 0
    pub warmup_epochs: Option<f64>,
    /// @default 0.1 (recipe "notebook": 0)
    pub label_smoothing: Option<f64>,
    /// "equal" | "balanced" (loss weights inversely proportional to class counts). @default "equal"
    pub class_weights: Option<String>,
    /// Largest global gradient norm.
    pub gradient_clip: Option<f64>,
    /// "valLoss" | "valAccuracy". @default "valLoss"
    pub monitor: Option<String>,
    /// Epochs without improvement before stopping early.
    pub patience: Option<u32>,
    /// @default 0
    pub min_delta: Option<f64>,
    /// A previous run's output directory to continue from.
    pub resume: Option<String>,
    /// @default 256
    pub image_size: Option<u32>,
    /// "auto" | "cpu" | "cuda" | "cuda:N". @default "auto"
    pub device: Option<String>,
    /// @default 42
    pub seed: Option<i64>,
    /// "standard" (AdamW 0.003, weight decay 0.05, one-cycle, label smoothing 0.1;
    /// random-resized-crop + flip; resize + centre crop; ImageNet mean/std; with pretrained
    /// weights one frozen epoch) or "notebook" (Adam 0.005 constant; stretch, no augmentation,
    /// mean/std 0.5). @default "standard"
    pub recipe: Option<String>,
    /// Overrides the recipe's evaluation resize: "stretch" | "crop".
    pub resize: Option<String>,
    /// Overrides the recipe's normalisation mean.
    pub mean: Option<Vec<f64>>,
    /// Overrides the recipe's normalisation std.
    pub std: Option<Vec<f64>>,
    /// false turns the recipe's training augmentation off.
    pub augment: Option<bool>,
    /// Random-resized-crop area range, [min, max] fractions of the image. @default [0.35, 1]
    pub crop_scale: Option<Vec<f64>>,
    /// "auto" | "memory" | "off". @default "auto" (a quarter of the available memory)
    pub cache: Option<String>,
    /// Bound of the "memory" cache in bytes. @default half the available memory
    pub cache_bytes: Option<f64>,
    /// Image decoding threads; 0 means one per core. @default 0
    pub workers: Option<u32>,
    /// A torchvision state_dict as safetensors (or a model directory) to start the body from.
    pub pretrained: Option<String>,
    /// With `pretrained`: epochs training only the new head (and batch norm) first. @default 1 (recipe "notebook": 0)
    pub freeze_epochs: Option<u32>,
    /// With `pretrained`: the body's learning rate relative to the head's once unfrozen. @default 0.1
    pub body_lr_factor: Option<f64>,
    /// "auto" | "fp32" | "bf16". @default "auto" (bf16 autocast on CUDA, fp32 on the CPU)
    pub precision: Option<String>,
    /// Channels-last memory layout for activations and convolution weights. @default true
    pub channels_last: Option<bool>,
    /// Keep batch norm as it is (statistics, scale and shift) while the rest trains. @default false
    pub freeze_batch_norm: Option<bool>,
    /// In a distributed run (WORLD_SIZE set, as torchrun does): seconds a rank waits for its
    /// peers before failing with ERR_DISTRIBUTED. @default 300
    pub distributed_timeout_seconds: Option<f64>,
}

impl TryFrom<NativeTrainOptions> for TrainConfig {
    type Error = napi::Error;

    fn try_from(options: NativeTrainOptions) -> napi::Result<TrainConfig> {
        let data = match (options.data, options.train_dir, options.test_dir, options.validation_split) {
            (Some(root), None, None, None) => DataSource::from_root(&PathBuf::from(root)),
            (Some(root), None, None, Some(fraction)) => DataSource::split(&PathBuf::from(root), fraction),
            (None, Some(train), Some(test), None) => Ok(DataSource::Folders { train: train.into(), validation: test.into() }),
            _ => return Err(invalid_option("Expected either data (with an optional validationSplit) or both trainDir and testDir".into())),
        }
        .map_err(crate::errors::to_napi)?;
        let mut config = TrainConfig::new(data, PathBuf::from(options.output));
        // The recipe first; every option given overrides what it set.
        let recipe = options.recipe.as_deref().map_or(Ok(Recipe::Standard), Recipe::parse).map_err(crate::errors::to_napi)?;
        config.pretrained = options.pretrained.map(PathBuf::from);
        recipe.apply(&mut config);
        if let Some(arch) = options.arch {
            config.arch = Arch::parse(&arch).map_err(crate::errors::to_napi)?;
        }
        if let Some(kind) = options.optimizer {
            config.optimizer = recipe.optimizer(OptimizerKind::parse(&kind).map_err(crate::errors::to_napi)?);
        }
        let optimizer = &mut config.optimizer;
        optimizer.weight_decay = options.weight_decay.unwrap_or(optimizer.weight_decay);
        optimizer.decay_norm_and_bias = options.decay_norm_and_bias.unwrap_or(optimizer.decay_norm_and_bias);
        optimizer.momentum = options.momentum.unwrap_or(optimizer.momentum);
        optimizer.nesterov = options.nesterov.unwrap_or(optimizer.nesterov);
        if let Some(schedule) = options.schedule {
            config.schedule = ScheduleKind::parse(&schedule).map_err(crate::errors::to_napi)?;
        }
        if let Some(monitor) = options.monitor {
            config.monitor = Monitor::parse(&monitor).map_err(crate::errors::to_napi)?;
        }
        if let Some(weights) = options.class_weights {
            config.class_weights = ClassWeights::parse(&weights).map_err(crate::errors::to_napi)?;
        }
        config.warmup_epochs = options.warmup_epochs.unwrap_or(config.warmup_epochs);
        config.label_smoothing = options.label_smoothing.unwrap_or(config.label_smoothing);
        config.gradient_clip = options.gradient_clip.or(config.gradient_clip);
        config.patience = options.patience.map(|n| n as usize).or(config.patience);
        config.min_delta = options.min_delta.unwrap_or(config.min_delta);
        config.resume = options.resume.map(PathBuf::from);
        config.epochs = options.epochs.map_or(config.epochs, |n| n as usize);
        config.batch_size = options.batch_size.map_or(config.batch_size, |n| n as usize);
        config.learning_rate = options.learning_rate.unwrap_or(config.learning_rate);
        config.image_size = options.image_size.unwrap_or(config.image_size);
        config.device = options.device.unwrap_or(config.device);
        config.seed = options.seed.map_or(config.seed, |seed| seed as u64);
        config.workers = options.workers.map_or(config.workers, |n| n as usize);
        override_preprocess(&mut config.preprocess, options.resize, options.mean, options.std)?;
        if options.augment == Some(false) {
            config.augment = Augment::none();
        }
        if let Some(scale) = options.crop_scale {
            match scale[..] {
                [low, high] => config.augment.crop_scale = Some([low as f32, high as f32]),
                _ => return Err(invalid_option(format!("Expected [min, max] for cropScale but received {} number(s)", scale.len()))),
            }
        }
        config.cache = cache_mode(options.cache.as_deref(), options.cache_bytes)?;
        config.freeze_epochs = options.freeze_epochs.map_or(config.freeze_epochs, |n| n as usize);
        config.body_lr_factor = options.body_lr_factor.unwrap_or(config.body_lr_factor);
        if let Some(precision) = options.precision {
            config.precision = Precision::parse(&precision).map_err(crate::errors::to_napi)?;
        }
        config.channels_last = options.channels_last.or(config.channels_last);
        config.freeze_batch_norm = options.freeze_batch_norm.unwrap_or(config.freeze_batch_norm);
        // torchrun's variables (or `train({ distributed })`'s workers) make this run one rank of many.
        config.distributed = Topology::from_env().map_err(crate::errors::to_napi)?;
        if let (Some(topology), Some(seconds)) = (&mut config.distributed, options.distributed_timeout_seconds) {
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(invalid_option(format!("Expected a positive number of seconds for distributed.timeoutSeconds but received {seconds}")));
            }
            topology.timeout = std::time::Duration::from_secs_f64(seconds);
        }
        config.validate().map_err(crate::errors::to_napi)?;
        Ok(config)
    }
}

fn override_preprocess(
    preprocess: &mut resnet_core::Preprocess,
    resize: Option<String>,
    mean: Option<Vec<f64>>,
    std: Option<Vec<f64>>,
) -> napi::Result<()> {
    match resize.as_deref() {
        None => {}
        Some("stretch") => preprocess.resize = ResizeMode::Stretch,
        Some("crop") => preprocess.resize = ResizeMode::Crop,
        Some(other) => return Err(invalid_option(format!("Expected \"stretch\" or \"crop\" for resize but received {other:?}"))),
    }
    if let Some(mean) = mean {
        preprocess.mean = triple("mean", &mean)?;
    }
    if let Some(std) = std {
        preprocess.std = triple("std", &std)?;
    }
    Ok(())
}

fn cache_mode(mode: Option<&str>, bytes: Option<f64>) -> napi::Result<CacheMode> {
    let bytes = match bytes {
        Some(value) if value.is_finite() && value >= 0.0 => Some(value as u64),
        Some(value) => return Err(invalid_option(format!("Expected a non-negative number of bytes for cacheBytes but received {value}"))),
        None => None,
    };
    match (mode, bytes) {
        (None | Some("auto"), None) => Ok(CacheMode::Auto),
        (Some("off"), None) => Ok(CacheMode::Off),
        (None | Some("memory"), bytes) => Ok(CacheMode::Memory(bytes)),
        (Some(other), _) => Err(invalid_option(format!("Expected \"auto\", \"memory\" or \"off\" for cache (cacheBytes only with \"memory\") but received {other:?}"))),
    }
}

fn triple(name: &str, values: &[f64]) -> napi::Result<[f32; 3]> {
    match values {
        [r, g, b] => Ok([*r as f32, *g as f32, *b as f32]),
        _ => Err(invalid_option(format!("Expected three numbers for {name} but received {} number(s)", values.len()))),
    }
}
