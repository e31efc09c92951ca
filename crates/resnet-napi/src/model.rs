//! A loaded model as a JavaScript class. Every call that computes runs on the torch thread
//! through `torch_thread::promise` and returns a promise; the model sits behind a mutex so
//! concurrent calls are safe. Every entry point carries `#[napi(catch_unwind)]`.
use crate::results::{NativeEvaluation, NativeModelMeta, NativePrediction, NativeTensor};
use crate::torch_thread::promise;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use resnet_core::model::meta::ModelMeta;
use resnet_core::{device::parse_device, ImageInput, Precision, SavedModel};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The native model; `None` once disposed.
type Shared = Arc<Mutex<Option<SavedModel>>>;

#[napi]
pub struct NativeModel {
    inner: Shared,
    /// model.json as it was at load time, still readable after `dispose`.
    meta: ModelMeta,
    /// Where the weights live ("cpu", "cuda:N"): known without waiting for calls in flight.
    device_name: String,
    disposed: AtomicBool,
}

impl NativeModel {
    pub fn wrap(model: SavedModel) -> Self {
        let meta = model.meta.clone();
        let device_name = resnet_core::device::device_name(model.device());
        NativeModel { inner: Arc::new(Mutex::new(Some(model))), meta, device_name, disposed: AtomicBool::new(false) }
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
        (&self.meta).into()
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
    pub fn embed<'env>(&self, env: &'env Env, inputs: Vec<Either<String, Buffer>>) -> Result<Object<'env>> {
        let inputs = image_inputs(inputs);
        self.run(env, move |model| model.embed(&inputs), float_rows)
    }

    /// The raw classifier outputs (before softmax) for each input.
    #[napi(catch_unwind, ts_return_type = "Promise<Float32Array[]>")]
    pub fn logits<'env>(&self, env: &'env Env, inputs: Vec<Either<String, Buffer>>) -> Result<Object<'env>> {
        let inputs = image_inputs(inputs);
        self.run(env, move |model| model.logits(&inputs), float_rows)
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
        let inputs = image_inputs(inputs);
        self.run(env, move |model| model.predict(&inputs, top_k as usize, tta), |ranked| {
            Ok(ranked.into_iter().map(|row| row.into_iter().map(NativePrediction::from).collect()).collect::<Vec<Vec<_>>>())
        })
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

fn float_rows(rows: Vec<Vec<f32>>) -> Result<Vec<Float32Array>> {
    Ok(rows.into_iter().map(Float32Array::new).collect())
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
#[napi(catch_unwind, ts_return_type = "Promise<NativeModel>")]
pub fn load_model(env: &Env, dir: String, device: String, channels_last: bool, precision: String) -> Result<Object<'_>> {
    let load = move || {
        let mut model = SavedModel::load(&PathBuf::from(dir), parse_device(&device)?)?;
        model.set_channels_last(channels_last)?;
        model.precision = Precision::parse(&precision)?;
        model.fold_batch_norm()?;
        Ok(model)
    };
    promise(env, load, |model| Ok(NativeModel::wrap(model)))
}
