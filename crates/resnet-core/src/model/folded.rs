//! The network for inference with every batch norm folded into the convolution before it: in
//! eval mode batch norm is `x * scale + shift` per channel, with `scale = weight / sqrt(var +
//! eps)` and `shift = bias - mean * scale`, so a convolution `w` followed by it equals one
//! convolution with weight `w * scale` and bias `shift`. That removes a pass over every
//! activation map (about a third of the layers). Built from the model's weights by their
//! torchvision names; the model keeps its own weights for saving, export and training. On the
//! CPU, `packed` moves it onto oneDNN's fused convolutions, in float32 or in bfloat16.
use super::blocks::{BlockKind, BATCH_NORM_EPSILON};
use super::fused_conv::{self, Geometry};
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
    weights: Weights,
    bias: Tensor,
    geometry: Geometry,
}

/// A folded convolution's weight: plain, or packed for oneDNN's fused convolutions (see
/// `fused_conv`) twice, as oneDNN lays weights out for a lone image unlike for a batch: a
/// resnet50 on weights packed for batch 1 takes 1.5-2x longer over a batch of 16, and on
/// weights packed for a batch 3x longer over one image (any batch of 2 or more shares one
/// layout; measured on a 2-core AVX-512 Xeon, docs/NOTES.md "Serving").
#[derive(Debug)]
enum Weights {
    Plain(Tensor),
    Packed { single: Tensor, batched: Tensor },
}

impl FoldedConv {
    /// The plain convolution `conv` (a `.weight` name prefix) followed by the batch norm `bn`.
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
        let geometry = Geometry { stride, padding: weight.size()[2] / 2 };
        Ok(FoldedConv { weights: Weights::Plain(folded), bias, geometry })
    }

    /// The side of this convolution's output for an input `side` pixels square.
    fn output_side(&self, side: i64) -> i64 {
        // Kernels are odd and square, padded by half their side: k = 2 * padding + 1.
        let Geometry { stride, padding } = self.geometry;
        (side + 2 * padding - (2 * padding + 1)) / stride + 1
    }

    /// The same convolution computing in `kind`, its weight packed for the fused convolutions
    /// on inputs `side` pixels square.
    fn packed(self, side: i64, kind: Kind) -> Result<Self> {
        let Weights::Plain(weight) = &self.weights else { return Ok(self) };
        let weight = weight.f_to_kind(kind)?;
        let channels = weight.size()[1];
        let single = fused_conv::pack(&weight, self.geometry, [1, channels, side, side])?;
        let batched = fused_conv::pack(&weight, self.geometry, [2, channels, side, side])?;
        Ok(FoldedConv { weights: Weights::Packed { single, batched }, bias: self.bias.f_to_kind(kind)?, ..self })
    }

    /// The convolution, then ReLU when `relu`.
    fn forward(&self, xs: &Tensor, relu: bool) -> Result<Tensor> {
        let weight = match &self.weights {
            Weights::Plain(weight) => weight,
            Weights::Packed { single, batched } => {
                return fused_conv::conv(xs, packed_for(xs, single, batched), &self.bias, self.geometry, relu);
            }
        };
        let mut output = self.plain(xs, weight)?;
        if relu {
            let _ = output.f_relu_()?;
        }
        Ok(output)
    }

    /// `ReLU(convolution + residual)`, the end of a residual block; `residual` is used up.
    fn forward_add_relu(&self, xs: &Tensor, residual: Tensor) -> Result<Tensor> {
        let weight = match &self.weights {
            Weights::Plain(weight) => weight,
            Weights::Packed { single, batched } => {
                return fused_conv::conv_add_relu(residual, xs, packed_for(xs, single, batched), &self.bias, self.geometry);
            }
        };
        let mut output = self.plain(xs, weight)?;
        let _ = output.f_add_(&residual)?;
        let _ = output.f_relu_()?;
        Ok(output)
    }

    fn plain(&self, xs: &Tensor, weight: &Tensor) -> Result<Tensor> {
        let Geometry { stride, padding } = self.geometry;
        Ok(xs.f_conv2d(weight, Some(&self.bias), [stride; 2], [padding; 2], [1, 1], 1)?)
    }

    fn is_fused(&self) -> bool {
        matches!(self.weights, Weights::Packed { .. })
    }
}

