//! A loaded model as a JavaScript class. Loading, predicting, evaluating and saving run as
//! async tasks on the libuv pool; the model sits behind a mutex so concurrent calls are safe.
//! napi-rs runs `Task::compute` without `catch_unwind` (a panic there aborts Node), so every
//! compute goes through `guarded`; synchronous entry points carry `#[napi(catch_unwind)]`.
use crate::errors::guarded;
use crate::torch_thread;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use resnet_core::{device::parse_device, ImageInput, Precision, SavedModel};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The native model; `None` once disposed.
type Shared = Arc<Mutex<Option<SavedModel>>>;

#[napi]
pub struct NativeModel {
    inner: Shared,
    /// model.json as it was at load time, still readable after `dispose`.
    meta_json: String,
    /// Where the weights live ("cpu", "cuda:N"): known without waiting for calls in flight.
    device_name: String,
    disposed: AtomicBool,
}

impl NativeModel {
    pub fn wrap(model: SavedModel) -> Self {
        let meta_json = model.meta.to_json();
        let device_name = resnet_core::device::device_name(model.device());
        NativeModel { inner: Arc::new(Mutex::new(Some(model))), meta_json, device_name, disposed: AtomicBool::new(false) }
    }
}

/// Runs `work` on the model, on the torch thread (torch_thread.rs), or fails with
/// ERR_INVALID_OPTION after `dispose`. A panic while the lock was held leaves nothing
/// half-updated that inference relies on, so a poisoned lock is still used.
fn with_model<T: Send + 'static>(
    model: &Shared,
    work: impl FnOnce(&SavedModel) -> resnet_core::Result<T> + Send + 'static,
) -> Result<T> {
    let model = model.clone();
    let on_torch_thread = move || {
        guarded(|| {
            let guard: MutexGuard<'_, Option<SavedModel>> = model.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match guard.as_ref() {
                Some(model) => work(model),
                None => Err(resnet_core::Error::InvalidOption("Expected a model that is not disposed but received one after dispose()".into())),
            }
        })
    };
    torch_thread::run(on_torch_thread)
        .unwrap_or_else(|| guarded(|| Err(resnet_core::Error::Libtorch("the inference thread is not running".into()))))
}

#[napi(object)]
pub struct NativePrediction {
    pub label: String,
    pub index: u32,
    pub probability: f64,
}

#[napi]
impl NativeModel {
    /// The model's `model.json`, as JSON text.
    #[napi(getter, catch_unwind)]
    pub fn meta_json(&self) -> String {
        self.meta_json.clone()
    }

    /// "cpu" or "cuda:N"; "disposed" after `dispose`.
    #[napi(getter, catch_unwind)]
    pub fn device(&self) -> String {
        if self.disposed.load(Ordering::Acquire) {
            return "disposed".into();
        }
        self.device_name.clone()
    }

    /// Frees the weights (CPU or GPU memory) now rather than at garbage collection. Calls in
    /// flight finish first; later calls fail with ERR_INVALID_OPTION.
    #[napi(catch_unwind)]
    pub fn dispose(&self) {
        self.disposed.store(true, Ordering::Release);
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.take();
        // A server that drops a model gets back the blocks its inference left cached.
        resnet_core::memory::release_free_memory();
    }

    /// The pooled features before the classifier for each input.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn embed(&self, inputs: Vec<Either<String, Buffer>>) -> AsyncTask<RowsTask> {
        AsyncTask::new(RowsTask { model: self.inner.clone(), inputs: image_inputs(inputs), rows: Rows::Embeddings })
    }

    /// The raw classifier outputs (before softmax) for each input.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn logits(&self, inputs: Vec<Either<String, Buffer>>) -> AsyncTask<RowsTask> {
        AsyncTask::new(RowsTask { model: self.inner.clone(), inputs: image_inputs(inputs), rows: Rows::Logits })
    }

    /// The exact NCHW float tensor the network sees for the inputs.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeTensor>")]
    pub fn preprocess(&self, inputs: Vec<Either<String, Buffer>>) -> AsyncTask<PreprocessTask> {
        AsyncTask::new(PreprocessTask { model: self.inner.clone(), inputs: image_inputs(inputs) })
    }

    /// Writes the network as an ONNX graph (opset 17) at `path`.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn export_onnx(&self, path: String) -> AsyncTask<ExportOnnxTask> {
        AsyncTask::new(ExportOnnxTask { model: self.inner.clone(), path: path.into() })
    }

    /// Top-k predictions for each input (a path or an encoded image buffer); `tta` averages
    /// each image's and its mirror image's probabilities.
    #[napi(catch_unwind, ts_return_type = "Promise<NativePrediction[][]>")]
    pub fn predict(&self, inputs: Vec<Either<String, Buffer>>, top_k: u32, tta: bool) -> AsyncTask<PredictTask> {
        AsyncTask::new(PredictTask { model: self.inner.clone(), inputs: image_inputs(inputs), top_k: top_k as usize, tta })
    }

    /// Metrics on a folder, as JSON text; skipped files are listed in it. `tta` as for predict.
    #[napi(catch_unwind, ts_return_type = "Promise<string>")]
    pub fn evaluate(&self, dir: String, batch_size: u32, tta: bool) -> AsyncTask<EvaluateTask> {
        AsyncTask::new(EvaluateTask { model: self.inner.clone(), dir: dir.into(), batch_size: batch_size as usize, tta })
    }

    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn save(&self, dir: String) -> AsyncTask<SaveTask> {
        AsyncTask::new(SaveTask { model: self.inner.clone(), dir: dir.into() })
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
/// "fp32", "bf16").
#[napi(catch_unwind, ts_return_type = "Promise<NativeModel>")]
pub fn load_model(dir: String, device: String, channels_last: bool, precision: String) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask { dir: dir.into(), device, channels_last, precision })
}

