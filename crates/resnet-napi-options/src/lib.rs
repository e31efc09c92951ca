//! The training options' table for JavaScript, where the facade checks JavaScript types with
//! it and the CLI makes its flags and help from it, and the check that refuses bad options at
//! once. Every rule, default and message is the core's (`resnet_core::options`).
//!
//! An addon of its own, apart from resnet-napi: it links no libtorch, so `train()` checks its
//! options synchronously without loading libtorch on the calling thread (about 0.5 s), and
//! `resnet train --help` lists the flags where libtorch is missing.
use napi_derive::napi;
use resnet_core::options::{defaults::default_text, spec::Kind, TRAIN_OPTIONS};

/// One training option as the core defines it.
#[napi(object)]
pub struct NativeOptionSpec {
    /// As the API names it; "group.key" inside a group such as `distributed`.
    pub name: String,
    /// "integer" | "number" | "choice" | "boolean" | "text" | "triple" | "fractionRange" |
    /// "data" | "device" | "group"
    pub kind: String,
    /// What a message says the option expects: "an integer between 1 and 100000".
    pub expected: String,
    /// The default in words ("0.003; recipe notebook: 0.005"); null when unset means off.
    pub default: Option<String>,
    /// The names a "choice" takes.
    pub choices: Option<Vec<String>>,
    pub help: String,
}

#[napi(catch_unwind)]
pub fn train_option_specs() -> Vec<NativeOptionSpec> {
    TRAIN_OPTIONS
        .iter()
        .map(|spec| NativeOptionSpec {
            name: spec.name.into(),
            kind: spec.kind.name().into(),
            expected: spec.expected(),
            default: default_text(spec),
            choices: match spec.kind {
                Kind::Choice(names) => Some(names().into_iter().map(String::from).collect()),
                _ => None,
            },
            help: spec.help.into(),
        })
        .collect()
}

/// Throws ERR_INVALID_OPTION for options that break a range or rule; looks at no file.
#[napi(catch_unwind)]
pub fn check_train_options(#[napi(ts_arg_type = "Record<string, unknown>")] options: serde_json::Value) -> napi::Result<()> {
    resnet_core::options::check_train_options(&options).map_err(|error| napi::Error::new(napi::Status::GenericFailure, error.coded_message()))
}
