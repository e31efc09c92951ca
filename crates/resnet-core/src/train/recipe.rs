//! Named sets of training settings: the optimiser, its schedule, the loss and the transforms.
use crate::data::preprocess::{Augment, Preprocess};
use crate::choice::choice;
use crate::train::optimizer::{OptimizerConfig, OptimizerKind};
use crate::train::schedule::ScheduleKind;

choice! {
    /// A named set of training settings. `Standard` is the default: on real photos
    /// (bench/results/photos.md) it trains far better models than the notebook's settings,
    /// which `Notebook` keeps exactly.
    pub enum Recipe for "recipe" {
        /// AdamW (lr 0.003, weight decay 0.05 off norm and bias), one-cycle, label smoothing 0.1;
        /// random-resized-crop + flip for training; resize + centre crop for evaluation;
        /// ImageNet mean/std. With pretrained weights, one frozen epoch first (fastai's fine_tune).
        Standard = "standard",
        /// Adam, lr 0.005, constant; stretch to the square, no augmentation, mean/std 0.5.
        Notebook = "notebook",
    }
}

impl Recipe {
    pub fn transforms(self) -> (Augment, Preprocess) {
        match self {
            Recipe::Standard => (Augment::standard(), Preprocess::standard()),
            Recipe::Notebook => (Augment::none(), Preprocess::notebook()),
        }
    }

    /// The recipe's optimiser.
    pub fn optimizer_kind(self) -> OptimizerKind {
        match self {
            Recipe::Standard => OptimizerKind::AdamW,
            Recipe::Notebook => OptimizerKind::Adam,
        }
    }

    /// The settings of optimiser `kind` under this recipe: the recipe's own for its optimiser,
    /// PyTorch's defaults for any other (a weight decay tuned for AdamW would be far too
    /// strong as SGD's L2 term).
    pub fn optimizer(self, kind: OptimizerKind) -> OptimizerConfig {
        let mut optimizer = OptimizerConfig::new(kind);
        if self == Recipe::Standard && kind == OptimizerKind::AdamW {
            optimizer.weight_decay = 0.05;
        }
        optimizer
    }

    pub fn learning_rate(self) -> f64 {
        match self {
            Recipe::Standard => 0.003,
            Recipe::Notebook => 0.005,
        }
    }

    pub fn schedule(self) -> ScheduleKind {
        match self {
            Recipe::Standard => ScheduleKind::OneCycle,
            Recipe::Notebook => ScheduleKind::Constant,
        }
    }

    pub fn label_smoothing(self) -> f64 {
        match self {
            Recipe::Standard => 0.1,
            Recipe::Notebook => 0.0,
        }
    }

    /// Epochs that train only the new head before the body, when starting from pretrained
    /// weights.
    pub fn freeze_epochs(self, pretrained: bool) -> usize {
        usize::from(pretrained && self == Recipe::Standard)
    }
}
