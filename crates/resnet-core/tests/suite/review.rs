//! The training report's data: per-sample outcomes agree with the tallied metrics, and the
//! review keeps the highest-loss samples first with small JPEG thumbnails.
use crate::common;
use image::{Rgb, RgbImage};
use resnet_core::data::folder::Sample;
use resnet_core::metrics::{OutcomeRows, RunningTally, SampleOutcome, Tally};
use resnet_core::train::review::{ValidationReview, THUMBNAIL_SIDE, WORST_SAMPLES};
use tch::Tensor;

#[test]
fn sample_outcomes_agree_with_the_tally() {
    let _alone = common::alone();
    let logits = Tensor::from_slice(&[2.0f32, 1.0, 0.0, 0.0, 3.0, 1.0, 1.0, 0.0, 0.5, 0.2, 0.1, 4.0]).view([4, 3]);
    let labels = Tensor::from_slice(&[0i64, 2, 0, 2]);
    let mut running = RunningTally::new(3, tch::Device::Cpu).unwrap();
    running.add(&logits, &labels).unwrap();
    let tally = running.read().unwrap().clone();
    let mut rows = OutcomeRows::new();
    rows.add(&logits, &labels, &[0, 2, 0, 2], &[10, 11, 12, 13]).unwrap();
    let outcomes = rows.finish().unwrap();

    assert_eq!(outcomes.iter().map(|o| o.index).collect::<Vec<_>>(), [10, 11, 12, 13]);
    assert_eq!(outcomes.iter().map(|o| o.label).collect::<Vec<_>>(), [0, 2, 0, 2]);
    assert_eq!(outcomes.iter().map(|o| o.predicted).collect::<Vec<_>>(), [0, 1, 0, 2]);
    // Each loss is -log softmax of the true class; the probability is the top class's.
    let rows: [[f64; 3]; 4] = [[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 0.5], [0.2, 0.1, 4.0]];
    for ((row, outcome), label) in rows.iter().zip(&outcomes).zip([0, 2, 0, 2]) {
        let total: f64 = row.iter().map(|v| v.exp()).sum();
        let top = row.iter().cloned().fold(f64::MIN, f64::max);
        assert!((outcome.loss - (total.ln() - row[label])).abs() < 1e-5, "{outcome:?}");
        assert!((outcome.probability - top.exp() / total).abs() < 1e-6, "{outcome:?}");
    }
    let mean = outcomes.iter().map(|o| o.loss).sum::<f64>() / 4.0;
    assert!((mean - tally.mean_loss()).abs() < 1e-6, "{mean} vs {}", tally.mean_loss());
    let correct = outcomes.iter().filter(|o| o.label == o.predicted).count() as f64;
    assert_eq!(correct / 4.0, tally.accuracy());
}

/// The running sums stay on the device between reads: a read shows what was added before it,
/// costs one copy, and adds up top-1, top-5 and the confusion matrix over batches.
#[test]
fn the_running_tally_shows_what_was_added_before_each_read() {
    let _alone = common::alone();
    let classes: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
    let mut running = RunningTally::new(6, tch::Device::Cpu).unwrap();
    // Row i ranks class (i + r) % 6 at place r: class i first, then i + 1, ...
    let logits = |rows: &[i64]| {
        let values: Vec<f32> = rows.iter().flat_map(|&i| (0..6).map(move |c| -(((c - i).rem_euclid(6)) as f32))).collect();
        Tensor::from_slice(&values).view([rows.len() as i64, 6])
    };
    running.add(&logits(&[0, 1]), &Tensor::from_slice(&[0i64, 2])).unwrap();
    let reads = resnet_core::host_reads::reads_on_this_thread();
    let first = running.read().unwrap().clone();
    assert_eq!(resnet_core::host_reads::reads_on_this_thread(), reads + 1);
    assert_eq!((first.count(), first.accuracy()), (2, 0.5));
    // Batch two: a label ranked sixth (outside the top five) and one ranked first.
    running.add(&logits(&[3, 5]), &Tensor::from_slice(&[2i64, 5])).unwrap();
    assert_eq!(running.last_read().count(), 2, "the last read is kept until the next");
    let summary = running.read().unwrap().summary(&classes);
    assert_eq!((summary.count, summary.accuracy, summary.top5), (4, 0.5, 0.75));
    assert_eq!(summary.confusion[0][0], 1);
    assert_eq!(summary.confusion[2][1], 1);
    assert_eq!(summary.confusion[2][3], 1);
    assert_eq!(summary.confusion[5][5], 1);
    assert_eq!(summary.confusion.iter().flatten().sum::<u64>(), 4);
}

fn write_image(path: &std::path::Path, width: u32, height: u32) {
    RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128])).save(path).unwrap();
}

#[test]
fn the_review_keeps_the_highest_losses_first_with_small_thumbnails() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let wide = dir.path().join("wide.png");
    let small = dir.path().join("small.jpg");
    write_image(&wide, 300, 150);
    write_image(&small, 40, 30);
    let gone = dir.path().join("deleted.png");
    let samples = vec![
        Sample { path: wide.clone(), label: 0 },
        Sample { path: small.clone(), label: 1 },
        Sample { path: gone.clone(), label: 1 },
    ];
    // More outcomes than the grid shows; losses in no particular order.
    let outcomes: Vec<SampleOutcome> = (0..WORST_SAMPLES + 5)
        .map(|i| SampleOutcome {
            index: i % 3,
            label: i % 2,
            predicted: 0,
            loss: ((i * 37) % 101) as f64 / 10.0,
            probability: 0.5,
        })
        .collect();
    let mut highest: Vec<f64> = outcomes.iter().map(|o| o.loss).collect();
    highest.sort_by(|a, b| b.total_cmp(a));
    highest.truncate(WORST_SAMPLES);

    let classes = vec!["a".to_string(), "b".to_string()];
    let review = ValidationReview::new(7, &classes, &samples, &Tally::new(2), outcomes);
    assert_eq!(review.epoch, 7);
    assert_eq!(review.worst.iter().map(|s| s.loss).collect::<Vec<_>>(), highest);

    for sample in &review.worst {
        if sample.path == gone.to_string_lossy() {
            assert!(sample.thumbnail.is_empty(), "an unreadable image has no thumbnail");
            continue;
        }
        assert_eq!(image::guess_format(&sample.thumbnail).unwrap(), image::ImageFormat::Jpeg);
        let thumbnail = image::load_from_memory(&sample.thumbnail).unwrap();
        if sample.path == wide.to_string_lossy() {
            assert_eq!((thumbnail.width(), thumbnail.height()), (THUMBNAIL_SIDE, THUMBNAIL_SIDE / 2), "shrunk, aspect kept");
        } else {
            assert_eq!((thumbnail.width(), thumbnail.height()), (40, 30), "never enlarged");
        }
        assert!(sample.thumbnail.len() < 8_000, "{} bytes", sample.thumbnail.len());
    }
    // The JSON the report reads leaves the bytes out.
    let json = serde_json::to_value(&review).unwrap();
    assert!(json["worst"][0].get("thumbnail").is_none());
    assert_eq!(json["worst"].as_array().unwrap().len(), WORST_SAMPLES);
}
