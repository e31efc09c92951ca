//! Any bytes through the decoder the data loader and predict use, then the resize to the
//! network's input: a failure must be an `Err` with a reason, never a panic, hang or abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use resnet_core::data::decode::decode_bytes;
use resnet_core::data::transform::{needed_shorter_side, resize_into};
use resnet_core::ResizeMode;

const SIZE: u32 = 32;

fuzz_target!(|bytes: &[u8]| {
    // 0: full size; otherwise large JPEGs take the reduced-scale path, and other formats
    // decode the same either way, so once. Each decoded image goes through both resize modes.
    // (A valid 39-byte WebP can hold a flat 71-megapixel image; decoding up to the 100
    // megapixel limit is the costly part, several times slower in this instrumented build.)
    let reduced = needed_shorter_side(SIZE, ResizeMode::Stretch).max(needed_shorter_side(SIZE, ResizeMode::Crop));
    let is_jpeg = bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
    let sides: &[u32] = if is_jpeg { &[0, reduced] } else { &[reduced] };
    for &min_side in sides {
        if let Ok(image) = decode_bytes(bytes, min_side) {
            for mode in [ResizeMode::Stretch, ResizeMode::Crop] {
                let mut out = vec![0u8; (SIZE * SIZE * 3) as usize];
                let _ = resize_into(&image, SIZE, mode, &mut out);
            }
        }
    }
});
