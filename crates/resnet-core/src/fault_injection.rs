//! Internal, for tests only: real libtorch failures on demand, so that the binding's tests can
//! prove that a libtorch exception, returned or raised as a tch panic, reaches JavaScript as an
//! error with a code. Not part of the library's API.
use crate::error::Result;
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
