//! A loaded model as a JavaScript class. Every call that computes runs on the torch thread
//! and returns a promise; the model sits behind a mutex so concurrent calls are safe. Calls of
//! a few images (predict, embed, logits) go through the model's batcher, which gathers
//! concurrent ones into one pass (resnet_core::inference::batching); the others run through
//! `torch_thread::promise`. Every entry point carries `#[napi(catch_unwind)]`.
use crate::errors::to_napi;
use crate::results::{NativeEvaluation, NativeModelMeta, NativePrediction, NativeTensor};
use crate::torch_thread::{self, promise, Resolver};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use resnet_core::inference::batching::{Answer, Ask, BatchLimits, Batcher, Reply};
use resnet_core::model::meta::ModelMeta;
use resnet_core::{device::parse_device, ImageInput, Precision, SavedModel};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The native model; `None` once disposed.
type Shared = Arc<Mutex<Option<SavedModel>>>;

/// `Model.batching`: how concurrent calls are gathered, and how many passes served them.
#[napi(object)]
pub struct NativeBatching {
    pub max_batch: u32,
    pub max_delay_ms: f64,
    pub calls: f64,
    pub passes: f64,
    pub images: f64,
    pub largest_batch: f64,
}

#[napi]
pub struct NativeModel {
    inner: Shared,
    /// model.json as it was at load time, still readable after `dispose`.
    meta: Arc<ModelMeta>,
    /// Where the weights live ("cpu", "cuda:N"): known without waiting for calls in flight.
    device_name: String,
    /// What inference computes in, 'auto' resolved for this device: "fp32" or "bf16".
    precision: &'static str,
    disposed: AtomicBool,
    batcher: Arc<Batcher>,
}

impl NativeModel {
    pub fn wrap(model: SavedModel, limits: BatchLimits) -> Self {
        let meta = Arc::new(model.meta.clone());
        let device_name = resnet_core::device::device_name(model.device());
        let precision = if model.infers_in_bf16() { "bf16" } else { "fp32" };
        let inner = Arc::new(Mutex::new(Some(model)));
        NativeModel { inner, meta, device_name, precision, disposed: AtomicBool::new(false), batcher: Batcher::new(limits) }
    }

    /// A promise of `present(answer)` for a call of a few images, gathered with concurrent
    /// ones into one pass; a call of more images than a batch holds runs alone through
    /// `alone` instead.
    fn batched<'env, V: ToNapiValue + 'static>(
        &self,
        env: &'env Env,
        inputs: Vec<ImageInput>,
        ask: Ask,
        present: fn(Answer) -> Result<V>,
        alone: impl FnOnce(&SavedModel, &[ImageInput]) -> resnet_core::Result<Answer> + Send + 'static,
    ) -> Result<Object<'env>> {
        if !self.batcher.accepts(inputs.len()) {
            return self.run(env, move |model| alone(model, &inputs), present);
        }
        let (deferred, promise) = env.create_deferred::<V, Resolver<V>>()?;
        let reply: Reply = Box::new(move |result| match result {
            Ok(answer) => deferred.resolve(Box::new(move |_env| present(answer))),
            Err(error) => deferred.reject(to_napi(error)),
        });
        let (model, batcher) = (self.inner.clone(), self.batcher.clone());
        let schedule = move || {
            let (drainer, model) = (batcher.clone(), model.clone());
            let drain = move || drainer.drain(|| model.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
            if !torch_thread::spawn(drain) {
                batcher.fail_waiting(&resnet_core::Error::Libtorch("the inference thread is not running".into()));
            }
        };
        self.batcher.submit(self.meta.clone(), inputs, ask, reply, schedule);
        Ok(promise)
    }

