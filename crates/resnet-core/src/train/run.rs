//! The training loop: scan the data, build the network (or restore a checkpoint), then per
//! epoch shuffle, train on batches, validate, and hand the model directory and a checkpoint to
//! the saver, which writes them atomically beside the next epoch (`saver`: an abort or error
//! waits for them, so it loses at most the epoch in progress). Keeps the best epoch's model in
//! `best/`, stops early when the monitored metric stalls, and times each phase (`timings`).
//!
//! In a data-parallel run (`config.distributed`) every rank runs this loop on its shard of
//! each epoch, in lockstep: rank 0's initial weights are broadcast, DDP's Reducer averages
//! the gradients during backward, the running metrics are summed over the ranks at each
//! read, and rank 0 alone writes files, emits events (the others only warnings) and decides
//! early stopping. Every rank validates the whole validation set with rank 0's batch-norm
//! statistics, so the figures agree.
use super::checkpoint::{self, Progress};
use super::events::{BatchProgress, EpochSummary, RankInfo, TrainEvent, Warning};
use super::fine_tune::Phases;
use super::optimizer::Optimizer;
use super::review::ValidationReview;
use super::run_config;
use super::schedule::Schedule;
use super::saver::{EpochFiles, EpochSaver};
use super::step::{train_step_weighted, StepSettings};
use super::timings::{PhaseClock, RunTimings};
use crate::config::TrainConfig;
use crate::data::source::DataSource;
use crate::data::cache::ImageCache;
use crate::data::folder::{class_names, scan_split, stratified_split, Sample, Skipped, Split};
use crate::data::device_input::DeviceInput;
use crate::data::loader::{crop_source_side, decoding_pool, Batch, BatchForm, BatchLoader, Pipeline};
use crate::device::{device_name, parse_device};
use crate::distributed::{shard, ProcessGroup, Topology};
use crate::error::{Error, Result};
use crate::fsutil::{ensure_writable_dir, remove_stale_temporaries};
use crate::metrics::{RunningTally, SampleOutcome, Tally};
use crate::model::layout::{convert_to_channels_last, convert_to_standard};
use crate::model::resnet::is_batch_norm;
use crate::model::saved::{SavedModel, WEIGHTS_FILE};
use crate::model::snapshot::HostSnapshot;
use crate::model::weights;
use crate::precision::{AutotuningPaused, CudnnBenchmark};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

pub use super::saver::HISTORY_FILE;
/// The best epoch's model, beside the last epoch's in the output directory.
pub const BEST_DIR: &str = "best";
/// Batches between reads of the running loss and accuracy from the device (also read at an
/// epoch's first batch and its end). On a GPU each read waits for all the queued work, so
/// between reads the host only queues; batch events carry the figures of the last read.
pub const PROGRESS_INTERVAL: usize = 20;

/// What a finished run leaves behind.
#[derive(Debug)]
pub struct TrainOutcome {
    pub model: SavedModel,
    pub history: Vec<EpochSummary>,
    pub output: PathBuf,
    /// Files that were skipped (not images, or failed to decode), each also reported as a warning.
    pub skipped: usize,
    /// The best epoch by the monitored metric (its model is in `best/`), if validated.
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended the run before `epochs`.
    pub stopped_early: bool,
    /// The last trained epoch's validation with its worst samples, for the report; `None`
    /// without validation images or when no epoch was left to train.
    pub review: Option<ValidationReview>,
    /// Where the run's time went.
    pub timings: RunTimings,
}

/// Trains as `config` says, reporting through `observe`; stops with `Error::Aborted`
/// within one batch once `cancel` is set. Panics from libtorch come back as errors.
pub fn train(config: &TrainConfig, observe: &mut dyn FnMut(TrainEvent), cancel: &AtomicBool) -> Result<TrainOutcome> {
    // Beyond rank 0, only warnings (each rank reports the files it failed to read).
    let leader = config.distributed.as_ref().is_none_or(Topology::is_leader);
    let mut emit = |event: TrainEvent| {
        if leader || matches!(event, TrainEvent::Warning(_)) {
            observe(event)
        }
    };
    let clock = PhaseClock::start();
    Error::catch_panics(|| Trainer::prepare(config, &mut emit)?.run(clock, &mut emit, cancel))
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
    /// Moves batches onto the model's device, normalised and laid out as the network takes them.
    input: DeviceInput,
    /// On a GPU: cuDNN's autotuner, on for the run's lifetime.
    _cudnn_benchmark: Option<CudnnBenchmark>,
    /// What every update shares: the loss's smoothing and class weights, clipping, autocast.
    step: StepSettings,
    /// The latest validation pass with each sample's outcome, for the report.
    last_validation: Option<(Tally, Vec<SampleOutcome>)>,
    /// In a data-parallel run, this rank's process group.
    group: Option<ProcessGroup>,
    /// What `<output>/config.json` will hold (the writing rank only).
    resolved: Option<serde_json::Value>,
    /// Writes each epoch's files beside the next epoch (the writing rank only).
    saver: Option<EpochSaver>,
    /// The newest epoch reported written by a `Checkpoint` event.
    checkpoint_reported: usize,
}

