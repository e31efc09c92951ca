//! Data-pipeline benchmark: images per second the project's loader delivers as normalised
//! float batch tensors on the CPU (decode, resize, batch, float conversion), per epoch: the
//! same product as PyTorch's DataLoader with the notebook's dataset class.
//! Prints one JSON line per epoch. Run by bench/data-pipeline.sh beside PyTorch's DataLoader.
use clap::Parser;
use resnet_core::{CacheMode, Recipe};
use resnet_core::data::cache::ImageCache;
use resnet_core::data::folder::{class_names, scan_split};
use resnet_core::data::loader::{crop_source_side, decoding_pool, BatchForm, BatchLoader, Pipeline};
use resnet_core::data::device_input::DeviceInput;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// A folder of class folders.
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 256)]
    image_size: u32,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// off | memory
    #[arg(long, default_value = "off")]
    cache: String,
    /// notebook (stretch, the PyTorch side's transform) | standard (random crop + flip)
    #[arg(long, default_value = "notebook")]
    recipe: String,
    /// Decoding threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// float: normalised CHW float tensors, as PyTorch's DataLoader delivers and as a model on
    /// the CPU consumes; uint8: the HWC uint8 batches the loader hands to a GPU, which
    /// normalises them itself.
    #[arg(long, default_value = "float")]
    output: String,
    /// Memory order of float batches: channels-last (what training feeds a channels_last
    /// model, its default) | contiguous (NCHW).
    #[arg(long, default_value = "channels-last")]
    layout: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // As the Node facade does (src/native.ts): huge pages for libtorch's large CPU tensors.
    if std::env::var_os("THP_MEM_ALLOC_ENABLE").is_none() {
        std::env::set_var("THP_MEM_ALLOC_ENABLE", "1");
    }
    // As in training, where the model (and with it the caching CPU allocator, memory.rs)
    // exists before the first batch is made.
    resnet_core::memory::use_caching_cpu_allocator()?;
    let classes = class_names(&args.data)?;
    let samples = Arc::new(scan_split(&args.data, &classes)?.samples);
    let cache_mode = if args.cache == "memory" { CacheMode::Memory(None) } else { CacheMode::Off };
    let (augment, preprocess) = Recipe::parse(&args.recipe)?.transforms();
    let random = augment.crop_scale.is_some() || augment.horizontal_flip;
    let cache = ImageCache::new(samples.len(), cache_mode);
    let pipeline = Arc::new(Pipeline {
        image_size: args.image_size,
        eval_mode: preprocess.resize,
        crop_source_side: crop_source_side(args.image_size, &augment, cache.as_deref(), samples.len()),
        augment: random.then_some(augment),
        seed: 1,
        cache,
        output: match args.output.as_str() {
            "float" => BatchForm::Normalised { preprocess: preprocess.clone(), channels_last: args.layout == "channels-last" },
            _ => BatchForm::Pixels,
        },
    });
    let device_input = DeviceInput::new(&preprocess, args.image_size, tch::Device::Cpu, args.layout == "channels-last")?;
    let pool = decoding_pool(args.workers)?;
    for epoch in 1..=args.epochs {
        let started = Instant::now();
        let mut images = 0;
        let order: Vec<usize> = (0..samples.len()).collect();
        for batch in BatchLoader::start(samples.clone(), order, args.batch_size, pipeline.clone(), epoch, pool.clone()) {
            images += if args.output == "float" {
                device_input.batch(&batch)?.size()[0] as usize
            } else {
                batch.len()
            };
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{{\"kind\":\"loader\",\"cache\":\"{}\",\"recipe\":\"{}\",\"output\":\"{}\",\"layout\":\"{}\",\"epoch\":{epoch},\"images\":{images},\"seconds\":{seconds:.3},\"imagesPerSecond\":{:.1}}}",
            args.cache,
            args.recipe,
            args.output,
            args.layout,
            images as f64 / seconds
        );
    }
    println!("{{\"kind\":\"memory\",\"images\":{},\"cache\":\"{}\",\"peakRssBytes\":{}}}", samples.len(), args.cache, peak_rss_bytes());
    Ok(())
}

/// The process's peak resident set (VmHWM), in bytes; 0 where /proc is unavailable.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}
