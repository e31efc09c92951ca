//! Using a trained model: top-k prediction on files or buffers, and evaluation on a folder.
//! Both take their preprocessing from the model's `model.json`, never from the caller.
use crate::data::decode::{decode_bytes, decode_path};
use crate::data::folder::{scan_split, Sample, Skipped};
use crate::data::device_input::DeviceInput;
use crate::data::loader::{decoding_pool, BatchForm, BatchLoader, Pipeline};
use crate::data::transform::{needed_shorter_side, normalised_cpu_tensor, resize_into};
use crate::error::{Error, Result};
use crate::host_reads::to_host;
use crate::metrics::{Evaluation, OutcomeRows, RunningTally, SampleOutcome, Tally};
use crate::model::layout::channels_last;
use crate::model::meta::ModelMeta;
use crate::model::saved::SavedModel;
use crate::precision::{maybe_autocast, AutotuningPaused};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::nn::ModuleT;
use tch::Tensor;

pub mod batching;

/// Images per forward pass when predicting on many inputs.
pub const PREDICT_BATCH: usize = 64;

#[derive(Debug, Clone)]
pub enum ImageInput {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

impl ImageInput {
    fn describe(&self, position: usize) -> String {
        match self {
            ImageInput::Path(path) => path.display().to_string(),
            ImageInput::Bytes(_) => format!("<buffer #{position}>"),
        }
    }
}

/// What a forward pass for inference returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The classifier's outputs, one per class.
    Logits,
    /// The pooled features before the classifier (512 or 2048 per input).
    Features,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub index: usize,
    pub probability: f64,
}

impl SavedModel {
    /// The evaluation transform of this model, from its `model.json`.
    pub fn evaluation_pipeline(&self) -> Pipeline {
        let output = BatchForm::for_device(self.device(), &self.meta.preprocess, self.is_channels_last());
        Pipeline::evaluation(self.meta.image_size, self.meta.preprocess.resize, None, output)
    }

    /// How inputs reach this model's device.
    pub fn device_input(&self) -> Result<DeviceInput> {
        DeviceInput::new(&self.meta.preprocess, self.meta.image_size, self.device(), self.is_channels_last())
    }

    /// Top-k classes for each input, most probable first; with `tta`, from the mean of the
    /// image's and its mirror image's probabilities. A bad input fails the call with
    /// `ERR_IMAGE_DECODE` naming it.
    pub fn predict(&self, inputs: &[ImageInput], top_k: usize, tta: bool) -> Result<Vec<Vec<Prediction>>> {
        let k = top_k.clamp(1, self.meta.classes.len());
        let device_input = self.device_input()?;
        let mut results = Vec::with_capacity(inputs.len());
        for (chunk_index, chunk) in inputs.chunks(PREDICT_BATCH).enumerate() {
            let pixels = decode_inputs(&self.meta, chunk, chunk_index * PREDICT_BATCH)?;
            let input = device_input.images(&pixels, chunk.len())?;
            results.extend(self.ranked(&self.class_scores(&input, tta)?, k)?);
        }
        Ok(results)
    }

    /// The `k` most probable classes of each row of `scores` (`[n, classes]`, read as logits).
    pub(crate) fn ranked(&self, scores: &Tensor, k: usize) -> Result<Vec<Vec<Prediction>>> {
        let probabilities = to_host(&scores.f_softmax(1, tch::Kind::Float)?)?;
        let (values, indices) = probabilities.f_topk(k as i64, 1, true, true)?;
        let values = Vec::<f64>::try_from(values.f_to_kind(tch::Kind::Double)?.f_flatten(0, -1)?)?;
        let indices = Vec::<i64>::try_from(indices.f_flatten(0, -1)?)?;
        let rows = indices.len() / k.max(1);
        Ok((0..rows)
            .map(|row| {
                (0..k)
                    .map(|rank| {
                        let index = indices[row * k + rank] as usize;
                        Prediction { label: self.meta.classes[index].clone(), index, probability: values[row * k + rank] }
                    })
                    .collect()
            })
            .collect())
    }

    /// The pooled features before the classifier (512 or 2048 numbers per input), for
    /// similarity search. Inputs are prepared exactly as for `predict`.
    pub fn embed(&self, inputs: &[ImageInput]) -> Result<Vec<Vec<f32>>> {
        self.per_input_rows(inputs, Output::Features)
    }

