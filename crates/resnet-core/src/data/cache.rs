//! The decoded-image cache: per sample, the decoded image at working resolution (the final
//! evaluation input, or a small whole picture for random crops), so that epochs after the
//! first skip decoding. Bounded in bytes; once full it stops adding (with random access
//! every epoch, evicting would only trade one miss for another).
use image::RgbImage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Whether decoded images are kept in memory between epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Off,
    /// Up to this many bytes of decoded images (default: half the available memory).
    Memory(Option<u64>),
    /// A quarter of the memory available when the run starts.
    Auto,
}

/// Share of the available memory that `CacheMode::Auto` may use.
const AUTO_SHARE: f64 = 0.25;
/// Share that an explicit memory cache without a size may use.
const MEMORY_SHARE: f64 = 0.5;
/// What `Auto` assumes is available where /proc/meminfo cannot be read.
const AUTO_FALLBACK_BYTES: u64 = 2 << 30;

pub struct ImageCache {
    slots: Vec<OnceLock<Arc<RgbImage>>>,
    budget: Arc<Budget>,
}

/// Bytes in use against a limit, shared by the caches of one run (training and validation).
struct Budget {
    used: AtomicU64,
    limit: u64,
}

impl ImageCache {
    /// A cache for `len` samples holding at most `limit` bytes of pixels; `None` when off.
    pub fn new(len: usize, mode: CacheMode) -> Option<Arc<ImageCache>> {
        let share_of_available = |share: f64| (available_memory().unwrap_or(AUTO_FALLBACK_BYTES) as f64 * share) as u64;
        let limit = match mode {
            CacheMode::Off => return None,
            CacheMode::Memory(Some(bytes)) => bytes,
            CacheMode::Memory(None) => share_of_available(MEMORY_SHARE),
            CacheMode::Auto => share_of_available(AUTO_SHARE),
        };
        let budget = Arc::new(Budget { used: AtomicU64::new(0), limit });
        Some(Arc::new(ImageCache { slots: (0..len).map(|_| OnceLock::new()).collect(), budget }))
    }

    /// A cache for another `len` samples drawing on this one's byte budget.
    pub fn sibling(&self, len: usize) -> Arc<ImageCache> {
        Arc::new(ImageCache { slots: (0..len).map(|_| OnceLock::new()).collect(), budget: self.budget.clone() })
    }

    pub fn get(&self, index: usize) -> Option<Arc<RgbImage>> {
        self.slots.get(index)?.get().cloned()
    }

    /// Keeps `image` for `index` if the budget allows.
    pub fn offer(&self, index: usize, image: &Arc<RgbImage>) {
        let Some(slot) = self.slots.get(index) else { return };
        let bytes = image.as_raw().len() as u64;
        let budget = &self.budget;
        if budget.used.fetch_add(bytes, Ordering::Relaxed) + bytes > budget.limit {
            budget.used.fetch_sub(bytes, Ordering::Relaxed);
            return;
        }
        if slot.set(image.clone()).is_err() {
            budget.used.fetch_sub(bytes, Ordering::Relaxed); // another thread filled it first
        }
    }

    /// The most bytes all the caches sharing this one's budget may hold.
    pub fn limit_bytes(&self) -> u64 {
        self.budget.limit
    }

    /// Bytes held by all the caches sharing this one's budget.
    pub fn bytes_used(&self) -> u64 {
        self.budget.used.load(Ordering::Relaxed)
    }
}

/// MemAvailable from /proc/meminfo, in bytes.
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
