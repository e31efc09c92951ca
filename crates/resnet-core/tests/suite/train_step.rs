//! The training step and the initial weights against PyTorch:
//! - from the same initial weights, on the same batches, the project's step (the standard
//!   recipe's AdamW with weight decay off batch norm and biases, one-cycle rates, label
//!   smoothing, optional class weights and clipping) leaves the same weights and batch-norm
//!   running statistics as torchvision's resnet18 trained by torch.optim;
//! - a freshly built network is distributed as torchvision's, tensor by tensor, for every
//!   arch. The classifier once started as N(0, 0.01) with a zero bias instead of `nn.Linear`'s
//!   default, which cost about 8 points on real photos; this is the check that catches it.
//!
//! Python side: tests/parity/train_step_side.py (PYTHONPATH from RESNET_NAPI_TEST_PYTHONPATH).
use crate::common;

use resnet_core::model::layout::{channels_last, convert_to_channels_last};
use resnet_core::model::saved::SavedModel;
use resnet_core::train::optimizer::Optimizer;
use resnet_core::train::schedule::Schedule;
use resnet_core::train::step::{train_step, StepSettings};
use resnet_core::{Arch, OptimizerKind, Preprocess, Recipe, ScheduleKind};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Reduction, Tensor};

const CLASSES: usize = 5;
const STEPS: usize = 4;
const BATCH: i64 = 8;
const SIZE: i64 = 48;

fn python(mode: &str, dir: &Path) {
    let pythonpath = std::env::var("RESNET_NAPI_TEST_PYTHONPATH")
        .expect("RESNET_NAPI_TEST_PYTHONPATH must name torch + torchvision + safetensors: run through scripts/test.sh");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/train_step_side.py");
    let output = Command::new("python3").arg(script).arg(mode).arg(dir).env("PYTHONPATH", pythonpath).env_remove("LD_LIBRARY_PATH").output().unwrap();
    assert!(output.status.success(), "PyTorch side failed: {}", String::from_utf8_lossy(&output.stderr));
}

fn class_names() -> Vec<String> {
    (0..CLASSES).map(|i| format!("c{i}")).collect()
}

struct Variant {
    channels_last: bool,
    class_weights: bool,
    gradient_clip: Option<f64>,
}

/// Trains both sides STEPS updates from the same weights on the same batches; returns the
/// largest difference in any weight or running statistic, and in the per-step losses.
fn compare_steps(variant: Variant) -> (f64, f64) {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let mut model = SavedModel::new_seeded(3, Arch::Resnet18, class_names(), SIZE as u32, Preprocess::standard(), None, Device::Cpu).unwrap();
    // In float64: Adam's first steps are nearly sign(gradient), so float32 rounding in
    // gradients close to zero grows within four steps into differences as large as a changed
    // rule makes (PyTorch against itself, channels_last against contiguous: 7.6e-3). In
    // float64 the same run agrees to far below what any rule change moves.
    model.vs.double();
    let initial: Vec<(String, Tensor)> = model.vs.variables().into_iter().map(|(name, tensor)| (name, tensor.contiguous())).collect();
    Tensor::write_safetensors(&initial, dir.path().join("initial.safetensors")).unwrap();
    if variant.channels_last {
        convert_to_channels_last(&model.vs).unwrap();
    }

    tch::manual_seed(11);
    let schedule = Schedule::new(ScheduleKind::OneCycle, 0.0, STEPS);
    let lrs: Vec<f64> = (0..STEPS).map(|step| schedule.rate(Recipe::Standard.learning_rate(), step, STEPS)).collect();
    let mut batches = vec![("lrs".to_string(), Tensor::from_slice(&lrs))];
    for index in 0..STEPS {
        batches.push((format!("input.{index}"), Tensor::randn([BATCH, 3, SIZE, SIZE], (Kind::Double, Device::Cpu))));
        batches.push((format!("labels.{index}"), Tensor::randint(CLASSES as i64, [BATCH], (Kind::Int64, Device::Cpu))));
    }
    let class_weights = variant.class_weights.then(|| Tensor::from_slice(&[0.5f64, 2.0, 1.0, 0.8, 1.7]));
    if let Some(weights) = &class_weights {
        batches.push(("classWeights".into(), weights.shallow_clone()));
    }
    Tensor::write_safetensors(&batches, dir.path().join("batches.safetensors")).unwrap();
    let optimizer_config = Recipe::Standard.optimizer(OptimizerKind::AdamW);
    let setup = serde_json::json!({
        "classes": CLASSES,
        "channelsLast": variant.channels_last,
        "weightDecay": optimizer_config.weight_decay,
        "labelSmoothing": Recipe::Standard.label_smoothing(),
        "gradientClip": variant.gradient_clip,
    });
    std::fs::write(dir.path().join("setup.json"), setup.to_string()).unwrap();

    let settings = StepSettings {
        label_smoothing: Recipe::Standard.label_smoothing(),
        class_weights,
        gradient_clip: variant.gradient_clip,
        bf16: false,
        device: Device::Cpu,
        freeze_batch_norm: false,
    };
    let mut optimizer = Optimizer::new(&model.vs, optimizer_config).unwrap();
    let named: HashMap<String, Tensor> = batches.into_iter().collect();
    let mut losses = Vec::new();
    for (index, &lr) in lrs.iter().enumerate() {
        let mut input = named[&format!("input.{index}")].shallow_clone();
        if variant.channels_last {
            input = channels_last(&input).unwrap();
        }
        let labels = &named[&format!("labels.{index}")];
        let logits = train_step(&model.net, &mut optimizer, &input, labels, lr, &settings).unwrap();
        let loss = logits.cross_entropy_loss(labels, settings.class_weights.as_ref(), Reduction::Mean, -100, settings.label_smoothing);
        losses.push(loss.double_value(&[]));
    }

    python("step", dir.path());
    let theirs: HashMap<String, Tensor> = Tensor::read_safetensors(dir.path().join("torch.safetensors")).unwrap().into_iter().collect();
    let mut largest = 0f64;
    for (name, ours) in model.vs.variables() {
        let reference = theirs.get(&name).unwrap_or_else(|| panic!("PyTorch's state lacks {name}"));
        let difference = (ours.contiguous() - reference).abs().max().double_value(&[]);
        largest = largest.max(difference);
    }
    let their_losses = Vec::<f64>::try_from(theirs["losses"].to_kind(Kind::Double)).unwrap();
    let loss_difference = losses.iter().zip(&their_losses).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    (largest, loss_difference)
}