    /// The raw classifier outputs (one number per class and input, before softmax): what an
    /// exported ONNX graph gives for the same input.
    pub fn logits(&self, inputs: &[ImageInput]) -> Result<Vec<Vec<f32>>> {
        self.per_input_rows(inputs, Output::Logits)
    }

    /// The exact input tensor the network sees for `inputs`: NCHW float32, decoded, resized
    /// and normalised as `model.json` says. Returns the elements and the shape.
    pub fn preprocess(&self, inputs: &[ImageInput]) -> Result<(Vec<f32>, [usize; 4])> {
        let side = self.meta.image_size as usize;
        let pixels = decode_inputs(&self.meta, inputs, 0)?;
        let tensor = normalised_cpu_tensor(&pixels, inputs.len(), self.meta.image_size, &self.meta.preprocess, false)?;
        Ok((Vec::<f32>::try_from(tensor.f_flatten(0, -1)?)?, [inputs.len(), 3, side, side]))
    }

    /// The network's `output` for a prepared input batch (NCHW, on the model's device), in
    /// eval mode without gradients, in float32; through the folded network once there is one.
    /// A channels_last model gets its input in that layout too, as oneDNN and cuDNN convolve
    /// it faster (a no-op for inputs from `DeviceInput`, already laid out so). Under bf16
    /// autocast where `precision` says so.
    pub fn run_network(&self, input: &Tensor, output: Output) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let input = if self.is_channels_last() { channels_last(input)? } else { input.shallow_clone() };
        let _tuning = self.shapes.tune_if_repeated(self.device(), &input.size())?;
        let result = maybe_autocast(self.autocasts(), self.device(), || {
            Ok(match (&self.folded, output) {
                (Some(folded), Output::Logits) => folded.logits(&input)?,
                (Some(folded), Output::Features) => folded.features(&input)?,
                (None, Output::Logits) => self.net.forward_t(&input, false),
                (None, Output::Features) => self.net.features_t(&input, false),
            })
        })?;
        Ok(result.f_to_kind(tch::Kind::Float)?)
    }

    /// Runs `forward` on batches of prepared inputs; one row of its `[n, width]` output per input.
    fn per_input_rows(&self, inputs: &[ImageInput], output: Output) -> Result<Vec<Vec<f32>>> {
        let device_input = self.device_input()?;
        let mut rows = Vec::with_capacity(inputs.len());
        for (chunk_index, chunk) in inputs.chunks(PREDICT_BATCH).enumerate() {
            let pixels = decode_inputs(&self.meta, chunk, chunk_index * PREDICT_BATCH)?;
            let input = device_input.images(&pixels, chunk.len())?;
            rows.extend(host_rows(&self.run_network(&input, output)?)?);
        }
        Ok(rows)
    }

    /// Class scores `[n, classes]` for a prepared batch: the logits, or with test-time
    /// augmentation (`tta`, fastai's `tta` without its crops) the log of the mean of the image's
    /// and its mirror image's softmax, which softmax, top-k and cross-entropy read as they read
    /// logits.
    pub(crate) fn class_scores(&self, input: &Tensor, tta: bool) -> Result<Tensor> {
        let logits = self.run_network(input, Output::Logits)?;
        if !tta {
            return Ok(logits);
        }
        let mirrored = self.run_network(&input.f_flip([3])?, Output::Logits)?;
        let mean = (logits.f_softmax(1, tch::Kind::Float)? + mirrored.f_softmax(1, tch::Kind::Float)?) / 2.0;
        Ok(mean.f_log()?)
    }

    /// Accumulated metrics over the `order` entries of `samples`, prepared by `pipeline`, with
    /// each sample's own outcome (for the training report). Images that cannot be decoded are
    /// passed to `on_skip` with their index and left out. Training's validation and `evaluate`
    /// share this path.
    pub fn evaluate_samples(
        &self,
        samples: Arc<Vec<Sample>>,
        order: Vec<usize>,
        batch_size: usize,
        pipeline: Arc<Pipeline>,
        pool: Arc<rayon::ThreadPool>,
        on_skip: &mut dyn FnMut(usize, Skipped),
    ) -> Result<(Tally, Vec<SampleOutcome>)> {
        let mut outcomes = OutcomeRows::new();
        let tally = self.evaluate_pass(samples, order, batch_size, pipeline, pool, false, on_skip, Some(&mut outcomes))?;
        Ok((tally, outcomes.finish()?))
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate_pass(
        &self,
        samples: Arc<Vec<Sample>>,
        order: Vec<usize>,
        batch_size: usize,
        pipeline: Arc<Pipeline>,
        pool: Arc<rayon::ThreadPool>,
        tta: bool,
        on_skip: &mut dyn FnMut(usize, Skipped),
        mut outcomes: Option<&mut OutcomeRows>,
    ) -> Result<Tally> {
        let _guard = tch::no_grad_guard();
        let device_input = self.device_input()?;
        let mut tally = RunningTally::new(self.meta.classes.len(), self.device())?;
        for batch in BatchLoader::start(samples.clone(), order, batch_size, pipeline, 0, pool) {
            for (index, reason) in &batch.failures {
                on_skip(*index, Skipped { path: samples[*index].path.clone(), reason: reason.clone() });
            }
            if batch.is_empty() {
                continue;
            }
            let input = device_input.batch(&batch)?;
            let labels = device_input.labels(&batch.labels)?;
            let _paused = AutotuningPaused::for_batch(self.device(), batch.len(), batch_size)?;
            let logits = self.class_scores(&input, tta)?;
            tally.add(&logits, &labels)?;
            if let Some(outcomes) = outcomes.as_deref_mut() {
                outcomes.add(&logits, &labels, &batch.labels, &batch.indices)?;
            }
        }
        Ok(tally.read()?.clone())
    }

    /// Loss, accuracy, top-5, per-class metrics and confusion on a folder: a root holding
    /// `test/` or `val/`, or a folder of class folders; with `tta`, as `predict` with it.
    pub fn evaluate_dir(&self, dir: &Path, batch_size: usize, workers: usize, tta: bool, on_skip: &mut dyn FnMut(Skipped)) -> Result<Evaluation> {
        let split_dir = evaluation_folder(dir)?;
        let split = scan_split(&split_dir, &self.meta.classes)?;
        split.skipped.into_iter().for_each(&mut *on_skip);
        if split.samples.is_empty() {
            return Err(Error::dataset("expected images to evaluate on, found none", &split_dir));
        }
        let pipeline = Arc::new(self.evaluation_pipeline());
        let order = (0..split.samples.len()).collect();
        let samples = Arc::new(split.samples);
        let pool = decoding_pool(workers)?;
        let tally = self.evaluate_pass(samples, order, batch_size, pipeline, pool, tta, &mut |_, skip| on_skip(skip), None)?;
        Ok(tally.summary(&self.meta.classes))
    }
}

