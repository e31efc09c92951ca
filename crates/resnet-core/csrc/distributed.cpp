// Data-parallel training through libtorch's own distributed engine, c10d, which tch does not
// bind: a TCPStore rendezvous (torchrun's MASTER_ADDR/MASTER_PORT), a process group (Gloo for
// CPU tensors; NCCL for CUDA tensors where the build has it, else Gloo), coalesced broadcasts,
// in-place all-reduces and DDP's bucketing Reducer, which averages gradients from autograd
// hooks while backward still runs.
//
// NCCL comes from libresnet_nccl.so beside the addon (csrc/nccl_backend.cpp), loaded only when
// a run asks for it: the addon itself needs nothing of libtorch_cuda, so that it also loads with
// PyTorch's CPU-only libtorch. Without that library (a build without the CUDA wheel's headers,
// or a libtorch without CUDA) Gloo moves CUDA tensors.
//
// Gloo's own headers come from Debian's libgloo-dev, not from the torch wheel (which lacks
// them). They are only needed to compile ProcessGroupGloo.hpp: this file calls nothing of
// gloo's and builds no gloo object. It uses ProcessGroupGloo's out-of-line constructor and
// Options::create_default (compiled into libtorch_cpu with libtorch's own gloo) and reaches
// the group only through c10d::Backend's virtual functions. ProcessGroupGloo's gloo-typed
// members are all shared_ptrs, so its size does not depend on gloo's class layouts.
// __test__/distributed.spec.mjs checks that the addon binds no gloo symbol.
//
// Every entry point is noexcept: a C++ exception (a peer gone, a timeout) is reported as -1
// with its message, never unwound into Rust.
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include "guarded.h"
#include "nccl_backend.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

using resnet::guarded;

// libresnet_nccl.so's entry point, from the directory of the object holding this code (the
// addon), loaded once; null when that library is absent or cannot load (no libtorch_cuda).
resnet_nccl_backend_fn nccl_backend() {
  static resnet_nccl_backend_fn entry = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&nccl_backend), &self) == 0 || self.dli_fname == nullptr) return;
    std::string path(self.dli_fname);
    auto slash = path.rfind('/');
    path = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/" RESNET_NCCL_LIBRARY;
    void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) entry = reinterpret_cast<resnet_nccl_backend_fn>(dlsym(library, RESNET_NCCL_ENTRY));
  });
  return entry;
}

// DDP's defaults: the first bucket small (its all-reduce starts as soon as the last layers'
// gradients are ready), the others 25 MiB.
constexpr int64_t kFirstBucketBytes = 1024 * 1024;
constexpr int64_t kBucketBytes = 25 * 1024 * 1024;

std::vector<at::Tensor> tensors_of(at::Tensor* const* tensors, size_t count) {
  std::vector<at::Tensor> list;
  list.reserve(count);
  for (size_t i = 0; i < count; ++i) list.push_back(*tensors[i]);
  return list;
}

}  // namespace

// One rank's membership in the run: its process group and, while training, the Reducer
// that averages the trainable parameters' gradients.
struct resnet_process_group {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::unique_ptr<c10d::Reducer> reducer;
};

