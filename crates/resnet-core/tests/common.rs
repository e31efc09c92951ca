//! Helpers shared by the integration tests: generated image datasets.
#![allow(dead_code)]
use image::{Rgb, RgbImage};
use resnet_core::{Arch, DataSource, Recipe, TrainConfig};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// cargo runs a test binary's tests in parallel threads, and two trainings in one process
/// share libtorch's CPU thread pool: an operation may then get fewer threads and sum in another
/// order, and libtorch's random generator is global. Reproducibility holds for one run at a
/// time, so each training test (and each test drawing random tensors) holds this.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A quick CPU run on a `write_dataset` folder: resnet18, 32 px, the notebook's recipe (Adam,
/// constant rate, no augmentation) at lr 0.001.
pub fn small_config(root: &Path, output: &Path, epochs: usize) -> TrainConfig {
    let mut config = TrainConfig::new(DataSource::from_root(root).unwrap(), output.to_path_buf());
    config.apply_recipe(Recipe::Notebook);
    config.arch = Arch::Resnet18;
    config.epochs = epochs;
    config.batch_size = 12;
    config.learning_rate = 0.001;
    config.image_size = 32;
    config.device = "cpu".into();
    config
}

/// Writes `count` images of class `kind` (0: red left half, 1: green, 2: blue) with varied
/// sizes into `dir`, as PNG and JPEG.
pub fn write_class(dir: &Path, kind: usize, count: usize, seed: u32) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let mix = seed.wrapping_mul(31).wrapping_add(i as u32 * 17);
        let (width, height) = (24 + mix % 60, 24 + (mix / 7) % 60);
        let image = RgbImage::from_fn(width, height, |x, y| {
            let noise = ((x * 13 + y * 7 + mix) % 40) as u8;
            let mut pixel = [noise, noise, noise];
            pixel[kind] = 180 + noise;
            Rgb(pixel)
        });
        let extension = if i % 2 == 0 { "png" } else { "jpg" };
        image.save(dir.join(format!("img-{i:03}.{extension}"))).unwrap();
    }
}

/// `root/{train,test}/{red,green,blue}` with `train` and `test` images per class.
pub fn write_dataset(root: &Path, train: usize, test: usize) {
    for (kind, class) in ["red", "green", "blue"].iter().enumerate() {
        write_class(&root.join("train").join(class), kind, train, kind as u32 + 1);
        write_class(&root.join("test").join(class), kind, test, kind as u32 + 100);
    }
}

/// Batch-norm parameters and statistics away from their initial 1 / 0, so that every
/// tensor of the file matters to the outputs.
pub fn randomise_batch_norm(model: &resnet_core::SavedModel) {
    let _guard = tch::no_grad_guard();
    for (name, mut tensor) in model.vs.variables() {
        let shape = tensor.size();
        let options = (tch::Kind::Float, tch::Device::Cpu);
        let value = if name.ends_with("running_var") {
            tch::Tensor::rand(&shape, options) + 0.5
        } else if name.ends_with("running_mean") || (name.contains("bn") || name.contains("downsample.1")) && name.ends_with("bias") {
            tch::Tensor::randn(&shape, options) * 0.1
        } else if (name.contains("bn") || name.contains("downsample.1")) && name.ends_with("weight") {
            tch::Tensor::randn(&shape, options) * 0.1 + 1.0
        } else {
            continue;
        };
        tensor.copy_(&value);
    }
}