/// The rows of a `[n, width]` output, copied to the host.
pub(crate) fn host_rows(output: &Tensor) -> Result<Vec<Vec<f32>>> {
    let output = to_host(output)?.f_contiguous()?;
    let width = output.size().last().copied().unwrap_or(0).max(1) as usize;
    let flat = Vec::<f32>::try_from(output.f_flatten(0, -1)?)?;
    Ok(flat.chunks_exact(width).map(<[f32]>::to_vec).collect())
}

/// Decodes and resizes `inputs` as `meta` says, in parallel on rayon's pool: their pixels,
/// one image after the other (HWC, 8 bits). A bad input fails the whole call with
/// `ERR_IMAGE_DECODE` naming it (as the `offset + position`th buffer when it is one).
pub fn decode_inputs(meta: &ModelMeta, inputs: &[ImageInput], offset: usize) -> Result<Vec<u8>> {
    let (size, mode) = (meta.image_size, meta.preprocess.resize);
    let image_bytes = (size as usize).pow(2) * 3;
    let decoded: Vec<Result<Vec<u8>>> = inputs
        .par_iter()
        .enumerate()
        .map(|(position, input)| {
            let image = match input {
                ImageInput::Path(path) => decode_path(path, needed_shorter_side(size, mode)),
                ImageInput::Bytes(bytes) => decode_bytes(bytes, needed_shorter_side(size, mode)),
            };
            let mut out = vec![0u8; image_bytes];
            image
                .and_then(|image| resize_into(&image, size, mode, &mut out))
                .map(|()| out)
                .map_err(|reason| Error::ImageDecode { path: input.describe(offset + position), reason })
        })
        .collect();
    let mut pixels = Vec::with_capacity(image_bytes * inputs.len());
    for image in decoded {
        pixels.extend_from_slice(&image?);
    }
    Ok(pixels)
}

/// `dir/test` or `dir/val` when present, else `dir` itself.
fn evaluation_folder(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        return Err(Error::dataset("expected a folder of class folders (or one holding test/ or val/), found no folder", dir));
    }
    Ok(["test", "val", "validation"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_dir())
        .unwrap_or_else(|| dir.to_path_buf()))
}
