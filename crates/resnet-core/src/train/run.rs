//! The training loop: scan the data, build the network, then per epoch shuffle, train on
//! batches, validate, and save the model directory atomically (so an abort or crash loses at
//! most the epoch in progress).
use super::events::{BatchProgress, EpochSummary, TrainEvent, Warning};
use super::optimizer;
use crate::config::{DataSource, TrainConfig};
use crate::data::cache::ImageCache;
use crate::data::folder::{class_names, scan_split, stratified_split, Sample, Skipped, Split};
use crate::data::loader::{decoding_pool, BatchLoader, Pipeline};
use crate::data::transform::batch_tensor;
use crate::device::{device_name, parse_device};
use crate::error::{Error, Result};
use crate::fsutil::{ensure_writable_dir, write_text_atomically};
use crate::metrics::Tally;
use crate::model::saved::SavedModel;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tch::nn::ModuleT;
use tch::{Reduction, Tensor};

pub const HISTORY_FILE: &str = "history.json";

/// What a finished run leaves behind.
#[derive(Debug)]
pub struct TrainOutcome {
    pub model: SavedModel,
    pub history: Vec<EpochSummary>,
    pub output: PathBuf,
    /// Files that were skipped (not images, or failed to decode), each also reported as a warning.
    pub skipped: usize,
}

/// Trains as `config` says, reporting through `observe`; stops with `Error::Aborted`
/// within one batch once `cancel` is set. Panics from libtorch come back as errors.
pub fn train(config: &TrainConfig, observe: &mut dyn FnMut(TrainEvent), cancel: &AtomicBool) -> Result<TrainOutcome> {
    Error::catch_panics(|| Trainer::prepare(config, observe)?.run(observe, cancel))
}

struct Trainer<'a> {
    config: &'a TrainConfig,
    model: SavedModel,
    train_samples: Arc<Vec<Sample>>,
    validation_samples: Arc<Vec<Sample>>,
    train_pipeline: Arc<Pipeline>,
    validation_pipeline: Arc<Pipeline>,
    pool: Arc<rayon::ThreadPool>,
    /// Sample indices that failed to decode; reported once and left out of later epochs.
    broken: HashSet<usize>,
    validation_broken: HashSet<usize>,
    skipped: usize,
}

impl<'a> Trainer<'a> {
    fn prepare(config: &'a TrainConfig, observe: &mut dyn FnMut(TrainEvent)) -> Result<Self> {
        config.validate()?;
        let device = parse_device(&config.device)?;
        ensure_writable_dir(&config.output)?;
        tch::manual_seed(config.seed as i64);

        let class_root = config.data.class_root();
        let classes = class_names(class_root)?;
        if classes.len() < 2 {
            return Err(Error::dataset(
                format!("expected at least 2 class folders to classify between, found {}", classes.len()),
                class_root,
            ));
        }
        let (train_split, validation_split) = match &config.data {
            DataSource::Folders { train, validation } => (scan_split(train, &classes)?, scan_split(validation, &classes)?),
            DataSource::Split { root, validation_fraction } => {
                let all = scan_split(root, &classes)?;
                let (train, validation) = stratified_split(all.samples, *validation_fraction, config.seed);
                (Split { samples: train, skipped: all.skipped }, Split { samples: validation, skipped: Vec::new() })
            }
        };
        let mut skipped = 0;
        for skip in train_split.skipped.iter().chain(&validation_split.skipped) {
            skipped += 1;
            observe(skip_warning(skip));
        }
        if train_split.samples.is_empty() {
            return Err(Error::dataset("expected training images in the class folders, found none", class_root));
        }
        let augment = config.augment.clone();
        let model = SavedModel::new(config.arch, classes.clone(), config.image_size, config.preprocess.clone(), Some(augment.clone()), device)?;
        observe(TrainEvent::Start {
            device: device_name(device),
            classes,
            train_images: train_split.samples.len(),
            validation_images: validation_split.samples.len(),
        });
        // On the CPU the loader's threads also normalise; a GPU gets uint8 and normalises itself.
        let normalise = (device == tch::Device::Cpu).then(|| config.preprocess.clone());
        let train_pipeline = Pipeline {
            image_size: config.image_size,
            eval_mode: config.preprocess.resize,
            augment: Some(augment),
            seed: config.seed,
            cache: ImageCache::new(train_split.samples.len(), config.cache),
            normalise: normalise.clone(),
        };
        let validation_pipeline = Pipeline::evaluation(
            config.image_size,
            config.preprocess.resize,
            ImageCache::new(validation_split.samples.len(), config.cache),
            normalise,
        );
        Ok(Trainer {
            config,
            model,
            train_samples: Arc::new(train_split.samples),
            validation_samples: Arc::new(validation_split.samples),
            train_pipeline: Arc::new(train_pipeline),
            validation_pipeline: Arc::new(validation_pipeline),
            pool: decoding_pool(config.workers)?,
            broken: HashSet::new(),
            validation_broken: HashSet::new(),
            skipped,
        })
    }

