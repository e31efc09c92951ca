//! Host memory on its way to a GPU. A copy from ordinary (pageable) memory makes the host
//! wait until it is done; from page-locked memory it is only queued, and libtorch's host
//! allocator keeps the block until the copy has read it.
use crate::error::Result;
use tch::{Device, Tensor};

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
    host.f_pin_memory(device).unwrap_or(host)
}

/// `tensor` on `device`. From page-locked memory the copy is queued without making the host
/// wait; libtorch's host allocator keeps the block until the copy has read it.
pub fn upload(tensor: &Tensor, device: Device) -> Result<Tensor> {
    if tensor.device() == device {
        return Ok(tensor.shallow_clone());
    }
    let pinned = device.is_cuda() && tensor.f_is_pinned(device).unwrap_or(false);
    Ok(tensor.f_to_device_(device, tensor.kind(), pinned, false)?)
}
