//! From a decoded image to the model's square input: the deterministic evaluation resize
//! (stretch or resize + centre crop), the random training crop and flip, and the
//! normalisation of uint8 batches into CPU float tensors (a GPU normalises its own:
//! device_input.rs).
use crate::data::preprocess::{Augment, Preprocess, ResizeMode};
use crate::error::Result;
use fast_image_resize as fr;
use image::RgbImage;
use rand::Rng;
use std::cell::RefCell;
use tch::{Device, Kind, Tensor};

/// torchvision's eval convention resizes the shorter side to size / 0.875 before cropping.
const CROP_RATIO: f64 = 0.875;

thread_local! {
    // A resizer keeps scratch buffers; one per decoding thread avoids reallocating them.
    static RESIZER: RefCell<fr::Resizer> = RefCell::new(fr::Resizer::new());
}

/// A source rectangle in pixels (fractional), resized to the output square.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl CropBox {
    pub fn whole(width: u32, height: u32) -> Self {
        CropBox { left: 0.0, top: 0.0, width: width as f64, height: height as f64 }
    }
}

/// The shorter side a decoder must keep for `mode` at `size` (it may decode smaller than
/// full size down to this, but not below).
pub fn needed_shorter_side(size: u32, mode: ResizeMode) -> u32 {
    match mode {
        ResizeMode::Stretch => size,
        ResizeMode::Crop => (size as f64 / CROP_RATIO).round() as u32,
    }
}

/// The evaluation crop of a `width x height` image: all of it (stretch), or the centred
/// square that torchvision's resize-then-centre-crop keeps.
pub fn eval_crop(width: u32, height: u32, size: u32, mode: ResizeMode) -> CropBox {
    match mode {
        ResizeMode::Stretch => CropBox::whole(width, height),
        ResizeMode::Crop => {
            let shorter = width.min(height) as f64;
            let side = size as f64 * shorter / needed_shorter_side(size, mode) as f64;
            CropBox { left: (width as f64 - side) / 2.0, top: (height as f64 - side) / 2.0, width: side, height: side }
        }
    }
}

/// torchvision's RandomResizedCrop box: a random area fraction and aspect ratio, ten tries,
/// then the centre crop clamped to the ratio range.
pub fn random_resized_crop(width: u32, height: u32, scale: [f32; 2], ratio: [f32; 2], rng: &mut impl Rng) -> CropBox {
    let (w, h) = (width as f64, height as f64);
    let area = w * h;
    let (log_low, log_high) = ((ratio[0] as f64).ln(), (ratio[1] as f64).ln());
    for _ in 0..10 {
        let target = area * rng.random_range(scale[0] as f64..=scale[1] as f64);
        let aspect = rng.random_range(log_low..=log_high).exp();
        let crop_w = (target * aspect).sqrt().round();
        let crop_h = (target / aspect).sqrt().round();
        if crop_w > 0.0 && crop_h > 0.0 && crop_w <= w && crop_h <= h {
            let left = rng.random_range(0.0..=(w - crop_w)).floor();
            let top = rng.random_range(0.0..=(h - crop_h)).floor();
            return CropBox { left, top, width: crop_w, height: crop_h };
        }
    }
    let aspect = w / h;
    let (crop_w, crop_h) = if aspect < ratio[0] as f64 {
        (w, (w / ratio[0] as f64).round())
    } else if aspect > ratio[1] as f64 {
        ((h * ratio[1] as f64).round(), h)
    } else {
        (w, h)
    };
    CropBox { left: (w - crop_w) / 2.0, top: (h - crop_h) / 2.0, width: crop_w, height: crop_h }
}

