//! Resizing decoded images to the model's square input, and turning uint8 batches into
//! normalised float tensors on the device (normalisation runs where the model runs).
use crate::config::{Preprocess, ResizeMode};
use crate::error::Result;
use fast_image_resize as fr;
use image::RgbImage;
use std::cell::RefCell;
use tch::{Device, Kind, Tensor};

/// torchvision's eval convention resizes the shorter side to size / 0.875 before cropping.
const CROP_RATIO: f64 = 0.875;

thread_local! {
    // A resizer keeps scratch buffers; one per decoding thread avoids reallocating them.
    static RESIZER: RefCell<fr::Resizer> = RefCell::new(fr::Resizer::new());
}

/// Resizes `image` to `size x size` RGB (HWC, uint8) into `out`, which must hold size*size*3
/// bytes. Bilinear convolution anti-aliases when downscaling, like PIL and torchvision.
pub fn resize_into(image: &RgbImage, size: u32, mode: ResizeMode, out: &mut [u8]) -> Result<(), String> {
    let (width, height) = image.dimensions();
    let source = fr::images::ImageRef::new(width, height, image.as_raw(), fr::PixelType::U8x3)
        .map_err(|error| format!("cannot resize: {error}"))?;
    let mut target = fr::images::Image::from_slice_u8(size, size, out, fr::PixelType::U8x3)
        .map_err(|error| format!("cannot resize: {error}"))?;
    let mut options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    if mode == ResizeMode::Crop {
        let shorter = width.min(height) as f64;
        let scaled_shorter = (size as f64 / CROP_RATIO).round();
        let side = size as f64 * shorter / scaled_shorter;
        options = options.crop((width as f64 - side) / 2.0, (height as f64 - side) / 2.0, side, side);
    }
    RESIZER
        .with(|resizer| resizer.borrow_mut().resize(&source, &mut target, &options))
        .map_err(|error| format!("cannot resize: {error}"))
}

/// Uploads `count` HWC uint8 images of `size x size` and returns them as a normalised
/// `[count, 3, size, size]` float tensor on `device`.
pub fn to_input_tensor(pixels: &[u8], count: usize, size: u32, preprocess: &Preprocess, device: Device) -> Result<Tensor> {
    let side = size as i64;
    let raw = Tensor::f_from_slice(pixels)?.f_view([count as i64, side, side, 3])?;
    let on_device = raw.f_to_device(device)?;
    let mean = Tensor::f_from_slice(&preprocess.mean)?.f_to_device(device)?.f_view([1, 3, 1, 1])?;
    let std = Tensor::f_from_slice(&preprocess.std)?.f_to_device(device)?.f_view([1, 3, 1, 1])?;
    let scaled = on_device.f_permute([0, 3, 1, 2])?.f_to_kind(Kind::Float)?.f_div_scalar(255.0)?;
    Ok(scaled.f_sub(&mean)?.f_div(&std)?.f_contiguous()?)
}
