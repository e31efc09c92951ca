//! Fine-tuning from pretrained weights (fastai's freeze-then-unfreeze recipe), the
//! channels_last layout and bf16 autocast.
use crate::common;
use resnet_core::model::layout::is_channels_last;
use resnet_core::model::weights;
use resnet_core::precision::AutocastBf16;
use resnet_core::{train, Arch, Precision, Preprocess, SavedModel, TrainConfig};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use tch::{Device, Kind, Tensor};

fn config(root: &std::path::Path, output: &std::path::Path) -> TrainConfig {
    common::small_config(root, output, 2)
}

/// A "pretrained" network with 7 classes, unlike the 3 of the dataset, saved as a model
/// directory (the same safetensors names as a torchvision state_dict).
fn pretrained(dir: &std::path::Path, arch: Arch) -> HashMap<String, Tensor> {
    let classes = (0..7).map(|i| format!("c{i}")).collect();
    let model = SavedModel::new_seeded(1234, arch, classes, 32, Preprocess::standard(), None, Device::Cpu).unwrap();
    model.save(dir).unwrap();
    weights_of(&model)
}

fn weights_of(model: &SavedModel) -> HashMap<String, Tensor> {
    model.vs.variables().into_iter().map(|(name, tensor)| (name, tensor.contiguous())).collect()
}

