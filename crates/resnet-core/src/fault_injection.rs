//! Internal, for tests only: real libtorch failures on demand, so that the binding's tests can
//! prove that a libtorch exception, returned or raised as a tch panic, reaches JavaScript as an
//! error with a code, and that running out of memory during training is reported as
//! ERR_OUT_OF_MEMORY and leaves nothing half-written. Not part of the library's API.
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// A libtorch exception returned through tch's fallible (`f_`) API.
pub fn libtorch_error() -> Result<()> {
    let _ = Tensor::f_zeros([2, 3], (Kind::Float, Device::Cpu))?.f_matmul(&Tensor::f_zeros([4, 5], (Kind::Float, Device::Cpu))?)?;
    Ok(())
}

/// The same exception through tch's plain API, which panics with libtorch's message.
pub fn libtorch_panic() -> Result<()> {
    let _ = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu)).matmul(&Tensor::zeros([4, 5], (Kind::Float, Device::Cpu)));
    Ok(())
}

/// Runs whose training step fails as CUDA's allocator does when it runs out, by output
/// directory (so that runs in parallel, as tests are, do not take each other's failure), with
/// the number of steps each takes first.
static OUT_OF_MEMORY_AFTER: Mutex<Vec<(PathBuf, usize)>> = Mutex::new(Vec::new());

/// Makes the run writing to `output` fail its step after `steps` successful ones, with
/// libtorch's out-of-memory message (once: the entry is used up).
pub fn fail_step_out_of_memory(output: &Path, steps: usize) {
    lock().push((output.to_path_buf(), steps));
}

/// Called before each training step of the run writing to `output`.
pub(crate) fn injected_step_failure(output: &Path) -> Result<()> {
    let mut armed = lock();
    let Some(position) = armed.iter().position(|(path, _)| path == output) else { return Ok(()) };
    if armed[position].1 > 0 {
        armed[position].1 -= 1;
        return Ok(());
    }
    armed.remove(position);
    Err(Error::from_libtorch(
        "CUDA out of memory. Tried to allocate 12.00 GiB. GPU 0 has a total capacity of 139.81 GiB of which 3.12 GiB is free. \
         (injected by the test hooks)",
    ))
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(PathBuf, usize)>> {
    OUT_OF_MEMORY_AFTER.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
