//! Every training option's name, kind, range, default and help, in one table. The core
//! checks options against it (`train_options`), the binding hands it to JavaScript, where the
//! facade checks only JavaScript types with its wording and the CLI makes its flags and help
//! from it. Every message has one shape: "Expected <what> for <name> but received <value>".
use crate::data::preprocess::ResizeMode;
use crate::distributed::topology::DEFAULT_TIMEOUT;
use crate::choice::{one_of, Choice};
use crate::error::{describe, invalid_option, Error, Result};
use crate::model::arch::Arch;
use crate::precision::Precision;
use crate::train::{class_weights::ClassWeights, monitor::Monitor, optimizer::OptimizerKind, recipe::Recipe, schedule::ScheduleKind};
use serde_json::Value;
use Bound::{Above, AtLeast, AtMost, Below, Unbounded};
use DefaultText::{Resolved, Words};

/// One end of a number's range.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// Values must exceed it.
    Above(f64),
    /// Values may equal it.
    AtLeast(f64),
    Below(f64),
    AtMost(f64),
    Unbounded,
}

/// What an option accepts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A whole number from `min` to `max`.
    Integer { min: u64, max: u64 },
    /// A finite number between two bounds.
    Number { low: Bound, high: Bound },
    /// One of these names.
    Choice(fn() -> Vec<&'static str>),
    Boolean,
    /// A non-empty string: a path.
    Text,
    /// Exactly three finite numbers (per-channel statistics).
    Triple,
    /// `[min, max]` fractions with 0 < min <= max <= 1.
    FractionRange,
    /// A dataset folder, or `{ train, test }` folders.
    Data,
    /// "auto", "cpu", "cuda" or "cuda:N".
    Device,
    /// An object of the options named `<name>.<key>`.
    Group,
}

/// What an option's default is, for help texts.
#[derive(Debug, Clone, Copy)]
pub enum DefaultText {
    /// No default: unset means off.
    None,
    /// Described in words.
    Words(&'static str),
    /// Read from the recipe's resolved configuration (config.json's field of the same name).
    Resolved,
    /// Computed from a constant defined beside its user.
    Computed(fn() -> String),
}

#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// As the API names it (camelCase; "distributed.nproc" inside a group).
    pub name: &'static str,
    pub kind: Kind,
    pub default: DefaultText,
    /// One line for the CLI's help.
    pub help: &'static str,
}

impl Kind {
    /// The kind's name, for callers in other languages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Integer { .. } => "integer",
            Kind::Number { .. } => "number",
            Kind::Choice(_) => "choice",
            Kind::Boolean => "boolean",
            Kind::Text => "text",
            Kind::Triple => "triple",
            Kind::FractionRange => "fractionRange",
            Kind::Data => "data",
            Kind::Device => "device",
            Kind::Group => "group",
        }
    }
}

impl OptionSpec {
    /// What the option expects, as messages say it: "an integer between 1 and 100000".
    pub fn expected(&self) -> String {
        match self.kind {
            Kind::Integer { min, max } => format!("an integer between {min} and {max}"),
            Kind::Number { low, high } => number_range(low, high),
            Kind::Choice(names) => one_of(&names()),
            Kind::Boolean => "a boolean".into(),
            Kind::Text => "a non-empty string".into(),
            Kind::Triple => "an array of three finite numbers".into(),
            Kind::FractionRange => "[min, max] with 0 < min <= max <= 1".into(),
            Kind::Data => "a dataset folder or { train, test } folders".into(),
            Kind::Device => "\"auto\", \"cpu\", \"cuda\" or \"cuda:N\"".into(),
            Kind::Group => format!("an object of the options {}", group_keys(self.name).join(", ")),
        }
    }

    /// ERR_INVALID_OPTION for `value`.
    pub fn invalid(&self, value: &Value) -> Error {
        invalid_option(&self.expected(), self.name, &describe(value))
    }

    /// `value` as a number this option accepts.
    pub fn number(&self, value: &Value) -> Result<f64> {
        let number = value.as_f64().filter(|n| n.is_finite()).ok_or_else(|| self.invalid(value))?;
        let fits = match self.kind {
            Kind::Integer { min, max } => number.fract() == 0.0 && number >= min as f64 && number <= max as f64,
            Kind::Number { low, high } => above(low, number) && below(high, number),
            _ => false,
        };
        if fits { Ok(number) } else { Err(self.invalid(value)) }
    }
}

fn above(bound: Bound, n: f64) -> bool {
    match bound {
        Bound::Above(low) => n > low,
        Bound::AtLeast(low) => n >= low,
        _ => true,
    }
}

