//! Parity with torchvision, both ways, for every ResNet: a torchvision state_dict saved as
//! safetensors beside a model.json loads here and gives the same float32 CPU logits (1e-4),
//! and a model saved here loads into torchvision with `load_state_dict` and does too.
//!
//! The torchvision side runs in Python (tests/parity/torchvision_side.py) with the
//! PYTHONPATH in RESNET_NAPI_TEST_PYTHONPATH, which scripts/test.sh sets from
//! bench/setup-python.sh (torch 2.11.0, torchvision 0.26.0, safetensors).
use crate::common;
use crate::common::randomise_batch_norm;
use resnet_core::model::saved::SavedModel;
use resnet_core::inference::Output;
use resnet_core::{Arch, Precision, Preprocess};
use std::path::Path;
use std::process::Command;
use tch::{Device, Tensor};

const TOLERANCE: f64 = 1e-4;

fn python(mode: &str, dir: &Path) -> String {
    let pythonpath = std::env::var("RESNET_NAPI_TEST_PYTHONPATH")
        .expect("RESNET_NAPI_TEST_PYTHONPATH must name torch + torchvision + safetensors: run through scripts/test.sh");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parity/torchvision_side.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(mode)
        .arg(dir)
        .env("PYTHONPATH", pythonpath)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "torchvision side failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn input(dir: &Path) -> Tensor {
    let named = Tensor::read_safetensors(dir.join("input.safetensors")).unwrap();
    named.into_iter().find(|(name, _)| name == "input").unwrap().1
}

/// The logits of inference's own path (which follows the model's layout), in float32 (the
/// precision torchvision's side computes in; 'auto' may pick bf16 on this processor).
fn logits(model: &mut SavedModel, input: &Tensor) -> Tensor {
    model.precision = Precision::Fp32;
    model.run_network(input, Output::Logits).unwrap()
}

#[test]
fn torchvision_weights_load_here_and_give_the_same_logits() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    python("export", dir.path());
    let input = input(dir.path());
    for arch in Arch::ALL {
        let mut model = SavedModel::load(&dir.path().join(arch.name()), Device::Cpu).unwrap();
        assert!(!model.is_channels_last(), "a loaded model starts in the standard layout");
        let theirs = Tensor::read_safetensors(dir.path().join(arch.name()).join("torchvision_logits.safetensors")).unwrap().remove(0).1;
        let difference = (logits(&mut model, &input) - theirs).abs().max().double_value(&[]);
        assert!(difference < TOLERANCE, "{}: largest logit difference {difference}", arch.name());

        // Laid out channels_last (the Node API's default for inference), the model computes
        // as torchvision's model does in that layout.
        model.set_channels_last(true).unwrap();
        assert!(model.is_channels_last());
        let theirs = Tensor::read_safetensors(dir.path().join(arch.name()).join("torchvision_logits_channels_last.safetensors")).unwrap().remove(0).1;
        let difference = (logits(&mut model, &input) - theirs).abs().max().double_value(&[]);
        assert!(difference < TOLERANCE, "{} channels_last: largest logit difference {difference}", arch.name());
    }
}

#[test]
fn models_saved_here_load_into_torchvision_and_give_the_same_logits() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    python("export", dir.path()); // for input.safetensors
    let input = input(dir.path());
    tch::manual_seed(1);
    for arch in Arch::ALL {
        let classes = (0..7).map(|i| format!("c{i}")).collect();
        let mut model = SavedModel::new(arch, classes, 64, Preprocess::notebook(), None, Device::Cpu).unwrap();
        randomise_batch_norm(&model);
        let arch_dir = dir.path().join(arch.name());
        model.save(&arch_dir).unwrap();
        Tensor::write_safetensors(&[("logits", logits(&mut model, &input))], arch_dir.join("project_logits.safetensors")).unwrap();
    }
    let report: serde_json::Value = serde_json::from_str(&python("check", dir.path())).unwrap();
    for arch in Arch::ALL {
        let row = &report[arch.name()];
        assert_eq!(row["missing"], serde_json::json!([]), "{}: {row}", arch.name());
        assert_eq!(row["unexpected"], serde_json::json!([]), "{}: {row}", arch.name());
        let difference = row["maxDifference"].as_f64().unwrap();
        assert!(difference < TOLERANCE, "{}: largest logit difference {difference}", arch.name());
    }
}
