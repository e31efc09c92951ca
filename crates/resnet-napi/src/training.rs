//! `startTraining`: runs the core's training loop on its own thread (not the libuv pool, which
//! it would starve), streams events through a threadsafe function, and reports the outcome
//! through a Node-style callback. `NativeTraining.abort()` stops it within one batch.
use crate::errors::{guarded, to_napi};
use crate::model::NativeModel;
use resnet_core::inference::batching::BatchLimits;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use crate::results::{NativeEpochSummary, NativeReview, NativeRunTimings, NativeTrainingEvent};
use resnet_core::{EpochSummary, RunTimings, TrainEvent, ValidationReview};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

type EventCallback = ThreadsafeFunction<NativeTrainingEvent, (), NativeTrainingEvent, Status, false>;
pub(crate) type DoneCallback = ThreadsafeFunction<NativeTrainResult, (), NativeTrainResult, Status, true>;

/// A running training; `abort()` asks it to stop.
#[napi]
pub struct NativeTraining {
    cancel: Arc<AtomicBool>,
    leader: bool,
}

#[napi]
impl NativeTraining {
    /// Whether this process writes the run's files: true unless it is a rank other than 0
    /// of a distributed run.
    #[napi(getter, catch_unwind)]
    pub fn leader(&self) -> bool {
        self.leader
    }

    #[napi(catch_unwind)]
    pub fn abort(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The outcome of a finished run.
#[napi]
pub struct NativeTrainResult {
    pub output: String,
    pub skipped: u32,
    /// The best epoch by the monitored metric (its model is in `<output>/best`).
    pub best_epoch: Option<u32>,
    pub stopped_early: bool,
    history: Vec<EpochSummary>,
    review: Option<ValidationReview>,
    model: Option<NativeModel>,
    timings: RunTimings,
}

#[napi]
impl NativeTrainResult {
    /// The per-epoch summaries, a resumed run's earlier epochs included.
    #[napi(getter, catch_unwind)]
    pub fn history(&self) -> Vec<NativeEpochSummary> {
        self.history.iter().map(NativeEpochSummary::from).collect()
    }

    /// Where the run's time went.
    #[napi(getter, catch_unwind)]
    pub fn timings(&self) -> NativeRunTimings {
        NativeRunTimings::from(&self.timings)
    }

    /// The trained model (once; later calls return null).
    #[napi(catch_unwind)]
    pub fn take_model(&mut self) -> Option<NativeModel> {
        self.model.take()
    }

    /// The last epoch's validation for the report, with the worst samples' thumbnails (once;
    /// null without validation images, and on later calls).
    #[napi(catch_unwind)]
    pub fn take_review(&mut self) -> Option<NativeReview> {
        self.review.take().map(NativeReview::from)
    }
}

#[napi(catch_unwind)]
pub fn start_training(
    #[napi(ts_arg_type = "Record<string, unknown>")] options: serde_json::Value,
    #[napi(ts_arg_type = "(event: NativeTrainingEvent) => void")] on_event: EventCallback,
    #[napi(ts_arg_type = "(error: Error | null, result: NativeTrainResult) => void")] on_done: DoneCallback,
) -> napi::Result<NativeTraining> {
    let config = resnet_core::options::train_config(&options).map_err(to_napi)?;
    let leader = config.distributed.as_ref().is_none_or(|topology| topology.is_leader());
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    run_on_own_thread(
        move || {
            let outcome = guarded(|| {
                let mut observe = |event: TrainEvent| {
                    on_event.call(event.into(), ThreadsafeFunctionCallMode::NonBlocking);
                };
                resnet_core::train(&config, &mut observe, &flag)
            });
            // Events queued before the result are delivered first (the queue is FIFO).
            drop(on_event);
            let outcome = outcome?;
            // Inference in the layout training used (channels_last unless turned off), as a
            // model loaded with the default options, with batch norm folded: the model is not
            // trained further.
            let mut outcome = outcome;
            guarded(|| {
                outcome.model.set_channels_last(config.channels_last)?;
                outcome.model.fold_batch_norm()
            })?;
            Ok(NativeTrainResult {
                output: outcome.output.display().to_string(),
                skipped: outcome.skipped as u32,
                best_epoch: outcome.best_epoch.map(|epoch| epoch as u32),
                stopped_early: outcome.stopped_early,
                history: outcome.history,
                review: outcome.review,
                model: Some(NativeModel::wrap(outcome.model, BatchLimits::default())),
                timings: outcome.timings,
            })
        },
        on_done,
    )?;
    Ok(NativeTraining { cancel, leader })
}

/// Runs `work` on a thread of its own and always settles `on_done`: a panic anywhere in
/// `work` becomes an ERR_LIBTORCH error, so the caller's promise can never hang.
pub(crate) fn run_on_own_thread(
    work: impl FnOnce() -> napi::Result<NativeTrainResult> + Send + 'static,
    on_done: DoneCallback,
) -> napi::Result<()> {
    std::thread::Builder::new()
        .name("resnet-train".into())
        .spawn(move || {
            let result = guarded(|| Ok(work())).and_then(|result| result);
            on_done.call(result, ThreadsafeFunctionCallMode::Blocking);
        })
        .map(|_| ())
        .map_err(|error| to_napi(resnet_core::Error::Libtorch(format!("cannot start the training thread: {error}"))))
}
