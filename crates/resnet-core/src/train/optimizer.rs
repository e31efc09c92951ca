//! The optimisers, written here rather than taken from tch so that their state (Adam's
//! moments, SGD's momentum) can be saved in checkpoints and restored exactly, and so that
//! weight decay can skip batch-norm parameters and biases. The update rules are PyTorch's
//! (`torch.optim.Adam`, `AdamW`, `SGD` with dampening 0); Adam(W) runs libtorch's fused
//! kernel (train/libtorch_optim.rs).
use crate::choice::choice;
use super::libtorch_optim::{clear_grads, clip_grad_norm, fused_adam_step, AdamRule, AdamSlot};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::Tensor;

choice! {
    pub enum OptimizerKind for "optimizer" {
        Adam = "adam",
        AdamW = "adamw",
        Sgd = "sgd",
    }
}

/// An optimiser and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub weight_decay: f64,
    /// Apply weight decay to batch-norm weights and to biases too (PyTorch's default); false
    /// leaves them out, the usual choice for ResNets.
    pub decay_norm_and_bias: bool,
    pub betas: (f64, f64),
    pub eps: f64,
    /// SGD's momentum and Nesterov switch.
    pub momentum: f64,
    pub nesterov: bool,
}

impl OptimizerConfig {
    /// PyTorch's defaults for `kind`: betas (0.9, 0.999), eps 1e-8, weight decay 0 (AdamW
    /// 0.01), momentum 0.9 without Nesterov for SGD.
    pub fn new(kind: OptimizerKind) -> Self {
        OptimizerConfig {
            kind,
            weight_decay: if kind == OptimizerKind::AdamW { 0.01 } else { 0.0 },
            decay_norm_and_bias: false,
            betas: (0.9, 0.999),
            eps: 1e-8,
            momentum: 0.9,
            nesterov: false,
        }
    }
}

struct Parameter {
    name: String,
    tensor: Tensor,
    decay: bool,
    /// Adam(W): first and second moments; SGD: the momentum buffer.
    state: Vec<Tensor>,
    /// A learning-rate multiplier (for a body trained slower than its head).
    lr_scale: f64,
    /// Updates this parameter has had (Adam's bias correction counts per parameter, as
    /// PyTorch's does, so a parameter unfrozen later starts its correction afresh).
    steps: i64,
}

pub struct Optimizer {
    config: OptimizerConfig,
    parameters: Vec<Parameter>,
    /// Updates taken so far (the schedule's position).
    steps: i64,
}

/// Batch-norm weights and every bias: the parameters weight decay usually leaves alone.
fn is_norm_or_bias(name: &str) -> bool {
    name.ends_with(".bias") || crate::model::resnet::is_batch_norm(name)
}

