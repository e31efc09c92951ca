//! bf16 autocast and cuDNN's autotuner through csrc/precision.cpp: libtorch has both, tch
//! exposes neither (its `autocast` is CUDA fp16 only).
use crate::error::{Error, Result};
use crate::choice::choice;
use std::os::raw::c_int;
use std::sync::OnceLock;
use std::time::Instant;
use tch::{Device, Tensor};

choice! {
    /// The arithmetic of the forward and backward passes, in training and inference.
    pub enum Precision for "precision" {
        /// bf16 autocast on CUDA, and on processors where it measures faster than float32
        /// (`cpu_bf16_pays_off`); float32 on other processors.
        Auto = "auto",
        Fp32 = "fp32",
        /// bf16 autocast: convolutions and matrix products in bfloat16, reductions and the loss
        /// in float32; the weights and the optimiser stay float32.
        Bf16 = "bf16",
    }
}

impl Precision {
    /// Whether this precision autocasts to bf16 on `device`.
    pub fn uses_bf16(self, device: tch::Device) -> bool {
        match self {
            Precision::Auto => device.is_cuda() || (device == tch::Device::Cpu && cpu_bf16_pays_off()),
            Precision::Fp32 => false,
            Precision::Bf16 => true,
        }
    }
}

/// Whether bf16 autocast is faster than float32 on this CPU: the processor computes bfloat16
/// natively (AVX512-BF16; elsewhere it is emulated and slower), and a convolution shaped like
/// ResNet's first stage ran at least 1.2x faster in bf16, measured once per process (about
/// 50 ms). Native bf16 alone does not tell: an AMD EPYC ran resnet34 inference 1.8x faster in
/// bf16, an Intel Xeon with AVX512-BF16 but no AMX 1.8x slower (docs/NOTES.md).
pub fn cpu_bf16_pays_off() -> bool {
    static MEASURED: OnceLock<bool> = OnceLock::new();
    *MEASURED.get_or_init(|| crate::device::cpu_has_native_bf16() && bf16_convolves_faster().unwrap_or(false))
}

/// The best of three 3x3 convolutions (batch 8, 64 channels, 56 px, channels_last) in each
/// precision, each after a warm-up in which oneDNN builds its kernels.
fn bf16_convolves_faster() -> Result<bool> {
    let _no_grad = tch::no_grad_guard();
    let options = (tch::Kind::Float, Device::Cpu);
    // Made NHWC and viewed as NCHW: channels_last strides, as the models run.
    let input = Tensor::f_randn([8, 56, 56, 64], options)?.f_permute([0, 3, 1, 2])?;
    let weight = Tensor::f_randn([64, 3, 3, 64], options)?.f_permute([0, 3, 1, 2])?;
    let best_seconds = |bf16: bool| -> Result<f64> {
        maybe_autocast(bf16, Device::Cpu, || {
            let mut best = f64::INFINITY;
            for round in 0..4 {
                let started = Instant::now();
                let _output = input.f_conv2d(&weight, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1)?;
                if round > 0 {
                    best = best.min(started.elapsed().as_secs_f64());
                }
            }
            Ok(best)
        })
    };
    Ok(best_seconds(false)? >= 1.2 * best_seconds(true)?)
}

extern "C" {
    fn resnet_autocast_bf16_enter(cuda: c_int) -> c_int;
    fn resnet_autocast_exit(cuda: c_int, was_enabled: c_int) -> c_int;
    fn resnet_set_cudnn_benchmark(enabled: c_int) -> c_int;
    fn resnet_cudnn_benchmark_enabled() -> c_int;
}

/// A bf16 autocast region on the current thread (autocast state is thread-local): while it
/// lives, convolutions and matrix products on `device` run in bfloat16, losses and
/// reductions in float32. Dropping it restores the previous state.
pub struct AutocastBf16 {
    cuda: c_int,
    was_enabled: c_int,
}

impl AutocastBf16 {
    pub fn enter(device: Device) -> Result<Self> {
        let cuda = c_int::from(device.is_cuda());
        // SAFETY: a noexcept C function without pointer arguments.
        let was_enabled = unsafe { resnet_autocast_bf16_enter(cuda) };
        if was_enabled < 0 {
            return Err(Error::Libtorch(format!("cannot enable bf16 autocast on {device:?}")));
        }
        Ok(AutocastBf16 { cuda, was_enabled })
    }
}

