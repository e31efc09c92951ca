//! The one error type of the core. Each variant has a stable code that the binding passes
//! to JavaScript unchanged, and a message that says what was expected and what was found.
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An option the caller passed is out of range or unknown.
    #[error("{0}")]
    InvalidOption(String),

    /// The dataset folder is missing, empty or inconsistent.
    #[error("{message} ({path})")]
    Dataset { message: String, path: PathBuf },

    /// One image could not be read or decoded.
    #[error("cannot decode image {path}: {reason}")]
    ImageDecode { path: String, reason: String },

    /// A model directory (model.json / model.safetensors) is missing or does not fit.
    #[error("invalid model file {path}: {reason}")]
    ModelFile { path: PathBuf, reason: String },

    /// libtorch refused an operation (out of memory, no CUDA device, ...).
    #[error("libtorch error: {0}")]
    Libtorch(String),

    /// The device (or the host) ran out of memory; the message says what was tried and what
    /// to lower.
    #[error("{0}")]
    OutOfMemory(String),

    /// The caller asked the run to stop.
    #[error("training was aborted; the last completed epoch is saved in the output directory")]
    Aborted,

    /// A data-parallel run lost a peer: it died, never arrived, or stopped answering within
    /// the timeout. `rank` is the rank reporting it.
    #[error("distributed training failed on rank {rank}: {reason}")]
    Distributed { rank: usize, reason: String },

    /// A file system operation on the caller's paths failed.
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code JavaScript sees as `err.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidOption(_) => "ERR_INVALID_OPTION",
            Error::Dataset { .. } => "ERR_DATASET",
            Error::ImageDecode { .. } => "ERR_IMAGE_DECODE",
            Error::ModelFile { .. } => "ERR_MODEL_FILE",
            Error::Libtorch(_) => "ERR_LIBTORCH",
            Error::OutOfMemory(_) => "ERR_OUT_OF_MEMORY",
            Error::Aborted => "ERR_ABORTED",
            Error::Io { .. } => "ERR_IO",
            Error::Distributed { .. } => "ERR_DISTRIBUTED",
        }
    }

    /// "CODE: message", as the bindings hand errors over (the facade moves the code to `code`).
    pub fn coded_message(&self) -> String {
        format!("{}: {self}", self.code())
    }

    pub fn dataset(message: impl Into<String>, path: &Path) -> Self {
        Error::Dataset { message: message.into(), path: path.to_path_buf() }
    }

    pub fn model_file(path: &Path, reason: impl Into<String>) -> Self {
        Error::ModelFile { path: path.to_path_buf(), reason: reason.into() }
    }

    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Error::Io { action, path: path.to_path_buf(), source }
    }

    /// Runs `work`, turning a panic (tch panics on libtorch errors in its non-`f_` methods)
    /// into `Error::Libtorch`, so that no panic leaves the core.
    pub fn catch_panics<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            Ok(result) => result,
            Err(payload) => {
                let text = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".to_string());
                Err(Error::from_libtorch(&text))
            }
        }
    }
}

impl Error {
    /// The same error again, for each of several callers that one failure concerns (a batch
    /// gathered from many calls): same variant, same code, same message.
    pub fn duplicate(&self) -> Error {
        match self {
            Error::InvalidOption(message) => Error::InvalidOption(message.clone()),
            Error::Dataset { message, path } => Error::Dataset { message: message.clone(), path: path.clone() },
            Error::ImageDecode { path, reason } => Error::ImageDecode { path: path.clone(), reason: reason.clone() },
            Error::ModelFile { path, reason } => Error::ModelFile { path: path.clone(), reason: reason.clone() },
            Error::Libtorch(message) => Error::Libtorch(message.clone()),
            Error::OutOfMemory(message) => Error::OutOfMemory(message.clone()),
            Error::Aborted => Error::Aborted,
            Error::Distributed { rank, reason } => Error::Distributed { rank: *rank, reason: reason.clone() },
            Error::Io { action, path, source } => Error::Io { action, path: path.clone(), source: std::io::Error::new(source.kind(), source.to_string()) },
        }
    }
}

impl From<tch::TchError> for Error {
    fn from(error: tch::TchError) -> Self {
        Error::from_libtorch(&error.to_string())
    }
}

impl Error {
    /// A libtorch failure: ERR_OUT_OF_MEMORY when an allocator ran out (the message keeps
    /// libtorch's line, which says how much was tried and what the device holds), else
    /// ERR_LIBTORCH.
    pub(crate) fn from_libtorch(text: &str) -> Self {
        let message = first_line(text);
        if is_out_of_memory(&message) {
            Error::OutOfMemory(format!("out of memory: {message}"))
        } else {
            Error::Libtorch(message)
        }
    }
}

/// Whether a libtorch message is an allocation failure: CUDA's caching allocator
/// (`torch.OutOfMemoryError`), cuDNN's or cuBLAS's workspace, or the CPU allocator.
fn is_out_of_memory(message: &str) -> bool {
    // "CUDA out of memory. Tried to allocate ...", "CUDA error: out of memory", and the CPU's
    // "DefaultCPUAllocator: can't allocate memory: you tried to allocate ... bytes".
    const SIGNS: [&str; 4] = ["out of memory", "CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED", "can't allocate memory"];
    SIGNS.iter().any(|sign| message.contains(sign))
}

/// libtorch messages carry a C++ backtrace after the first lines; keep the useful part.
pub(crate) fn first_line(text: &str) -> String {
    let cut = text.find("\nException raised from").unwrap_or(text.len());
    text[..cut].trim().to_string()
}

/// ERR_INVALID_OPTION in the one shape of every option message:
/// "Expected <what> for <name> but received <value>".
pub fn invalid_option(expected: &str, name: &str, received: &str) -> Error {
    Error::InvalidOption(format!("Expected {expected} for {name} but received {received}"))
}

/// A value as an option message shows it: strings quoted, arrays by length, as JavaScript
/// users read them.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(_) | Value::Bool(_) => value.to_string(),
        Value::Number(number) => number.as_f64().map_or_else(|| number.to_string(), |n| n.to_string()),
        Value::Array(items) => format!("an array of length {}", items.len()),
        Value::Object(_) => "an object".into(),
    }
}
