//! Decoding one image file or buffer to 8-bit RGB, with EXIF orientation applied and a
//! size limit against decompression bombs. Failures are reasons, never panics.
//!
//! RGB and greyscale JPEGs (nearly all photos) go through libjpeg-turbo (the `turbojpeg`
//! crate, bundled and linked statically), which also decodes at 1/2, 1/4 or 1/8 scale in the
//! IDCT when the caller needs less than full size: a 12-megapixel photo needed at 256 px skips
//! most of the work. Measured on the benchmark's 300-1024 px photos, one core: 1.10 ms a photo
//! at full size (zune-jpeg, the fastest pure-Rust decoder here: 1.48 ms), 0.95 ms with 1/2
//! scale where the shorter side allows. `jpeg-decoder` reads the headers (colour format and
//! EXIF orientation). Other JPEGs (CMYK) and every other format go through the `image` crate.
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use std::cell::RefCell;
use std::io::Cursor;
use std::path::Path;

/// Why a file whose leading bytes match no decoder is refused.
pub const NOT_AN_IMAGE: &str = "not an image: its leading bytes match no supported format (JPEG, PNG, GIF, WebP, BMP, TIFF)";

/// Largest accepted width or height; a header claiming more is refused before decoding.
pub const MAX_SIDE: u32 = 20_000;
/// Most pixels decoded for one image (300 MB as RGB), checked against the header before
/// any pixel is decoded. A 1 KB run-length BMP may declare 18000x18000 pixels, and
/// decoding and resizing those took 1.5 s and 1 GB for nothing. Pillow refuses at a similar
/// size (179 megapixels). A JPEG counts at the reduced scale it is decoded at, so a 200
/// megapixel photo needed at 256 px still passes.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Largest allocation the decoder may make for one image.
pub const MAX_DECODE_BYTES: u64 = 1 << 30;

/// Decodes the file at `path`. `min_side` is the shorter side the caller needs: a JPEG may
/// be decoded smaller than its full size, but never below it (0: full size).
pub fn decode_path(path: &Path, min_side: u32) -> Result<RgbImage, String> {
    // A FIFO or a device would block or never end: only regular files are read.
    let metadata = std::fs::metadata(path).map_err(|error| format!("cannot read: {error}"))?;
    if !metadata.is_file() {
        let kind = if metadata.is_dir() { "a directory" } else { "not a regular file" };
        return Err(format!("expected an image file, found {kind}"));
    }
    let bytes = std::fs::read(path).map_err(|error| format!("cannot read: {error}"))?;
    decode_bytes(&bytes, min_side)
}

/// Decodes an encoded image held in memory; see `decode_path`.
pub fn decode_bytes(bytes: &[u8], min_side: u32) -> Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) if !jpeg_is_complete(bytes) => {
            Err("truncated JPEG: the data ends before its end-of-image marker".into())
        }
        Ok(image::ImageFormat::Jpeg) => match decode_jpeg_scaled(bytes, min_side)? {
            Some(image) => Ok(image),
            None => decode_any(bytes),
        },
        Ok(_) => decode_any(bytes),
        Err(_) => Err(NOT_AN_IMAGE.into()),
    }
}

/// The libjpeg-turbo path for RGB and greyscale JPEGs, at reduced scale where `min_side`
/// allows; `None` for JPEGs it leaves to `decode_any`.
fn decode_jpeg_scaled(bytes: &[u8], min_side: u32) -> Result<Option<RgbImage>, String> {
    let mut headers = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    headers.read_info().map_err(|error| format!("invalid JPEG: {error}"))?;
    let Some(info) = headers.info() else { return Ok(None) };
    let (width, height) = (info.width as u32, info.height as u32);
    check_dimensions(width, height)?;
    check_jpeg_can_hold(bytes.len(), width, height)?;
    let format = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => turbojpeg::PixelFormat::RGB,
        jpeg_decoder::PixelFormat::L8 => turbojpeg::PixelFormat::GRAY,
        _ => return Ok(None),
    };
    let factor = reduction_factor(width, height, min_side);
    let scale = turbojpeg::ScalingFactor::new(1, factor as usize);
    let (out_width, out_height) = (scale.scale(width as usize), scale.scale(height as usize));
    check_pixels(width, height, out_width as u64 * out_height as u64)?;
    let channels = format.size();
    let mut pixels = vec![0u8; out_width * out_height * channels];
    let image = turbojpeg::Image { pixels: &mut pixels[..], width: out_width, pitch: out_width * channels, height: out_height, format };
    let decoded = TURBO.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(decompressor) => decompressor,
            None => slot.insert(turbojpeg::Decompressor::new()?),
        };
        decompressor.set_scaling_factor(scale)?;
        decompressor.decompress(bytes, image)
    });
    if decoded.is_err() {
        // TurboJPEG also fails on recoverable damage (its warnings, such as extraneous bytes
        // before a marker, common in camera files) without saying which it was: the more
        // lenient `image` crate then decodes the file or names what is wrong with it.
        return Ok(None);
    }
    let (out_width, out_height) = (out_width as u32, out_height as u32);
    let image = if format == turbojpeg::PixelFormat::GRAY {
        image::GrayImage::from_raw(out_width, out_height, pixels).map(|grey| DynamicImage::ImageLuma8(grey).into_rgb8())
    } else {
        RgbImage::from_raw(out_width, out_height, pixels)
    };
    let image = image.ok_or_else(|| "invalid JPEG: fewer pixels than its header declares".to_string())?;
    let orientation = headers.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    Ok(Some(oriented(image, orientation)))
}

