//! Training options as callers pass them (a JSON object: the binding's JavaScript options) to
//! a checked `TrainConfig`. Every range and message comes from the table in `spec`; what a
//! recipe or the core defaults to stays in `TrainConfig::new` and `Recipe`.
use crate::choice::Choice;
use super::spec::{cache_names, spec, Kind, TRAIN_OPTIONS};
use crate::config::TrainConfig;
use crate::data::cache::CacheMode;
use crate::data::preprocess::{Augment, ResizeMode};
use crate::data::source::DataSource;
use crate::distributed::Topology;
use crate::error::{describe, invalid_option, Result};
use crate::train::recipe::Recipe;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The checked configuration `options` ask for, with the data folders looked up and this
/// process's place in a distributed run read from the environment (torchrun's variables).
pub fn train_config(options: &Value) -> Result<TrainConfig> {
    let options = Options::new(options)?;
    let mut config = configure(&options, true)?;
    config.distributed = Topology::from_env()?;
    if let (Some(topology), Some(seconds)) = (&mut config.distributed, options.number("distributed.timeoutSeconds")?) {
        topology.timeout = Duration::from_secs_f64(seconds);
    }
    config.validate()?;
    Ok(config)
}

/// Checks `options` against every range and rule without looking at any file or device, so
/// that a caller can refuse bad options at once.
pub fn check_train_options(options: &Value) -> Result<()> {
    let options = Options::new(options)?;
    configure(&options, false)?.validate()
}

fn configure(options: &Options, locate_data: bool) -> Result<TrainConfig> {
    let data = data_source(options, locate_data)?;
    let output = options.text("output")?.ok_or_else(|| invalid_option(&spec("output").expected(), "output", "undefined"))?;
    let mut config = TrainConfig::new(data, PathBuf::from(output));
    // The recipe first; every option given overrides what it set.
    let recipe = options.choice::<Recipe>()?.unwrap_or(Recipe::Standard);
    config.pretrained = options.text("pretrained")?.map(PathBuf::from);
    config.apply_recipe(recipe);
    set(&mut config.arch, options.choice()?);
    if let Some(kind) = options.choice()? {
        config.optimizer = recipe.optimizer(kind);
    }
    let optimizer = &mut config.optimizer;
    set(&mut optimizer.weight_decay, options.number("weightDecay")?);
    set(&mut optimizer.decay_norm_and_bias, options.boolean("decayNormAndBias")?);
    set(&mut optimizer.momentum, options.number("momentum")?);
    set(&mut optimizer.nesterov, options.boolean("nesterov")?);
    set(&mut config.schedule, options.choice()?);
    set(&mut config.monitor, options.choice()?);
    set(&mut config.class_weights, options.choice()?);
    set(&mut config.warmup_epochs, options.number("warmupEpochs")?);
    set(&mut config.label_smoothing, options.number("labelSmoothing")?);
    config.gradient_clip = options.number("gradientClip")?.or(config.gradient_clip);
    config.patience = options.count("patience")?.or(config.patience);
    set(&mut config.min_delta, options.number("minDelta")?);
    config.resume = options.text("resume")?.map(PathBuf::from);
    set(&mut config.epochs, options.count("epochs")?);
    set(&mut config.batch_size, options.count("batchSize")?);
    set(&mut config.learning_rate, options.number("learningRate")?);
    set(&mut config.image_size, options.count("imageSize")?.map(|n| n as u32));
    set(&mut config.device, options.device()?);
    set(&mut config.seed, options.integer("seed")?);
    set(&mut config.workers, options.count("workers")?);
    set(&mut config.preprocess.resize, options.choice::<ResizeMode>()?);
    set(&mut config.preprocess.mean, options.triple("mean")?);
    set(&mut config.preprocess.std, options.triple("std")?);
    if options.boolean("augment")? == Some(false) {
        config.augment = Augment::none();
    }
    if let Some(scale) = options.fraction_range("cropScale")? {
        config.augment.crop_scale = Some(scale);
    }
    config.cache = cache_mode(options)?;
    set(&mut config.freeze_epochs, options.count("freezeEpochs")?);
    set(&mut config.body_lr_factor, options.number("bodyLrFactor")?);
    set(&mut config.precision, options.choice()?);
    set(&mut config.channels_last, options.boolean("channelsLast")?);
    set(&mut config.freeze_batch_norm, options.boolean("freezeBatchNorm")?);
    // Spawning ranks is the caller's work; the count is checked here with everything else.
    options.integer("distributed.nproc")?;
    options.number("distributed.timeoutSeconds")?;
    Ok(config)
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// `data` as a source: a root holding train/ and test/, one folder to split by
/// `validationSplit`, or `{ train, test }` folders. Unless `locate`, no folder is looked at.
fn data_source(options: &Options, locate: bool) -> Result<DataSource> {
    let split = options.number("validationSplit")?;
    let data = spec("data");
    let value = options.get("data").ok_or_else(|| invalid_option(&data.expected(), data.name, "undefined"))?;
    let folder = |key: &str| value.get(key).and_then(Value::as_str).filter(|path| !path.is_empty()).map(PathBuf::from);
    match (value, split) {
        (Value::String(root), _) if root.is_empty() => Err(data.invalid(value)),
        (Value::String(root), None) if locate => DataSource::from_root(&PathBuf::from(root)),
        (Value::String(root), Some(fraction)) if locate => DataSource::split(&PathBuf::from(root), fraction),
        (Value::String(root), _) => Ok(DataSource::Folders { train: root.into(), validation: root.into() }),
        (Value::Object(_), Some(_)) => Err(invalid_option("a folder of class folders for data when validationSplit is given", data.name, &describe(value))),
        (Value::Object(_), None) => match (folder("train"), folder("test")) {
            (Some(train), Some(validation)) => Ok(DataSource::Folders { train, validation }),
            _ => Err(data.invalid(value)),
        },
        _ => Err(data.invalid(value)),
    }
}

fn cache_mode(options: &Options) -> Result<CacheMode> {
    let bytes = options.integer("cacheBytes")?;
    let Some(value) = options.get("cache") else { return Ok(bytes.map_or(CacheMode::Auto, |bytes| CacheMode::Memory(Some(bytes)))) };
    let name = value.as_str().filter(|name| cache_names().contains(name)).ok_or_else(|| spec("cache").invalid(value))?;
    match (name, bytes) {
        ("memory", bytes) => Ok(CacheMode::Memory(bytes)),
        (_, Some(_)) => Err(invalid_option("cache \"memory\" (or no cache option) with cacheBytes", "cache", &describe(value))),
        ("off", None) => Ok(CacheMode::Off),
        _ => Ok(CacheMode::Auto),
    }
}

/// The options object, read one option at a time, each checked against its entry in the table.
struct Options<'a>(&'a Map<String, Value>);

