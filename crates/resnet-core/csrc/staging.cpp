// Page-locked host memory without naming a device. tch's `pin_memory(device)` and
// `is_pinned(device)` pass the device argument that libtorch 2.x deprecates, and libtorch
// warns on every call: three warnings per training batch on a GPU. With no device, libtorch
// uses the current accelerator (CUDA where there is one) and says nothing.
// Every entry point is noexcept and reports a C++ exception as -1: none may unwind into Rust.
#include <ATen/ATen.h>

extern "C" {

// A page-locked copy of `*host` in `*out` (a new tensor the caller owns). -1 when libtorch
// cannot pin (no CUDA, or page-locked memory exhausted).
int resnet_pin_memory(const at::Tensor* host, at::Tensor** out) noexcept {
  try {
    *out = new at::Tensor(host->pin_memory());
    return 0;
  } catch (...) {
    return -1;
  }
}

// An uninitialised page-locked float32 tensor of `count` values in `*out`; -1 when libtorch
// cannot pin.
int resnet_empty_pinned_floats(int64_t count, at::Tensor** out) noexcept {
  try {
    *out = new at::Tensor(at::empty({count}, at::TensorOptions().dtype(at::kFloat).pinned_memory(true)));
    return 0;
  } catch (...) {
    return -1;
  }
}

// 1 when `*tensor` lives in page-locked host memory, 0 when not, -1 on error.
int resnet_is_pinned(const at::Tensor* tensor) noexcept {
  try {
    return tensor->is_pinned() ? 1 : 0;
  } catch (...) {
    return -1;
  }
}
}