/// The packed weight laid out for `xs`'s batch size.
fn packed_for<'a>(xs: &Tensor, single: &'a Tensor, batched: &'a Tensor) -> &'a Tensor {
    if xs.size().first() == Some(&1) {
        single
    } else {
        batched
    }
}

#[derive(Debug)]
struct FoldedBlock {
    convs: Vec<FoldedConv>,
    downsample: Option<FoldedConv>,
}

impl FoldedBlock {
    /// The block's output; `xs` is used up (its memory may hold the output).
    fn forward(&self, xs: Tensor) -> Result<Tensor> {
        let Some((last, inner)) = self.convs.split_last() else { return Ok(xs) };
        let mut branch = xs.shallow_clone();
        for conv in inner {
            branch = conv.forward(&branch, true)?;
        }
        let residual = match &self.downsample {
            Some(downsample) => downsample.forward(&xs, false)?,
            None => xs,
        };
        last.forward_add_relu(&branch, residual)
    }

    /// The block with its convolutions packed for inputs `side` pixels square, in `kind`.
    fn packed(self, side: i64, kind: Kind) -> Result<Self> {
        let downsample = self.downsample.map(|conv| conv.packed(side, kind)).transpose()?;
        let mut convs = Vec::with_capacity(self.convs.len());
        let mut conv_side = side;
        for conv in self.convs {
            let next = conv.output_side(conv_side);
            convs.push(conv.packed(conv_side, kind)?);
            conv_side = next;
        }
        Ok(FoldedBlock { convs, downsample })
    }

    fn output_side(&self, side: i64) -> i64 {
        self.convs.iter().fold(side, |side, conv| conv.output_side(side))
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
    /// What the convolutions compute in: float32, or bfloat16 once `packed` so.
    kind: Kind,
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
        Ok(FoldedResNet { stem, blocks, fc_weight: fc("fc.weight")?, fc_bias: fc("fc.bias")?, kind: Kind::Float })
    }

    /// The same network on oneDNN's fused convolutions (`fused_conv`) computing in `kind`
    /// (float32, or bfloat16: the weights rounded once here rather than by autocast on every
    /// pass), its weights packed for inputs `image_size` pixels square (other sizes still
    /// work). Only for a network folded on the CPU, where `fused_conv::enabled(kind)`.
    pub fn packed(self, image_size: i64, kind: Kind) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        let after_stem = self.stem.output_side(image_size);
        let stem = self.stem.packed(image_size, kind)?;
        // The max pooling after the stem: 3x3, stride 2, padding 1.
        let mut side = (after_stem + 2 - 3) / 2 + 1;
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for block in self.blocks {
            let next = block.output_side(side);
            blocks.push(block.packed(side, kind)?);
            side = next;
        }
        Ok(FoldedResNet { stem, blocks, kind, ..self })
    }

    /// Whether the network runs on the fused convolutions (`packed`).
    pub fn is_fused(&self) -> bool {
        self.stem.is_fused()
    }

    /// The pooled features before the classifier: `[batch, width]`, in float32. A bfloat16
    /// network takes its input in float32 and pools in float32 (autocast would pool and
    /// classify in bfloat16: the last map is small, and this rounds less).
    pub fn features(&self, xs: &Tensor) -> Result<Tensor> {
        let xs = xs.f_to_kind(self.kind)?;
        let mut x = self.stem.forward(&xs, true)?.f_max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false)?;
        for block in &self.blocks {
            x = block.forward(x)?;
        }
        Ok(x.f_to_kind(Kind::Float)?.f_adaptive_avg_pool2d([1, 1])?.f_flatten(1, -1)?)
    }

    /// The classifier's outputs.
    pub fn logits(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(self.features(xs)?.f_linear(&self.fc_weight, Some(&self.fc_bias))?)
    }
}