/// Resizes the `crop` of `image` to `width x height` RGB into `out` (HWC, uint8; exactly
/// width*height*3 bytes). Bilinear convolution anti-aliases when downscaling, like PIL.
pub fn resize_crop_into(image: &RgbImage, crop: CropBox, width: u32, height: u32, out: &mut [u8]) -> Result<(), String> {
    let source = fr::images::ImageRef::new(image.width(), image.height(), image.as_raw(), fr::PixelType::U8x3)
        .map_err(|error| format!("cannot resize: {error}"))?;
    let mut target = fr::images::Image::from_slice_u8(width, height, out, fr::PixelType::U8x3)
        .map_err(|error| format!("cannot resize: {error}"))?;
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
        .crop(crop.left, crop.top, crop.width, crop.height);
    RESIZER
        .with(|resizer| resizer.borrow_mut().resize(&source, &mut target, &options))
        .map_err(|error| format!("cannot resize: {error}"))
}

/// The evaluation transform: `image` to `size x size` into `out`.
pub fn resize_into(image: &RgbImage, size: u32, mode: ResizeMode, out: &mut [u8]) -> Result<(), String> {
    resize_crop_into(image, eval_crop(image.width(), image.height(), size, mode), size, size, out)
}

/// Shrinks `image` so its shorter side is `shorter_side` (never enlarges): the form kept in
/// the cache for random crops, small but with the whole picture.
pub fn shrink_to_shorter_side(image: RgbImage, shorter_side: u32) -> Result<RgbImage, String> {
    let (width, height) = image.dimensions();
    let shorter = width.min(height);
    if shorter <= shorter_side {
        return Ok(image);
    }
    let scale = shorter_side as f64 / shorter as f64;
    let (new_width, new_height) = (((width as f64 * scale).round() as u32).max(1), ((height as f64 * scale).round() as u32).max(1));
    let mut out = vec![0u8; new_width as usize * new_height as usize * 3];
    resize_crop_into(&image, CropBox::whole(width, height), new_width, new_height, &mut out)?;
    RgbImage::from_raw(new_width, new_height, out).ok_or_else(|| "cannot resize: buffer size mismatch".to_string())
}

/// The training transform of one image: a random crop (or the evaluation resize) and a
/// random horizontal flip, into `out` (`size x size x 3`).
pub fn augment_into(
    image: &RgbImage,
    size: u32,
    augment: &Augment,
    eval_mode: ResizeMode,
    rng: &mut impl Rng,
    out: &mut [u8],
) -> Result<(), String> {
    let crop = match augment.crop_scale {
        Some(scale) => random_resized_crop(image.width(), image.height(), scale, augment.crop_ratio, rng),
        None => eval_crop(image.width(), image.height(), size, eval_mode),
    };
    resize_crop_into(image, crop, size, size, out)?;
    if augment.horizontal_flip && rng.random_bool(0.5) {
        flip_horizontally(out, size as usize);
    }
    Ok(())
}

/// Mirrors a square HWC RGB image left to right, in place.
pub fn flip_horizontally(pixels: &mut [u8], side: usize) {
    for row in pixels.chunks_exact_mut(side * 3) {
        for x in 0..side / 2 {
            let (left, right) = (x * 3, (side - 1 - x) * 3);
            for channel in 0..3 {
                row.swap(left + channel, right + channel);
            }
        }
    }
}

/// `count` HWC uint8 images as a CPU float tensor `[count, 3, size, size]` holding
/// `(pixel / 255 - mean) / std`, written in one pass per image (in parallel on the current
/// rayon pool) straight into the tensor's memory, in NCHW order or, for a channels_last
/// network, NHWC: no intermediate buffers, whose allocation and copying cost more than the
/// arithmetic.
pub fn normalised_cpu_tensor(pixels: &[u8], count: usize, size: u32, preprocess: &Preprocess, channels_last: bool) -> Result<Tensor> {
    use rayon::prelude::*;
    let image_bytes = (size as usize).pow(2) * 3;
    if pixels.len() != count * image_bytes {
        return Err(crate::error::Error::Libtorch(format!(
            "expected {count} images of {image_bytes} bytes, found {} bytes",
            pixels.len()
        )));
    }
    let mut tensor = empty_cpu_batch(count, size, channels_last)?;
    let normaliser = Normaliser::new(preprocess);
    float_slice_mut(&mut tensor).par_chunks_mut(image_bytes).zip(pixels.par_chunks(image_bytes)).for_each(|(out, image)| {
        if channels_last {
            normaliser.write_hwc(image, out)
        } else {
            normaliser.write_chw(image, out)
        }
    });
    Ok(tensor)
}