extern "C" {

// Whether NCCL process groups can be made here (libresnet_nccl.so loads).
int resnet_dist_has_nccl() noexcept {
  try {
    return nccl_backend() != nullptr ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

// Joins the group of `world` ranks rendezvousing at addr:port. Rank 0 hosts the TCPStore,
// unless `store_prefix` is given: then a launcher's agent (torchrun) hosts it and every rank
// connects under that prefix, as torch.distributed does. `timeout_ms` bounds the rendezvous
// and every collective. `interface` (may be empty) names the network interface Gloo binds.
// `nccl`: CUDA tensors go through NCCL (else Gloo moves them through host memory).
int resnet_dist_init(const char* addr, int port, int rank, int world, int64_t timeout_ms, const char* store_prefix,
                     const char* interface, int nccl, resnet_process_group** out, char* error,
                     size_t error_len) noexcept {
  return guarded(error, error_len, [&] {
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(port);
    options.isServer = rank == 0 && store_prefix[0] == '\0';
    options.numWorkers = static_cast<size_t>(world);
    // Every rank checks in (the store counts them only then); rank 0 waits for all.
    options.waitWorkers = true;
    options.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(std::string(addr), options);
    if (store_prefix[0] != '\0') store = c10::make_intrusive<c10d::PrefixStore>(std::string(store_prefix), store);
    store = c10::make_intrusive<c10d::PrefixStore>("resnet-napi/", store);

    auto gloo_options = c10d::ProcessGroupGloo::Options::create_default(timeout);
    if (interface[0] != '\0') {
      gloo_options->devices = {c10d::ProcessGroupGloo::createDeviceForInterface(interface)};
    }
    // One store prefix per backend, as torch.distributed gives each device's backend.
    c10::intrusive_ptr<c10d::Backend> gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("cpu/", store), rank, world, gloo_options);
    auto group = c10::make_intrusive<c10d::ProcessGroup>(store, rank, world);
    group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
    if (nccl) {
      resnet_nccl_backend_fn make = nccl_backend();
      if (make == nullptr) throw std::runtime_error(RESNET_NCCL_LIBRARY " (NCCL) is not beside the addon or did not load");
      c10::intrusive_ptr<c10d::Store> nccl_store = c10::make_intrusive<c10d::PrefixStore>("cuda/", store);
      c10::intrusive_ptr<c10d::Backend> backend;
      char nccl_error[1024] = {0};
      if (make(&nccl_store, rank, world, timeout_ms, &backend, nccl_error, sizeof nccl_error) != 0) {
        throw std::runtime_error(nccl_error);
      }
      group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, backend);
      group->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    } else {
      // Gloo also moves CUDA tensors (through host memory).
      group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, gloo);
      group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    }
    *out = new resnet_process_group{std::move(group), nullptr};
  });
}

void resnet_dist_free(resnet_process_group* group) noexcept {
  try {
    delete group;
  } catch (...) {
  }
}

// Copies rank 0's values of `count` tensors into every rank's, in buckets.
int resnet_dist_broadcast(resnet_process_group* group, at::Tensor* const* tensors, size_t count, char* error,
                          size_t error_len) noexcept {
  return guarded(error, error_len, [&] {
    c10::NoGradGuard no_grad;
    std::vector<at::Tensor> list = tensors_of(tensors, count);
    c10d::broadcast_coalesced(group->group, list, kBucketBytes, 0);
  });
}

// Sums `count` tensors across the ranks, in place, and waits for the result.
int resnet_dist_all_reduce_sum(resnet_process_group* group, at::Tensor* const* tensors, size_t count, char* error,
                               size_t error_len) noexcept {
  return guarded(error, error_len, [&] {
    std::vector<at::Tensor> list = tensors_of(tensors, count);
    for (auto& tensor : list) {
      std::vector<at::Tensor> one{tensor};
      group->group->allreduce(one)->wait();
    }
  });
}

// Hands `count` parameters (those being trained; frozen ones left out) to a new Reducer,
// replacing any earlier one: from then on each backward pass leaves their gradients averaged
// over the ranks, all-reduced bucket by bucket as backward produces them.
int resnet_dist_attach_reducer(resnet_process_group* group, at::Tensor* const* params, size_t count, char* error,
                               size_t error_len) noexcept {
  return guarded(error, error_len, [&] {
    group->reducer.reset();
    if (count == 0) return;
    std::vector<at::Tensor> list = tensors_of(params, count);
    std::vector<bool> sparse(count, false);
    // As torch.nn.parallel.DistributedDataParallel assigns them: by size, in reverse order
    // of the parameters (the order backward produces their gradients).
    auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
        list, {static_cast<size_t>(kFirstBucketBytes), static_cast<size_t>(kBucketBytes)}, sparse);
    std::reverse(buckets.begin(), buckets.end());
    std::vector<int64_t> limit_list(limits.rbegin(), limits.rend());
    group->reducer = std::make_unique<c10d::Reducer>(
        list, std::move(buckets), group->group, sparse, kBucketBytes, /*find_unused_parameters=*/false,
        /*gradient_as_bucket_view=*/false, std::unordered_map<size_t, std::string>{}, kFirstBucketBytes,
        /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false, std::move(limit_list));
  });
}

// What DDP's forward does before a training forward pass: after the first iteration,
// re-buckets the parameters in the order their gradients arrived, then arms the Reducer
// for the coming backward pass.
int resnet_dist_prepare_step(resnet_process_group* group, char* error, size_t error_len) noexcept {
  return guarded(error, error_len, [&] {
    if (!group->reducer) return;
    group->reducer->rebuild_buckets();
    group->reducer->prepare_for_forward();
    group->reducer->prepare_for_backward({});
  });
}

}  // extern "C"
