//! The network for inference with every batch norm folded into the convolution before it: in
//! eval mode batch norm is `x * scale + shift` per channel, with `scale = weight / sqrt(var +
//! eps)` and `shift = bias - mean * scale`, so a convolution `w` followed by it equals one
//! convolution with weight `w * scale` and bias `shift`. That removes a pass over every
//! activation map (about a third of the layers). Built from the model's weights by their
//! torchvision names; the model keeps its own weights for saving, export and training.
use super::blocks::{BlockKind, BATCH_NORM_EPSILON};
use super::layout::{channels_last, is_channels_last};
use super::resnet::layout;
use crate::model::arch::Arch;
use crate::error::{Error, Result};
use std::collections::HashMap;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// A convolution with its batch norm folded in.
#[derive(Debug)]
struct FoldedConv {
    weight: Tensor,
    bias: Tensor,
    stride: i64,
    padding: i64,
}

impl FoldedConv {
    /// The convolution `conv` (a `.weight` name prefix) followed by the batch norm `bn`.
    fn new(weights: &HashMap<String, Tensor>, conv: &str, bn: &str, stride: i64) -> Result<Self> {
        let get = |name: String| weights.get(&name).ok_or_else(|| Error::Libtorch(format!("cannot fold batch norm: no {name}")));
        let weight = get(format!("{conv}.weight"))?;
        let (gamma, beta) = (get(format!("{bn}.weight"))?, get(format!("{bn}.bias"))?);
        let (mean, var) = (get(format!("{bn}.running_mean"))?, get(format!("{bn}.running_var"))?);
        // In float64, so that the folded weights round once, on the way back to float32.
        let double = |tensor: &Tensor| tensor.f_to_kind(Kind::Double);
        let scale = double(gamma)?.f_div(&double(var)?.f_add_scalar(BATCH_NORM_EPSILON)?.f_sqrt()?)?;
        let mut folded = double(weight)?.f_mul(&scale.f_view([-1, 1, 1, 1])?)?.f_to_kind(weight.kind())?;
        if is_channels_last(weight) {
            folded = channels_last(&folded)?;
        }
        let bias = double(beta)?.f_sub(&double(mean)?.f_mul(&scale)?)?.f_to_kind(weight.kind())?;
        let padding = weight.size()[2] / 2;
        Ok(FoldedConv { weight: folded, bias, stride, padding })
    }

    fn forward(&self, xs: &Tensor) -> Tensor {
        xs.conv2d(&self.weight, Some(&self.bias), [self.stride; 2], [self.padding; 2], [1, 1], 1)
    }
}

#[derive(Debug)]
struct FoldedBlock {
    convs: Vec<FoldedConv>,
    downsample: Option<FoldedConv>,
}

impl FoldedBlock {
    fn forward(&self, xs: &Tensor) -> Tensor {
        let last = self.convs.len() - 1;
        let mut branch = xs.shallow_clone();
        for (index, conv) in self.convs.iter().enumerate() {
            branch = conv.forward(&branch);
            if index != last {
                let _ = branch.relu_();
            }
        }
        branch += match &self.downsample {
            Some(downsample) => downsample.forward(xs),
            None => xs.shallow_clone(),
        };
        let _ = branch.relu_();
        branch
    }
}

/// The whole network, batch norm folded, for inference only (no gradients, no batch
/// statistics).
#[derive(Debug)]
pub struct FoldedResNet {
    stem: FoldedConv,
    blocks: Vec<FoldedBlock>,
    fc_weight: Tensor,
    fc_bias: Tensor,
}

impl FoldedResNet {
    /// Folds the weights of an `arch` network held in `vs` (torchvision's names).
    pub fn new(vs: &VarStore, arch: Arch) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        let weights: HashMap<String, Tensor> = vs.variables().into_iter().map(|(name, tensor)| (name, tensor.detach())).collect();
        let stem = FoldedConv::new(&weights, "conv1", "bn1", 2)?;
        let (kind, depths) = layout(arch);
        let mut blocks = Vec::new();
        for (stage, &depth) in depths.iter().enumerate() {
            for block in 0..depth {
                let prefix = format!("layer{}.{block}", stage + 1);
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                // torchvision strides the first 3x3 convolution: conv1 in a basic block, conv2 in a bottleneck.
                let strided = match kind {
                    BlockKind::Basic => 1,
                    BlockKind::Bottleneck => 2,
                };
                let convs = (1..=(if kind == BlockKind::Basic { 2 } else { 3 }))
                    .map(|k| FoldedConv::new(&weights, &format!("{prefix}.conv{k}"), &format!("{prefix}.bn{k}"), if k == strided { stride } else { 1 }))
                    .collect::<Result<Vec<_>>>()?;
                let downsample = match weights.contains_key(&format!("{prefix}.downsample.0.weight")) {
                    true => Some(FoldedConv::new(&weights, &format!("{prefix}.downsample.0"), &format!("{prefix}.downsample.1"), stride)?),
                    false => None,
                };
                blocks.push(FoldedBlock { convs, downsample });
            }
        }
        let fc = |name: &str| weights.get(name).map(Tensor::shallow_clone).ok_or_else(|| Error::Libtorch(format!("cannot fold batch norm: no {name}")));
        Ok(FoldedResNet { stem, blocks, fc_weight: fc("fc.weight")?, fc_bias: fc("fc.bias")? })
    }

    /// The pooled features before the classifier: `[batch, width]`.
    pub fn features(&self, xs: &Tensor) -> Tensor {
        let mut x = self.stem.forward(xs);
        let _ = x.relu_();
        x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for block in &self.blocks {
            x = block.forward(&x);
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }

    /// The classifier's outputs.
    pub fn logits(&self, xs: &Tensor) -> Tensor {
        self.features(xs).linear(&self.fc_weight, Some(&self.fc_bias))
    }
}