impl<'a> Options<'a> {
    /// Refuses anything but an object of known options (a typo would otherwise be ignored).
    fn new(value: &'a Value) -> Result<Self> {
        let Value::Object(map) = value else { return Err(invalid_option("an options object", "train options", &describe(value))) };
        let top: Vec<&str> = TRAIN_OPTIONS.iter().map(|spec| spec.name).filter(|name| !name.contains('.')).collect();
        unknown_key(map, &top, "train options")?;
        for group in TRAIN_OPTIONS.iter().filter(|spec| matches!(spec.kind, Kind::Group)) {
            match map.get(group.name) {
                None | Some(Value::Null) => {}
                Some(Value::Object(inner)) => unknown_key(inner, &super::spec::group_keys(group.name), group.name)?,
                Some(other) => return Err(group.invalid(other)),
            }
        }
        Ok(Options(map))
    }

    /// The value of `name` ("distributed.nproc" looks inside its group); `None` when absent
    /// or null.
    fn get(&self, name: &str) -> Option<&'a Value> {
        let value = match name.split_once('.') {
            Some((group, key)) => self.0.get(group)?.get(key),
            None => self.0.get(name),
        }?;
        (!value.is_null()).then_some(value)
    }

    fn number(&self, name: &str) -> Result<Option<f64>> {
        self.get(name).map(|value| spec(name).number(value)).transpose()
    }

    fn integer(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.number(name)?.map(|n| n as u64))
    }

    fn count(&self, name: &str) -> Result<Option<usize>> {
        Ok(self.integer(name)?.map(|n| n as usize))
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>> {
        self.get(name).map(|value| value.as_bool().ok_or_else(|| spec(name).invalid(value))).transpose()
    }

    fn text(&self, name: &str) -> Result<Option<&'a str>> {
        self.get(name).map(|value| value.as_str().filter(|text| !text.is_empty()).ok_or_else(|| spec(name).invalid(value))).transpose()
    }

    fn choice<T: Choice>(&self) -> Result<Option<T>> {
        self.get(T::OPTION).map(|value| value.as_str().ok_or_else(|| spec(T::OPTION).invalid(value)).and_then(T::parse)).transpose()
    }

    /// "auto", "cpu", "cuda" or "cuda:N", by its form alone: whether that device exists is
    /// known when training starts.
    fn device(&self) -> Result<Option<String>> {
        let Some(value) = self.get("device") else { return Ok(None) };
        let name = value.as_str().unwrap_or_default();
        let index = name.strip_prefix("cuda:");
        match name {
            "auto" | "cpu" | "cuda" => Ok(Some(name.to_string())),
            _ if index.is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())) => Ok(Some(name.to_string())),
            _ => Err(spec("device").invalid(value)),
        }
    }

    fn triple(&self, name: &str) -> Result<Option<[f32; 3]>> {
        self.get(name).map(|value| match numbers(value).as_deref() {
            Some(&[r, g, b]) => Ok([r, g, b]),
            _ => Err(spec(name).invalid(value)),
        })
        .transpose()
    }

    fn fraction_range(&self, name: &str) -> Result<Option<[f32; 2]>> {
        self.get(name).map(|value| match numbers(value).as_deref() {
            Some(&[low, high]) if 0.0 < low && low <= high && high <= 1.0 => Ok([low, high]),
            _ => Err(spec(name).invalid(value)),
        })
        .transpose()
    }
}

