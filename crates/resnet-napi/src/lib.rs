//! The Node-API binding of resnet-core. It converts options, errors and events between
//! JavaScript and the core, and does nothing else. Every entry point catches panics. The
//! option table and check are in resnet-napi-options, an addon without libtorch.
mod errors;
#[cfg(feature = "test-hooks")]
mod fault_injection;
mod model;
mod results;
mod torch_thread;
mod training;

use napi_derive::napi;

/// What the loaded libtorch can do.
#[napi(object)]
pub struct RuntimeInfo {
    pub cuda_available: bool,
    pub cuda_device_count: u32,
    pub cudnn_available: bool,
    pub threads: i32,
    /// Whether this processor computes bfloat16 natively (AVX512-BF16).
    pub cpu_native_bf16: bool,
    /// Whether `precision: 'auto'` runs bf16 autocast on the CPU: native bf16 that also measured
    /// faster than float32 here.
    pub cpu_auto_bf16: bool,
    /// Whether float32 inference on the CPU runs oneDNN's fused, prepacked convolutions (this
    /// libtorch has them and RESNET_NAPI_FUSED_CONV is not 0).
    pub cpu_fused_conv: bool,
    /// Whether bf16 inference on the CPU (precision 'bf16', or 'auto' where cpuAutoBf16) runs
    /// them too, on bfloat16 weights: the same, on a processor with native bf16.
    pub cpu_fused_conv_bf16: bool,
}

#[napi(catch_unwind)]
pub fn runtime_info() -> RuntimeInfo {
    RuntimeInfo {
        cuda_available: resnet_core::device::cuda_available(),
        cuda_device_count: resnet_core::device::cuda_device_count() as u32,
        cudnn_available: resnet_core::device::cudnn_available(),
        threads: resnet_core::device::thread_count() as i32,
        cpu_native_bf16: resnet_core::device::cpu_has_native_bf16(),
        cpu_auto_bf16: resnet_core::precision::cpu_bf16_pays_off(),
        cpu_fused_conv: resnet_core::model::fused_conv::enabled_in_float32(),
        cpu_fused_conv_bf16: resnet_core::model::fused_conv::enabled_in_bfloat16(),
    }
}