impl Optimizer {
    /// An optimiser over the parameters of `vs` (every variable but batch-norm running
    /// statistics, frozen or not), in name order.
    pub fn new(vs: &VarStore, config: OptimizerConfig) -> Result<Self> {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(name, _)| !name.ends_with("running_mean") && !name.ends_with("running_var"))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = match config.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => 2,
            OptimizerKind::Sgd => usize::from(config.momentum != 0.0),
        };
        let parameters = named
            .into_iter()
            .map(|(name, tensor)| {
                let state = (0..slots).map(|_| tensor.f_zeros_like()).collect::<Result<Vec<_>, _>>()?;
                let decay = config.decay_norm_and_bias || !is_norm_or_bias(&name);
                Ok(Parameter { name, tensor, decay, state, lr_scale: 1.0, steps: 0 })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Optimizer { config, parameters, steps: 0 })
    }

    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// The parameters the coming updates train (those requiring gradients), in name order.
    pub fn trainable(&self) -> Vec<&Tensor> {
        self.parameters.iter().map(|parameter| &parameter.tensor).filter(|tensor| tensor.requires_grad()).collect()
    }

    /// Scales the learning rate of the parameters whose names `select` accepts.
    pub fn set_lr_scale(&mut self, select: impl Fn(&str) -> bool, scale: f64) {
        for parameter in &mut self.parameters {
            if select(&parameter.name) {
                parameter.lr_scale = scale;
            }
        }
    }

    /// Unsets every gradient, as torch.optim's `zero_grad()` (set_to_none) does.
    pub fn zero_grad(&mut self) -> Result<()> {
        clear_grads(&self.parameters.iter().map(|parameter| &parameter.tensor).collect::<Vec<_>>())
    }

    /// Scales all gradients so their global L2 norm is at most `max_norm`, as
    /// `torch.nn.utils.clip_grad_norm_` (without reading the norm back).
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> Result<()> {
        let grads: Vec<Tensor> = self.parameters.iter().map(|parameter| parameter.tensor.grad()).filter(Tensor::defined).collect();
        clip_grad_norm(&grads, max_norm)
    }

    /// One update with learning rate `lr` from the gradients of the last backward pass.
    pub fn step(&mut self, lr: f64) -> Result<()> {
        let _guard = tch::no_grad_guard();
        self.steps += 1;
        match self.config.kind {
            OptimizerKind::Adam | OptimizerKind::AdamW => self.adam_step(lr),
            OptimizerKind::Sgd => self.sgd_step(lr),
        }
    }

    /// Adam(W) through libtorch's fused kernel, one call per group of parameters sharing a
    /// learning rate and weight decay (as torch.optim's parameter groups).
    fn adam_step(&mut self, lr: f64) -> Result<()> {
        let config = &self.config;
        // (lr scale, decays?) -> indices of the parameters updated this step, with gradients.
        let mut groups: Vec<((f64, bool), Vec<(usize, Tensor)>)> = Vec::new();
        for (index, parameter) in self.parameters.iter_mut().enumerate() {
            let grad = parameter.tensor.grad();
            if !grad.defined() || !parameter.tensor.requires_grad() {
                continue;
            }
            parameter.steps += 1;
            let key = (parameter.lr_scale, parameter.decay);
            match groups.iter_mut().find(|(group, _)| *group == key) {
                Some((_, members)) => members.push((index, grad)),
                None => groups.push((key, vec![(index, grad)])),
            }
        }
        for ((lr_scale, decay), members) in &groups {
            let slots = members
                .iter()
                .map(|(index, grad)| {
                    let parameter = &self.parameters[*index];
                    let [first, second] = &parameter.state[..] else {
                        return Err(Error::Libtorch("Adam state is missing its moments".into()));
                    };
                    Ok(AdamSlot { param: &parameter.tensor, grad, first, second, step: parameter.steps })
                })
                .collect::<Result<Vec<_>>>()?;
            let rule = AdamRule {
                lr: lr * lr_scale,
                betas: config.betas,
                eps: config.eps,
                weight_decay: if *decay { config.weight_decay } else { 0.0 },
                decoupled: config.kind == OptimizerKind::AdamW,
            };
            fused_adam_step(&slots, rule)?;
        }
        Ok(())
    }

    /// SGD with momentum (dampening 0) and optional Nesterov, as torch.optim.SGD.
    fn sgd_step(&mut self, lr: f64) -> Result<()> {
        let config = &self.config;
        for parameter in &mut self.parameters {
            let grad = parameter.tensor.grad();
            if !grad.defined() || !parameter.tensor.requires_grad() {
                continue;
            }
            parameter.steps += 1;
            let lr = lr * parameter.lr_scale;
            let weight_decay = if parameter.decay { config.weight_decay } else { 0.0 };
            let tensor = &mut parameter.tensor;
            let mut direction = if weight_decay != 0.0 { grad.f_add(&tensor.f_mul_scalar(weight_decay)?)? } else { grad };
            if let Some(buffer) = parameter.state.first_mut() {
                if parameter.steps == 1 {
                    buffer.f_copy_(&direction)?;
                } else {
                    let _ = buffer.f_mul_scalar_(config.momentum)?.f_add_(&direction)?;
                }
                direction = if config.nesterov { direction.f_add(&buffer.f_mul_scalar(config.momentum)?)? } else { buffer.shallow_clone() };
            }
            let _ = tensor.f_sub_(&direction.f_mul_scalar(lr)?)?;
        }
        Ok(())
    }

    /// The state to checkpoint: `optimizer.<parameter>.<slot>` tensors on the CPU, and each
    /// parameter's update count as `optimizer.<parameter>.steps`.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut named = Vec::new();
        for parameter in &self.parameters {
            named.push((format!("optimizer.{}.steps", parameter.name), Tensor::f_from_slice(&[parameter.steps as f32])?));
            for (slot, tensor) in parameter.state.iter().enumerate() {
                named.push((format!("optimizer.{}.{slot}", parameter.name), tensor.shallow_clone()));
            }
        }
        Ok(named)
    }

    /// Restores the state written by `state_tensors` (read from the checkpoint `source`) and
    /// the step count. Missing or misshapen state is an ERR_MODEL_FILE naming `source`.
    pub fn load_state(&mut self, named: &HashMap<String, Tensor>, steps: i64, source: &Path) -> Result<()> {
        let _guard = tch::no_grad_guard();
        for parameter in &mut self.parameters {
            let steps_key = format!("optimizer.{}.steps", parameter.name);
            let saved_steps = named.get(&steps_key).ok_or_else(|| Error::model_file(source, format!("checkpoint lacks {steps_key}")))?;
            parameter.steps = saved_steps.f_double_value(&[0])? as i64;
            for (slot, tensor) in parameter.state.iter_mut().enumerate() {
                let key = format!("optimizer.{}.{slot}", parameter.name);
                let saved = named.get(&key).ok_or_else(|| Error::model_file(source, format!("checkpoint lacks optimizer state {key}")))?;
                if saved.size() != tensor.size() {
                    return Err(Error::model_file(source, format!("checkpoint optimizer state {key} has shape {:?}, expected {:?}", saved.size(), tensor.size())));
                }
                tensor.f_copy_(saved)?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}
