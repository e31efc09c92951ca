//! The project's optimisers against torch.optim: the same parameters, gradients and
//! learning-rate schedule give the same parameters after several updates, with weight decay
//! on convolution weights only (batch-norm weights and biases in a group without it).
//! Python side: tests/parity/optimizer_side.py (PYTHONPATH from RESNET_NAPI_TEST_PYTHONPATH).
use crate::common;
use resnet_core::ScheduleKind;
use resnet_core::model::layout::{convert_to_channels_last, is_channels_last};
use resnet_core::train::optimizer::Optimizer;
use resnet_core::train::schedule::Schedule;
use resnet_core::{OptimizerConfig, OptimizerKind};
use std::path::Path;
use std::process::Command;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const STEPS: usize = 6;
const NAMES: [&str; 3] = ["conv1.weight", "bn1.weight", "fc.bias"];

fn filled(shape: &[i64], offset: f64) -> Tensor {
    let count: i64 = shape.iter().product();
    (Tensor::arange(count, (Kind::Float, Device::Cpu)) * 0.37 + offset).sin().reshape(shape)
}

fn run_torch(dir: &Path) {
    let pythonpath = std::env::var("RESNET_NAPI_TEST_PYTHONPATH")
        .expect("RESNET_NAPI_TEST_PYTHONPATH must name torch + safetensors: run through scripts/test.sh");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/optimizer_side.py");
    let output = Command::new("python3").arg(script).arg(dir).env("PYTHONPATH", pythonpath).env_remove("LD_LIBRARY_PATH").output().unwrap();
    assert!(output.status.success(), "torch side failed: {}", String::from_utf8_lossy(&output.stderr));
}

fn compare(kind: OptimizerKind, nesterov: bool) {
    let dir = tempfile::tempdir().unwrap();
    let vs = VarStore::new(Device::Cpu);
    let shapes: [&[i64]; 3] = [&[4, 3, 2, 2], &[4], &[5]];
    let root = vs.root();
    let params: Vec<Tensor> = NAMES
        .iter()
        .zip(shapes)
        .map(|(name, shape)| {
            let (module, leaf) = name.split_once('.').unwrap();
            (&root / module).var_copy(leaf, &filled(shape, 0.3))
        })
        .collect();
    let targets: Vec<Tensor> = shapes.iter().map(|shape| filled(shape, 1.1) * 2.0).collect();
    let weights: Vec<Tensor> = shapes.iter().map(|shape| filled(shape, 2.7).abs() + 0.5).collect();
    let schedule = Schedule::new(ScheduleKind::Cosine, 0.5, 4);
    let lrs: Vec<f32> = (0..STEPS).map(|step| schedule.rate(0.05, step, STEPS) as f32).collect();

    let mut start: Vec<(String, Tensor)> = vec![("lrs".into(), Tensor::from_slice(&lrs))];
    for (index, name) in NAMES.iter().enumerate() {
        start.push((format!("param.{name}"), params[index].detach().copy()));
        start.push((format!("target.{name}"), targets[index].shallow_clone()));
        start.push((format!("weight.{name}"), weights[index].shallow_clone()));
    }
    Tensor::write_safetensors(&start, dir.path().join("start.safetensors")).unwrap();
    let kind_name = match kind {
        OptimizerKind::Adam => "adam",
        OptimizerKind::AdamW => "adamw",
        OptimizerKind::Sgd => "sgd",
    };
    let setup = serde_json::json!({ "names": NAMES, "decayed": ["conv1.weight"], "weightDecay": 0.1, "kind": kind_name, "nesterov": nesterov });
    std::fs::write(dir.path().join("setup.json"), setup.to_string()).unwrap();

    let mut config = OptimizerConfig::new(kind);
    config.weight_decay = 0.1;
    config.nesterov = nesterov;
    let mut optimizer = Optimizer::new(&vs, config).unwrap();
    for &lr in &lrs {
        optimizer.zero_grad().unwrap();
        let loss = params
            .iter()
            .zip(&targets)
            .zip(&weights)
            .map(|((p, t), w)| ((p - t).square() * w).sum(Kind::Float))
            .fold(Tensor::zeros([], (Kind::Float, Device::Cpu)), |sum, term| sum + term);
        loss.backward();
        optimizer.step(lr as f64).unwrap();
    }

    run_torch(dir.path());
    let theirs = Tensor::read_safetensors(dir.path().join("torch.safetensors")).unwrap();
    for (index, name) in NAMES.iter().enumerate() {
        let torch_param = &theirs.iter().find(|(n, _)| n == &format!("param.{name}")).unwrap().1;
        let difference = (&params[index] - torch_param).abs().max().double_value(&[]);
        assert!(difference < 1e-6, "{kind_name} {name}: largest difference {difference}");
    }
}

