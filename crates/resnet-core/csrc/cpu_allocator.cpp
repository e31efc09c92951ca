// A CPU allocator for libtorch that keeps freed large blocks for reuse, as PyTorch's CUDA
// caching allocator does for GPU memory.
//
// libtorch's default CPU allocator hands every block back to glibc, and glibc returns large
// ones to the kernel (munmap, heap trimming). A training step asks for the same ~1 GB of
// activations and gradients every time, so each step faulted those pages in and had the
// kernel zero them again: 217k page faults in 13 resnet34 steps (batch 32, 128 px), 112k with
// this allocator, of which about 104k are start-up. Here a freed block of at least
// kCachedFromBytes waits in a per-size free list; the next request of that exact size takes it
// back. A step's sizes repeat from step to step, so after the first step nearly every large
// request is a hit.
//
// Memory stays bounded: the cache holds at most limit_bytes (the least recently freed blocks
// go first), and resnet_cpu_cache_release() empties it (after each epoch, with malloc_trim).
// Small blocks go straight to c10::alloc_cpu/free_cpu, as with the default allocator; misses
// use the same functions, so alignment and transparent huge pages are as libtorch sets them.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

constexpr size_t kCachedFromBytes = size_t{1} << 20;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limit_bytes) : limit_bytes_(limit_bytes) {}

  c10::DataPtr allocate(size_t bytes) override {
    void* data = bytes >= kCachedFromBytes ? take(bytes) : c10::alloc_cpu(bytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  // Frees every cached block.
  void empty() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& [block, bytes] : freed_order_) blocks.push_back(block);
      freed_order_.clear();
      free_by_size_.clear();
      cached_bytes_ = 0;
    }
    for (void* block : blocks) c10::free_cpu(block);
  }

  void stats(uint64_t* cached_bytes, uint64_t* hits, uint64_t* misses) {
    std::lock_guard<std::mutex> lock(mutex_);
    *cached_bytes = cached_bytes_;
    *hits = hits_;
    *misses = misses_;
  }

  static CachingCpuAllocator& instance();

 private:
  using FreedList = std::list<std::pair<void*, size_t>>;

  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_by_size_.find(bytes);
      if (found != free_by_size_.end() && !found->second.empty()) {
        FreedList::iterator newest = found->second.back();
        found->second.pop_back();
        void* block = newest->first;
        freed_order_.erase(newest);
        cached_bytes_ -= bytes;
        live_[block] = bytes;
        ++hits_;
        return block;
      }
      ++misses_;
    }
    void* block;
    try {
      block = c10::alloc_cpu(bytes);
    } catch (const c10::Error&) {
      // Out of memory with blocks of other sizes cached: give them back and try once more.
      empty();
      block = c10::alloc_cpu(bytes);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    // Assigned, not emplaced: should another deleter ever have freed a block of ours (an
    // allocator registered after this one), its address may come back with a new size.
    live_[block] = bytes;
    return block;
  }

  static void release(void* block) { instance().give_back(block); }

  void give_back(void* block) {
    if (block == nullptr) return;
    std::vector<void*> to_free;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = live_.find(block);
      if (found == live_.end()) {
        to_free.push_back(block);  // a small block, or one the default allocator made
      } else {
        size_t bytes = found->second;
        live_.erase(found);
        if (bytes > limit_bytes_) {
          to_free.push_back(block);
        } else {
          while (cached_bytes_ + bytes > limit_bytes_) to_free.push_back(evict_oldest());
          freed_order_.emplace_back(block, bytes);
          free_by_size_[bytes].push_back(std::prev(freed_order_.end()));
          cached_bytes_ += bytes;
        }
      }
    }
    for (void* stale : to_free) c10::free_cpu(stale);
  }

  // Called with mutex_ held and the cache not empty.
  void* evict_oldest() {
    auto [block, bytes] = freed_order_.front();
    auto& same_size = free_by_size_[bytes];
    // The oldest block of a size is the first in its list: blocks join both lists in order.
    same_size.erase(same_size.begin());
    if (same_size.empty()) free_by_size_.erase(bytes);
    freed_order_.pop_front();
    cached_bytes_ -= bytes;
    return block;
  }

  const size_t limit_bytes_;
  std::mutex mutex_;
  std::unordered_map<void*, size_t> live_;  // cacheable blocks in use, with their sizes
  FreedList freed_order_;                   // cached blocks, least recently freed first
  std::unordered_map<size_t, std::vector<FreedList::iterator>> free_by_size_;
  size_t cached_bytes_ = 0;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

CachingCpuAllocator* g_allocator = nullptr;

CachingCpuAllocator& CachingCpuAllocator::instance() { return *g_allocator; }

}  // namespace

extern "C" {

// Makes the caching allocator libtorch's CPU allocator, keeping at most `limit_bytes` cached.
// Called once (the Rust side guards it); blocks the default allocator made before keep their
// own deleter, and ours frees any other pointer it is handed with free_cpu, as the default does.
// The allocator is never destroyed: tensors may outlive every other static.
int resnet_use_caching_cpu_allocator(uint64_t limit_bytes) noexcept {
  try {
    if (g_allocator == nullptr) {
      g_allocator = new CachingCpuAllocator(static_cast<size_t>(limit_bytes));
      c10::SetCPUAllocator(g_allocator, /*priority=*/0);
    }
    return 0;
  } catch (...) {
    return -1;
  }
}

// Frees every cached block (no-op before the allocator is installed).
void resnet_cpu_cache_release() noexcept {
  if (g_allocator != nullptr) g_allocator->empty();
}

// What the cache holds now, and its hits and misses since it was installed.
void resnet_cpu_cache_stats(uint64_t* cached_bytes, uint64_t* hits, uint64_t* misses) noexcept {
  *cached_bytes = 0;
  *hits = 0;
  *misses = 0;
  if (g_allocator != nullptr) g_allocator->stats(cached_bytes, hits, misses);
}
}
