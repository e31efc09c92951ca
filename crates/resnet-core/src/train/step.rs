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
}

/// Trains `net` on one batch (`input` laid out as the network is, `labels` on its device) with
/// learning rate `lr`; returns the batch's logits (for the running metrics).
pub fn train_step(net: &ResNet, optimizer: &mut Optimizer, input: &Tensor, labels: &Tensor, lr: f64, settings: &StepSettings) -> Result<Tensor> {
    optimizer.zero_grad()?;
    // Forward and loss under autocast; backward outside it, as PyTorch prescribes.
    let (logits, loss) = maybe_autocast(settings.bf16, settings.device, || {
        let logits = net.forward_t(input, true);
        let loss = logits.f_cross_entropy_loss(labels, settings.class_weights.as_ref(), Reduction::Mean, -100, settings.label_smoothing)?;
        Ok((logits, loss))
    })?;
    loss.f_backward()?;
    if let Some(max_norm) = settings.gradient_clip {
        optimizer.clip_grad_norm(max_norm)?;
    }
    optimizer.step(lr)?;
    Ok(logits)
}