#[test]
fn adam_matches_torch_optim() {
    let _alone = common::alone();
    compare(OptimizerKind::Adam, false);
}

#[test]
fn adamw_matches_torch_optim() {
    let _alone = common::alone();
    compare(OptimizerKind::AdamW, false);
}

#[test]
fn sgd_with_momentum_and_nesterov_matches_torch_optim() {
    let _alone = common::alone();
    compare(OptimizerKind::Sgd, false);
    compare(OptimizerKind::Sgd, true);
}

#[test]
fn schedules_follow_their_definitions() {
    let _alone = common::alone();
    let base = 0.1;
    let constant = Schedule::new(ScheduleKind::Constant, 1.0, 10);
    assert!((constant.rate(base, 4, 100) - 0.05).abs() < 1e-12, "linear warm-up");
    assert_eq!(constant.rate(base, 50, 100), base);
    let cosine = Schedule::new(ScheduleKind::Cosine, 0.0, 10);
    assert!((cosine.rate(base, 0, 100) - base).abs() < 1e-12);
    assert!((cosine.rate(base, 50, 100) - base / 2.0).abs() < 1e-12);
    assert!(cosine.rate(base, 99, 100) < 1e-4);
    // OneCycleLR: starts at base/25, peaks at base 30% in, ends at base/25/1e4.
    let one_cycle = Schedule::new(ScheduleKind::OneCycle, 0.0, 10);
    assert!((one_cycle.rate(base, 0, 100) - base / 25.0).abs() < 1e-12);
    assert!((one_cycle.rate(base, 29, 100) - base).abs() < 1e-12);
    assert!((one_cycle.rate(base, 99, 100) - base / 25.0 / 1e4).abs() < 1e-12);
}

/// Adam on channels_last parameters (their NHWC view goes to the fused kernel) takes the same
/// steps as on standard-layout ones, and leaves the parameters channels_last.
#[test]
fn adam_on_channels_last_parameters_matches_the_standard_layout() {
    let _alone = common::alone();
    let run = |channels_last: bool| {
        let vs = VarStore::new(Device::Cpu);
        let weight = (&vs.root() / "conv1").var_copy("weight", &filled(&[8, 3, 3, 3], 0.3));
        if channels_last {
            convert_to_channels_last(&vs).unwrap();
        }
        let target = filled(&[8, 3, 3, 3], 1.1);
        let mut optimizer = Optimizer::new(&vs, OptimizerConfig::new(OptimizerKind::Adam)).unwrap();
        for step in 0..STEPS {
            optimizer.zero_grad().unwrap();
            ((&weight - &target).square() * (step as f64 + 1.0)).sum(Kind::Float).backward();
            optimizer.step(0.05).unwrap();
        }
        assert_eq!(is_channels_last(&weight), channels_last);
        weight.detach().contiguous()
    };
    let difference = (run(true) - run(false)).abs().max().double_value(&[]);
    assert!(difference < 1e-7, "largest difference {difference}");
}
