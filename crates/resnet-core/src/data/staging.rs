//! Host memory on its way to a GPU. A copy from ordinary (pageable) memory makes the host
//! wait until it is done; from page-locked memory it is only queued, and libtorch's host
//! allocator keeps the block until the copy has read it.
//!
//! Pinning goes through csrc/staging.cpp: tch's `pin_memory(device)` and `is_pinned(device)`
//! pass a device, which libtorch deprecates with a warning on every call (about 3,900 lines
//! in a 30-epoch GPU run, seen on an H200).
use crate::error::Result;
use std::os::raw::c_int;
use tch::{Device, Tensor};

extern "C" {
    fn resnet_pin_memory(host: *const torch_sys::C_tensor, out: *mut *mut torch_sys::C_tensor) -> c_int;
    fn resnet_is_pinned(tensor: *const torch_sys::C_tensor) -> c_int;
    fn resnet_empty_pinned_floats(count: i64, out: *mut *mut torch_sys::C_tensor) -> c_int;
}

/// `count` HWC uint8 images as a `[count, size, size, 3]` host tensor, page-locked for
/// `device` when it is a GPU (so that its copy need not make the host wait).
pub fn stage(pixels: &[u8], count: usize, size: u32, device: Device) -> Result<Tensor> {
    let side = size as i64;
    Ok(page_locked(Tensor::f_from_slice(pixels)?.f_view([count as i64, side, side, 3])?, device))
}

/// `host` in page-locked memory when `device` is a GPU. Without page-locked memory (none
/// left, or a libtorch without CUDA) the copy still works, only it makes the host wait.
pub fn page_locked(host: Tensor, device: Device) -> Tensor {
    if !device.is_cuda() {
        return host;
    }
    // SAFETY: `host` is a live tensor for the call.
    made_by(|out| unsafe { resnet_pin_memory(host.as_ptr(), out) }).unwrap_or(host)
}

/// An uninitialised float32 host tensor of `count` values, page-locked where libtorch can
/// (else ordinary memory): the destination of a copy down from a GPU at full speed.
pub fn page_locked_floats(count: usize) -> Result<Tensor> {
    // SAFETY: a call without tensor arguments.
    match made_by(|out| unsafe { resnet_empty_pinned_floats(count as i64, out) }) {
        Some(pinned) => Ok(pinned),
        None => Ok(Tensor::f_empty([count as i64], (tch::Kind::Float, Device::Cpu))?),
    }
}

/// The tensor a csrc/staging.cpp function stores in its out-pointer when it returns 0 (a new
/// heap tensor whose ownership passes to us); `None` when it failed (-1: it caught a C++
/// exception).
fn made_by(call: impl FnOnce(*mut *mut torch_sys::C_tensor) -> c_int) -> Option<Tensor> {
    let mut made: *mut torch_sys::C_tensor = std::ptr::null_mut();
    if call(&mut made) != 0 || made.is_null() {
        return None;
    }
    // SAFETY: `made` is the tensor the C side allocated for us, owned by nothing else.
    Some(unsafe { Tensor::from_ptr(made) })
}

/// Whether `tensor` lives in page-locked host memory (false where that cannot be told).
fn is_page_locked(tensor: &Tensor) -> bool {
    // SAFETY: `tensor` is a live tensor; the C side catches every C++ exception.
    unsafe { resnet_is_pinned(tensor.as_ptr()) == 1 }
}

/// `tensor` on `device`. From page-locked memory the copy is queued without making the host
/// wait; libtorch's host allocator keeps the block until the copy has read it.
pub fn upload(tensor: &Tensor, device: Device) -> Result<Tensor> {
    if tensor.device() == device {
        return Ok(tensor.shallow_clone());
    }
    let pinned = device.is_cuda() && is_page_locked(tensor);
    Ok(tensor.f_to_device_(device, tensor.kind(), pinned, false)?)
}
