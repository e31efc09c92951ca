//! One training update, as the loop runs it and as the parity test against torch.optim
//! checks it: forward (under bf16 autocast when asked), label-smoothed and optionally
//! class-weighted cross-entropy, backward, optional gradient clipping, optimiser step.
use super::optimizer::Optimizer;
use crate::error::Result;
use crate::model::resnet::ResNet;
use crate::precision::maybe_autocast;
use tch::nn::ModuleT;
use tch::{Device, Reduction, Tensor};

/// What every update of a run shares.
pub struct StepSettings {
    pub label_smoothing: f64,
    /// Per-class loss weights (`[classes]`, on the model's device), as
    /// `nn.CrossEntropyLoss(weight=...)`; `None`: every class counts alike.
    pub class_weights: Option<Tensor>,
    /// Clip the global gradient norm to this before the update.
    pub gradient_clip: Option<f64>,
    pub bf16: bool,
    pub device: Device,
    /// Batch norm normalises with its running statistics and its scale and shift stay as
    /// they are (torchvision's FrozenBatchNorm2d): the network runs as in evaluation while
    /// the other layers train.
    pub freeze_batch_norm: bool,
}

/// Trains `net` on one batch (`input` laid out as the network is, `labels` on its device) with
/// learning rate `lr`; returns the batch's logits (for the running metrics).
pub fn train_step(net: &ResNet, optimizer: &mut Optimizer, input: &Tensor, labels: &Tensor, lr: f64, settings: &StepSettings) -> Result<Tensor> {
    train_step_weighted(net, optimizer, input, labels, lr, settings, 1.0)
}

/// As `train_step`, with the loss scaled by `weight`. A rank of a distributed run whose batch
/// was lost to decode failures steps on a stand-in with weight 0: it must take part in every
/// gradient average, and adds nothing to it.
pub fn train_step_weighted(
    net: &ResNet,
    optimizer: &mut Optimizer,
    input: &Tensor,
    labels: &Tensor,
    lr: f64,
    settings: &StepSettings,
    weight: f64,
) -> Result<Tensor> {
    optimizer.zero_grad()?;
    // Forward and loss under autocast; backward outside it, as PyTorch prescribes.
    let (logits, loss) = maybe_autocast(settings.bf16, settings.device, || {
        let logits = net.forward_t(input, !settings.freeze_batch_norm);
        let loss = logits.f_cross_entropy_loss(labels, settings.class_weights.as_ref(), Reduction::Mean, -100, settings.label_smoothing)?;
        let loss = if weight == 1.0 { loss } else { loss.f_mul_scalar(weight)? };
        Ok((logits, loss))
    })?;
    loss.f_backward()?;
    if let Some(max_norm) = settings.gradient_clip {
        optimizer.clip_grad_norm(max_norm)?;
    }
    optimizer.step(lr)?;
    Ok(logits)
}
