//! The residual blocks of torchvision's ResNet, built on `nn::Path`s named like its
//! `state_dict` keys (`conv1`, `bn1`, `downsample.0`, ...), so weights move both ways.
use tch::nn::{self, ModuleT};
use tch::Tensor;

/// Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (out_channels * k * k)).
fn conv(p: nn::Path, in_channels: i64, out_channels: i64, kernel: i64, stride: i64, padding: i64) -> nn::Conv2D {
    let fan_out = (out_channels * kernel * kernel) as f64;
    let config = nn::ConvConfig {
        stride,
        padding,
        bias: false,
        ws_init: nn::Init::Randn { mean: 0.0, stdev: (2.0 / fan_out).sqrt() },
        ..Default::default()
    };
    nn::conv2d(p, in_channels, out_channels, kernel, config)
}

/// 3x3 convolution with padding 1, as torchvision's `conv3x3`.
pub fn conv3x3(p: nn::Path, in_channels: i64, out_channels: i64, stride: i64) -> nn::Conv2D {
    conv(p, in_channels, out_channels, 3, stride, 1)
}

/// 1x1 convolution, as torchvision's `conv1x1`.
pub fn conv1x1(p: nn::Path, in_channels: i64, out_channels: i64, stride: i64) -> nn::Conv2D {
    conv(p, in_channels, out_channels, 1, stride, 0)
}

/// The 7x7 stride-2 stem convolution.
pub fn stem_conv(p: nn::Path) -> nn::Conv2D {
    conv(p, 3, 64, 7, 2, 3)
}

/// Batch norm's epsilon (torchvision's); the ONNX export writes the same.
pub const BATCH_NORM_EPSILON: f64 = 1e-5;

/// Batch norm with weight 1 and bias 0 (torchvision's and the notebook's init).
pub fn batch_norm(p: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        eps: BATCH_NORM_EPSILON,
        ws_init: nn::Init::Const(1.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, channels, config)
}

/// The projection shortcut (`downsample.0` conv, `downsample.1` bn) used when the shape changes.
#[derive(Debug)]
pub struct Downsample {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
}

impl Downsample {
    pub fn new(p: nn::Path, in_channels: i64, out_channels: i64, stride: i64) -> Self {
        Downsample { conv: conv1x1(&p / "0", in_channels, out_channels, stride), bn: batch_norm(&p / "1", out_channels) }
    }

    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv).apply_t(&self.bn, train)
    }
}

/// Which residual block an architecture stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3x3 convolutions, expansion 1 (ResNet-18/34).
    Basic,
    /// 1x1, 3x3 (strided, as torchvision), 1x1 convolutions, expansion 4 (ResNet-50/101/152).
    Bottleneck,
}

impl BlockKind {
    pub fn expansion(self) -> i64 {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// One residual block: its convolution branch plus the identity or projection shortcut.
#[derive(Debug)]
pub struct Block {
    convs: Vec<(nn::Conv2D, nn::BatchNorm)>,
    downsample: Option<Downsample>,
}

impl Block {
    /// `planes` is the block's inner width; it outputs `planes * expansion` channels.
    pub fn new(p: nn::Path, kind: BlockKind, in_channels: i64, planes: i64, stride: i64) -> Self {
        let out_channels = planes * kind.expansion();
        let convs = match kind {
            BlockKind::Basic => vec![
                (conv3x3(&p / "conv1", in_channels, planes, stride), batch_norm(&p / "bn1", planes)),
                (conv3x3(&p / "conv2", planes, planes, 1), batch_norm(&p / "bn2", planes)),
            ],
            BlockKind::Bottleneck => vec![
                (conv1x1(&p / "conv1", in_channels, planes, 1), batch_norm(&p / "bn1", planes)),
                (conv3x3(&p / "conv2", planes, planes, stride), batch_norm(&p / "bn2", planes)),
                (conv1x1(&p / "conv3", planes, out_channels, 1), batch_norm(&p / "bn3", out_channels)),
            ],
        };
        let downsample = (stride != 1 || in_channels != out_channels)
            .then(|| Downsample::new(&p / "downsample", in_channels, out_channels, stride));
        Block { convs, downsample }
    }
}

impl ModuleT for Block {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        // In place where torchvision is (ReLU(inplace=True), `out += identity`): batch norm's
        // backward needs its input, not its output, so fewer activations are allocated.
        let last = self.convs.len() - 1;
        let mut branch = xs.shallow_clone();
        for (index, (conv, bn)) in self.convs.iter().enumerate() {
            branch = branch.apply(conv).apply_t(bn, train);
            if index != last {
                let _ = branch.relu_();
            }
        }
        let shortcut = match &self.downsample {
            Some(downsample) => downsample.forward_t(xs, train),
            None => xs.shallow_clone(),
        };
        branch += shortcut;
        let _ = branch.relu_();
        branch
    }
}