    /// A promise of `present(work(model))`, computed on the torch thread; ERR_INVALID_OPTION
    /// after `dispose`. A panic while the lock was held leaves nothing half-updated that
    /// inference relies on, so a poisoned lock is still used.
    fn run<'env, T: Send + 'static, V: ToNapiValue + 'static>(
        &self,
        env: &'env Env,
        work: impl FnOnce(&SavedModel) -> resnet_core::Result<T> + Send + 'static,
        present: impl FnOnce(T) -> Result<V> + Send + 'static,
    ) -> Result<Object<'env>> {
        let model = self.inner.clone();
        let with_model = move || match model.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
            Some(model) => work(model),
            None => Err(resnet_core::Error::InvalidOption("Expected a model that is not disposed but received one after dispose()".into())),
        };
        promise(env, with_model, present)
    }
}

#[napi]
impl NativeModel {
    /// The model's `model.json`.
    #[napi(getter, catch_unwind)]
    pub fn meta(&self) -> NativeModelMeta {
        self.meta.as_ref().into()
    }

    /// "cpu" or "cuda:N"; "disposed" after `dispose`.
    #[napi(getter, catch_unwind)]
    pub fn device(&self) -> String {
        if self.disposed.load(Ordering::Acquire) {
            return "disposed".into();
        }
        self.device_name.clone()
    }

    /// What inference computes in: "fp32" or "bf16" ('auto' resolved at load).
    #[napi(getter, catch_unwind)]
    pub fn precision(&self) -> &'static str {
        self.precision
    }

    /// The batcher's limits and what it has done so far.
    #[napi(getter, catch_unwind)]
    pub fn batching(&self) -> NativeBatching {
        let (limits, stats) = (self.batcher.limits(), self.batcher.stats());
        NativeBatching {
            max_batch: limits.max_batch as u32,
            max_delay_ms: limits.max_delay.as_secs_f64() * 1000.0,
            calls: stats.calls as f64,
            passes: stats.passes as f64,
            images: stats.images as f64,
            largest_batch: stats.largest as f64,
        }
    }

    /// Frees the weights (CPU or GPU memory) now rather than at garbage collection. A pass
    /// under way finishes first; calls still waiting for one and later calls fail with
    /// ERR_INVALID_OPTION.
    #[napi(catch_unwind)]
    pub fn dispose(&self) {
        self.disposed.store(true, Ordering::Release);
        self.batcher.close();
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.take();
        // A server that drops a model gets back the blocks its inference left cached.
        resnet_core::memory::release_free_memory();
    }

    /// The pooled features before the classifier for each input.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn embed<'env>(&self, env: &'env Env, inputs: Vec<Either<String, Buffer>>) -> Result<Object<'env>> {
        self.batched(env, image_inputs(inputs), Ask::Embed, float_rows, |model, inputs| Ok(Answer::Rows(model.embed(inputs)?)))
    }

    /// The raw classifier outputs (before softmax) for each input.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn logits<'env>(&self, env: &'env Env, inputs: Vec<Either<String, Buffer>>) -> Result<Object<'env>> {
        self.batched(env, image_inputs(inputs), Ask::Logits, float_rows, |model, inputs| Ok(Answer::Rows(model.logits(inputs)?)))
    }

    /// The exact NCHW float tensor the network sees for the inputs.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeTensor>")]
    pub fn preprocess<'env>(&self, env: &'env Env, inputs: Vec<Either<String, Buffer>>) -> Result<Object<'env>> {
        let inputs = image_inputs(inputs);
        self.run(env, move |model| model.preprocess(&inputs), |(data, shape)| Ok(NativeTensor::new(data, &shape)))
    }

    /// Writes the network as an ONNX graph (opset 17) at `path`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn export_onnx<'env>(&self, env: &'env Env, path: String) -> Result<Object<'env>> {
        self.run(env, move |model| resnet_core::export::onnx::export_onnx(model, &PathBuf::from(path)), Ok)
    }

    /// Top-k predictions for each input (a path or an encoded image buffer); `tta` averages
    /// each image's and its mirror image's probabilities.
    #[napi(catch_unwind, ts_return_type = "Promise<NativePrediction[][]>")]
    pub fn predict<'env>(&self, env: &'env Env, inputs: Vec<Either<String, Buffer>>, top_k: u32, tta: bool) -> Result<Object<'env>> {
        let (top_k, ask) = (top_k as usize, Ask::Predict { top_k: top_k as usize, tta });
        self.batched(env, image_inputs(inputs), ask, ranked_lists, move |model, inputs| Ok(Answer::Ranked(model.predict(inputs, top_k, tta)?)))
    }

    /// Metrics on a folder, with the files it skipped. `tta` as for predict.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeEvaluation>")]
    pub fn evaluate<'env>(&self, env: &'env Env, dir: String, batch_size: u32, tta: bool) -> Result<Object<'env>> {
        let work = move |model: &SavedModel| {
            let mut skipped = Vec::new();
            let evaluation = model.evaluate_dir(&PathBuf::from(dir), batch_size as usize, 0, tta, &mut |skip| skipped.push(skip))?;
            Ok((evaluation, skipped))
        };
        self.run(env, work, |(evaluation, skipped)| Ok(NativeEvaluation::new(evaluation, skipped)))
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn save<'env>(&self, env: &'env Env, dir: String) -> Result<Object<'env>> {
        self.run(env, move |model| model.save(&PathBuf::from(dir)), Ok)
    }
}