impl<'a> Trainer<'a> {
    fn prepare(config: &'a TrainConfig, observe: &mut dyn FnMut(TrainEvent)) -> Result<Self> {
        config.validate()?;
        let device = training_device(config)?;
        let group = config.distributed.as_ref().map(|topology| ProcessGroup::join(topology, device)).transpose()?;
        let mut resolved = None;
        let mut saver = None;
        if group.as_ref().is_none_or(|group| group.rank() == 0) {
            ensure_writable_dir(&config.output)?;
            saver = Some(EpochSaver::start(&config.output, &config.output.join(BEST_DIR))?);
            // A run killed while writing leaves a temporary file behind; it is never read.
            remove_stale_temporaries(&config.output);
            remove_stale_temporaries(&config.output.join(BEST_DIR));
            let configuration = run_config::resolved(config, group.as_ref().map_or(1, ProcessGroup::world_size));
            if let Some(previous) = &config.resume {
                for change in run_config::changes_on_resume(previous, &configuration) {
                    observe(TrainEvent::Warning(Warning {
                        message: format!("resume changes {change} from the run it continues"),
                        path: Some(previous.join(run_config::CONFIG_FILE)),
                    }));
                }
            }
            resolved = Some(configuration);
        }

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
        let mut model = SavedModel::new_seeded(
            config.seed,
            config.arch,
            classes.clone(),
            config.image_size,
            config.preprocess.clone(),
            Some(augment.clone()),
            device,
        )?;
        // A resumed run takes every weight from its checkpoint instead.
        if let (Some(pretrained), None) = (&config.pretrained, &config.resume) {
            load_pretrained_body(&mut model, pretrained)?;
        }
        let channels_last = config.channels_last;
        if channels_last {
            convert_to_channels_last(&model.vs)?;
        }
        if config.freeze_batch_norm {
            for (name, variable) in model.vs.variables() {
                if is_batch_norm(&name) {
                    let _ = variable.f_set_requires_grad(false)?;
                }
            }
        }
        if let Some(group) = &group {
            // Every rank starts from rank 0's weights, as DDP's constructor makes sure.
            let variables = sorted_variables(&model.vs, |_| true);
            group.broadcast_from_leader(&variables.iter().collect::<Vec<_>>())?;
        }
        let cudnn_benchmark = if device.is_cuda() { Some(CudnnBenchmark::enable()?) } else { None };
        let class_counts = class_counts(&train_split.samples, classes.len());
        let class_weights = match config.class_weights.weights(&class_counts) {
            Some(weights) => Some(Tensor::f_from_slice(&weights)?.f_to_device(device)?),
            None => None,
        };
        observe(TrainEvent::Start {
            device: device_name(device),
            classes,
            class_counts,
            train_images: train_split.samples.len(),
            validation_images: validation_split.samples.len(),
            distributed: group.as_ref().map(|group| RankInfo { rank: group.rank(), world_size: group.world_size(), backend: group.backend() }),
        });
        // On the CPU the loader's threads also normalise; a GPU gets uint8 and normalises itself.
        let output = BatchForm::for_device(device, &config.preprocess, channels_last);
        // One byte budget for both splits' caches.
        let train_cache = ImageCache::new(train_split.samples.len(), config.cache);
        let validation_cache = train_cache.as_ref().map(|cache| cache.sibling(validation_split.samples.len()));
        let train_pipeline = Pipeline {
            image_size: config.image_size,
            eval_mode: config.preprocess.resize,
            crop_source_side: crop_source_side(config.image_size, &augment, train_cache.as_deref(), train_split.samples.len()),
            augment: Some(augment),
            seed: config.seed,
            cache: train_cache,
            output: output.clone(),
        };
        let validation_pipeline = Pipeline::evaluation(config.image_size, config.preprocess.resize, validation_cache, output);
        model.precision = config.precision;
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
            input: DeviceInput::new(&config.preprocess, config.image_size, device, channels_last)?,
            _cudnn_benchmark: cudnn_benchmark,
            step: StepSettings {
                label_smoothing: config.label_smoothing,
                class_weights,
                gradient_clip: config.gradient_clip,
                bf16: config.precision.uses_bf16(device),
                device,
                freeze_batch_norm: config.freeze_batch_norm,
            },
            last_validation: None,
            group,
            resolved,
            saver,
            checkpoint_reported: 0,
        })
    }

    fn run(mut self, mut clock: PhaseClock, observe: &mut dyn FnMut(TrainEvent), cancel: &AtomicBool) -> Result<TrainOutcome> {
        let config = self.config;
        let mut optimizer = Optimizer::new(&self.model.vs, config.optimizer.clone())?;
        let world_size = self.group.as_ref().map_or(1, ProcessGroup::world_size);
        let mut progress = match &config.resume {
            Some(dir) => {
                let (progress, state) = checkpoint::restore(dir, &self.model)?;
                // Each rank's batch, its shard and the schedule's length all follow from it.
                if progress.world_size != world_size {
                    return Err(Error::InvalidOption(format!(
                        "Expected resume with the number of processes the run trained with ({}) but received {world_size} ({})",
                        progress.world_size,
                        dir.display()
                    )));
                }
                optimizer.load_state(&state, progress.steps, &dir.join(checkpoint::CHECKPOINT_FILE))?;
                progress
            }
            None => Progress { world_size, ..Progress::start(&self.model) },
        };
        // Written with the first epoch's files, so that a refused resume leaves the earlier
        // run's record as it was, and a run that completes no epoch leaves no files.
        let mut config_json = self.resolved.as_ref().map(run_config::text);
        let steps_per_epoch = self.train_samples.len().div_ceil(world_size).div_ceil(config.batch_size).max(1);
        let schedule = Schedule::new(config.schedule, config.warmup_epochs, steps_per_epoch);
        let phases = Phases {
            freeze_epochs: config.freeze_epochs,
            body_lr_factor: config.pretrained.as_ref().map(|_| config.body_lr_factor),
            epochs: config.epochs,
            steps_per_epoch,
        };
        let mut stopped_early = false;
        clock.timings.startup = clock.elapsed();
        for epoch in progress.epoch + 1..=config.epochs {
            let started = Instant::now();
            phases.apply(epoch, &self.model.vs, &mut optimizer)?;
            if let Some(group) = &mut self.group {
                // The trainable set changes with the fine-tuning phase.
                group.average_gradients_of(&optimizer.trainable())?;
            }
            let span = phases.schedule_span(epoch);
            let training_started = Instant::now();
            let (training, learning_rate) =
                self.train_epoch(epoch, &mut optimizer, &schedule, span, observe, cancel).map_err(|error| self.explain_memory(error, "training", &progress))?;
            clock.add(|t| &mut t.training, training_started);
            if let Some(group) = &self.group {
                // Batch norm's running statistics are per rank; rank 0's are the model's.
                let statistics = sorted_variables(&self.model.vs, |name| name.ends_with("running_mean") || name.ends_with("running_var"));
                group.broadcast_from_leader(&statistics.iter().collect::<Vec<_>>())?;
            }
            let validation_started = Instant::now();
            let validation = self.validate(observe).map_err(|error| self.explain_memory(error, "validating", &progress))?;
            clock.add(|t| &mut t.validation, validation_started);
            let summary = EpochSummary {
                epoch,
                epochs: config.epochs,
                loss: training.mean_loss(),
                accuracy: training.accuracy(),
                val_loss: validation.as_ref().map(Tally::mean_loss),
                val_accuracy: validation.as_ref().map(Tally::accuracy),
                seconds: started.elapsed().as_secs_f64(),
                learning_rate,
            };
            progress.epoch = epoch;
            progress.steps = optimizer.steps();
            progress.history.push(summary.clone());
            let monitored = match config.monitor {
                crate::train::monitor::Monitor::ValLoss => summary.val_loss,
                crate::train::monitor::Monitor::ValAccuracy => summary.val_accuracy,
            };
            let improved = progress.record(config.monitor, monitored, config.min_delta);
            let saving_started = Instant::now();
            self.save_epoch(&optimizer, &progress, improved, config_json.take())?;
            clock.add(|t| &mut t.saving, saving_started);
            self.report_written(observe);
            crate::memory::release_free_memory();
            observe(TrainEvent::Epoch(summary));
            let mut stop = config.patience.is_some_and(|patience| progress.epochs_without_improvement >= patience) && epoch < config.epochs;
            if let Some(group) = &self.group {
                stop = group.leader_decides(stop)?;
            }
            if stop {
                stopped_early = true;
                break;
            }
        }
        let finishing_started = Instant::now();
        // Inference (predict, evaluate, export) uses the standard layout, as a loaded model
        // does, so the model returned here and the one loaded from its files agree exactly.
        // Done while the writer still writes the last epoch (from its own host copy).
        convert_to_standard(&self.model.vs)?;
        let review = self.last_validation.take().map(|(tally, outcomes)| {
            ValidationReview::new(progress.epoch, &self.model.meta.classes, &self.validation_samples, &tally, outcomes)
        });
        if let Some(saver) = self.saver.take() {
            let written = saver.finish()?;
            self.report_checkpoint(written, observe);
        }
        clock.add(|t| &mut t.finishing, finishing_started);
        clock.timings.total = clock.elapsed();
        Ok(TrainOutcome {
            timings: clock.timings,
            review,
            model: self.model,
            best_epoch: progress.best.as_ref().map(|best| best.epoch),
            history: progress.history,
            output: config.output.clone(),
            skipped: self.skipped,
            stopped_early,
        })
    }

    /// Hands the epoch's files to the writer (the writing rank only): the model (and, when it
    /// improved, a copy in `best/`), the history and the checkpoint, each written atomically,
    /// the checkpoint last so that it never runs ahead of the model. This thread only copies
    /// the tensors to host memory (see `saver`).
    fn save_epoch(&self, optimizer: &Optimizer, progress: &Progress, improved: bool, config_json: Option<String>) -> Result<()> {
        let Some(saver) = &self.saver else { return Ok(()) };
        let tensors = HostSnapshot::take(&checkpoint::tensors(&self.model, optimizer)?)?;
        saver.submit(EpochFiles {
            tensors: Arc::new(tensors),
            improved,
            meta_json: self.model.meta.to_json(),
            history_json: serde_json::to_string_pretty(&progress.history).unwrap_or_default(),
            progress: progress.clone(),
            config_json,
        })
    }

    /// A `Checkpoint` event when the writer has finished an epoch not yet reported.
    fn report_written(&mut self, observe: &mut dyn FnMut(TrainEvent)) {
        if let Some(written) = self.saver.as_ref().map(EpochSaver::written_epoch) {
            self.report_checkpoint(written, observe);
        }
    }

    fn report_checkpoint(&mut self, written: usize, observe: &mut dyn FnMut(TrainEvent)) {
        if written > self.checkpoint_reported {
            self.checkpoint_reported = written;
            observe(TrainEvent::Checkpoint { epoch: written, output: self.config.output.clone() });
        }
    }

    /// Reports the samples of a batch that failed to decode, once each.
    fn report_failures(&mut self, samples: &[Sample], failures: &[(usize, String)], observe: &mut dyn FnMut(TrainEvent)) {
        for (index, reason) in failures {
            self.skipped += 1;
            observe(skip_warning(&Skipped { path: samples[*index].path.clone(), reason: reason.clone() }));
        }
    }

    /// One epoch of updates; returns its metrics and the learning rate of its last update.
    /// `span` is the first update and the length of this phase's schedule run.
    fn train_epoch(
        &mut self,
        epoch: usize,
        optimizer: &mut Optimizer,
        schedule: &Schedule,
        span: (usize, usize),
        observe: &mut dyn FnMut(TrainEvent),
        cancel: &AtomicBool,
    ) -> Result<(Tally, f64)> {
        // Ranks see different broken images, so a distributed run keeps them in the order
        // (which must be the same everywhere) and the loader skips them again.
        let distributed = self.group.is_some();
        let mut order: Vec<usize> = (0..self.train_samples.len()).filter(|i| distributed || !self.broken.contains(i)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        order.shuffle(&mut rng);
        if let Some(group) = &self.group {
            order = shard(&order, group.rank(), group.world_size());
        }
        let batches = order.len().div_ceil(self.config.batch_size);
        let order_len = order.len();
        let mut loader =
            BatchLoader::start(self.train_samples.clone(), order, self.config.batch_size, self.train_pipeline.clone(), epoch, self.pool.clone())
                .enumerate();
        let mut tally = RunningTally::new(self.model.meta.classes.len(), self.model.device())?;
        let (first_step, phase_steps) = span;
        let rate = |steps: i64| schedule.rate(self.config.learning_rate, (steps as usize).saturating_sub(first_step), phase_steps);
        let mut learning_rate = rate(optimizer.steps());
        let started = Instant::now();
        let world_size = self.group.as_ref().map_or(1, ProcessGroup::world_size);
        let mut next = self.stage_next(&mut loader, order_len, observe)?;
        let mut steps = 0;
        while let Some(current) = next.take() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Aborted);
            }
            learning_rate = rate(optimizer.steps());
            if let Some(group) = &self.group {
                group.prepare_step()?;
            }
            let weight = if current.stand_in { 0.0 } else { 1.0 };
            crate::fault_injection::injected_step_failure(&self.config.output)?;
            let _paused = AutotuningPaused::for_batch(self.step.device, current.images, self.config.batch_size)?;
            let logits = train_step_weighted(&self.model.net, optimizer, &current.input, &current.labels, learning_rate, &self.step, weight)
                .map_err(|error| self.explain(error))?;
            if !current.stand_in {
                tally.add(&logits, &current.labels)?;
            }
            // The next batch's copy is queued behind this step; the host does not wait for either.
            next = self.stage_next(&mut loader, order_len, observe)?;
            steps += 1;
            if steps % PROGRESS_INTERVAL == 1 {
                self.read_tally(&mut tally)?;
            }
            observe(TrainEvent::Batch(BatchProgress {
                epoch,
                batch: current.number,
                batches,
                loss: tally.last_read().mean_loss(),
                // Every rank trains as fast as the slowest; this one's rate stands for each.
                images_per_second: (tally.count() * world_size as u64) as f64 / started.elapsed().as_secs_f64().max(1e-9),
                learning_rate,
            }));
            self.report_written(observe);
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Aborted);
        }
        Ok((self.read_tally(&mut tally)?.clone(), learning_rate))
    }

    /// The running metrics so far, summed over the ranks in a distributed run.
    fn read_tally<'t>(&self, tally: &'t mut RunningTally) -> Result<&'t Tally> {
        match &self.group {
            Some(group) => tally.read_combined(|sums| group.all_reduce_sum(&[sums])),
            None => tally.read(),
        }
    }

    /// An out-of-memory error with what this run tried and what to lower. The files on disk
    /// stay those of the last completed epoch (none before the first); the memory is freed
    /// when the run's tensors go, so the same process can train again.
    fn explain_memory(&self, error: Error, phase: &str, progress: &Progress) -> Error {
        let Error::OutOfMemory(found) = error else { return error };
        let config = self.config;
        let bf16 = if self.step.bf16 { "" } else { ", or precision 'bf16', which keeps half the activations" };
        let kept = match progress.epoch {
            0 => "nothing was saved".to_string(),
            epoch => format!("{} keeps epoch {epoch}, resumable", config.output.display()),
        };
        Error::OutOfMemory(format!(
            "{phase} {} with batchSize {} at imageSize {} ran out of memory on {}: lower batchSize (for example to {}) or imageSize{bf16}; {kept} ({found})",
            config.arch.name(),
            config.batch_size,
            config.image_size,
            device_name(self.step.device),
            (config.batch_size / 2).max(1),
        ))
    }

    /// `error` as `ERR_DISTRIBUTED` when it came from the distributed engine.
    fn explain(&self, error: Error) -> Error {
        match &self.group {
            Some(group) => group.explain(error),
            None => error,
        }
    }

    /// The loader's next batch that can be trained on, on its way to the device; reports the
    /// images that failed to decode on the way. `None` at the end of the epoch.
    /// `order_len` is the length of this epoch's order.
    fn stage_next(
        &mut self,
        loader: &mut impl Iterator<Item = (usize, Batch)>,
        order_len: usize,
        observe: &mut dyn FnMut(TrainEvent),
    ) -> Result<Option<StagedBatch>> {
        for (index, batch) in loader {
            let first_failures: Vec<(usize, String)> = batch.failures.iter().filter(|(index, _)| self.broken.insert(*index)).cloned().collect();
            let samples = self.train_samples.clone();
            self.report_failures(&samples, &first_failures, observe);
            // Batch norm needs two values per channel in training mode; a lone leftover
            // image (after failures or at the end) waits for the next epoch's shuffle.
            if batch.len() < 2 {
                let planned = self.config.batch_size.min(order_len - index * self.config.batch_size);
                // Ranks skip a short last batch together (their shards are equally long), but
                // one whose images failed here must still join the step's gradient average.
                if self.group.is_some() && planned >= 2 {
                    return Ok(Some(self.stand_in(index + 1)?));
                }
                continue;
            }
            let input = self.input.batch(&batch)?;
            let labels = self.input.labels(&batch.labels)?;
            return Ok(Some(StagedBatch { number: index + 1, input, labels, stand_in: false, images: batch.len() }));
        }
        Ok(None)
    }

    /// Two blank images to step on with weight 0, in place of a batch lost to decode failures.
    fn stand_in(&self, number: usize) -> Result<StagedBatch> {
        let device = self.model.device();
        let side = i64::from(self.config.image_size);
        let input = Tensor::f_zeros([2, 3, side, side], (Kind::Float, device))?;
        let labels = Tensor::f_zeros([2], (Kind::Int64, device))?;
        Ok(StagedBatch { number, input, labels, stand_in: true, images: 2 })
    }

    /// Validation metrics, or `None` when there are no validation images.
    fn validate(&mut self, observe: &mut dyn FnMut(TrainEvent)) -> Result<Option<Tally>> {
        if self.validation_samples.is_empty() {
            return Ok(None);
        }
        let mut failed: Vec<(usize, Skipped)> = Vec::new();
        let order = (0..self.validation_samples.len()).filter(|i| !self.validation_broken.contains(i)).collect();
        // Through the folded network, as the finished model infers (the same arithmetic, so
        // `evaluate` on these images agrees with the last epoch's figures, in bf16 too); the
        // next epoch trains the unfolded one.
        self.model.fold_batch_norm()?;
        let evaluated = self.model.evaluate_samples(
            self.validation_samples.clone(),
            order,
            self.config.batch_size,
            self.validation_pipeline.clone(),
            self.pool.clone(),
            &mut |index, skip| failed.push((index, skip)),
        );
        self.model.folded = None;
        let (tally, outcomes) = evaluated?;
        // Each broken validation image is reported once and left out of later epochs.
        for (index, skip) in failed {
            self.validation_broken.insert(index);
            self.skipped += 1;
            observe(skip_warning(&skip));
        }
        self.last_validation = Some((tally.clone(), outcomes));
        Ok(Some(tally))
    }
}

