//! fastai's `fine_tune` recipe for a pretrained body. The first `freeze_epochs` train only the
//! new head and batch norm (the body's convolutions keep their pretrained weights and cost no
//! gradients); then everything trains, the body at `body_lr_factor` of the head's rate. Each
//! phase runs the learning-rate schedule from its start, as fastai's two `fit_one_cycle`s do.
//! The phase follows from the epoch number alone, so a resumed run lands in the right one.
use crate::error::Result;
use crate::model::resnet::is_batch_norm;
use crate::model::weights::is_head;
use crate::train::optimizer::Optimizer;
use tch::nn::VarStore;

#[derive(Debug, Clone, Copy)]
pub struct Phases {
    /// 0 when not fine-tuning, or when the body trains from the first epoch.
    pub freeze_epochs: usize,
    /// `Some` when the body is pretrained: its learning-rate factor once unfrozen.
    pub body_lr_factor: Option<f64>,
    pub epochs: usize,
    pub steps_per_epoch: usize,
}

impl Phases {
    pub fn frozen(&self, epoch: usize) -> bool {
        epoch <= self.freeze_epochs
    }

    /// The first update and the length of the schedule run that `epoch` belongs to.
    pub fn schedule_span(&self, epoch: usize) -> (usize, usize) {
        if self.frozen(epoch) {
            (0, self.freeze_epochs * self.steps_per_epoch)
        } else {
            (self.freeze_epochs * self.steps_per_epoch, (self.epochs - self.freeze_epochs) * self.steps_per_epoch)
        }
    }

    /// Freezes or unfreezes the body for `epoch` and sets the body's learning-rate factor.
    pub fn apply(&self, epoch: usize, vs: &VarStore, optimizer: &mut Optimizer) -> Result<()> {
        let frozen = self.frozen(epoch);
        for (name, variable) in vs.variables() {
            let body_weight = !is_head(&name) && !is_batch_norm(&name);
            if body_weight && !name.ends_with("running_mean") && !name.ends_with("running_var") {
                let _ = variable.f_set_requires_grad(!frozen)?;
            }
        }
        if let Some(factor) = self.body_lr_factor {
            optimizer.set_lr_scale(|name| !is_head(name), if frozen { 1.0 } else { factor });
        }
        Ok(())
    }
}
