// libresnet_nccl.so: NCCL process-group backends for CUDA tensors in distributed runs. Built by
// build.rs when libtorch_cuda and the CUDA wheel's nccl.h and CUDA headers are there, linked
// against libtorch_cuda, and placed beside the addon; see nccl_backend.h for why it is apart.
#include "nccl_backend.h"

#include "guarded.h"

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <chrono>

extern "C" int resnet_nccl_backend(const c10::intrusive_ptr<c10d::Store>* store, int rank, int world,
                                   int64_t timeout_ms, c10::intrusive_ptr<c10d::Backend>* out, char* error,
                                   size_t error_len) noexcept {
  return resnet::guarded(error, error_len, [&] {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = std::chrono::milliseconds(timeout_ms);
    *out = c10::make_intrusive<c10d::ProcessGroupNCCL>(*store, rank, world, options);
  });
}

// The function's type must stay the one distributed.cpp calls it through.
static_assert(std::is_same_v<decltype(&resnet_nccl_backend), resnet_nccl_backend_fn>);