/// A batch whose copy to the device has been queued.
struct StagedBatch {
    /// Its position in the epoch, from 1.
    number: usize,
    input: Tensor,
    labels: Tensor,
    /// A blank stand-in for a batch lost to decode failures (distributed runs only).
    stand_in: bool,
    /// How many images it holds.
    images: usize,
}

/// The device a run trains on: in a distributed run on GPUs, the `LOCAL_RANK`-th of this
/// machine's (one GPU per rank, as torchrun's users expect).
fn training_device(config: &TrainConfig) -> Result<Device> {
    match &config.distributed {
        Some(topology) if config.device == "cuda" || (config.device == "auto" && tch::Cuda::is_available()) => {
            parse_device(&format!("cuda:{}", topology.local_rank))
        }
        _ => parse_device(&config.device),
    }
}

/// The variables of `vs` whose names `select` accepts, in name order (the same on every rank).
fn sorted_variables(vs: &tch::nn::VarStore, select: impl Fn(&str) -> bool) -> Vec<Tensor> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(name, _)| select(name)).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.into_iter().map(|(_, tensor)| tensor).collect()
}

/// Loads the body of `pretrained` (a safetensors file, or a model directory holding one)
/// into `model`, whose head stays freshly initialised for this dataset's classes.
fn load_pretrained_body(model: &mut SavedModel, pretrained: &std::path::Path) -> Result<()> {
    let file = if pretrained.is_dir() { pretrained.join(WEIGHTS_FILE) } else { pretrained.to_path_buf() };
    weights::load_body(&model.vs, &file).map(|_| ()).map_err(|error| match error {
        Error::ModelFile { path, reason } => Error::ModelFile {
            path,
            reason: format!("pretrained weights do not fit {}: {reason}", model.meta.arch.name()),
        },
        other => other,
    })
}

/// Training images per class.
fn class_counts(samples: &[Sample], classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for sample in samples {
        if let Some(count) = counts.get_mut(sample.label) {
            *count += 1;
        }
    }
    counts
}

fn skip_warning(skip: &Skipped) -> TrainEvent {
    TrainEvent::Warning(Warning { message: format!("skipped {}: {}", skip.path.display(), skip.reason), path: Some(skip.path.clone()) })
}