/// An uninitialised `[count, 3, size, size]` float CPU tensor to be filled, its memory
/// contiguous in NCHW order, or in NHWC order (channels_last strides) when `channels_last`.
pub fn empty_cpu_batch(count: usize, size: u32, channels_last: bool) -> Result<Tensor> {
    let (count, side) = (count as i64, size as i64);
    if channels_last {
        return Ok(Tensor::f_empty([count, side, side, 3], (Kind::Float, Device::Cpu))?.f_permute([0, 3, 1, 2])?);
    }
    Ok(Tensor::f_empty([count, 3, side, side], (Kind::Float, Device::Cpu))?)
}

/// The elements of a float32 CPU tensor made by `empty_cpu_batch`, in memory order, for
/// filling in place.
pub fn float_slice_mut(tensor: &mut Tensor) -> &mut [f32] {
    debug_assert!(tensor.kind() == Kind::Float && tensor.device() == Device::Cpu);
    debug_assert!(tensor.is_contiguous() || crate::model::layout::is_channels_last(tensor));
    let elements = tensor.numel();
    // SAFETY: callers pass tensors made by `empty_cpu_batch`: dense float32 CPU memory of
    // exactly `numel` elements starting at `data_ptr` (NCHW or NHWC order). The `&mut` borrow
    // of the owning tensor keeps any other Rust reference away for the slice's lifetime, and
    // nothing outside Rust holds it yet.
    unsafe { std::slice::from_raw_parts_mut(tensor.data_ptr() as *mut f32, elements) }
}

/// `(pixel / 255 - mean) / std` per channel, from HWC uint8 to CHW float.
pub struct Normaliser {
    scale: [f32; 3],
    shift: [f32; 3],
}

impl Normaliser {
    pub fn new(preprocess: &Preprocess) -> Self {
        Normaliser {
            scale: std::array::from_fn(|c| 1.0 / (255.0 * preprocess.std[c])),
            shift: std::array::from_fn(|c| -preprocess.mean[c] / preprocess.std[c]),
        }
    }

    /// Per channel: `1 / (255 std)`.
    pub fn scale(&self) -> [f32; 3] {
        self.scale
    }

    /// Per channel: `-mean / std`.
    pub fn shift(&self) -> [f32; 3] {
        self.shift
    }

    /// Writes one image in channels_last order: `image` is HWC uint8, `out` its HWC floats.
    /// Four pixels (twelve values) at a time, so the channel pattern repeats per iteration and
    /// the loop vectorises.
    pub fn write_hwc(&self, image: &[u8], out: &mut [f32]) {
        let scale: [f32; 12] = std::array::from_fn(|k| self.scale[k % 3]);
        let shift: [f32; 12] = std::array::from_fn(|k| self.shift[k % 3]);
        let mut pixels = image.chunks_exact(12);
        let mut floats = out.chunks_exact_mut(12);
        for (values, block) in (&mut floats).zip(&mut pixels) {
            for k in 0..12 {
                values[k] = block[k] as f32 * scale[k] + shift[k];
            }
        }
        for (k, (value, &byte)) in floats.into_remainder().iter_mut().zip(pixels.remainder()).enumerate() {
            *value = byte as f32 * scale[k] + shift[k];
        }
    }

    /// Writes one image: `image` is HWC uint8, `out` its CHW floats (same element count).
    pub fn write_chw(&self, image: &[u8], out: &mut [f32]) {
        let plane = image.len() / 3;
        let (red, rest) = out.split_at_mut(plane);
        let (green, blue) = rest.split_at_mut(plane);
        for (index, rgb) in image.chunks_exact(3).enumerate() {
            red[index] = rgb[0] as f32 * self.scale[0] + self.shift[0];
            green[index] = rgb[1] as f32 * self.scale[1] + self.shift[1];
            blue[index] = rgb[2] as f32 * self.scale[2] + self.shift[2];
        }
    }
}