/// The finite numbers of an array; `None` for anything else.
fn numbers(value: &Value) -> Option<Vec<f32>> {
    value.as_array()?.iter().map(|item| item.as_f64().filter(|n| n.is_finite()).map(|n| n as f32)).collect()
}

fn unknown_key(map: &Map<String, Value>, known: &[&str], what: &str) -> Result<()> {
    match map.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(invalid_option(&format!("one of the options {}", known.join(", ")), what, &describe(&key.as_str().into()))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::defaults::resolved_field;
    use crate::options::spec::{Bound, OptionSpec};
    use crate::train::run_config::resolved;
    use serde_json::json;

    fn base() -> Value {
        json!({ "data": "/data", "output": "/out", "pretrained": "/weights.safetensors" })
    }

    /// A valid value of `spec` other than its default.
    fn another_value(spec: &OptionSpec, default: &Value) -> Value {
        match spec.kind {
            Kind::Integer { min, .. } => json!(min + 2),
            Kind::Number { .. } if spec.name == "warmupEpochs" => json!(1.5),
            Kind::Number { low: Bound::Above(low) | Bound::AtLeast(low), high: Bound::Below(high) | Bound::AtMost(high) } => json!((low + high) / 2.0),
            Kind::Number { .. } => json!(1.25),
            Kind::Choice(names) => json!(names().into_iter().rev().find(|name| json!(name) != *default).unwrap()),
            // config.json records augment as the augmentation itself, which `false` removes.
            Kind::Boolean if spec.name == "augment" => json!(false),
            Kind::Boolean => json!(!default.as_bool().unwrap_or(false)),
            Kind::Text => json!("/elsewhere"),
            Kind::Triple => json!([0.25, 0.5, 0.75]),
            Kind::FractionRange => json!([0.25, 0.75]),
            Kind::Data | Kind::Device | Kind::Group => unreachable!(),
        }
    }

    #[test]
    fn every_option_of_the_table_reaches_the_configuration() {
        let before = resolved(&configure(&Options::new(&base()).unwrap(), false).unwrap(), 1);
        // Read elsewhere: the data folders, the output, and the distributed group (from the
        // environment, by `train_config`). The device is checked by form only.
        let elsewhere = ["data", "validationSplit", "output", "device", "distributed", "distributed.nproc", "distributed.timeoutSeconds"];
        for spec in TRAIN_OPTIONS.iter().filter(|spec| !elsewhere.contains(&spec.name)) {
            let default = resolved_field(&before, spec.name).cloned().unwrap_or_default();
            let mut options = base();
            options[spec.name] = another_value(spec, &default);
            let config = configure(&Options::new(&options).unwrap(), false).unwrap_or_else(|error| panic!("{}: {error}", spec.name));
            config.validate().unwrap_or_else(|error| panic!("{}: {error}", spec.name));
            assert_ne!(resolved(&config, 1), before, "{} = {} changed nothing", spec.name, options[spec.name]);
        }
    }

    #[test]
    fn messages_come_from_the_table() {
        let refused = |options: Value| check_train_options(&options).unwrap_err().to_string();
        let mut options = base();
        options["epochs"] = json!(0);
        assert_eq!(refused(options), "Expected an integer between 1 and 100000 for epochs but received 0");
        let mut options = base();
        options["optimizer"] = json!("lbfgs");
        assert_eq!(refused(options), "Expected one of \"adam\", \"adamw\", \"sgd\" for optimizer but received \"lbfgs\"");
        let mut options = base();
        options["distributed"] = json!({ "ranks": 2 });
        assert_eq!(refused(options), "Expected one of the options nproc, timeoutSeconds for distributed but received \"ranks\"");
        let mut options = base();
        options["epoch"] = json!(3);
        assert!(refused(options).starts_with("Expected one of the options data, validationSplit, arch,"));
    }

    #[test]
    fn checking_looks_at_no_folder_but_resolving_does() {
        let options = json!({ "data": "/no/such/folder", "output": "/out" });
        assert!(check_train_options(&options).is_ok());
        assert_eq!(train_config(&options).unwrap_err().code(), "ERR_DATASET");
    }
}
