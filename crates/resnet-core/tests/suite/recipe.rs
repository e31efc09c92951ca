//! What the recipes set, and the balanced class weights.
use crate::common;
use resnet_core::{ClassWeights, ScheduleKind};
use resnet_core::{DataSource, OptimizerKind, Recipe, ResizeMode, TrainConfig};
use std::path::PathBuf;

fn config() -> TrainConfig {
    let source = DataSource::Folders { train: PathBuf::from("train"), validation: PathBuf::from("test") };
    TrainConfig::new(source, PathBuf::from("out"))
}

#[test]
fn the_default_is_the_standard_recipe_and_the_notebook_recipe_is_the_notebooks() {
    let _alone = common::alone();
    let mut config = config();
    assert_eq!(config.optimizer.kind, OptimizerKind::AdamW);
    assert_eq!((config.learning_rate, config.optimizer.weight_decay, config.label_smoothing), (0.003, 0.05, 0.1));
    assert!(!config.optimizer.decay_norm_and_bias);
    assert_eq!(config.schedule, ScheduleKind::OneCycle);
    assert_eq!(config.augment.crop_scale, Some([0.35, 1.0]));
    assert_eq!(config.preprocess.resize, ResizeMode::Crop);
    assert_eq!(config.freeze_epochs, 0);

    config.apply_recipe(Recipe::Notebook);
    assert_eq!(config.optimizer.kind, OptimizerKind::Adam);
    assert_eq!((config.learning_rate, config.optimizer.weight_decay, config.label_smoothing), (0.005, 0.0, 0.0));
    assert_eq!(config.schedule, ScheduleKind::Constant);
    assert_eq!(config.augment.crop_scale, None);
    assert!(!config.augment.horizontal_flip);
    assert_eq!((config.preprocess.resize, config.preprocess.mean, config.preprocess.std), (ResizeMode::Stretch, [0.5; 3], [0.5; 3]));

    // With pretrained weights the standard recipe fine-tunes: one frozen epoch first.
    config.pretrained = Some(PathBuf::from("weights.safetensors"));
    config.apply_recipe(Recipe::Standard);
    assert_eq!(config.freeze_epochs, 1);
    config.apply_recipe(Recipe::Notebook);
    assert_eq!(config.freeze_epochs, 0);
    // Another optimiser than the recipe's takes PyTorch's defaults, not AdamW's decay.
    assert_eq!(Recipe::Standard.optimizer(OptimizerKind::Sgd).weight_decay, 0.0);
    assert_eq!(Recipe::Standard.optimizer(OptimizerKind::AdamW).weight_decay, 0.05);
}

#[test]
fn balanced_class_weights_are_images_over_classes_times_class_images() {
    let _alone = common::alone();
    assert_eq!(ClassWeights::Equal.weights(&[2, 20, 20]), None);
    // 42 images, 3 classes: 42 / 6 = 7 and 42 / 60 = 0.7.
    let weights = ClassWeights::Balanced.weights(&[2, 20, 20]).unwrap();
    assert!((weights[0] - 7.0).abs() < 1e-6 && (weights[1] - 0.7).abs() < 1e-6 && (weights[2] - 0.7).abs() < 1e-6, "{weights:?}");
    // A class without images has no loss term to weigh: 0; the other: 5 / (2 x 5).
    assert_eq!(ClassWeights::Balanced.weights(&[0, 5]).unwrap(), vec![0.0, 0.5]);
    assert_eq!(ClassWeights::parse("inverse").unwrap_err().code(), "ERR_INVALID_OPTION");
}
