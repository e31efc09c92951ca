//! `<output>/config.json`: a run's resolved configuration, every default filled in. Written
//! atomically with the run's first epoch (by rank 0 alone in a distributed run), shown in the report,
//! and read back by a resume, which names each hyperparameter it changes. (A changed arch,
//! class list or image size is refused by the checkpoint itself.)
use crate::config::TrainConfig;
use crate::data::cache::CacheMode;
use crate::data::source::DataSource;
use serde_json::{json, Value};
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";
const FORMAT: &str = "resnet-napi-config/1";

/// Settings a resume may change without comment: where the data and output are, how images
/// are read, which device computes, and how many epochs the run lasts (it may grow).
const FREE_ON_RESUME: [&str; 9] = ["format", "data", "output", "resume", "pretrained", "epochs", "workers", "cache", "device"];

/// The configuration as config.json records it (camelCase, as the options are named).
pub fn resolved(config: &TrainConfig, world_size: usize) -> Value {
    let optimizer = &config.optimizer;
    let data = match &config.data {
        DataSource::Folders { train, validation } => json!({ "train": train, "validation": validation }),
        DataSource::Split { root, validation_fraction } => json!({ "root": root, "validationSplit": validation_fraction }),
    };
    let cache = match config.cache {
        CacheMode::Auto => json!("auto"),
        CacheMode::Off => json!("off"),
        CacheMode::Memory(bytes) => json!({ "memory": bytes }),
    };
    json!({
        "format": FORMAT,
        "data": data,
        "output": config.output,
        "resume": config.resume,
        "arch": config.arch,
        "imageSize": config.image_size,
        "epochs": config.epochs,
        "batchSize": config.batch_size,
        "worldSize": world_size,
        "learningRate": config.learning_rate,
        "optimizer": optimizer.kind,
        "weightDecay": optimizer.weight_decay,
        "decayNormAndBias": optimizer.decay_norm_and_bias,
        "betas": [optimizer.betas.0, optimizer.betas.1],
        "eps": optimizer.eps,
        "momentum": optimizer.momentum,
        "nesterov": optimizer.nesterov,
        "schedule": config.schedule,
        "warmupEpochs": config.warmup_epochs,
        "labelSmoothing": config.label_smoothing,
        "classWeights": config.class_weights,
        "gradientClip": config.gradient_clip,
        "monitor": config.monitor,
        "patience": config.patience,
        "minDelta": config.min_delta,
        "seed": config.seed,
        "preprocess": config.preprocess,
        "augment": config.augment,
        "pretrained": config.pretrained,
        "freezeEpochs": config.freeze_epochs,
        "bodyLrFactor": config.body_lr_factor,
        "freezeBatchNorm": config.freeze_batch_norm,
        "precision": config.precision,
        "channelsLast": config.channels_last,
        "device": config.device,
        "workers": config.workers,
        "cache": cache,
    })
}

/// config.json's text (the saver writes it with the run's first epoch) for `resolved`.
pub fn text(resolved: &Value) -> String {
    serde_json::to_string_pretty(resolved).unwrap_or_default() + "\n"
}

/// The settings `now` changes from the run saved in `previous_dir`, one line each ("learningRate
/// 0.003 -> 0.01"); none when that run left no readable config.json.
pub fn changes_on_resume(previous_dir: &Path, now: &Value) -> Vec<String> {
    let before = std::fs::read_to_string(previous_dir.join(CONFIG_FILE)).ok().and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let (Some(Value::Object(before)), Value::Object(now)) = (before, now) else { return Vec::new() };
    now.iter()
        .filter(|(key, _)| !FREE_ON_RESUME.contains(&key.as_str()))
        .filter_map(|(key, value)| {
            let old = before.get(key).unwrap_or(&Value::Null);
            (old != value).then(|| format!("{key} {old} -> {value}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use crate::data::source::DataSource;
    use std::path::PathBuf;

    fn config() -> TrainConfig {
        TrainConfig::new(DataSource::Folders { train: "t".into(), validation: "v".into() }, PathBuf::from("out"))
    }

    #[test]
    fn a_resume_names_each_changed_hyperparameter_and_lets_epochs_grow() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text(&resolved(&config(), 1))).unwrap();
        let mut resumed = config();
        resumed.epochs += 5;
        resumed.learning_rate = 0.01;
        resumed.optimizer.kind = crate::train::optimizer::OptimizerKind::Sgd;
        resumed.resume = Some(dir.path().to_path_buf());
        let changes = changes_on_resume(dir.path(), &resolved(&resumed, 1));
        assert_eq!(changes, vec!["learningRate 0.003 -> 0.01".to_string(), "optimizer \"adamw\" -> \"sgd\"".to_string()]);
    }

    #[test]
    fn no_config_json_means_nothing_to_compare() {
        let dir = tempfile::tempdir().unwrap();
        assert!(changes_on_resume(dir.path(), &resolved(&config(), 1)).is_empty());
    }
}
