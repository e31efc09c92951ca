//! The batch loader: decodes and transforms the images of each batch on a thread pool, a few
//! batches ahead of the consumer (a bounded queue), so decoding overlaps with compute.
use super::cache::ImageCache;
use super::decode::decode_path;
use super::folder::Sample;
use super::transform::{augment_into, flip_horizontally, needed_shorter_side, resize_into, shrink_to_shorter_side};
use crate::config::{Augment, ResizeMode};
use crossbeam_channel::{bounded, Receiver};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Batches prepared ahead of the one being consumed.
const PREFETCH_BATCHES: usize = 2;

/// One batch: HWC uint8 pixels of the images that decoded, their labels and sample
/// indices, and the samples that failed with their reasons.
#[derive(Debug, Default)]
pub struct Batch {
    pub pixels: Vec<u8>,
    pub labels: Vec<i64>,
    pub indices: Vec<usize>,
    pub failures: Vec<(usize, String)>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// How a sample becomes model input: the evaluation resize, optionally a random training
/// augmentation, and an optional cache of decoded images.
pub struct Pipeline {
    pub image_size: u32,
    pub eval_mode: ResizeMode,
    /// `None`: the deterministic evaluation transform.
    pub augment: Option<Augment>,
    /// Seeds the per-sample randomness, so results do not depend on thread scheduling.
    pub seed: u64,
    pub cache: Option<Arc<ImageCache>>,
}

impl Pipeline {
    pub fn evaluation(image_size: u32, eval_mode: ResizeMode, cache: Option<Arc<ImageCache>>) -> Self {
        Pipeline { image_size, eval_mode, augment: None, seed: 0, cache }
    }

    fn random_crop(&self) -> bool {
        self.augment.as_ref().is_some_and(|augment| augment.crop_scale.is_some())
    }

    /// The decoded form that is cached: the final evaluation input, or for random crops the
    /// whole picture shrunk to a shorter side of `image_size`.
    fn working_image(&self, sample: &Sample, index: usize) -> Result<Arc<RgbImage>, String> {
        if let Some(hit) = self.cache.as_ref().and_then(|cache| cache.get(index)) {
            return Ok(hit);
        }
        let size = self.image_size;
        let working = if self.random_crop() {
            shrink_to_shorter_side(decode_path(&sample.path, size)?, size)?
        } else {
            let decoded = decode_path(&sample.path, needed_shorter_side(size, self.eval_mode))?;
            let mut out = vec![0u8; (size as usize).pow(2) * 3];
            resize_into(&decoded, size, self.eval_mode, &mut out)?;
            RgbImage::from_raw(size, size, out).ok_or("cannot resize: buffer size mismatch")?
        };
        let working = Arc::new(working);
        if let Some(cache) = &self.cache {
            cache.offer(index, &working);
        }
        Ok(working)
    }

    /// The model input for one sample in `epoch` (`size x size x 3` bytes).
    pub fn load(&self, sample: &Sample, index: usize, epoch: usize) -> Result<Vec<u8>, String> {
        let working = self.working_image(sample, index)?;
        let Some(augment) = &self.augment else { return Ok(working.as_raw().clone()) };
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ ((epoch as u64) << 40) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if augment.crop_scale.is_some() {
            let mut out = vec![0u8; (self.image_size as usize).pow(2) * 3];
            augment_into(&working, self.image_size, augment, self.eval_mode, &mut rng, &mut out)?;
            return Ok(out);
        }
        let mut out = working.as_raw().clone();
        if augment.horizontal_flip && rng.random_bool(0.5) {
            flip_horizontally(&mut out, self.image_size as usize);
        }
        Ok(out)
    }
}

/// Iterates over the batches of `order` (indices into `samples`), preparing them in the
/// background. Dropping the loader stops the background work after the batch in progress.
pub struct BatchLoader {
    receiver: Option<Receiver<Batch>>,
    producer: Option<JoinHandle<()>>,
}

impl BatchLoader {
    pub fn start(
        samples: Arc<Vec<Sample>>,
        order: Vec<usize>,
        batch_size: usize,
        pipeline: Arc<Pipeline>,
        epoch: usize,
        pool: Arc<rayon::ThreadPool>,
    ) -> Self {
        let (sender, receiver) = bounded(PREFETCH_BATCHES);
        let producer = std::thread::spawn(move || {
            for chunk in order.chunks(batch_size.max(1)) {
                let batch = pool.install(|| load_batch(&samples, chunk, &pipeline, epoch));
                if sender.send(batch).is_err() {
                    return; // the consumer is gone
                }
            }
        });
        BatchLoader { receiver: Some(receiver), producer: Some(producer) }
    }
}

impl Iterator for BatchLoader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Closing the queue first makes a blocked producer's send fail, so the join is quick.
        self.receiver.take();
        if let Some(producer) = self.producer.take() {
            let _ = producer.join();
        }
    }
}

/// Prepares the samples of one batch in parallel, keeping their order.
pub fn load_batch(samples: &[Sample], chunk: &[usize], pipeline: &Pipeline, epoch: usize) -> Batch {
    let image_bytes = (pipeline.image_size as usize).pow(2) * 3;
    let loaded: Vec<(usize, Result<Vec<u8>, String>)> =
        chunk.par_iter().map(|&index| (index, pipeline.load(&samples[index], index, epoch))).collect();
    let mut batch = Batch { pixels: Vec::with_capacity(image_bytes * chunk.len()), ..Batch::default() };
    for (index, outcome) in loaded {
        match outcome {
            Ok(pixels) => {
                batch.pixels.extend_from_slice(&pixels);
                batch.labels.push(samples[index].label as i64);
                batch.indices.push(index);
            }
            Err(reason) => batch.failures.push((index, reason)),
        }
    }
    batch
}

/// A decoding pool of `workers` threads (0: one per core).
pub fn decoding_pool(workers: usize) -> crate::error::Result<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|index| format!("resnet-decode-{index}"))
        .build()
        .map(Arc::new)
        .map_err(|error| crate::error::Error::Libtorch(format!("cannot start the decoding threads: {error}")))
}
