//! Decoding one image file or buffer to 8-bit RGB, with EXIF orientation applied and a
//! size limit against decompression bombs. Failures are reasons, never panics.
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use std::io::{BufReader, Cursor};
use std::path::Path;

/// Largest accepted width or height; a header claiming more is refused before decoding.
pub const MAX_SIDE: u32 = 20_000;
/// Largest allocation the decoder may make for one image.
pub const MAX_DECODE_BYTES: u64 = 1 << 30;

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// Decodes the file at `path`; the error is a reason for the user.
pub fn decode_path(path: &Path) -> Result<RgbImage, String> {
    let file = std::fs::File::open(path).map_err(|error| format!("cannot open: {error}"))?;
    let reader = ImageReader::new(BufReader::new(file))
        .with_guessed_format()
        .map_err(|error| format!("cannot read: {error}"))?;
    decode_reader(reader)
}

/// Decodes an encoded image held in memory.
pub fn decode_bytes(bytes: &[u8]) -> Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("empty buffer (0 bytes)".into());
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| format!("cannot read: {error}"))?;
    decode_reader(reader)
}

fn decode_reader<R: std::io::BufRead + std::io::Seek>(mut reader: ImageReader<R>) -> Result<RgbImage, String> {
    if reader.format().is_none() {
        return Err("not an image: its leading bytes match no supported format".into());
    }
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(describe)?;
    let orientation = decoder.orientation().map_err(describe)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(describe)?;
    image.apply_orientation(orientation);
    if image.width() == 0 || image.height() == 0 {
        return Err("image has zero width or height".into());
    }
    Ok(image.into_rgb8())
}

fn describe(error: image::ImageError) -> String {
    match error {
        image::ImageError::Limits(limit) => {
            format!("refused: larger than the {MAX_SIDE}x{MAX_SIDE} pixel limit for one image ({limit})")
        }
        other => other.to_string(),
    }
}
