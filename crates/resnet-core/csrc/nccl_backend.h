// The one entry point of libresnet_nccl.so (csrc/nccl_backend.cpp), the only code of ours that
// needs libtorch_cuda: c10d's ProcessGroupNCCL lives there. Keeping it in a library of its own,
// loaded (csrc/distributed.cpp) only when a distributed run puts CUDA tensors through NCCL, lets
// the addon load and train with a libtorch that has no CUDA libraries at all (PyTorch's
// CPU-only build).
#pragma once

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <cstddef>
#include <cstdint>

#define RESNET_NCCL_LIBRARY "libresnet_nccl.so"
#define RESNET_NCCL_ENTRY "resnet_nccl_backend"

extern "C" {
// Makes rank `rank` of `world`'s NCCL backend over `store`, its collectives bounded by
// `timeout_ms`, into `*out`. 0, or -1 with the reason in `error`.
typedef int (*resnet_nccl_backend_fn)(const c10::intrusive_ptr<c10d::Store>* store, int rank, int world,
                                      int64_t timeout_ms, c10::intrusive_ptr<c10d::Backend>* out, char* error,
                                      size_t error_len) noexcept;
}