fn float_rows(answer: Answer) -> Result<Vec<Float32Array>> {
    match answer {
        Answer::Rows(rows) => Ok(rows.into_iter().map(Float32Array::new).collect()),
        Answer::Ranked(_) => Err(to_napi(resnet_core::Error::Libtorch("expected rows of numbers, found top-k lists".into()))),
    }
}

fn ranked_lists(answer: Answer) -> Result<Vec<Vec<NativePrediction>>> {
    match answer {
        Answer::Ranked(ranked) => Ok(ranked.into_iter().map(|row| row.into_iter().map(NativePrediction::from).collect()).collect()),
        Answer::Rows(_) => Err(to_napi(resnet_core::Error::Libtorch("expected top-k lists, found rows of numbers".into()))),
    }
}

/// Paths stay paths; buffers are copied, as the work runs off the JavaScript thread.
fn image_inputs(inputs: Vec<Either<String, Buffer>>) -> Vec<ImageInput> {
    inputs
        .into_iter()
        .map(|input| match input {
            Either::A(path) => ImageInput::Path(PathBuf::from(path)),
            Either::B(buffer) => ImageInput::Bytes(buffer.to_vec()),
        })
        .collect()
}

/// Loads a model directory onto a device ("auto", "cpu", "cuda", "cuda:N"), its weights laid
/// out channels_last for inference when `channels_last`, computing in `precision` ("auto",
/// "fp32", "bf16"), with batch norm folded into the convolutions (a loaded model only infers).
/// Concurrent calls are gathered into batches of up to `max_batch` images, the oldest held
/// back at most `max_delay_ms` for a fuller batch (defaults: `BatchLimits::default()`).
#[napi(catch_unwind, ts_return_type = "Promise<NativeModel>")]
pub fn load_model(env: &Env, dir: String, device: String, channels_last: bool, precision: String, max_batch: Option<u32>, max_delay_ms: Option<f64>) -> Result<Object<'_>> {
    let defaults = BatchLimits::default();
    let limits = BatchLimits {
        max_batch: max_batch.map_or(defaults.max_batch, |images| images as usize),
        max_delay: max_delay_ms.map_or(defaults.max_delay, |ms| Duration::from_secs_f64(ms.clamp(0.0, 60_000.0) / 1000.0)),
    };
    let load = move || {
        let mut model = SavedModel::load(&PathBuf::from(dir), parse_device(&device)?)?;
        model.set_channels_last(channels_last)?;
        model.precision = Precision::parse(&precision)?;
        model.fold_batch_norm()?;
        Ok(model)
    };
    promise(env, load, move |model| Ok(NativeModel::wrap(model, limits)))
}