thread_local! {
    // A libjpeg-turbo decompressor per decoding thread, reused from image to image.
    static TURBO: RefCell<Option<turbojpeg::Decompressor>> = const { RefCell::new(None) };
}

/// Whether an end-of-image marker (FF D9) follows the first start-of-scan (FF DA). Decoders
/// fill the missing rest of a truncated JPEG with grey and call it a success; a file cut off
/// mid-download lacks the marker. (Searching from the scan skips EXIF thumbnails, which end
/// with their own marker; inside scan data FF is always escaped, so FF D9 is the real end.)
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(scan) = bytes.windows(2).position(|pair| pair == [0xFF, 0xDA]) else { return false };
    // Almost every file ends with the marker: then the scan data need not be searched.
    bytes.len() >= scan + 4 && bytes.ends_with(&[0xFF, 0xD9]) || bytes[scan..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

/// Refuses a JPEG too short to hold the pixels its header declares. Huffman coding spends at
/// least one bit on the DC coefficient of every 8x8 block of a full-resolution component
/// (`jpeg-decoder` refuses arithmetic coding), so fewer bits than blocks means a forged or cut
/// header, which decoders would fill with grey at the full cost: fuzzing found a 331-byte
/// progressive JPEG declaring 7201x12850 pixels that took a second and 700 MB to decode.
fn check_jpeg_can_hold(file_bytes: usize, width: u32, height: u32) -> Result<(), String> {
    let blocks = u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8));
    if (file_bytes as u64).saturating_mul(8) < blocks {
        return Err(format!(
            "invalid JPEG: its header declares {width}x{height} pixels, more than its {file_bytes} bytes can encode (truncated or forged)"
        ));
    }
    Ok(())
}

/// The largest of 8, 4, 2 that keeps the shorter side at or above `min_side`, else 1.
fn reduction_factor(width: u32, height: u32, min_side: u32) -> u32 {
    if min_side == 0 {
        return 1;
    }
    [8, 4, 2]
        .into_iter()
        .find(|factor| width.min(height).div_ceil(*factor) >= min_side)
        .unwrap_or(1)
}

/// Any supported format through the `image` crate, at full size.
fn decode_any(bytes: &[u8]) -> Result<RgbImage, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| format!("cannot read: {error}"))?;
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(describe)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    check_pixels(width, height, width as u64 * height as u64)?;
    let orientation = decoder.orientation().map_err(describe)?;
    let image = DynamicImage::from_decoder(decoder).map_err(describe)?;
    Ok(oriented(image.into_rgb8(), orientation))
}

fn oriented(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut dynamic = DynamicImage::ImageRgb8(image);
    dynamic.apply_orientation(orientation);
    dynamic.into_rgb8()
}

fn check_dimensions(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err("image has zero width or height".into());
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!("refused: {width}x{height} is larger than the {MAX_SIDE}x{MAX_SIDE} pixel limit for one image"));
    }
    Ok(())
}

/// Refuses an image of `width` x `height` whose decoding would produce `decoded` pixels
/// (fewer than width x height where a JPEG is decoded at reduced scale) over `MAX_PIXELS`.
fn check_pixels(width: u32, height: u32, decoded: u64) -> Result<(), String> {
    if decoded > MAX_PIXELS {
        let megapixels = decoded as f64 / 1e6;
        return Err(format!(
            "refused: {width}x{height} would decode to {megapixels:.0} megapixels, over the {} megapixel limit for one image",
            MAX_PIXELS / 1_000_000
        ));
    }
    Ok(())
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

fn describe(error: image::ImageError) -> String {
    match error {
        image::ImageError::Limits(limit) => {
            format!("refused: larger than the {MAX_SIDE}x{MAX_SIDE} pixel limit for one image ({limit})")
        }
        other => other.to_string(),
    }
}
