//! The batch loader: decodes and resizes the images of each batch on a thread pool, a few
//! batches ahead of the consumer (a bounded queue), so decoding overlaps with compute.
use super::decode::decode_path;
use super::folder::Sample;
use super::transform::resize_into;
use crate::config::ResizeMode;
use crossbeam_channel::{bounded, Receiver};
use rayon::prelude::*;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Batches decoded ahead of the one being consumed.
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

/// How images become the model's input.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    pub image_size: u32,
    pub resize: ResizeMode,
}

/// Iterates over the batches of `order` (indices into `samples`), decoding in the background.
/// Dropping the loader stops the background work after the batch in progress.
pub struct BatchLoader {
    receiver: Option<Receiver<Batch>>,
    producer: Option<JoinHandle<()>>,
}

impl BatchLoader {
    pub fn start(
        samples: Arc<Vec<Sample>>,
        order: Vec<usize>,
        batch_size: usize,
        spec: LoadSpec,
        pool: Arc<rayon::ThreadPool>,
    ) -> Self {
        let (sender, receiver) = bounded(PREFETCH_BATCHES);
        let producer = std::thread::spawn(move || {
            for chunk in order.chunks(batch_size.max(1)) {
                let batch = pool.install(|| load_batch(&samples, chunk, spec));
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

/// Decodes and resizes the samples of one batch in parallel, keeping their order.
pub fn load_batch(samples: &[Sample], chunk: &[usize], spec: LoadSpec) -> Batch {
    let image_bytes = (spec.image_size as usize).pow(2) * 3;
    let decoded: Vec<(usize, Result<Vec<u8>, String>)> = chunk
        .par_iter()
        .map(|&index| {
            let pixels = decode_path(&samples[index].path).and_then(|image| {
                let mut out = vec![0u8; image_bytes];
                resize_into(&image, spec.image_size, spec.resize, &mut out).map(|()| out)
            });
            (index, pixels)
        })
        .collect();
    let mut batch = Batch { pixels: Vec::with_capacity(image_bytes * chunk.len()), ..Batch::default() };
    for (index, outcome) in decoded {
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
