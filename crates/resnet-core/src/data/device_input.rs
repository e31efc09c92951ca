//! Batches onto the model's device, shaped as the network takes them. On the CPU the floats
//! are written once, in the network's memory order. On a GPU the uint8 pixels travel (a
//! quarter of the bytes) from page-locked memory without making the host wait, and one fused
//! multiply-add on the device normalises them in the network's layout: no round trip through
//! another layout, no per-batch upload of mean and std.
use super::loader::Batch;
use super::staging::{page_locked, stage, upload};
use super::transform::{normalised_cpu_tensor, Normaliser};
use crate::data::preprocess::Preprocess;
use crate::error::Result;
use tch::{Device, Kind, Tensor};

/// Where batches go, and how they are normalised there.
pub struct DeviceInput {
    device: Device,
    size: u32,
    preprocess: Preprocess,
    /// The network's convolution weights are channels_last; its inputs are laid out alike.
    channels_last: bool,
    /// On a GPU: `[1, 3, 1, 1]` float tensors on the device with `pixel * scale + shift` equal to
    /// `(pixel / 255 - mean) / std`, made once.
    scale_shift: Option<(Tensor, Tensor)>,
}

impl DeviceInput {
    pub fn new(preprocess: &Preprocess, size: u32, device: Device, channels_last: bool) -> Result<Self> {
        let scale_shift = match device {
            Device::Cpu => None,
            _ => {
                let normaliser = Normaliser::new(preprocess);
                let on_device = |values: [f32; 3]| -> Result<Tensor> { Ok(upload(&Tensor::f_from_slice(&values)?.f_view([1, 3, 1, 1])?, device)?) };
                Some((on_device(normaliser.scale())?, on_device(normaliser.shift())?))
            }
        };
        Ok(DeviceInput { device, size, preprocess: preprocess.clone(), channels_last, scale_shift })
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The network input `[count, 3, size, size]` of `count` HWC uint8 images.
    pub fn images(&self, pixels: &[u8], count: usize) -> Result<Tensor> {
        match &self.scale_shift {
            None => normalised_cpu_tensor(pixels, count, self.size, &self.preprocess, self.channels_last),
            Some(_) => self.normalise_on_device(&stage(pixels, count, self.size, self.device)?),
        }
    }

    /// The network input of a loaded batch: the loader's normalised floats (CPU), its
    /// page-locked pixels (GPU), or else its plain pixels.
    pub fn batch(&self, batch: &Batch) -> Result<Tensor> {
        match &batch.input {
            Some(input) if input.kind() == Kind::Uint8 => self.normalise_on_device(input),
            Some(input) => upload(input, self.device),
            None => self.images(&batch.pixels, batch.len()),
        }
    }

    /// Class labels on the device.
    pub fn labels(&self, labels: &[i64]) -> Result<Tensor> {
        upload(&page_locked(Tensor::f_from_slice(labels)?, self.device), self.device)
    }

    /// Uploads HWC uint8 `pixels` (`[n, size, size, 3]` on the host) and normalises them.
    fn normalise_on_device(&self, pixels: &Tensor) -> Result<Tensor> {
        let Some((scale, shift)) = &self.scale_shift else {
            return Ok(upload(pixels, self.device)?.f_permute([0, 3, 1, 2])?.f_to_kind(Kind::Float)?);
        };
        // The permuted pixels are NCHW with channels_last strides, which the output keeps;
        // a standard-layout network gets them reordered while still a quarter of the bytes.
        let mut nchw = upload(pixels, self.device)?.f_permute([0, 3, 1, 2])?;
        if !self.channels_last {
            nchw = nchw.f_contiguous()?;
        }
        Ok(shift.f_addcmul(&nchw, scale)?)
    }
}
