//! Host memory: libtorch's CPU allocator, and handing freed memory back to the system.
//!
//! **The caching CPU allocator** (csrc/cpu_allocator.cpp). libtorch's default CPU allocator
//! returns every block to glibc, which gives the large ones back to the kernel; a training step
//! then faults in and zeroes its activations again every step. The caching allocator keeps
//! freed blocks of 1 MiB and more for the next request of the same size, up to a limit:
//! a quarter of the machine's memory, at most 8 GiB, or `RESNET_NAPI_CPU_CACHE_MB` (0 turns
//! the cache off). Every model is created or loaded through [`use_caching_cpu_allocator`].
//!
//! **Trimming between epochs.** glibc keeps what a program frees in its per-thread arenas for
//! reuse. An epoch frees hundreds of megabytes of activations, decoded images and batches
//! across the decoding threads and the training thread, and the arenas keep growing from
//! epoch to epoch though nothing leaks. Measured with bench/project_epoch.mjs (400 photos,
//! resnet18, 128 px, 5 epochs): RSS 1137 -> 1391 MB from epoch 2 to 5 without trimming, 655 ->
//! 663 MB with it. [`release_free_memory`] after each epoch empties the allocator's cache and
//! returns the free pages, so RSS tracks what is in use, which is what a long-running server
//! that trains models needs.
use crate::error::{Error, Result};
use std::os::raw::c_int;
use std::sync::OnceLock;

extern "C" {
    fn resnet_use_caching_cpu_allocator(limit_bytes: u64) -> c_int;
    fn resnet_cpu_cache_release();
    fn resnet_cpu_cache_stats(cached_bytes: *mut u64, hits: *mut u64, misses: *mut u64);
}

/// The environment variable that sets the cache's limit in MiB (0: no caching allocator).
pub const CPU_CACHE_LIMIT_VAR: &str = "RESNET_NAPI_CPU_CACHE_MB";
const MIB: u64 = 1 << 20;
const DEFAULT_LIMIT_CAP: u64 = 8 << 30;

/// Makes the caching allocator libtorch's CPU allocator, once per process. Tensors made
/// before keep the allocator that made them. A `RESNET_NAPI_CPU_CACHE_MB` that is not a whole
/// number is refused, at every call, rather than quietly replaced by the default.
pub fn use_caching_cpu_allocator() -> Result<()> {
    static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();
    let outcome = INSTALL.get_or_init(|| {
        let limit = cache_limit_bytes(std::env::var(CPU_CACHE_LIMIT_VAR).ok().as_deref(), physical_memory_bytes())?;
        if limit > 0 {
            // SAFETY: installs a process-wide allocator object that is never freed; the C side
            // catches every exception. A failure (-1) leaves libtorch's default allocator.
            unsafe {
                resnet_use_caching_cpu_allocator(limit);
            }
        }
        Ok(())
    });
    outcome.clone().map_err(Error::InvalidOption)
}

/// The cache limit for the environment variable's value, if set, and the machine's memory.
fn cache_limit_bytes(setting: Option<&str>, physical: Option<u64>) -> Result<u64, String> {
    match setting {
        Some(value) => match value.trim().parse::<u64>() {
            Ok(mib) => Ok(mib.saturating_mul(MIB)),
            Err(_) => Err(format!(
                "Expected a whole number of MiB (0 turns the caching CPU allocator off) for {CPU_CACHE_LIMIT_VAR} but received {value:?}"
            )),
        },
        None => Ok(physical.map_or(1 << 30, |bytes| (bytes / 4).min(DEFAULT_LIMIT_CAP))),
    }
}

fn physical_memory_bytes() -> Option<u64> {
    // SAFETY: sysconf reads system constants.
    let (pages, page_size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && page_size > 0).then(|| pages as u64 * page_size as u64)
}

/// What the caching allocator holds and how often it has served a request from its cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuCacheStats {
    pub cached_bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

pub fn cpu_cache_stats() -> CpuCacheStats {
    let mut stats = CpuCacheStats { cached_bytes: 0, hits: 0, misses: 0 };
    // SAFETY: the three pointers are valid for the call; the C side takes its lock.
    unsafe { resnet_cpu_cache_stats(&mut stats.cached_bytes, &mut stats.hits, &mut stats.misses) };
    stats
}

/// Frees the caching allocator's blocks and returns the heap's free pages to the system.
pub fn release_free_memory() {
    // SAFETY: takes the allocator's lock and frees only blocks nothing uses.
    unsafe { resnet_cpu_cache_release() };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists, under its own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_limit_follows_the_setting_else_a_quarter_of_memory_up_to_8_gib() {
        assert_eq!(cache_limit_bytes(Some("512"), Some(64 << 30)), Ok(512 * MIB));
        assert_eq!(cache_limit_bytes(Some(" 0 "), Some(64 << 30)), Ok(0));
        assert_eq!(cache_limit_bytes(None, Some(16 << 30)), Ok(4 << 30));
        assert_eq!(cache_limit_bytes(None, Some(64 << 30)), Ok(8 << 30));
        assert_eq!(cache_limit_bytes(None, None), Ok(1 << 30));
    }

    #[test]
    fn a_cache_limit_that_is_not_a_whole_number_is_refused_with_the_value_found() {
        for value in ["lots", "-1", "1.5", ""] {
            let refused = cache_limit_bytes(Some(value), Some(16 << 30)).unwrap_err();
            assert!(refused.contains(CPU_CACHE_LIMIT_VAR) && refused.contains(&format!("{value:?}")), "{refused}");
        }
    }
}
