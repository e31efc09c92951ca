//! The loader's pipeline: the cache changes speed, never results; random crops are
//! reproducible per (seed, epoch, sample); the stratified split is seeded and complete.
use crate::common;
use resnet_core::{Augment, CacheMode, ResizeMode};
use resnet_core::data::cache::ImageCache;
use resnet_core::data::folder::{class_names, scan_split, stratified_split, Sample};
use resnet_core::data::loader::{BatchForm, Pipeline};
use tempfile::TempDir;

fn pipeline(augment: Option<Augment>, cache: CacheMode, len: usize) -> Pipeline {
    Pipeline { image_size: 32, eval_mode: ResizeMode::Crop, augment, crop_source_side: 32, seed: 5, cache: ImageCache::new(len, cache), output: BatchForm::Pixels }
}

/// A folder with one class, "a", of `count` generated images, and its samples.
fn one_class(count: usize) -> (TempDir, Vec<Sample>) {
    let root = tempfile::tempdir().unwrap();
    common::write_class(&root.path().join("a"), 0, count, 1);
    let samples = scan_split(root.path(), &["a".to_string()]).unwrap().samples;
    (root, samples)
}

#[test]
fn the_cache_changes_nothing_but_speed() {
    let _alone = common::alone();
    let (_root, samples) = one_class(6);
    for augment in [None, Some(Augment::standard())] {
        let cached = pipeline(augment.clone(), CacheMode::Memory(None), samples.len());
        let uncached = pipeline(augment.clone(), CacheMode::Off, samples.len());
        for epoch in 1..=2 {
            for (index, sample) in samples.iter().enumerate() {
                assert_eq!(cached.load(sample, index, epoch).unwrap(), uncached.load(sample, index, epoch).unwrap());
            }
        }
        assert!(cached.cache.as_ref().unwrap().bytes_used() > 0);
    }
    // Random crops differ between epochs; the evaluation transform does not.
    let random = pipeline(Some(Augment::standard()), CacheMode::Off, samples.len());
    let differing = (0..samples.len()).filter(|&i| random.load(&samples[i], i, 1).unwrap() != random.load(&samples[i], i, 2).unwrap()).count();
    assert!(differing >= 4, "only {differing} of 6 crops changed between epochs");
}

/// Normalised batches in channels_last memory order hold the same values as NCHW ones.
#[test]
fn channels_last_batches_hold_the_same_values() {
    let _alone = common::alone();
    use resnet_core::Preprocess;
    use resnet_core::data::loader::load_batch;
    let (_root, samples) = one_class(5);
    let order: Vec<usize> = (0..samples.len()).collect();
    let batch = |channels_last: bool| {
        let mut pipeline = pipeline(Some(Augment::standard()), CacheMode::Off, samples.len());
        pipeline.output = BatchForm::Normalised { preprocess: Preprocess::standard(), channels_last };
        load_batch(&samples, &order, &pipeline, 1).input.unwrap()
    };
    let (standard, channels_last) = (batch(false), batch(true));
    assert!(standard.is_contiguous());
    assert!(resnet_core::model::layout::is_channels_last(&channels_last));
    assert_eq!(standard.size(), channels_last.size());
    assert_eq!((standard - channels_last).abs().max().double_value(&[]), 0.0);
}

#[test]
fn a_full_cache_stops_adding() {
    let _alone = common::alone();
    let (_root, samples) = one_class(4);
    let one_image = 32 * 32 * 3;
    let bounded = pipeline(None, CacheMode::Memory(Some(one_image * 2 + 10)), samples.len());
    for (index, sample) in samples.iter().enumerate() {
        bounded.load(sample, index, 1).unwrap();
    }
    assert_eq!(bounded.cache.as_ref().unwrap().bytes_used(), one_image * 2);
}

#[test]
fn stratified_split_is_seeded_complete_and_per_class() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_class(&root.path().join("a"), 0, 10, 1);
    common::write_class(&root.path().join("b"), 1, 5, 2);
    common::write_class(&root.path().join("c"), 2, 1, 3);
    let classes = class_names(root.path()).unwrap();
    let samples = scan_split(root.path(), &classes).unwrap().samples;
    let (train, validation) = stratified_split(samples.clone(), 0.2, 9);
    let count = |set: &[resnet_core::data::folder::Sample], label| set.iter().filter(|s| s.label == label).count();
    assert_eq!((count(&validation, 0), count(&validation, 1), count(&validation, 2)), (2, 1, 0));
    assert_eq!(train.len() + validation.len(), samples.len());
    assert!(validation.iter().all(|v| !train.contains(v)));
    assert_eq!(stratified_split(samples.clone(), 0.2, 9).1, validation);
    assert_ne!(stratified_split(samples, 0.2, 10).1, validation);
}

/// Random crops are cut from a picture big enough for the smallest crop: imageSize /
/// sqrt(min crop area) on its shorter side (torchvision crops the full image), shrunk only as
/// far as the cache needs to hold every picture, and never below imageSize.
#[test]
fn random_crops_are_cut_from_a_picture_sized_for_the_smallest_crop() {
    let _alone = common::alone();
    use resnet_core::data::loader::crop_source_side;
    let standard = Augment::standard(); // area 0.35-1
    assert_eq!(crop_source_side(128, &standard, None, 1000), 217); // 128 / sqrt(0.35) = 216.4
    assert_eq!(crop_source_side(128, &Augment::none(), None, 1000), 128);
    let roomy = ImageCache::new(1000, CacheMode::Memory(Some(1 << 30))).unwrap();
    assert_eq!(crop_source_side(128, &standard, Some(&roomy), 1000), 217);
    // 1000 pictures of 160 x 213 x 3 bytes fit in 102.4 MB; of 217 x 289 x 3 they do not.
    let tight = ImageCache::new(1000, CacheMode::Memory(Some(160 * 160 * 4 * 1000))).unwrap();
    assert_eq!(crop_source_side(128, &standard, Some(&tight), 1000), 160);
    let tiny = ImageCache::new(1000, CacheMode::Memory(Some(1000))).unwrap();
    assert_eq!(crop_source_side(128, &standard, Some(&tiny), 1000), 128);

    // The cached working picture of a large image keeps that side.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a");
    std::fs::create_dir_all(&dir).unwrap();
    image::RgbImage::from_fn(600, 400, |x, y| image::Rgb([(x % 7 * 30) as u8, (y % 5 * 40) as u8, 90])).save(dir.join("big.png")).unwrap();
    let samples = scan_split(root.path(), &["a".to_string()]).unwrap().samples;
    let mut random = pipeline(Some(standard.clone()), CacheMode::Memory(None), 1);
    random.crop_source_side = crop_source_side(32, &standard, random.cache.as_deref(), 1);
    random.load(&samples[0], 0, 1).unwrap();
    let working = random.cache.as_ref().unwrap().get(0).unwrap();
    assert_eq!(working.dimensions(), (83, 55)); // 32 / sqrt(0.35) = 54.1, rounded up
}
