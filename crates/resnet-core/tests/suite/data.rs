//! Dataset scanning and decoding: images are recognised by content, bad files are reported
//! with a reason, labels never silently misalign.
use crate::common;
use resnet_core::data::decode::{decode_bytes, decode_path};
use resnet_core::data::folder::{class_names, scan_split};
use resnet_core::data::transform::resize_into;
use resnet_core::ResizeMode;

#[test]
fn classes_are_sorted_and_files_are_recognised_by_their_bytes() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_class(&root.path().join("zebra"), 0, 2, 1);
    common::write_class(&root.path().join("ant/nested/deeper"), 1, 2, 2);
    // An image whose name hides its type, a text file named .jpg, an empty file.
    std::fs::copy(root.path().join("zebra/img-000.png"), root.path().join("zebra/photo123jpg")).unwrap();
    std::fs::write(root.path().join("zebra/notes.jpg"), "this is text, not a JPEG").unwrap();
    std::fs::write(root.path().join("zebra/empty.jpg"), b"").unwrap();
    std::fs::create_dir_all(root.path().join("empty-class")).unwrap();

    let classes = class_names(root.path()).unwrap();
    assert_eq!(classes, ["ant", "empty-class", "zebra"]);
    let split = scan_split(root.path(), &classes).unwrap();
    let zebra: Vec<_> = split.samples.iter().filter(|s| s.label == 2).collect();
    assert_eq!(zebra.len(), 3, "two generated images and photo123jpg");
    assert!(zebra.iter().any(|s| s.path.ends_with("photo123jpg")));
    assert_eq!(split.samples.iter().filter(|s| s.label == 0).count(), 2, "images below nested folders count");
    let reasons: Vec<String> = split.skipped.iter().map(|s| format!("{} {}", s.path.display(), s.reason)).collect();
    assert!(reasons.iter().any(|r| r.contains("notes.jpg") && r.contains("not an image")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("empty.jpg") && r.contains("empty file")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("empty-class") && r.contains("no files")), "{reasons:?}");
}

#[test]
fn a_validation_class_missing_from_training_is_an_error() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_class(&root.path().join("cat"), 0, 1, 1);
    common::write_class(&root.path().join("dog"), 1, 1, 1);
    let error = scan_split(root.path(), &["cat".to_string()]).unwrap_err();
    assert_eq!(error.code(), "ERR_DATASET");
    assert!(error.to_string().contains("dog"), "{error}");
}

/// A PNG whose header claims 30000 x 30000 pixels, with no pixel data.
fn png_bomb_header() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= byte as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&30_000u32.to_be_bytes());
    chunk.extend_from_slice(&30_000u32.to_be_bytes());
    chunk.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&chunk);
    png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    png
}

#[test]
fn decoding_refuses_bombs_and_reports_broken_files() {
    let _alone = common::alone();
    let bomb = decode_bytes(&png_bomb_header(), 0).unwrap_err();
    assert!(bomb.contains("limit"), "{bomb}");
    assert!(decode_bytes(b"", 0).unwrap_err().contains("empty"));
    assert!(decode_bytes(b"hello world", 0).unwrap_err().contains("not an image"));

    let dir = tempfile::tempdir().unwrap();
    common::write_class(dir.path(), 0, 2, 3);
    let jpeg = std::fs::read(dir.path().join("img-001.jpg")).unwrap();
    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &jpeg[..jpeg.len() / 3]).unwrap();
    assert!(decode_path(&truncated, 0).is_err());
    assert!(decode_path(&dir.path().join("missing.png"), 0).unwrap_err().contains("cannot read"));
}

#[test]
fn greyscale_and_alpha_images_become_rgb() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let grey = image::GrayImage::from_fn(20, 10, |x, _| image::Luma([(x * 10) as u8]));
    grey.save(dir.path().join("grey.png")).unwrap();
    let rgba = image::RgbaImage::from_fn(10, 20, |_, _| image::Rgba([10, 20, 30, 128]));
    rgba.save(dir.path().join("alpha.png")).unwrap();
    for name in ["grey.png", "alpha.png"] {
        let image = decode_path(&dir.path().join(name), 0).unwrap();
        let mut out = vec![0u8; 16 * 16 * 3];
        resize_into(&image, 16, ResizeMode::Stretch, &mut out).unwrap();
        resize_into(&image, 16, ResizeMode::Crop, &mut out).unwrap();
    }
    assert_eq!(decode_path(&dir.path().join("alpha.png"), 0).unwrap().get_pixel(0, 0).0, [10, 20, 30]);
}
