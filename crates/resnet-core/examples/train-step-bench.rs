//! Training-step (or inference) benchmark on synthetic tensors, through the project's own
//! paths: `train_step` (forward, cross-entropy, backward, fused Adam; bf16 autocast when asked)
//! or `SavedModel::run_network`, as the PyTorch side (bench/pytorch_train_step.py) does with
//! torchvision. Prints one JSON line with images per second over the timed steps. On CUDA the
//! clock stops after the device has finished the queued work.
use clap::Parser;
use resnet_core::{Arch, OptimizerConfig, OptimizerKind, Precision, Preprocess};
use resnet_core::device::parse_device;
use resnet_core::inference::Output;
use resnet_core::model::layout::{channels_last, convert_to_channels_last};
use resnet_core::model::saved::SavedModel;
use resnet_core::train::optimizer::Optimizer;
use resnet_core::train::step::{train_step, StepSettings};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "resnet18")]
    arch: String,
    #[arg(long, default_value_t = 32)]
    batch_size: i64,
    #[arg(long, default_value_t = 128)]
    image_size: i64,
    #[arg(long, default_value_t = 80)]
    classes: i64,
    /// Untimed steps first (allocator, oneDNN and cuDNN caches warm up).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// contiguous (PyTorch's default layout) | channels-last (the project's default)
    #[arg(long, default_value = "channels-last")]
    layout: String,
    /// libtorch intra-op threads (0: libtorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
    /// cpu | cuda | cuda:N
    #[arg(long, default_value = "cpu")]
    device: String,
    /// fp32 | bf16 (autocast)
    #[arg(long, default_value = "fp32")]
    precision: String,
    /// train (one update per step) | infer (a forward pass without gradients)
    #[arg(long, default_value = "train")]
    mode: String,
    /// infer: without batch norm folded into the convolutions (for the ablation)
    #[arg(long)]
    unfolded: bool,
}

fn main() -> resnet_core::Result<()> {
    let args = Args::parse();
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    let device = parse_device(&args.device)?;
    let precision = Precision::parse(&args.precision)?;
    let arch = Arch::parse(&args.arch)?;
    let classes = (0..args.classes).map(|i| format!("class{i}")).collect();
    let mut model = SavedModel::new_seeded(0, arch, classes, args.image_size as u32, Preprocess::standard(), None, device)?;
    model.precision = precision;
    // Inference runs the folded network, as a loaded model does (after the layout is set).
    let fold = args.mode == "infer" && !args.unfolded;
    let mut input = Tensor::f_randn([args.batch_size, 3, args.image_size, args.image_size], (Kind::Float, device))?;
    if args.layout == "channels-last" {
        convert_to_channels_last(&model.vs)?;
        input = channels_last(&input)?;
    }
    let folding = Instant::now();
    if fold {
        model.fold_batch_norm()?;
    }
    let fold_seconds = folding.elapsed().as_secs_f64();
    let labels = Tensor::f_randint(args.classes, [args.batch_size], (Kind::Int64, device))?;
    let mut optimizer = Optimizer::new(&model.vs, OptimizerConfig::new(OptimizerKind::Adam))?;
    let settings =
        StepSettings { label_smoothing: 0.0, class_weights: None, gradient_clip: None, bf16: precision.uses_bf16(device), device, freeze_batch_norm: false };
    let mut step = || -> resnet_core::Result<()> {
        match args.mode.as_str() {
            "infer" => model.run_network(&input, Output::Logits).map(drop),
            _ => train_step(&model.net, &mut optimizer, &input, &labels, 0.005, &settings).map(drop),
        }
    };
    for _ in 0..args.warmup {
        step()?;
    }
    finish_queued_work(device);
    let started = Instant::now();
    for _ in 0..args.steps {
        step()?;
    }
    finish_queued_work(device);
    let seconds = started.elapsed().as_secs_f64();
    let images_per_second = (args.steps as i64 * args.batch_size) as f64 / seconds;
    let cache = resnet_core::memory::cpu_cache_stats();
    println!(
        "{}",
        serde_json::json!({
            "arch": args.arch, "batchSize": args.batch_size, "imageSize": args.image_size,
            "layout": args.layout, "device": args.device, "precision": args.precision, "mode": args.mode, "folded": fold, "foldSeconds": fold_seconds,
            "steps": args.steps, "seconds": seconds,
            "imagesPerSecond": images_per_second, "threads": tch::get_num_threads(),
            "cpuCache": { "cachedBytes": cache.cached_bytes, "hits": cache.hits, "misses": cache.misses },
        })
    );
    Ok(())
}

/// Waits until a GPU has run everything queued (a no-op on the CPU, which computes in line).
fn finish_queued_work(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}