fn below(bound: Bound, n: f64) -> bool {
    match bound {
        Bound::Below(high) => n < high,
        Bound::AtMost(high) => n <= high,
        _ => true,
    }
}

fn number_range(low: Bound, high: Bound) -> String {
    match (low, high) {
        (Bound::Above(a), Bound::Unbounded) if a == 0.0 => "a positive number".into(),
        (Bound::AtLeast(a), Bound::Unbounded) if a == 0.0 => "a non-negative number".into(),
        (Bound::Above(a), Bound::Below(b)) => format!("a number greater than {a} and less than {b}"),
        (Bound::Above(a), Bound::AtMost(b)) => format!("a number greater than {a} and at most {b}"),
        (Bound::AtLeast(a), Bound::Below(b)) => format!("a number from {a} to less than {b}"),
        (Bound::AtLeast(a), Bound::AtMost(b)) => format!("a number from {a} to {b}"),
        (Bound::Above(a), _) => format!("a number greater than {a}"),
        (Bound::AtLeast(a), _) => format!("a number of at least {a}"),
        _ => "a finite number".into(),
    }
}

/// The keys of group `name` ("distributed" -> nproc, timeoutSeconds).
pub fn group_keys(name: &str) -> Vec<&'static str> {
    TRAIN_OPTIONS.iter().filter_map(|spec| spec.name.strip_prefix(name)?.strip_prefix('.')).collect()
}

/// The option called `name`. Panics on a name not in the table: a programming error, caught
/// by every test that trains.
pub fn spec(name: &str) -> &'static OptionSpec {
    TRAIN_OPTIONS.iter().find(|spec| spec.name == name).unwrap_or_else(|| panic!("no training option is called {name}"))
}

const fn integer(min: u64, max: u64) -> Kind {
    Kind::Integer { min, max }
}

const fn number(low: Bound, high: Bound) -> Kind {
    Kind::Number { low, high }
}

const EPOCHS_MAX: u64 = 100_000;
/// JavaScript's largest exact integer (Number.MAX_SAFE_INTEGER).
const SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;


