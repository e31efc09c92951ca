//! Turning "auto" | "cpu" | "cuda" | "cuda:N" into a libtorch device.
use crate::error::{Error, Result};
use tch::Device;

/// Parses a device name. "auto" picks the first CUDA device when libtorch sees one.
pub fn parse_device(name: &str) -> Result<Device> {
    let invalid = || {
        Error::InvalidOption(format!(
            "Expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\" for device but received {name:?}"
        ))
    };
    match name {
        "auto" => Ok(Device::cuda_if_available()),
        "cpu" => Ok(Device::Cpu),
        "cuda" => require_cuda(0),
        other => {
            let index = other.strip_prefix("cuda:").ok_or_else(invalid)?;
            let index: usize = index.parse().map_err(|_| invalid())?;
            require_cuda(index)
        }
    }
}

fn require_cuda(index: usize) -> Result<Device> {
    let available = tch::Cuda::device_count() as usize;
    if index >= available {
        return Err(Error::InvalidOption(format!(
            "Expected a CUDA device for device \"cuda:{index}\" but libtorch sees {available} CUDA device(s)"
        )));
    }
    Ok(Device::Cuda(index))
}

/// A short human name: "cpu" or "cuda:0".
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(index) => format!("cuda:{index}"),
        _ => "cpu".to_string(),
    }
}

/// Facts about the libtorch this process loaded, for diagnostics and tests.
pub fn cuda_available() -> bool {
    tch::Cuda::is_available()
}

/// Whether libtorch can use cuDNN (false without CUDA).
pub fn cudnn_available() -> bool {
    tch::Cuda::cudnn_is_available()
}

pub fn cuda_device_count() -> usize {
    tch::Cuda::device_count() as usize
}

/// Whether this processor computes bfloat16 natively (AVX512-BF16, which every processor with
/// AMX-BF16 also has). Elsewhere bf16 is emulated and slower, so `precision: 'auto'` stays
/// float32; here it takes bf16 where it also measures faster (`precision::cpu_bf16_pays_off`).
pub fn cpu_has_native_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Threads libtorch uses for one operation on the CPU.
pub fn thread_count() -> usize {
    tch::get_num_threads().max(1) as usize
}
