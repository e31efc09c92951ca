//! A loaded model as a JavaScript class. Loading, predicting, evaluating and saving run as
//! async tasks on the libuv pool; the model sits behind a mutex so concurrent calls are safe.
use crate::errors::guarded;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use resnet_core::{device::parse_device, ImageInput, SavedModel};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

#[napi]
pub struct NativeModel {
    inner: Arc<Mutex<SavedModel>>,
}

impl NativeModel {
    pub fn wrap(model: SavedModel) -> Self {
        NativeModel { inner: Arc::new(Mutex::new(model)) }
    }
}

/// A panic while the lock was held leaves nothing half-updated that inference relies on.
fn lock(model: &Mutex<SavedModel>) -> MutexGuard<'_, SavedModel> {
    model.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
    #[napi(getter)]
    pub fn meta_json(&self) -> String {
        lock(&self.inner).meta.to_json()
    }

    #[napi(getter)]
    pub fn device(&self) -> String {
        resnet_core::device::device_name(lock(&self.inner).device())
    }

    /// Top-k predictions for each input (a path or an encoded image buffer).
    #[napi(ts_return_type = "Promise<NativePrediction[][]>")]
    pub fn predict(&self, inputs: Vec<Either<String, Buffer>>, top_k: u32) -> AsyncTask<PredictTask> {
        let inputs = inputs
            .into_iter()
            .map(|input| match input {
                Either::A(path) => ImageInput::Path(PathBuf::from(path)),
                Either::B(buffer) => ImageInput::Bytes(buffer.to_vec()),
            })
            .collect();
        AsyncTask::new(PredictTask { model: self.inner.clone(), inputs, top_k: top_k as usize })
    }

    /// Metrics on a folder, as JSON text; skipped files are listed in it.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn evaluate(&self, dir: String, batch_size: u32) -> AsyncTask<EvaluateTask> {
        AsyncTask::new(EvaluateTask { model: self.inner.clone(), dir: dir.into(), batch_size: batch_size as usize })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn save(&self, dir: String) -> AsyncTask<SaveTask> {
        AsyncTask::new(SaveTask { model: self.inner.clone(), dir: dir.into() })
    }
}

/// Loads a model directory onto a device ("auto", "cpu", "cuda", "cuda:N").
#[napi(ts_return_type = "Promise<NativeModel>")]
pub fn load_model(dir: String, device: String) -> AsyncTask<LoadTask> {
    AsyncTask::new(LoadTask { dir: dir.into(), device })
}

pub struct LoadTask {
    dir: PathBuf,
    device: String,
}

impl Task for LoadTask {
    type Output = SavedModel;
    type JsValue = NativeModel;

    fn compute(&mut self) -> Result<SavedModel> {
        guarded(|| SavedModel::load(&self.dir, parse_device(&self.device)?))
    }

    fn resolve(&mut self, _env: Env, model: SavedModel) -> Result<NativeModel> {
        Ok(NativeModel::wrap(model))
    }
}

pub struct PredictTask {
    model: Arc<Mutex<SavedModel>>,
    inputs: Vec<ImageInput>,
    top_k: usize,
}

impl Task for PredictTask {
    type Output = Vec<Vec<NativePrediction>>;
    type JsValue = Vec<Vec<NativePrediction>>;

    fn compute(&mut self) -> Result<Self::Output> {
        let ranked = guarded(|| lock(&self.model).predict(&self.inputs, self.top_k))?;
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
    model: Arc<Mutex<SavedModel>>,
    dir: PathBuf,
    batch_size: usize,
}

impl Task for EvaluateTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let mut skipped = Vec::new();
        let evaluation = guarded(|| {
            lock(&self.model).evaluate_dir(&self.dir, self.batch_size, 0, &mut |skip| skipped.push(skip))
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
    model: Arc<Mutex<SavedModel>>,
    dir: PathBuf,
}

impl Task for SaveTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        guarded(|| lock(&self.model).save(&self.dir))
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
