// libtorch switches that tch does not expose (DESIGN.md): bf16 autocast on a chosen device
// and cuDNN's autotuner. Compiled by build.rs against the libtorch headers torch-sys uses.
// Every entry point is noexcept and reports a C++ exception as -1: none may unwind into Rust.
#include <ATen/Context.h>
#include <ATen/autocast_mode.h>

namespace {
c10::DeviceType device_type(int cuda) { return cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU; }
}  // namespace

extern "C" {

// Enters a bf16 autocast region on the calling thread (autocast state is thread-local).
// Returns whether autocast was already enabled (0/1), or -1 on error.
int resnet_autocast_bf16_enter(int cuda) noexcept {
  try {
    auto type = device_type(cuda);
    bool was_enabled = at::autocast::is_autocast_enabled(type);
    at::autocast::set_autocast_dtype(type, at::kBFloat16);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::increment_nesting();
    return was_enabled ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

// Leaves the region: restores the previous state and, at the outermost exit, drops the
// cast-weight cache (the weights change at the next optimiser step).
int resnet_autocast_exit(int cuda, int was_enabled) noexcept {
  try {
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
    at::autocast::set_autocast_enabled(device_type(cuda), was_enabled != 0);
    return 0;
  } catch (...) {
    return -1;
  }
}

// Whether cuDNN benchmark mode is on (0/1).
int resnet_cudnn_benchmark_enabled() noexcept {
  try {
    return at::globalContext().benchmarkCuDNN() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

// cuDNN benchmark mode: picks the fastest convolution algorithm per input shape.
int resnet_set_cudnn_benchmark(int enabled) noexcept {
  try {
    at::globalContext().setBenchmarkCuDNN(enabled != 0);
    return 0;
  } catch (...) {
    return -1;
  }
}
}