impl Drop for AutocastBf16 {
    fn drop(&mut self) {
        // SAFETY: as in `enter`. A failure here leaves autocast on for this thread's next
        // region, which re-enters anyway; there is nothing better to do in a destructor.
        let _ = unsafe { resnet_autocast_exit(self.cuda, self.was_enabled) };
    }
}

/// Runs `f` under bf16 autocast on `device` when `enabled`, plainly otherwise.
pub fn maybe_autocast<T>(enabled: bool, device: Device, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _region = if enabled { Some(AutocastBf16::enter(device)?) } else { None };
    f()
}

/// cuDNN benchmark mode (the fastest algorithm per input shape, found on first use) while it
/// lives. Worth it when shapes repeat, as a training run's batches do; inference tunes only
/// the shapes that repeat (`RepeatedShapes`), so dropping this switches the mode off again.
pub struct CudnnBenchmark(());

impl CudnnBenchmark {
    pub fn enable() -> Result<Self> {
        set_cudnn_benchmark(true)?;
        Ok(CudnnBenchmark(()))
    }
}

impl Drop for CudnnBenchmark {
    fn drop(&mut self) {
        // Nothing better to do in a destructor; predict is only slower with the mode left on.
        let _ = set_cudnn_benchmark(false);
    }
}

/// cuDNN's autotuner paused while it lives (when it was on): for a batch of a size that comes
/// once an epoch (the last, short one of training or validation), tuning its every
/// convolution costs seconds on the first epoch and saves nothing later.
pub struct AutotuningPaused(bool);

impl AutotuningPaused {
    /// Pauses the autotuner for a batch of `images` on `device` when that is a GPU and the
    /// batch is shorter than `batch_size`; otherwise changes nothing.
    pub fn for_batch(device: Device, images: usize, batch_size: usize) -> Result<Self> {
        // SAFETY: a noexcept C function without arguments.
        let pause = device.is_cuda() && images < batch_size && unsafe { resnet_cudnn_benchmark_enabled() } == 1;
        if pause {
            set_cudnn_benchmark(false)?;
            PAUSED_HERE.with(|paused| paused.set(true));
        }
        Ok(AutotuningPaused(pause))
    }
}

impl Drop for AutotuningPaused {
    fn drop(&mut self) {
        if self.0 {
            PAUSED_HERE.with(|paused| paused.set(false));
            // As in CudnnBenchmark's drop: the run is only slower if this fails.
            let _ = set_cudnn_benchmark(true);
        }
    }
}

thread_local! {
    /// Whether an `AutotuningPaused` is alive on this thread: inference then tunes nothing.
    static PAUSED_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The input shapes a model's inference has run on a GPU, counted so that cuDNN's autotuner
/// runs for a shape from its second use on: a server or an evaluation that sends batches of
/// one size gets the tuned (fastest) convolutions, as PyTorch's `cudnn.benchmark` gives, and
/// a one-off size (a lone prediction, the last short batch) pays no tuning.
#[derive(Debug, Default)]
pub struct RepeatedShapes(std::sync::Mutex<std::collections::HashMap<Vec<i64>, u32>>);

impl RepeatedShapes {
    /// Counts a forward pass on `shape`; while the returned guard lives, cuDNN tunes when the
    /// shape came before (on a GPU, unless an `AutotuningPaused` holds this thread).
    pub fn tune_if_repeated(&self, device: Device, shape: &[i64]) -> Result<RepeatedShapeTuning> {
        if !device.is_cuda() || PAUSED_HERE.with(std::cell::Cell::get) {
            return Ok(RepeatedShapeTuning(false));
        }
        let uses = {
            let mut seen = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = seen.entry(shape.to_vec()).or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        // SAFETY: a noexcept C function without arguments.
        let switch_on = uses >= 2 && unsafe { resnet_cudnn_benchmark_enabled() } == 0;
        if switch_on {
            set_cudnn_benchmark(true)?;
        }
        Ok(RepeatedShapeTuning(switch_on))
    }
}

/// cuDNN's autotuner on for one forward pass (see `RepeatedShapes`); off again when dropped.
pub struct RepeatedShapeTuning(bool);

impl Drop for RepeatedShapeTuning {
    fn drop(&mut self) {
        if self.0 {
            let _ = set_cudnn_benchmark(false);
        }
    }
}

fn set_cudnn_benchmark(enabled: bool) -> Result<()> {
    // SAFETY: a noexcept C function without pointer arguments.
    if unsafe { resnet_set_cudnn_benchmark(c_int::from(enabled)) } < 0 {
        return Err(Error::Libtorch("cannot set cuDNN benchmark mode".into()));
    }
    Ok(())
}
