//! Tensors copied into one host buffer, so that they can be written to disk while the
//! originals go on changing (the next epoch trains while the last one is saved).
//!
//! The tensors on a GPU are gathered there into one block and copied down in one transfer
//! into page-locked memory: one copy of resnet34's weights and Adam state (about 260 MB) takes
//! one transfer instead of 650 small ones, each of which would make the host wait. Tensors on
//! the CPU are copied one by one. Every value is stored as float32 in the standard (NCHW)
//! order, as safetensors files hold them.
use crate::data::staging::page_locked_floats;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// Float32 copies of named tensors, in one contiguous host tensor.
#[derive(Debug)]
pub struct HostSnapshot {
    entries: Vec<Entry>,
    flat: Tensor,
}

#[derive(Debug)]
struct Entry {
    name: String,
    shape: Vec<usize>,
    /// Where its values start in `flat`, and how many there are.
    start: usize,
    len: usize,
}

impl HostSnapshot {
    /// Copies `named` (on any devices) into host memory. The host waits until the copy is
    /// done: afterwards the originals may change.
    pub fn take(named: &[(String, Tensor)]) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        // Device tensors first, so that they fill one range of the buffer.
        let (on_device, on_host): (Vec<&(String, Tensor)>, Vec<&(String, Tensor)>) =
            named.iter().partition(|(_, tensor)| tensor.device() != Device::Cpu);
        let mut entries = Vec::with_capacity(named.len());
        let mut device_parts = Vec::with_capacity(on_device.len());
        let mut start = 0;
        for (name, tensor) in on_device.iter().chain(&on_host) {
            let len = tensor.numel();
            entries.push(Entry { name: name.clone(), shape: tensor.size().iter().map(|&d| d as usize).collect(), start, len });
            start += len;
        }
        for (_, tensor) in &on_device {
            device_parts.push(tensor.f_to_kind(Kind::Float)?.f_contiguous()?.f_reshape([-1])?);
        }
        let device_len: usize = entries[..on_device.len()].iter().map(|entry| entry.len).sum();
        let flat = if on_device.is_empty() {
            Tensor::f_empty([start as i64], (Kind::Float, Device::Cpu))?
        } else {
            page_locked_floats(start)?
        };
        if !device_parts.is_empty() {
            match Tensor::f_cat(&device_parts, 0) {
                Ok(gathered) => flat.f_narrow(0, 0, device_len as i64)?.f_copy_(&gathered)?,
                // No room on the device for the gathered copy (a run sized to its memory):
                // one transfer per tensor instead, slower but needing nothing more there.
                Err(_) => {
                    for (entry, (_, tensor)) in entries.iter().zip(&on_device) {
                        copy_into(&flat, entry, tensor)?;
                    }
                }
            }
        }
        for (entry, (_, tensor)) in entries[on_device.len()..].iter().zip(&on_host) {
            copy_into(&flat, entry, tensor)?;
        }
        Ok(HostSnapshot { entries, flat })
    }

    /// Each tensor's name, shape and float32 bytes (native byte order, as safetensors on
    /// little-endian machines), in the order taken.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &[usize], &[u8])> {
        let bytes = self.bytes();
        self.entries.iter().map(move |entry| (entry.name.as_str(), entry.shape.as_slice(), &bytes[entry.start * 4..(entry.start + entry.len) * 4]))
    }

    fn bytes(&self) -> &[u8] {
        let len = self.flat.numel() * 4;
        if len == 0 {
            return &[];
        }
        // SAFETY: `flat` is a contiguous float32 CPU tensor of `numel` elements that this
        // snapshot owns and never changes after `take`; the slice lives no longer than `self`.
        unsafe { std::slice::from_raw_parts(self.flat.data_ptr() as *const u8, len) }
    }
}

/// Copies `tensor` into its slot of `flat`, in the standard order and as float32, in one pass
/// (`copy_` reads a channels_last tensor through its strides).
fn copy_into(flat: &Tensor, entry: &Entry, tensor: &Tensor) -> Result<()> {
    let shape: Vec<i64> = entry.shape.iter().map(|&d| d as i64).collect();
    flat.f_narrow(0, entry.start as i64, entry.len as i64)?.f_view(shape.as_slice())?.f_copy_(tensor)?;
    Ok(())
}

// SAFETY: the snapshot owns its buffer; after `take` nothing writes to it, and reads go
// through `&self`. (tch's Tensor is Send but not Sync.)
unsafe impl Sync for HostSnapshot {}
