//! Every kind of file a real photo folder holds: each decodes correctly or is refused with a
//! reason, never a panic. JPEGs are decoded at reduced scale when that keeps enough pixels.
use crate::common;
use image::{Rgb, RgbImage};
use resnet_core::data::decode::{decode_bytes, decode_path};

fn rgb_jpeg(width: u16, height: u16, app1: Option<Vec<u8>>) -> Vec<u8> {
    let pixels: Vec<u8> = (0..width as usize * height as usize)
        .flat_map(|i| {
            let (x, y) = (i % width as usize, i / width as usize);
            // Red on the left half, blue on the right: orientation is visible.
            if x < width as usize / 2 { [200u8, 20, 20] } else { [20u8, 20, (100 + y % 100) as u8] }
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    if let Some(exif) = app1 {
        encoder.add_app_segment(1, exif).unwrap();
    }
    encoder.encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// An EXIF block holding only the orientation tag.
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0II*\0".to_vec();
    exif.extend_from_slice(&8u32.to_le_bytes()); // first IFD right after the header
    exif.extend_from_slice(&1u16.to_le_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_le_bytes());
    exif.extend_from_slice(&orientation.to_le_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_le_bytes());
    exif
}

fn mean_colour(image: &RgbImage) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for pixel in image.pixels() {
        for c in 0..3 {
            sum[c] += pixel[c] as f64;
        }
    }
    sum.map(|s| s / (image.width() * image.height()) as f64)
}

#[test]
fn large_jpegs_decode_at_reduced_scale_and_keep_enough_pixels() {
    let _alone = common::alone();
    let jpeg = rgb_jpeg(1024, 768, None);
    let full = decode_bytes(&jpeg, 0).unwrap();
    assert_eq!(full.dimensions(), (1024, 768));
    // The largest reduction (1/2, 1/4, 1/8) that keeps the shorter side at or above the need.
    assert_eq!(decode_bytes(&jpeg, 256).unwrap().dimensions(), (512, 384));
    assert_eq!(decode_bytes(&jpeg, 384).unwrap().dimensions(), (512, 384));
    assert_eq!(decode_bytes(&jpeg, 385).unwrap().dimensions(), (1024, 768));
    assert_eq!(decode_bytes(&jpeg, 192).unwrap().dimensions(), (256, 192));
    assert_eq!(decode_bytes(&jpeg, 96).unwrap().dimensions(), (128, 96));
    assert_eq!(decode_bytes(&jpeg, 800).unwrap().dimensions(), (1024, 768));
    let (a, b) = (mean_colour(&full), mean_colour(&decode_bytes(&jpeg, 96).unwrap()));
    for c in 0..3 {
        assert!((a[c] - b[c]).abs() < 3.0, "channel {c}: {a:?} vs {b:?}");
    }
}

#[test]
fn exif_orientation_is_applied() {
    let _alone = common::alone();
    // Orientation 6: the camera was turned; the picture must be rotated 90 degrees clockwise.
    let rotated = decode_bytes(&rgb_jpeg(64, 32, Some(exif_orientation(6))), 0).unwrap();
    assert_eq!(rotated.dimensions(), (32, 64));
    // The red left half is now the top half.
    assert!(rotated.get_pixel(16, 4)[0] > 150 && rotated.get_pixel(16, 60)[2] > 80, "{:?} {:?}", rotated.get_pixel(16, 4), rotated.get_pixel(16, 60));
    // The same through the full-size path (decoders differ; the result must not).
    let scaled = decode_bytes(&rgb_jpeg(640, 320, Some(exif_orientation(6))), 80).unwrap();
    assert_eq!(scaled.dimensions(), (80, 160));
}

#[test]
fn cmyk_greyscale_sixteen_bit_gif_and_alpha_become_rgb() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    // CMYK JPEG of pure red ink: C=0, M=Y=255, K=0.
    let cmyk: Vec<u8> = std::iter::repeat([0u8, 255, 255, 0]).take(32 * 16).flatten().collect();
    let mut cmyk_jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut cmyk_jpeg, 95).encode(&cmyk, 32, 16, jpeg_encoder::ColorType::Cmyk).unwrap();
    let red = mean_colour(&decode_bytes(&cmyk_jpeg, 0).unwrap());
    assert!(red[0] > 200.0 && red[1] < 60.0 && red[2] < 60.0, "CMYK red decoded as {red:?}");

    let grey = image::GrayImage::from_fn(40, 30, |x, _| image::Luma([(x * 6) as u8]));
    grey.save(dir.path().join("grey.jpg")).unwrap();
    let sixteen = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_fn(20, 20, |_, _| image::Rgb([65535, 0, 32768]));
    sixteen.save(dir.path().join("deep.png")).unwrap();
    RgbImage::from_pixel(10, 10, Rgb([0, 200, 0])).save(dir.path().join("flat.gif")).unwrap();
    assert_eq!(decode_path(&dir.path().join("grey.jpg"), 0).unwrap().dimensions(), (40, 30));
    assert_eq!(decode_path(&dir.path().join("deep.png"), 0).unwrap().get_pixel(3, 3).0, [255, 0, 128]);
    let gif = decode_path(&dir.path().join("flat.gif"), 0).unwrap();
    assert!(gif.get_pixel(5, 5)[1] > 150);
}