pub struct LoadTask {
    dir: PathBuf,
    device: String,
    channels_last: bool,
    precision: String,
}

impl Task for LoadTask {
    type Output = SavedModel;
    type JsValue = NativeModel;

    fn compute(&mut self) -> Result<SavedModel> {
        guarded(|| {
            let mut model = SavedModel::load(&self.dir, parse_device(&self.device)?)?;
            model.set_channels_last(self.channels_last)?;
            model.precision = Precision::parse(&self.precision)?;
            // A loaded model only infers: batch norm folded into the convolutions.
            model.fold_batch_norm()?;
            Ok(model)
        })
    }

    fn resolve(&mut self, _env: Env, model: SavedModel) -> Result<NativeModel> {
        Ok(NativeModel::wrap(model))
    }
}

/// Which per-input rows of floats a `RowsTask` computes.
#[derive(Clone, Copy)]
pub enum Rows {
    /// The pooled features before the classifier.
    Embeddings,
    /// The classifier outputs before softmax.
    Logits,
}

pub struct RowsTask {
    model: Shared,
    inputs: Vec<ImageInput>,
    rows: Rows,
}

impl Task for RowsTask {
    type Output = Vec<Vec<f32>>;
    type JsValue = Vec<Float32Array>;

    fn compute(&mut self) -> Result<Self::Output> {
        let (inputs, rows) = (std::mem::take(&mut self.inputs), self.rows);
        with_model(&self.model, move |model| match rows {
            Rows::Embeddings => model.embed(&inputs),
            Rows::Logits => model.logits(&inputs),
        })
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output.into_iter().map(Float32Array::new).collect())
    }
}

/// A float32 tensor: its elements in row-major order and its shape.
#[napi(object)]
pub struct NativeTensor {
    pub data: Float32Array,
    pub shape: Vec<u32>,
}

pub struct PreprocessTask {
    model: Shared,
    inputs: Vec<ImageInput>,
}

impl Task for PreprocessTask {
    type Output = (Vec<f32>, [usize; 4]);
    type JsValue = NativeTensor;

    fn compute(&mut self) -> Result<Self::Output> {
        let inputs = std::mem::take(&mut self.inputs);
        with_model(&self.model, move |model| model.preprocess(&inputs))
    }

    fn resolve(&mut self, _env: Env, (data, shape): Self::Output) -> Result<NativeTensor> {
        Ok(NativeTensor { data: Float32Array::new(data), shape: shape.iter().map(|&d| d as u32).collect() })
    }
}

pub struct ExportOnnxTask {
    model: Shared,
    path: PathBuf,
}

impl Task for ExportOnnxTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let path = self.path.clone();
        with_model(&self.model, move |model| resnet_core::export::onnx::export_onnx(model, &path))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct PredictTask {
    model: Shared,
    inputs: Vec<ImageInput>,
    top_k: usize,
    tta: bool,
}

impl Task for PredictTask {
    type Output = Vec<Vec<NativePrediction>>;
    type JsValue = Vec<Vec<NativePrediction>>;

    fn compute(&mut self) -> Result<Self::Output> {
        let (inputs, top_k, tta) = (std::mem::take(&mut self.inputs), self.top_k, self.tta);
        let ranked = with_model(&self.model, move |model| model.predict(&inputs, top_k, tta))?;
        Ok(ranked
            .into_iter()
            .map(|predictions| {
                predictions
                    .into_iter()
                    .map(|p| NativePrediction { label: p.label, index: p.index as u32, probability: p.probability })
                    .collect()
            })
            .collect())
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(output)
    }
}

pub struct EvaluateTask {
    model: Shared,
    dir: PathBuf,
    batch_size: usize,
    tta: bool,
}

impl Task for EvaluateTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let (dir, batch_size, tta) = (self.dir.clone(), self.batch_size, self.tta);
        let (evaluation, skipped) = with_model(&self.model, move |model| {
            let mut skipped = Vec::new();
            let evaluation = model.evaluate_dir(&dir, batch_size, 0, tta, &mut |skip| skipped.push(skip))?;
            Ok((evaluation, skipped))
        })?;
        let skipped: Vec<serde_json::Value> = skipped
            .into_iter()
            .map(|skip| serde_json::json!({ "path": skip.path.display().to_string(), "reason": skip.reason }))
            .collect();
        let mut value = serde_json::to_value(&evaluation).map_err(|error| Error::from_reason(error.to_string()))?;
        value["skipped"] = serde_json::Value::Array(skipped);
        Ok(value.to_string())
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

pub struct SaveTask {
    model: Shared,
    dir: PathBuf,
}

impl Task for SaveTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let dir = self.dir.clone();
        with_model(&self.model, move |model| model.save(&dir))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
