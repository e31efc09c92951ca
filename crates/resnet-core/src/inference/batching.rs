//! Dynamic batching: concurrent inference calls on one model gathered into one forward pass.
//! A server calls `predict()` once per request, one image each; run one after the other, each
//! call pays a whole pass for one image (on an H200, 6 ms: about 160 images/s, against 2,165
//! images/s in batches of 64). Here a call decodes its images first, on rayon's pool (off the
//! torch thread, in parallel with the pass under way), then waits in the model's queue; the
//! torch thread takes the waiting calls that one pass can serve (up to `max_batch` images) and
//! hands each caller exactly its own rows.
//!
//! Nothing is held back unless `max_delay` asks for it: a lone call runs at once, and the calls
//! that arrive while a pass runs form the next batch. When it asks, a waiter thread of the
//! batcher's own holds the calls until a batch is due and only then has the torch thread run
//! it: the torch thread, which every model and every training shares, is never held waiting.
use crate::error::{Error, Result};
use crate::host_reads::to_host;
use crate::inference::{decode_inputs, host_rows, ImageInput, Output, Prediction};
use crate::model::meta::ModelMeta;
use crate::model::saved::SavedModel;
use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a call asks of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Predict { top_k: usize, tta: bool },
    Embed,
    Logits,
}

impl Ask {
    /// Calls with the same pass share one forward pass: the network's output, and whether the
    /// mirrored images run too (test-time augmentation).
    fn pass(self) -> (Output, bool) {
        match self {
            Ask::Predict { tta, .. } => (Output::Logits, tta),
            Ask::Logits => (Output::Logits, false),
            Ask::Embed => (Output::Features, false),
        }
    }
}

/// One caller's result: top-k lists (`Predict`) or rows of numbers (`Embed`, `Logits`), one
/// per image of the call, in its order.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Ranked(Vec<Vec<Prediction>>),
    Rows(Vec<Vec<f32>>),
}

/// How a caller is answered; called once, from the torch thread or rayon's pool.
pub type Reply = Box<dyn FnOnce(Result<Answer>) + Send>;

/// A call whose images are decoded, waiting for a pass.
struct Waiting {
    pixels: Vec<u8>,
    images: usize,
    ask: Ask,
    arrived: Instant,
    reply: Reply,
}

/// How large a batch may grow, and how long the oldest waiting call may be held back for a
/// fuller one (zero: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_batch: usize,
    pub max_delay: Duration,
}

impl Default for BatchLimits {
    /// Up to 32 images a pass, nobody held back: a lone call runs at once, and the calls that
    /// arrive during a pass make up the next one.
    fn default() -> Self {
        BatchLimits { max_batch: 32, max_delay: Duration::ZERO }
    }
}

/// What the batcher has done so far: for a server's metrics, and to see batching work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Calls answered through the queue (a failed decode included).
    pub calls: u64,
    /// Forward passes run for them.
    pub passes: u64,
    /// Images in those passes.
    pub images: u64,
    /// The most images one pass took.
    pub largest: u64,
}

/// A model's queue of waiting calls.
pub struct Batcher {
    limits: BatchLimits,
    queue: Mutex<Queue>,
    grew: Condvar,
    stats: Mutex<BatchStats>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    images: usize,
    /// A drain (or, with a delay, the waiter thread) is under way: later calls join its queue
    /// instead of starting one.
    draining: bool,
    /// With a delay: the waiter has scheduled a drain that has not finished yet.
    pass_pending: bool,
    /// The model was disposed: calls fail instead of waiting.
    closed: bool,
}

impl Batcher {
    pub fn new(limits: BatchLimits) -> Arc<Self> {
        let limits = BatchLimits { max_batch: limits.max_batch.max(1), ..limits };
        Arc::new(Batcher { limits, queue: Mutex::new(Queue::default()), grew: Condvar::new(), stats: Mutex::new(BatchStats::default()) })
    }

    pub fn limits(&self) -> BatchLimits {
        self.limits
    }