// Measured: equal (0) in the standard layout, 1.1e-13 channels_last with class weights and
// clipping, losses alike. A changed rule moves far more: weight decay on batch norm alone
// shifts those weights by lr x 0.05 x 1 = 1.5e-4 in one step.
const WEIGHT_TOLERANCE: f64 = 1e-9;
const LOSS_TOLERANCE: f64 = 1e-9;

#[test]
fn the_standard_recipes_step_matches_torch_optim_and_torchvision() {
    let (weights, losses) = compare_steps(Variant { channels_last: false, class_weights: false, gradient_clip: None });
    assert!(weights < WEIGHT_TOLERANCE, "largest weight difference {weights}");
    assert!(losses < LOSS_TOLERANCE, "largest loss difference {losses}");
}

#[test]
fn a_channels_last_step_with_class_weights_and_clipping_matches_pytorch() {
    let (weights, losses) = compare_steps(Variant { channels_last: true, class_weights: true, gradient_clip: Some(0.5) });
    assert!(weights < WEIGHT_TOLERANCE, "largest weight difference {weights}");
    assert!(losses < LOSS_TOLERANCE, "largest loss difference {losses}");
}

#[test]
fn fresh_weights_are_distributed_as_torchvisions() {
    let dir = tempfile::tempdir().unwrap();
    python("init", dir.path());
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("init.json")).unwrap()).unwrap();
    let classes: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
    for arch in Arch::ALL {
        let model = {
            let _alone = common::alone();
            SavedModel::new_seeded(0, arch, classes.clone(), 64, Preprocess::standard(), None, Device::Cpu).unwrap()
        };
        let theirs = report[arch.name()].as_object().unwrap();
        let ours: HashMap<String, Tensor> = model.vs.variables().into_iter().collect();
        assert_eq!(ours.len(), theirs.len(), "{}: tensor count", arch.name());
        for (name, reference) in theirs {
            let tensor = ours.get(name).unwrap_or_else(|| panic!("{}: no {name}", arch.name())).to_kind(Kind::Double);
            let shape: Vec<i64> = serde_json::from_value(reference["shape"].clone()).unwrap();
            assert_eq!(tensor.size(), shape, "{}: shape of {name}", arch.name());
            let count = tensor.numel() as f64;
            let (their_mean, their_std) = (reference["mean"].as_f64().unwrap(), reference["std"].as_f64().unwrap());
            let std = if count > 1.0 { tensor.std(true).double_value(&[]) } else { 0.0 };
            let mean = tensor.mean(Kind::Double).double_value(&[]);
            // A sample's std is off by about 1/sqrt(2n) of itself, its mean by std/sqrt(n).
            let std_tolerance = their_std * (0.05 + 3.0 / (2.0 * count).sqrt()) + 1e-12;
            assert!((std - their_std).abs() <= std_tolerance, "{}: {name} std {std}, torchvision's {their_std}", arch.name());
            // Both means are samples: their difference has sqrt(2) times a sample's spread.
            let mean_tolerance = 6.0 * std::f64::consts::SQRT_2 * their_std / count.sqrt() + 1e-12;
            assert!((mean - their_mean).abs() <= mean_tolerance, "{}: {name} mean {mean}, torchvision's {their_mean}", arch.name());
            // Uniform initialisations have a hard bound, which a large sample reaches.
            if count >= 1000.0 {
                let max_abs = tensor.abs().max().double_value(&[]);
                let their_max = reference["maxAbs"].as_f64().unwrap();
                assert!(max_abs <= their_max * 1.5 + 1e-12, "{}: {name} largest magnitude {max_abs}, torchvision's {their_max}", arch.name());
            }
        }
    }
}
