//! Training-step benchmark on synthetic tensors: forward, cross-entropy, backward and an Adam
//! update per step, as the PyTorch side (bench/pytorch_train_step.py) does. Prints one JSON
//! line with images per second over the timed steps.
use clap::Parser;
use resnet_core::config::{Arch, OptimizerConfig, OptimizerKind, Preprocess};
use resnet_core::model::layout::{channels_last, convert_to_channels_last};
use resnet_core::model::saved::SavedModel;
use resnet_core::train::optimizer::Optimizer;
use std::time::Instant;
use tch::nn::ModuleT;
use tch::{Device, Kind, Reduction, Tensor};

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
    /// Untimed steps first (allocator and oneDNN primitive caches warm up).
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
}

fn main() -> resnet_core::Result<()> {
    let args = Args::parse();
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    let arch = Arch::parse(&args.arch)?;
    let classes = (0..args.classes).map(|i| format!("class{i}")).collect();
    let model = SavedModel::new_seeded(0, arch, classes, args.image_size as u32, Preprocess::standard(), None, Device::Cpu)?;
    let mut input = Tensor::f_randn([args.batch_size, 3, args.image_size, args.image_size], (Kind::Float, Device::Cpu))?;
    if args.layout == "channels-last" {
        convert_to_channels_last(&model.vs)?;
        input = channels_last(&input)?;
    }
    let labels = Tensor::f_randint(args.classes, [args.batch_size], (Kind::Int64, Device::Cpu))?;
    let mut optimizer = Optimizer::new(&model.vs, OptimizerConfig::new(OptimizerKind::Adam))?;
    let mut step = || -> resnet_core::Result<()> {
        optimizer.zero_grad()?;
        let logits = model.net.forward_t(&input, true);
        let loss = logits.f_cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)?;
        loss.backward();
        optimizer.step(0.005)
    };
    for _ in 0..args.warmup {
        step()?;
    }
    let started = Instant::now();
    for _ in 0..args.steps {
        step()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let images_per_second = (args.steps as i64 * args.batch_size) as f64 / seconds;
    let cache = resnet_core::memory::cpu_cache_stats();
    println!(
        "{}",
        serde_json::json!({
            "arch": args.arch, "batchSize": args.batch_size, "imageSize": args.image_size,
            "layout": args.layout, "steps": args.steps, "seconds": seconds,
            "imagesPerSecond": images_per_second, "threads": tch::get_num_threads(),
            "cpuCache": { "cachedBytes": cache.cached_bytes, "hits": cache.hits, "misses": cache.misses },
        })
    );
    Ok(())
}