    pub fn stats(&self) -> BatchStats {
        *self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn count(&self, calls: usize, passes: usize, images: usize) {
        let mut stats = self.stats.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        stats.calls += calls as u64;
        stats.passes += passes as u64;
        stats.images += images as u64;
        stats.largest = stats.largest.max(images as u64);
    }

    /// Whether a call of `images` images goes through the queue; a larger one runs alone, in
    /// passes of its own.
    pub fn accepts(&self, images: usize) -> bool {
        (1..=self.limits.max_batch).contains(&images)
    }

    /// Decodes `inputs` as `meta` says on rayon's pool, then queues them for a pass. A bad
    /// image fails this call alone, at once, with the usual `ERR_IMAGE_DECODE`. `schedule` must
    /// have `drain` run on the torch thread; it is called when no drain is under way (with a
    /// delay: from the waiter thread, each time a batch is due).
    pub fn submit(self: &Arc<Self>, meta: Arc<ModelMeta>, inputs: Vec<ImageInput>, ask: Ask, reply: Reply, schedule: impl Fn() + Send + 'static) {
        let batcher = Arc::clone(self);
        rayon::spawn(move || {
            let arrived = Instant::now();
            match Error::catch_panics(|| decode_inputs(&meta, &inputs, 0)) {
                Err(error) => {
                    batcher.count(1, 0, 0);
                    reply(Err(error))
                }
                Ok(pixels) => {
                    if batcher.push(Waiting { pixels, images: inputs.len(), ask, arrived, reply }) {
                        batcher.start(schedule);
                    }
                }
            }
        });
    }

    /// Queues a decoded call; true when the caller must schedule a drain.
    fn push(&self, waiting: Waiting) -> bool {
        let mut queue = self.lock();
        if queue.closed {
            drop(queue);
            fail_all(vec![waiting], &disposed());
            return false;
        }
        queue.images += waiting.images;
        queue.waiting.push_back(waiting);
        self.grew.notify_one();
        !std::mem::replace(&mut queue.draining, true)
    }

    /// Starts draining the queue: at once without a delay; with one, from a waiter thread that
    /// waits (off the torch thread) for each batch to be due, then schedules its pass, until
    /// the queue is empty.
    fn start(self: Arc<Self>, schedule: impl Fn() + Send + 'static) {
        if self.limits.max_delay.is_zero() {
            return schedule();
        }
        let batcher = Arc::clone(&self);
        let waiter = move || {
            while batcher.wait_until_due() {
                schedule();
            }
        };
        if let Err(error) = std::thread::Builder::new().name("resnet-batcher".into()).spawn(waiter) {
            self.fail_waiting(&Error::Libtorch(format!("cannot start the batching thread: {error}")));
        }
    }

    /// The waiter's wait: true when a batch is due (a full one waits, or the oldest call has
    /// waited `max_delay`) and no pass is pending, marking one pending; false when the queue is
    /// empty (or closed), ending the waiter.
    fn wait_until_due(&self) -> bool {
        let mut queue = self.lock();
        loop {
            let Some(oldest) = queue.waiting.front() else {
                queue.draining = false;
                return false;
            };
            let deadline = oldest.arrived + self.limits.max_delay;
            let now = Instant::now();
            if !queue.pass_pending && (queue.images >= self.limits.max_batch || now >= deadline) {
                queue.pass_pending = true;
                return true;
            }
            let wait = if queue.pass_pending { Duration::from_secs(3600) } else { deadline - now };
            queue = match self.grew.wait_timeout(queue, wait) {
                Ok((queue, _)) => queue,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Runs the waiting calls that are due, a batch at a time: on the torch thread. Without a
    /// delay every waiting call is due, and it runs until none is left. `model` locks the
    /// model for one pass (`None` once disposed: each call is told so).
    pub fn drain<M: Deref<Target = Option<SavedModel>>>(&self, model: impl Fn() -> M) {
        loop {
            let batch = {
                let mut queue = self.lock();
                if !self.is_due(&queue) {
                    self.end_pass(&mut queue);
                    return;
                }
                take_batch(&mut queue, self.limits.max_batch)
            };
            let images = batch.iter().map(|waiting| waiting.images).sum();
            let model = model();
            self.count(batch.len(), usize::from(model.is_some()), images);
            match model.as_ref() {
                Some(model) => run_batch(model, batch),
                None => fail_all(batch, &disposed()),
            }
        }
    }

    /// Fails every waiting call with `error` (the torch thread could not take the drain).
    pub fn fail_waiting(&self, error: &Error) {
        let batch: Vec<Waiting> = {
            let mut queue = self.lock();
            queue.images = 0;
            self.end_pass(&mut queue);
            queue.waiting.drain(..).collect()
        };
        fail_all(batch, error);
    }

    /// The model is being disposed: the calls still waiting fail now, later ones at once. A
    /// pass under way finishes first.
    pub fn close(&self) {
        let batch: Vec<Waiting> = {
            let mut queue = self.lock();
            queue.closed = true;
            queue.images = 0;
            queue.waiting.drain(..).collect()
        };
        self.grew.notify_all();
        fail_all(batch, &disposed());
    }

    /// A drain is over (or will never run). Without a delay the queue is idle again; with one,
    /// the waiter takes over: it waits for the next batch to be due, or ends on an empty queue.
    fn end_pass(&self, queue: &mut Queue) {
        if self.limits.max_delay.is_zero() {
            queue.draining = false;
        } else {
            queue.pass_pending = false;
            self.grew.notify_all();
        }
    }

    /// Whether a batch is due: a full one waits, or the oldest call has waited `max_delay`.
    fn is_due(&self, queue: &Queue) -> bool {
        queue.waiting.front().is_some_and(|oldest| queue.images >= self.limits.max_batch || oldest.arrived.elapsed() >= self.limits.max_delay)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is only pushed to and drained whole: a panic elsewhere leaves it usable.
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The oldest waiting call and every later one its pass can serve, up to `max_batch` images.
fn take_batch(queue: &mut Queue, max_batch: usize) -> Vec<Waiting> {
    let Some(first) = queue.waiting.pop_front() else { return Vec::new() };
    let pass = first.ask.pass();
    let mut images = first.images;
    let mut batch = vec![first];
    let mut rest = VecDeque::with_capacity(queue.waiting.len());
    for waiting in queue.waiting.drain(..) {
        if waiting.ask.pass() == pass && images + waiting.images <= max_batch {
            images += waiting.images;
            batch.push(waiting);
        } else {
            rest.push_back(waiting);
        }
    }
    queue.waiting = rest;
    queue.images -= images;
    batch
}

/// One pass for the batch; each caller gets its own rows, or the pass's error.
fn run_batch(model: &SavedModel, batch: Vec<Waiting>) {
    match Error::catch_panics(|| answers(model, &batch)) {
        Ok(answers) => batch.into_iter().zip(answers).for_each(|(waiting, answer)| (waiting.reply)(Ok(answer))),
        Err(error) => fail_all(batch, &error),
    }
}

fn disposed() -> Error {
    Error::InvalidOption("Expected a model that is not disposed but received one after dispose()".into())
}

fn fail_all(batch: Vec<Waiting>, error: &Error) {
    batch.into_iter().for_each(|waiting| (waiting.reply)(Err(error.duplicate())));
}

fn answers(model: &SavedModel, batch: &[Waiting]) -> Result<Vec<Answer>> {
    let images: usize = batch.iter().map(|waiting| waiting.images).sum();
    let mut pixels = Vec::with_capacity(batch.iter().map(|waiting| waiting.pixels.len()).sum());
    batch.iter().for_each(|waiting| pixels.extend_from_slice(&waiting.pixels));
    let input = model.device_input()?.images(&pixels, images)?;
    let output = match batch.first().map(|waiting| waiting.ask.pass()) {
        Some((_, true)) => model.class_scores(&input, true)?,
        Some((output, false)) => model.run_network(&input, output)?,
        None => return Ok(Vec::new()),
    };
    // One copy to the host for the whole batch; each caller's rows are cut from it there.
    let output = to_host(&output)?;
    let mut start = 0;
    batch
        .iter()
        .map(|waiting| {
            let rows = output.f_narrow(0, start as i64, waiting.images as i64)?;
            start += waiting.images;
            Ok(match waiting.ask {
                Ask::Predict { top_k, .. } => Answer::Ranked(model.ranked(&rows, top_k.clamp(1, model.meta.classes.len()))?),
                Ask::Embed | Ask::Logits => Answer::Rows(host_rows(&rows)?),
            })
        })
        .collect()
}
