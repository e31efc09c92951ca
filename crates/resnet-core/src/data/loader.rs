//! The batch loader: decodes and transforms the images of each batch on a thread pool, ahead
//! of the consumer (a bounded queue), so decoding overlaps with compute.
//!
//! Two batches decode at once: a pool that finishes one batch before starting the next waits
//! at each batch's end for its slowest image. For a GPU the queue holds batches of uint8
//! pixels up to `GPU_PREFETCH_BYTES`, so decoding runs on while the first batches of a run wait
//! for cuDNN's autotuning (seconds), instead of stopping two batches ahead.
use super::cache::ImageCache;
use super::decode::decode_path;
use super::staging::stage;
use super::folder::Sample;
use super::transform::{
    augment_into, empty_cpu_batch, flip_horizontally, float_slice_mut, needed_shorter_side, resize_into,
    shrink_to_shorter_side, Normaliser,
};
use crate::data::preprocess::{Augment, Preprocess, ResizeMode};
use crossbeam_channel::{bounded, Receiver};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::Arc;
use std::thread::JoinHandle;

thread_local! {
    // One image's uint8 pixels on their way to being normalised, reused by each thread.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Batches prepared ahead of the one being consumed (on the CPU, where compute is the
/// bottleneck and a normalised float batch is large).
const PREFETCH_BATCHES: usize = 2;
/// How much decoded uint8 input may wait for a GPU, in bytes (page-locked memory).
const GPU_PREFETCH_BYTES: usize = 512 << 20;
/// At most this many batches wait for a GPU, however small.
const GPU_PREFETCH_MAX_BATCHES: usize = 32;
/// Batches decoding at the same time.
const DECODING_BATCHES: usize = 2;

/// One batch: the images that decoded in the pipeline's `BatchForm`, their labels and sample
/// indices, and the samples that failed with their reasons.
#[derive(Debug, Default)]
pub struct Batch {
    /// HWC uint8 pixels (`BatchForm::Pixels`, or where a tensor could not be made).
    pub pixels: Vec<u8>,
    /// `BatchForm::Normalised`: the `[n, 3, size, size]` float CPU tensor;
    /// `BatchForm::PageLocked`: the `[n, size, size, 3]` uint8 pixels in page-locked memory.
    /// `pixels` is then empty.
    pub input: Option<tch::Tensor>,
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
    /// With random crops: the shorter side of the whole picture they are cut from (see
    /// `crop_source_side`); unused otherwise.
    pub crop_source_side: u32,
    /// Seeds the per-sample randomness, so results do not depend on thread scheduling.
    pub seed: u64,
    pub cache: Option<Arc<ImageCache>>,
    pub output: BatchForm,
}

/// What the loader's threads deliver.
#[derive(Debug, Clone)]
pub enum BatchForm {
    /// HWC uint8 pixels in a plain buffer.
    Pixels,
    /// For a model on the CPU: normalised floats, written on the loader's threads so that the
    /// conversion overlaps with compute; in channels_last memory order for a channels_last
    /// model (each image's floats keep the pixels' interleaved order, also the faster to write).
    Normalised { preprocess: Preprocess, channels_last: bool },
    /// For a model on a GPU: uint8 pixels in page-locked memory, whose copy to this device
    /// does not make the host wait; the device normalises them (data/device_input.rs).
    PageLocked(tch::Device),
}

impl BatchForm {
    /// The form a model on `device` takes.
    pub fn for_device(device: tch::Device, preprocess: &Preprocess, channels_last: bool) -> Self {
        match device {
            tch::Device::Cpu => BatchForm::Normalised { preprocess: preprocess.clone(), channels_last },
            other => BatchForm::PageLocked(other),
        }
    }
}

impl Pipeline {
    pub fn evaluation(image_size: u32, eval_mode: ResizeMode, cache: Option<Arc<ImageCache>>, output: BatchForm) -> Self {
        Pipeline { image_size, eval_mode, augment: None, crop_source_side: image_size, seed: 0, cache, output }
    }

    fn random_crop(&self) -> bool {
        self.augment.as_ref().is_some_and(|augment| augment.crop_scale.is_some())
    }

    /// The decoded form that is cached: the final evaluation input, or for random crops the
    /// whole picture shrunk to a shorter side of `crop_source_side`.
    fn working_image(&self, sample: &Sample, index: usize) -> Result<Arc<RgbImage>, String> {
        if let Some(hit) = self.cache.as_ref().and_then(|cache| cache.get(index)) {
            return Ok(hit);
        }
        let size = self.image_size;
        let working = if self.random_crop() {
            let side = self.crop_source_side.max(size);
            shrink_to_shorter_side(decode_path(&sample.path, side)?, side)?
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

    /// Writes the model input for one sample in `epoch` into `out` (`size x size x 3` bytes).
    pub fn load_into(&self, sample: &Sample, index: usize, epoch: usize, out: &mut [u8]) -> Result<(), String> {
        let rng = || ChaCha8Rng::seed_from_u64(self.seed ^ ((epoch as u64) << 40) ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        if let Some(augment) = self.augment.as_ref().filter(|augment| augment.crop_scale.is_some()) {
            let working = self.working_image(sample, index)?;
            return augment_into(&working, self.image_size, augment, self.eval_mode, &mut rng(), out);
        }
        if self.cache.is_some() {
            out.copy_from_slice(self.working_image(sample, index)?.as_raw());
        } else {
            // Nothing to keep: resized straight into `out`, without an intermediate image.
            let size = self.image_size;
            let decoded = decode_path(&sample.path, needed_shorter_side(size, self.eval_mode))?;
            resize_into(&decoded, size, self.eval_mode, out)?;
        }
        if self.augment.as_ref().is_some_and(|augment| augment.horizontal_flip) && rng().random_bool(0.5) {
            flip_horizontally(out, self.image_size as usize);
        }
        Ok(())
    }

    /// The model input for one sample in `epoch` as a new buffer.
    pub fn load(&self, sample: &Sample, index: usize, epoch: usize) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; (self.image_size as usize).pow(2) * 3];
        self.load_into(sample, index, epoch, &mut out).map(|()| out)
    }
}

/// The shorter side of the pictures random crops are cut from: `image_size / sqrt(min_scale)`,
/// so that even the smallest crop (`min_scale` of the area) keeps about `image_size` source
/// pixels across and is not enlarged from a blurred copy (torchvision crops the full image).
/// Lowered, never below `image_size`, where `images` pictures of that size (assumed 4:3)
/// would not all fit in the cache: decoding every epoch again costs more than the detail.
pub fn crop_source_side(image_size: u32, augment: &Augment, cache: Option<&ImageCache>, images: usize) -> u32 {
    let Some([min_scale, _]) = augment.crop_scale else { return image_size };
    let ideal = (image_size as f64 / (min_scale as f64).sqrt()).ceil();
    let side = match cache {
        Some(cache) => {
            // side x (4/3 side) x 3 bytes per picture.
            let fitting = (cache.limit_bytes() as f64 / (images.max(1) as f64 * 4.0)).sqrt().floor();
            ideal.min(fitting)
        }
        None => ideal,
    };
    (side as u32).max(image_size)
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
        let (sender, receiver) = bounded(prefetch_batches(&pipeline.output, batch_size, pipeline.image_size));
        let producer = std::thread::spawn(move || {
            let mut chunks = order.chunks(batch_size.max(1)).map(<[usize]>::to_vec);
            // Each batch's result comes back on its own channel, so they leave in order.
            let mut decoding = std::collections::VecDeque::with_capacity(DECODING_BATCHES);
            loop {
                while decoding.len() < DECODING_BATCHES {
                    let Some(chunk) = chunks.next() else { break };
                    let (done, result) = bounded(1);
                    let (samples, pipeline) = (samples.clone(), pipeline.clone());
                    pool.spawn(move || {
                        let _ = done.send(load_batch(&samples, &chunk, &pipeline, epoch));
                    });
                    decoding.push_back(result);
                }
                let Some(next) = decoding.pop_front() else { return };
                let Ok(batch) = next.recv() else { return };
                if sender.send(batch).is_err() {
                    return; // the consumer is gone
                }
            }
        });
        BatchLoader { receiver: Some(receiver), producer: Some(producer) }
    }
}

/// How many prepared batches may wait for the consumer.
fn prefetch_batches(output: &BatchForm, batch_size: usize, image_size: u32) -> usize {
    match output {
        BatchForm::PageLocked(_) => {
            let batch_bytes = batch_size.max(1) * (image_size as usize).pow(2) * 3;
            (GPU_PREFETCH_BYTES / batch_bytes).clamp(PREFETCH_BATCHES, GPU_PREFETCH_MAX_BATCHES)
        }
        _ => PREFETCH_BATCHES,
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

/// Prepares the samples of one batch in parallel, keeping their order; failed samples are
/// left out and listed.
pub fn load_batch(samples: &[Sample], chunk: &[usize], pipeline: &Pipeline, epoch: usize) -> Batch {
    // Where a tensor cannot be made, uint8 pixels are delivered instead and the consumer's
    // own conversion reports the error.
    match &pipeline.output {
        BatchForm::Normalised { preprocess, channels_last } => {
            if let Ok(tensor) = empty_cpu_batch(chunk.len(), pipeline.image_size, *channels_last) {
                return load_normalised(samples, chunk, pipeline, epoch, preprocess, *channels_last, tensor);
            }
            load_pixels(samples, chunk, pipeline, epoch)
        }
        BatchForm::PageLocked(device) => {
            let mut batch = load_pixels(samples, chunk, pipeline, epoch);
            if let Ok(staged) = stage(&batch.pixels, batch.len(), pipeline.image_size, *device) {
                batch.input = Some(staged);
                batch.pixels = Vec::new();
            }
            batch
        }
        BatchForm::Pixels => load_pixels(samples, chunk, pipeline, epoch),
    }
}

/// HWC uint8 pixels, each image written in place into the batch buffer.
fn load_pixels(samples: &[Sample], chunk: &[usize], pipeline: &Pipeline, epoch: usize) -> Batch {
    let image_bytes = (pipeline.image_size as usize).pow(2) * 3;
    let mut pixels = vec![0u8; image_bytes * chunk.len()];
    let outcomes: Vec<Result<(), String>> = pixels
        .par_chunks_mut(image_bytes)
        .zip(chunk.par_iter())
        .map(|(out, &index)| pipeline.load_into(&samples[index], index, epoch, out))
        .collect();
    let (mut batch, kept) = sort_outcomes(samples, chunk, outcomes);
    for (position, &slot) in kept.iter().enumerate() {
        if position != slot {
            pixels.copy_within(slot * image_bytes..(slot + 1) * image_bytes, position * image_bytes);
        }
    }
    pixels.truncate(kept.len() * image_bytes);
    batch.pixels = pixels;
    batch
}

/// A normalised CPU tensor: each image is loaded into a per-thread scratch buffer and
/// normalised straight into its slot of `tensor` (made by `empty_cpu_batch` in the
/// pipeline's layout), while still in cache.
fn load_normalised(
    samples: &[Sample],
    chunk: &[usize],
    pipeline: &Pipeline,
    epoch: usize,
    preprocess: &Preprocess,
    channels_last: bool,
    mut tensor: tch::Tensor,
) -> Batch {
    let image_bytes = (pipeline.image_size as usize).pow(2) * 3;
    let normaliser = Normaliser::new(preprocess);
    let outcomes: Vec<Result<(), String>> = float_slice_mut(&mut tensor)
        .par_chunks_mut(image_bytes)
        .zip(chunk.par_iter())
        .map(|(out, &index)| {
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                scratch.resize(image_bytes, 0);
                pipeline.load_into(&samples[index], index, epoch, &mut scratch)?;
                if channels_last {
                    normaliser.write_hwc(&scratch, out);
                } else {
                    normaliser.write_chw(&scratch, out);
                }
                Ok(())
            })
        })
        .collect();
    let (mut batch, kept) = sort_outcomes(samples, chunk, outcomes);
    batch.input = if kept.len() == chunk.len() {
        Some(tensor)
    } else {
        let slots: Vec<i64> = kept.iter().map(|&slot| slot as i64).collect();
        tch::Tensor::f_from_slice(&slots).and_then(|slots| tensor.f_index_select(0, &slots)).ok()
    };
    batch
}

/// Labels and indices of the samples that loaded, the failures, and the kept slots.
fn sort_outcomes(samples: &[Sample], chunk: &[usize], outcomes: Vec<Result<(), String>>) -> (Batch, Vec<usize>) {
    let mut batch = Batch::default();
    let mut kept = Vec::with_capacity(chunk.len());
    for (slot, (&index, outcome)) in chunk.iter().zip(outcomes).enumerate() {
        match outcome {
            Ok(()) => {
                kept.push(slot);
                batch.labels.push(samples[index].label as i64);
                batch.indices.push(index);
            }
            Err(reason) => batch.failures.push((index, reason)),
        }
    }
    (batch, kept)
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