#[test]
fn broken_and_hostile_files_are_refused_with_a_reason() {
    let _alone = common::alone();
    let jpeg = rgb_jpeg(256, 256, None);
    let truncated = decode_bytes(&jpeg[..jpeg.len() / 2], 0);
    assert!(truncated.is_err(), "a truncated JPEG must not pass as an image");
    // A JPEG header claiming 30000 x 30000 pixels (patched start-of-frame).
    let mut bomb = rgb_jpeg(16, 16, None);
    let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    bomb[sof + 5..sof + 7].copy_from_slice(&30000u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&30000u16.to_be_bytes());
    let refused = decode_bytes(&bomb, 0).unwrap_err();
    assert!(refused.contains("30000x30000") && refused.contains("limit"), "{refused}");
    // Within the limits, but 8000x8000 pixels (1 million 8x8 blocks) cannot fit in the bytes.
    bomb[sof + 5..sof + 9].copy_from_slice(&[0x1F, 0x40, 0x1F, 0x40]);
    let forged = decode_bytes(&bomb, 32).err().expect("a forged 8000x8000 JPEG must be refused");
    assert!(forged.contains("8000x8000") && forged.contains("truncated or forged"), "{forged}");
    assert!(decode_bytes(b"GIF89a", 0).is_err());
    assert!(decode_bytes(&[0xFF, 0xD8, 0xFF], 0).is_err());
}

/// An 8-bit run-length BMP with a black palette whose data is only a run of `run` pixels
/// and the end-of-bitmap code: the decoder fills the rest of the declared size itself.
fn run_length_bmp(width: i32, height: i32, run: u8) -> Vec<u8> {
    let palette = [0u8; 256 * 4];
    let data = [run, 0, 0, 1];
    let offset = 14 + 40 + palette.len() as u32;
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&(offset + data.len() as u32).to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&offset.to_le_bytes());
    for field in [40, width, height] {
        bmp.extend_from_slice(&field.to_le_bytes());
    }
    bmp.extend_from_slice(&1u16.to_le_bytes()); // planes
    bmp.extend_from_slice(&8u16.to_le_bytes()); // bits per pixel
    bmp.extend_from_slice(&1u32.to_le_bytes()); // BI_RLE8
    for field in [data.len() as u32, 2835, 2835, 256, 0] {
        bmp.extend_from_slice(&field.to_le_bytes());
    }
    bmp.extend_from_slice(&palette);
    bmp.extend_from_slice(&data);
    bmp
}

#[test]
fn tiny_files_declaring_huge_images_are_refused_before_decoding() {
    let _alone = common::alone();
    // The same kind of file decodes at an ordinary size: the refusal below is the limit's.
    let small = decode_bytes(&run_length_bmp(300, 200, 5), 32).unwrap();
    assert_eq!(small.dimensions(), (300, 200));
    // 1,080 bytes declaring 324 megapixels (found by fuzzing: it took 1.5 s and 1 GB).
    let bomb = run_length_bmp(18_000, 18_000, 5);
    assert!(bomb.len() < 1_100);
    // (`.err()`: a failing `unwrap_err` would print the gigabyte image it got.)
    let refused = decode_bytes(&bomb, 32).err().expect("an 18000x18000 BMP must be refused");
    assert!(refused.contains("18000x18000") && refused.contains("100 megapixel limit"), "{refused}");
}

#[test]
fn a_jpeg_over_the_pixel_limit_passes_at_the_reduced_scale_it_is_decoded_at() {
    let _alone = common::alone();
    // 110 megapixels of grey: refused at full size, decoded at 1/8 scale for a 256 px input.
    let (width, height) = (11_000u16, 10_000u16);
    let pixels = vec![128u8; width as usize * height as usize];
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 50).encode(&pixels, width, height, jpeg_encoder::ColorType::Luma).unwrap();
    assert_eq!(decode_bytes(&jpeg, 256).unwrap().dimensions(), (1375, 1250));
    let refused = decode_bytes(&jpeg, 0).err().expect("110 megapixels at full size must be refused");
    assert!(refused.contains("11000x10000") && refused.contains("110 megapixels"), "{refused}");
}

#[test]
fn names_with_spaces_and_non_ascii_letters_are_read() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("chats sauvages");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::write(class.join("Übergröße — 猫 photo.jpg"), rgb_jpeg(40, 40, None)).unwrap();
    let classes = resnet_core::data::folder::class_names(dir.path()).unwrap();
    let split = resnet_core::data::folder::scan_split(dir.path(), &classes).unwrap();
    assert_eq!(split.samples.len(), 1);
    assert!(decode_path(&split.samples[0].path, 0).is_ok());
}
