//! A network together with what it is: the unit that is trained, saved, loaded and queried.
//! On disk it is a directory with `model.safetensors` and `model.json`.
use super::folded::FoldedResNet;
use super::fused_conv;
use super::layout::{convert_to_channels_last, convert_to_standard};
use super::meta::ModelMeta;
use super::resnet::{classifier_width, ResNet};
use super::snapshot::HostSnapshot;
use super::weights;
use crate::data::preprocess::{Augment, Preprocess};
use crate::model::arch::Arch;
use crate::precision::{Precision, RepeatedShapes};
use crate::error::{Error, Result};
use crate::fsutil::{ensure_writable_dir, write_text_atomically};
use std::path::Path;
use tch::{nn::VarStore, Device, Kind};

/// libtorch's random generator is global to the process: seeding and initialising a network
/// happen under this lock, so that a run elsewhere in the process (another training, another
/// test) cannot draw from the generator in between and change the weights a seed gives.
static SEEDED_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub use super::meta::META_FILE;

#[derive(Debug)]
pub struct SavedModel {
    pub vs: VarStore,
    pub net: ResNet,
    pub meta: ModelMeta,
    /// How inference computes: `Auto` runs bf16 autocast on a GPU and on processors with
    /// native bf16 (see `Precision::uses_bf16`).
    pub precision: Precision,
    /// The network with batch norm folded into its convolutions, which inference uses once
    /// `fold_batch_norm` has made it (for models that are no longer trained).
    pub folded: Option<FoldedResNet>,
    /// The input shapes inference has run, for tuning those that repeat (`RepeatedShapes`).
    pub shapes: RepeatedShapes,
}

impl SavedModel {
    /// A freshly initialised network for `classes`. `train` records the training augmentation.
    pub fn new(
        arch: Arch,
        classes: Vec<String>,
        image_size: u32,
        preprocess: Preprocess,
        train: Option<Augment>,
        device: Device,
    ) -> Result<Self> {
        if classes.is_empty() {
            return Err(Error::InvalidOption("Expected at least one class but received none".into()));
        }
        crate::memory::use_caching_cpu_allocator()?;
        let vs = VarStore::new(device);
        let net = ResNet::new(&vs.root(), arch, classes.len() as i64);
        Ok(SavedModel { vs, net, meta: ModelMeta::new(arch, classes, image_size, preprocess, train), precision: Precision::Auto, folded: None, shapes: RepeatedShapes::default() })
    }

    /// `new` with libtorch seeded by `seed` first: the same seed gives the same weights.
    pub fn new_seeded(
        seed: u64,
        arch: Arch,
        classes: Vec<String>,
        image_size: u32,
        preprocess: Preprocess,
        train: Option<Augment>,
        device: Device,
    ) -> Result<Self> {
        let _lock = SEEDED_INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        tch::manual_seed(seed as i64);
        SavedModel::new(arch, classes, image_size, preprocess, train, device)
    }

    /// Loads a model directory onto `device`. Only `model.json` and `model.safetensors`
    /// inside `dir` are read; nothing in them names other files, and neither runs code.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::model_file(dir, "expected a model directory holding model.json and model.safetensors, found no directory"));
        }
        let meta = ModelMeta::read(dir)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        check_classifier_fits(&meta, &weights_path)?;
        crate::memory::use_caching_cpu_allocator()?;
        let vs = VarStore::new(device);
        let net = ResNet::new(&vs.root(), meta.arch, meta.classes.len() as i64);
        weights::load_into(&vs, dir, &weights_path)?;
        Ok(SavedModel { vs, net, meta, precision: Precision::Auto, folded: None, shapes: RepeatedShapes::default() })
    }

    /// Writes the weights, then `model.json`, each atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let variables: Vec<(String, tch::Tensor)> = self.vs.variables().into_iter().collect();
        write_model_dir(dir, &HostSnapshot::take(&variables)?, |_| true, &self.meta.to_json())
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Lays the convolution weights out channels_last (`true`) or in the standard order, in
    /// place. Inference then feeds inputs in the same layout: on this project's CPU,
    /// channels_last runs a resnet34 forward pass 7-25% faster. Saving and export write the
    /// standard order either way. A folded network is folded again in the new layout.
    pub fn set_channels_last(&mut self, on: bool) -> Result<()> {
        if on {
            convert_to_channels_last(&self.vs)?;
        } else {
            convert_to_standard(&self.vs)?;
        }
        if self.folded.is_some() {
            self.fold_batch_norm()?;
        }
        Ok(())
    }

    /// Folds batch norm into the convolutions for inference from now on: logits equal the
    /// unfolded network's up to float rounding (within 1e-4 in float32, tests/folded.rs), a
    /// resnet34 batch-1 prediction on the CPU is faster. On the CPU the folded network runs on
    /// oneDNN's fused convolutions (`fused_conv`) in the precision inference uses, bfloat16
    /// weights rounded once here (for a channels_last model), so `precision` and the layout
    /// must be set before. Only for a model that is not trained further: the folded copy does
    /// not follow later changes to the weights.
    pub fn fold_batch_norm(&mut self) -> Result<()> {
        let folded = FoldedResNet::new(&self.vs, self.meta.arch)?;
        let kind = if self.infers_in_bf16() { Kind::BFloat16 } else { Kind::Float };
        let fused = self.device() == Device::Cpu && fused_conv::enabled(kind) && (self.is_channels_last() || !fused_conv::needs_channels_last(kind));
        self.folded = Some(if fused { folded.packed(i64::from(self.meta.image_size), kind)? } else { folded });
        Ok(())
    }

    /// Whether inference computes in bfloat16 (`precision`).
    pub fn infers_in_bf16(&self) -> bool {
        self.precision.uses_bf16(self.device())
    }

    /// Whether inference runs under bf16 autocast: in bfloat16, except on the fused network,
    /// whose weights are bfloat16 already.
    pub fn autocasts(&self) -> bool {
        self.infers_in_bf16() && !self.folded.as_ref().is_some_and(FoldedResNet::is_fused)
    }

    /// Whether the weights are laid out channels_last (see `set_channels_last`).
    pub fn is_channels_last(&self) -> bool {
        self.net.is_channels_last()
    }
}

/// Writes a model directory from a host copy of its variables (those of `snapshot` that
/// `select` accepts) and model.json's text: the weights, then `model.json`, each atomically.
pub fn write_model_dir(dir: &Path, snapshot: &HostSnapshot, select: impl Fn(&str) -> bool, meta_json: &str) -> Result<()> {
    ensure_writable_dir(dir)?;
    weights::write_snapshot(&dir.join(WEIGHTS_FILE), snapshot, select, None)?;
    write_text_atomically(&dir.join(META_FILE), meta_json)
}

/// A class list longer than the weights file could hold a classifier for is refused before
/// the network is built: a model.json naming millions of classes must not allocate gigabytes.
/// (Smaller mismatches are left to the per-tensor checks, which say more.)
fn check_classifier_fits(meta: &ModelMeta, weights_path: &Path) -> Result<()> {
    const WORTH_CHECKING: u64 = 64 << 20;
    let Ok(size) = std::fs::metadata(weights_path).map(|m| m.len()) else { return Ok(()) };
    let needed = meta.classes.len() as u64 * (classifier_width(meta.arch) as u64 + 1) * 4;
    if needed > WORTH_CHECKING && needed > size {
        return Err(Error::model_file(
            weights_path,
            format!(
                "expected a classifier for the {} classes of model.json ({needed} bytes at least), found a weights file of {size} bytes",
                meta.classes.len()
            ),
        ));
    }
    Ok(())
}