    fn run(mut self, observe: &mut dyn FnMut(TrainEvent), cancel: &AtomicBool) -> Result<TrainOutcome> {
        let mut optimizer = optimizer::build(self.config.optimizer, &self.model.vs, self.config.learning_rate)?;
        let mut history = Vec::with_capacity(self.config.epochs);
        for epoch in 1..=self.config.epochs {
            let started = Instant::now();
            let training = self.train_epoch(epoch, &mut optimizer, observe, cancel)?;
            let validation = self.validate(observe)?;
            let summary = EpochSummary {
                epoch,
                epochs: self.config.epochs,
                loss: training.mean_loss(),
                accuracy: training.accuracy(),
                val_loss: validation.as_ref().map(Tally::mean_loss),
                val_accuracy: validation.as_ref().map(Tally::accuracy),
                seconds: started.elapsed().as_secs_f64(),
                learning_rate: self.config.learning_rate,
            };
            history.push(summary.clone());
            self.model.save(&self.config.output)?;
            let history_json = serde_json::to_string_pretty(&history).unwrap_or_default();
            write_text_atomically(&self.config.output.join(HISTORY_FILE), &history_json)?;
            observe(TrainEvent::Epoch(summary));
        }
        Ok(TrainOutcome { model: self.model, history, output: self.config.output.clone(), skipped: self.skipped })
    }

    /// Reports the samples of a batch that failed to decode, once each.
    fn report_failures(&mut self, samples: &[Sample], failures: &[(usize, String)], observe: &mut dyn FnMut(TrainEvent)) {
        for (index, reason) in failures {
            self.skipped += 1;
            observe(skip_warning(&Skipped { path: samples[*index].path.clone(), reason: reason.clone() }));
        }
    }

    fn train_epoch(
        &mut self,
        epoch: usize,
        optimizer: &mut tch::nn::Optimizer,
        observe: &mut dyn FnMut(TrainEvent),
        cancel: &AtomicBool,
    ) -> Result<Tally> {
        let mut order: Vec<usize> = (0..self.train_samples.len()).filter(|i| !self.broken.contains(i)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        let batches = order.len().div_ceil(self.config.batch_size);
        let device = self.model.device();
        let samples = self.train_samples.clone();
        let loader =
            BatchLoader::start(samples.clone(), order, self.config.batch_size, self.train_pipeline.clone(), epoch, self.pool.clone());
        let mut tally = Tally::new(self.model.meta.classes.len());
        let started = Instant::now();
        for (batch_index, batch) in loader.enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Aborted);
            }
            self.broken.extend(batch.failures.iter().map(|(index, _)| *index));
            self.report_failures(&samples, &batch.failures, observe);
            // Batch norm needs two values per channel in training mode; a lone leftover
            // image (after failures or at the end) waits for the next epoch's shuffle.
            if batch.len() < 2 {
                continue;
            }
            let input = batch_tensor(&batch, self.config.image_size, &self.model.meta.preprocess, device)?;
            let labels = Tensor::f_from_slice(&batch.labels)?.f_to_device(device)?;
            let logits = self.model.net.forward_t(&input, true);
            let loss = logits.f_cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)?;
            optimizer.backward_step(&loss);
            tally.add(&logits, &labels)?;
            observe(TrainEvent::Batch(BatchProgress {
                epoch,
                batch: batch_index + 1,
                batches,
                loss: tally.mean_loss(),
                images_per_second: tally.count() as f64 / started.elapsed().as_secs_f64().max(1e-9),
            }));
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Aborted);
        }
        Ok(tally)
    }

    /// Validation metrics, or `None` when there are no validation images.
    fn validate(&mut self, observe: &mut dyn FnMut(TrainEvent)) -> Result<Option<Tally>> {
        if self.validation_samples.is_empty() {
            return Ok(None);
        }
        let mut failed: Vec<(usize, Skipped)> = Vec::new();
        let order = (0..self.validation_samples.len()).filter(|i| !self.validation_broken.contains(i)).collect();
        let tally = self.model.evaluate_tally(
            self.validation_samples.clone(),
            order,
            self.config.batch_size,
            self.validation_pipeline.clone(),
            self.pool.clone(),
            &mut |index, skip| failed.push((index, skip)),
        )?;
        // Each broken validation image is reported once and left out of later epochs.
        for (index, skip) in failed {
            self.validation_broken.insert(index);
            self.skipped += 1;
            observe(skip_warning(&skip));
        }
        Ok(Some(tally))
    }
}

fn skip_warning(skip: &Skipped) -> TrainEvent {
    TrainEvent::Warning(Warning { message: format!("skipped {}: {}", skip.path.display(), skip.reason), path: Some(skip.path.clone()) })
}
