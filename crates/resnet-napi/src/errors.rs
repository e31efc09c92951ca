//! Core errors to JavaScript errors. The message starts with the stable code
//! (`ERR_DATASET: ...`); the facade moves it to `err.code`.
use resnet_core::Error;

pub fn to_napi(error: Error) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, error.coded_message())
}

/// Runs core work with panics turned into `ERR_LIBTORCH` errors.
pub fn guarded<T>(work: impl FnOnce() -> resnet_core::Result<T>) -> napi::Result<T> {
    Error::catch_panics(work).map_err(to_napi)
}