/// The training options, in the order help lists them.
pub const TRAIN_OPTIONS: &[OptionSpec] = &[
    OptionSpec { name: "data", kind: Kind::Data, default: DefaultText::None, help: "dataset root holding train/ and test/ (or val/), or with validationSplit one folder of class folders" },
    OptionSpec { name: "validationSplit", kind: number(Above(0.0), Below(1.0)), default: DefaultText::None, help: "hold out this fraction of each class when data is one folder of classes" },
    OptionSpec { name: "arch", kind: Kind::Choice(Arch::names), default: Resolved, help: "network depth" },
    OptionSpec { name: "epochs", kind: integer(1, EPOCHS_MAX), default: Resolved, help: "epochs to train" },
    OptionSpec { name: "batchSize", kind: integer(1, 65_536), default: Resolved, help: "images per batch (per rank when distributed)" },
    OptionSpec { name: "learningRate", kind: number(Above(0.0), Below(10.0)), default: Resolved, help: "peak learning rate" },
    OptionSpec { name: "optimizer", kind: Kind::Choice(OptimizerKind::names), default: Resolved, help: "PyTorch's update rule" },
    OptionSpec { name: "imageSize", kind: integer(32, 2048), default: Resolved, help: "side of the square input in pixels" },
    OptionSpec { name: "device", kind: Kind::Device, default: Resolved, help: "where to train; auto picks CUDA when available" },
    OptionSpec { name: "output", kind: Kind::Text, default: Words("runs/<arch>-<time>"), help: "directory for the model, history and checkpoints" },
    OptionSpec { name: "seed", kind: integer(0, SAFE_INTEGER_MAX), default: Resolved, help: "random seed" },
    OptionSpec { name: "recipe", kind: Kind::Choice(Recipe::names), default: Words("standard"), help: "standard (AdamW, one-cycle, label smoothing, random crop + flip, ImageNet stats) or notebook (Adam 0.005, stretch, no augmentation)" },
    OptionSpec { name: "resize", kind: Kind::Choice(ResizeMode::names), default: Resolved, help: "evaluation resize: stretch to the square, or resize and centre crop" },
    OptionSpec { name: "mean", kind: Kind::Triple, default: Resolved, help: "per-channel normalisation mean of [0, 1] RGB" },
    OptionSpec { name: "std", kind: Kind::Triple, default: Resolved, help: "per-channel normalisation std of [0, 1] RGB" },
    OptionSpec { name: "augment", kind: Kind::Boolean, default: Words("true"), help: "the recipe's random training augmentation" },
    OptionSpec { name: "cache", kind: Kind::Choice(cache_names), default: Resolved, help: "keep decoded images in memory between epochs (auto: up to a quarter of the memory)" },
    OptionSpec { name: "cacheBytes", kind: integer(0, SAFE_INTEGER_MAX), default: Words("half the available memory"), help: "bound of the memory cache in bytes" },
    OptionSpec { name: "workers", kind: integer(0, 1024), default: Resolved, help: "image decoding threads; 0 means one per core" },
    OptionSpec { name: "cropScale", kind: Kind::FractionRange, default: Resolved, help: "random-resized-crop area range as fractions of the image" },
    OptionSpec { name: "weightDecay", kind: number(AtLeast(0.0), Below(1.0)), default: Resolved, help: "weight decay, not on norm and bias unless decayNormAndBias (another optimizer than the recipe's: PyTorch's default)" },
    OptionSpec { name: "decayNormAndBias", kind: Kind::Boolean, default: Resolved, help: "also decay batch-norm weights and biases" },
    OptionSpec { name: "momentum", kind: number(AtLeast(0.0), Below(1.0)), default: Resolved, help: "SGD momentum" },
    OptionSpec { name: "nesterov", kind: Kind::Boolean, default: Resolved, help: "SGD Nesterov momentum" },
    OptionSpec { name: "schedule", kind: Kind::Choice(ScheduleKind::names), default: Resolved, help: "learning-rate schedule" },
    OptionSpec { name: "warmupEpochs", kind: number(AtLeast(0.0), Below(EPOCHS_MAX as f64)), default: Resolved, help: "linear warm-up epochs (constant and cosine)" },
    OptionSpec { name: "labelSmoothing", kind: number(AtLeast(0.0), Below(1.0)), default: Resolved, help: "cross-entropy label smoothing" },
    OptionSpec { name: "gradientClip", kind: number(Above(0.0), Unbounded), default: DefaultText::None, help: "clip the global gradient norm to this value" },
    OptionSpec { name: "monitor", kind: Kind::Choice(Monitor::names), default: Resolved, help: "the validation metric that picks the best epoch" },
    OptionSpec { name: "patience", kind: integer(1, EPOCHS_MAX), default: DefaultText::None, help: "stop after this many epochs without improvement" },
    OptionSpec { name: "minDelta", kind: number(AtLeast(0.0), Unbounded), default: Resolved, help: "smallest change of monitor that counts as improvement" },
    OptionSpec { name: "resume", kind: Kind::Text, default: DefaultText::None, help: "continue a previous run's output from its last completed epoch" },
    OptionSpec { name: "pretrained", kind: Kind::Text, default: DefaultText::None, help: "fine-tune from 'imagenet' (torchvision's weights, downloaded once), a torchvision state_dict (.safetensors) or a saved model directory" },
    OptionSpec { name: "freezeEpochs", kind: integer(0, EPOCHS_MAX), default: Resolved, help: "with pretrained: epochs training only the new head first" },
    OptionSpec { name: "bodyLrFactor", kind: number(Above(0.0), AtMost(1.0)), default: Resolved, help: "with pretrained: the body's learning rate relative to the head's" },
    OptionSpec { name: "precision", kind: Kind::Choice(Precision::names), default: Resolved, help: "auto: bf16 autocast on CUDA and on CPUs with native bf16 where it measures faster, float32 elsewhere" },
    OptionSpec { name: "channelsLast", kind: Kind::Boolean, default: Resolved, help: "channels-last memory layout (faster with oneDNN and cuDNN)" },
    OptionSpec { name: "classWeights", kind: Kind::Choice(ClassWeights::names), default: Resolved, help: "balanced: weigh each class inversely to its image count" },
    OptionSpec { name: "freezeBatchNorm", kind: Kind::Boolean, default: Resolved, help: "keep batch norm as it is while the rest trains (FrozenBatchNorm2d)" },
    OptionSpec { name: "distributed", kind: Kind::Group, default: DefaultText::None, help: "data-parallel training on c10d" },
    OptionSpec { name: "distributed.nproc", kind: integer(1, 4096), default: DefaultText::None, help: "data-parallel ranks to spawn on this machine, one per GPU" },
    OptionSpec { name: "distributed.timeoutSeconds", kind: number(Above(0.0), Unbounded), default: DefaultText::Computed(|| DEFAULT_TIMEOUT.as_secs().to_string()), help: "seconds a rank waits for its peers before failing with ERR_DISTRIBUTED" },
];

/// The names `cache` takes (CacheMode carries a size, so it is not a `Choice`).
pub fn cache_names() -> Vec<&'static str> {
    vec!["auto", "memory", "off"]
}
