//! Every architecture builds with torchvision's parameter names and gives [batch, classes].
use crate::common;
use resnet_core::model::resnet::ResNet;
use resnet_core::Arch;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

#[test]
fn every_arch_gives_batch_by_classes() {
    let _alone = common::alone();
    for arch in Arch::ALL {
        let vs = VarStore::new(Device::Cpu);
        let net = ResNet::new(&vs.root(), arch, 7);
        let input = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        let output = tch::no_grad(|| net.forward_t(&input, false));
        assert_eq!(output.size(), vec![2, 7], "{}", arch.name());
    }
}

#[test]
fn parameter_names_match_torchvision_state_dict() {
    let _alone = common::alone();
    // torchvision's state_dict key counts, less the num_batches_tracked buffers (one per BN).
    for (arch, expected) in [(Arch::Resnet18, 122 - 20), (Arch::Resnet50, 320 - 53)] {
        let vs = VarStore::new(Device::Cpu);
        let _net = ResNet::new(&vs.root(), arch, 1000);
        let names = vs.variables();
        assert_eq!(names.len(), expected, "{}", arch.name());
        for key in ["conv1.weight", "bn1.running_var", "layer2.0.downsample.0.weight", "layer4.1.bn2.bias", "fc.weight", "fc.bias"] {
            assert!(names.contains_key(key), "{} lacks {key}", arch.name());
        }
    }
    let vs = VarStore::new(Device::Cpu);
    let _net = ResNet::new(&vs.root(), Arch::Resnet50, 10);
    let names = vs.variables();
    // The Bottleneck builds its whole residual branch, and layer1 projects 64 -> 256 channels.
    assert_eq!(names["layer1.0.conv3.weight"].size(), vec![256, 64, 1, 1]);
    assert_eq!(names["layer1.0.downsample.0.weight"].size(), vec![256, 64, 1, 1]);
    assert_eq!(names["layer2.0.conv2.weight"].size(), vec![128, 128, 3, 3]);
    assert_eq!(names["fc.weight"].size(), vec![10, 2048]);
}

#[test]
fn initialisation_follows_torchvision() {
    let _alone = common::alone();
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let _net = ResNet::new(&vs.root(), Arch::Resnet18, 10);
    let names = vs.variables();
    let std = |name: &str| names[name].std(true).double_value(&[]);
    let largest = |name: &str| names[name].abs().max().double_value(&[]);
    // Kaiming normal, fan_out: std = sqrt(2 / (out * k * k)).
    let expected = (2.0f64 / (64.0 * 49.0)).sqrt();
    assert!((std("conv1.weight") - expected).abs() / expected < 0.05, "conv1 std {}", std("conv1.weight"));
    // nn.Linear's default: weight and bias uniform in +-1/sqrt(512), so std = bound / sqrt(3).
    let bound = 1.0 / 512f64.sqrt();
    assert!((std("fc.weight") - bound / 3f64.sqrt()).abs() / (bound / 3f64.sqrt()) < 0.05, "fc std {}", std("fc.weight"));
    assert!(largest("fc.weight") <= bound && largest("fc.bias") <= bound);
    assert!(largest("fc.bias") > 0.0, "the bias is drawn too, not zero");
    assert_eq!(names["bn1.weight"].mean(Kind::Float).double_value(&[]), 1.0);
    assert_eq!(names["bn1.bias"].abs().sum(Kind::Float).double_value(&[]), 0.0);
}

/// DDP lays its gradient buckets out like the parameters and warns when a gradient comes with
/// other strides ("Grad strides do not match bucket view strides"), comparing size-1
/// dimensions too. After the conversion to channels_last, every weight, 1x1 downsampling
/// convolutions included, must have the strides its gradient gets.
#[test]
fn channels_last_weights_have_their_gradients_strides() {
    let _alone = common::alone();
    let vs = VarStore::new(Device::Cpu);
    let net = ResNet::new(&vs.root(), Arch::Resnet50, 5);
    resnet_core::model::layout::convert_to_channels_last(&vs).unwrap();
    let input = resnet_core::model::layout::channels_last(&Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu))).unwrap();
    net.forward_t(&input, true).sum(Kind::Float).backward();
    let mut checked = 0;
    for (name, weight) in vs.variables() {
        if weight.dim() != 4 {
            continue;
        }
        assert_eq!(weight.grad().stride(), weight.stride(), "{name} {:?}", weight.size());
        checked += 1;
    }
    assert!(checked > 50, "{checked} convolution weights");
}