fn max_difference(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn frozen_epochs_keep_the_pretrained_body_and_train_a_new_head() {
    let _alone = common::alone();
    let (root, weights_dir, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::write_dataset(root.path(), 10, 4);
    let original = pretrained(weights_dir.path(), Arch::Resnet18);

    let mut frozen = config(root.path(), output.path());
    frozen.pretrained = Some(weights_dir.path().join("model.safetensors"));
    frozen.freeze_epochs = 2;
    let outcome = train(&frozen, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let tuned = weights_of(&outcome.model);

    assert_eq!(tuned["fc.weight"].size(), [3, 512], "a new head sized for the dataset's 3 classes");
    for name in ["conv1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight", "layer3.0.downsample.0.weight"] {
        assert_eq!(max_difference(&tuned[name], &original[name]), 0.0, "{name} stays frozen");
    }
    // Batch norm trains with the head, as in fastai, and its running statistics follow the data.
    assert!(max_difference(&tuned["layer1.0.bn1.weight"], &original["layer1.0.bn1.weight"]) > 0.0);
    assert!(max_difference(&tuned["bn1.running_mean"], &original["bn1.running_mean"]) > 0.0);
}

#[test]
fn after_the_frozen_epochs_the_body_trains_too() {
    let _alone = common::alone();
    let (root, weights_dir, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::write_dataset(root.path(), 10, 4);
    let original = pretrained(weights_dir.path(), Arch::Resnet18);

    let mut config = config(root.path(), output.path());
    config.pretrained = Some(weights_dir.path().to_path_buf()); // a model directory works too
    config.freeze_epochs = 1;
    config.epochs = 2;
    let outcome = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let tuned = weights_of(&outcome.model);
    assert!(max_difference(&tuned["layer4.1.conv2.weight"], &original["layer4.1.conv2.weight"]) > 0.0);
    assert_eq!(outcome.history.len(), 2);
    // The unfrozen phase restarts the schedule: constant here, at the head's full rate.
    assert!((outcome.history[1].learning_rate - 0.001).abs() < 1e-12);
}

#[test]
fn pretrained_weights_of_another_arch_are_refused_with_the_reason() {
    let _alone = common::alone();
    let (root, weights_dir, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::write_dataset(root.path(), 4, 2);
    pretrained(weights_dir.path(), Arch::Resnet34);
    let mut config = config(root.path(), output.path());
    config.pretrained = Some(weights_dir.path().join("model.safetensors"));
    let error = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.code(), "ERR_MODEL_FILE");
    let message = error.to_string();
    assert!(message.contains("pretrained weights do not fit resnet18") && message.contains("model.safetensors"), "{message}");

    config.pretrained = None;
    config.freeze_epochs = 1;
    assert_eq!(train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap_err().code(), "ERR_INVALID_OPTION");
}

#[test]
fn channels_last_trains_like_the_standard_layout_and_saves_the_standard_one() {
    let _alone = common::alone();
    let root = tempfile::tempdir().unwrap();
    common::write_dataset(root.path(), 10, 4);
    let mut histories = Vec::new();
    for layout in [false, true] {
        let output = tempfile::tempdir().unwrap();
        let mut config = config(root.path(), output.path());
        config.channels_last = layout;
        // The tolerances below are float32's; 'auto' takes bf16 on a CPU where it measures
        // faster (an AMX Xeon), where the two layouts parted by 6% in the first epoch's loss.
        config.precision = Precision::Fp32;
        let outcome = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap();
        // On disk the weights are in the standard order whatever the layout in memory: the
        // file's bytes, read as a plain NCHW tensor, equal the model's weights.
        let (saved, _) = weights::read_file(&output.path().join("model.safetensors"), "layer1.0.conv1.weight").unwrap();
        let trained = outcome.model.vs.variables()["layer1.0.conv1.weight"].shallow_clone();
        assert_eq!(max_difference(&saved["layer1.0.conv1.weight"], &trained), 0.0);
        // The returned model, like a loaded one, is back in the standard layout for inference.
        assert!(trained.is_contiguous());
        histories.push(outcome.history);
    }
    // The same arithmetic in another memory order, equal up to summation order (see the
    // logits and gradients test; tests/train_step.rs finds the channels_last step equal to
    // PyTorch's to 1e-13 in float64). In float32 the rounding grows over the epoch's updates:
    // Adam's first steps are nearly sign(gradient), so gradients near zero flip: 0.5% apart
    // here since the classifier starts as torchvision's, and PyTorch's own channels_last and
    // contiguous resnet18 parted by 1% in loss within four steps on tests/train_step.rs's
    // batches. A scrambled layout differs by far more.
    let (standard, last) = (&histories[0], &histories[1]);
    assert!((standard[0].loss - last[0].loss).abs() < 2e-2 * standard[0].loss, "{standard:?} vs {last:?}");
    // By the second epoch both fit this set (loss about 0.002 from 1.1): equal to 0.02 absolute.
    assert!((standard[1].loss - last[1].loss).abs() < 0.02, "{standard:?} vs {last:?}");
}

#[test]
fn bf16_autocast_computes_convolutions_in_bfloat16_and_still_learns() {
    // Before drawing random numbers: libtorch's generator is global (see new_seeded).
    let _alone = common::alone();
    let input = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
    let weight = Tensor::randn([4, 3, 3, 3], (Kind::Float, Device::Cpu));
    let convolve = || input.conv2d(&weight, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
    {
        let _region = AutocastBf16::enter(Device::Cpu).unwrap();
        assert_eq!(convolve().kind(), Kind::BFloat16);
    }
    assert_eq!(convolve().kind(), Kind::Float, "the region ends with its guard");

    let (root, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    common::write_dataset(root.path(), 10, 4);
    let mut config = config(root.path(), output.path());
    config.precision = Precision::Bf16;
    config.epochs = 3;
    let outcome = train(&config, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let (first, last) = (&outcome.history[0], &outcome.history[2]);
    assert!(last.loss < first.loss, "bf16 training should learn: {} -> {}", first.loss, last.loss);
    assert_eq!(outcome.model.vs.variables()["fc.weight"].kind(), Kind::Float, "weights stay float32");
}

#[test]
fn channels_last_gives_the_same_logits_and_gradients() {
    use resnet_core::model::layout::{channels_last, convert_to_channels_last};
    use tch::nn::ModuleT;
    let _alone = common::alone();
    let classes: Vec<String> = (0..3).map(|i| format!("c{i}")).collect();
    let input = Tensor::randn([4, 3, 32, 32], (Kind::Float, Device::Cpu));
    let mut results = Vec::new();
    for layout in [false, true] {
        let model = SavedModel::new_seeded(5, Arch::Resnet18, classes.clone(), 32, Preprocess::standard(), None, Device::Cpu).unwrap();
        let x = if layout {
            convert_to_channels_last(&model.vs).unwrap();
            assert!(is_channels_last(&model.vs.variables()["layer1.0.conv1.weight"]));
            channels_last(&input).unwrap()
        } else {
            input.shallow_clone()
        };
        // Evaluation-mode batch norm: in training mode a 1x1 layer4 normalises over only the
        // batch's 4 values, and that division by a tiny variance magnifies rounding.
        let logits = model.net.forward_t(&x, false);
        logits.sum(Kind::Float).backward();
        let grad = model.vs.variables()["layer1.0.conv1.weight"].grad().contiguous();
        results.push((logits.contiguous(), grad));
    }
    let logit_difference = max_difference(&results[0].0, &results[1].0);
    let grad_scale = results[0].1.abs().max().double_value(&[]);
    let grad_difference = max_difference(&results[0].1, &results[1].1) / grad_scale;
    assert!(logit_difference < 1e-4, "logits differ by {logit_difference}");
    assert!(grad_difference < 1e-4, "gradients differ by {grad_difference} of their largest value {grad_scale}");
}
