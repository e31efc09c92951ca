//! torchvision's ResNet: stem, four stages of residual blocks, average pool, linear head.
use super::blocks::{batch_norm, stem_conv, Block, BlockKind};
use crate::model::arch::Arch;
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// Block kind and blocks per stage, as in torchvision's `resnet18` ... `resnet152`.
pub fn layout(arch: Arch) -> (BlockKind, [i64; 4]) {
    match arch {
        Arch::Resnet18 => (BlockKind::Basic, [2, 2, 2, 2]),
        Arch::Resnet34 => (BlockKind::Basic, [3, 4, 6, 3]),
        Arch::Resnet50 => (BlockKind::Bottleneck, [3, 4, 6, 3]),
        Arch::Resnet101 => (BlockKind::Bottleneck, [3, 4, 23, 3]),
        Arch::Resnet152 => (BlockKind::Bottleneck, [3, 8, 36, 3]),
    }
}

/// Whether a torchvision parameter name belongs to a batch-norm layer (`bn1`, `layer1.0.bn2`,
/// `layer2.0.downsample.1`).
pub fn is_batch_norm(name: &str) -> bool {
    name.starts_with("bn") || name.contains(".bn") || name.contains("downsample.1.")
}

/// Width of the pooled features `arch` feeds its classifier (512 or 2048), without building it.
pub fn classifier_width(arch: Arch) -> i64 {
    512 * layout(arch).0.expansion()
}

/// torchvision's `nn.Linear` default (Kaiming uniform with a = sqrt(5)): weight and bias
/// uniform in +-1/sqrt(fan_in). An N(0, 0.01) weight with a zero bias, as this project once
/// had, cost about 8 points of validation accuracy on real photos with random crops
/// (docs/NOTES.md, "Real photos"): the head starts 2.5x smaller, so the body's early
/// gradients are weaker.
fn classifier_init(fan_in: i64) -> nn::LinearConfig {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let uniform = nn::Init::Uniform { lo: -bound, up: bound };
    nn::LinearConfig { ws_init: uniform, bs_init: Some(uniform), bias: true }
}

#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    stages: Vec<Vec<Block>>,
    fc: nn::Linear,
    feature_width: i64,
}

impl ResNet {
    /// Builds the network under `root` with fresh weights, initialised as torchvision's:
    /// Kaiming normal (fan_out) convs, BN weight 1 / bias 0, and the classifier as
    /// `nn.Linear`'s default.
    pub fn new(root: &nn::Path, arch: Arch, classes: i64) -> ResNet {
        let (kind, depths) = layout(arch);
        let conv1 = stem_conv(root / "conv1");
        let bn1 = batch_norm(root / "bn1", 64);
        let mut in_channels = 64;
        let mut stages = Vec::with_capacity(4);
        for (index, (&depth, planes)) in depths.iter().zip([64, 128, 256, 512]).enumerate() {
            let stage_path = root / format!("layer{}", index + 1);
            let first_stride = if index == 0 { 1 } else { 2 };
            let blocks = (0..depth)
                .map(|block| {
                    let stride = if block == 0 { first_stride } else { 1 };
                    let built = Block::new(&stage_path / block, kind, in_channels, planes, stride);
                    in_channels = planes * kind.expansion();
                    built
                })
                .collect();
            stages.push(blocks);
        }
        let fc = nn::linear(root / "fc", in_channels, classes, classifier_init(in_channels));
        ResNet { conv1, bn1, stages, fc, feature_width: in_channels }
    }

    /// Whether the weights are laid out channels_last (the stem's convolution stands for all).
    pub fn is_channels_last(&self) -> bool {
        super::layout::is_channels_last(&self.conv1.ws)
    }

    /// Width of the pooled features fed to the classifier (512 or 2048).
    pub fn feature_width(&self) -> i64 {
        self.feature_width
    }

    /// The pooled features before the classifier: `[batch, feature_width]`.
    pub fn features_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.conv1).apply_t(&self.bn1, train);
        let _ = x.relu_();
        x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        for stage in &self.stages {
            for block in stage {
                x = block.forward_t(&x, train);
            }
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.features_t(xs, train).apply(&self.fc)
    }
}
