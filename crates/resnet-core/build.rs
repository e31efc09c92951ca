//! Compiles what tch lacks against the headers of the libtorch that torch-sys links:
//! csrc/precision.cpp (bf16 autocast and cuDNN benchmark switches) and csrc/optimizer.cpp
//! (libtorch's fused Adam kernels, unsetting gradients) and csrc/cpu_allocator.cpp (a CPU
//! allocator that keeps freed large blocks for reuse) and csrc/distributed.cpp (c10d's
//! process groups and DDP's Reducer) and csrc/staging.cpp (page-locked memory without the
//! deprecated device argument) and csrc/fused_conv.cpp (oneDNN's fused, prepacked
//! convolutions for CPU inference) into a static library that needs nothing of libtorch_cuda;
//! c10d's NCCL backend apart, as libresnet_nccl.so; and links the examples with libtorch_cuda.
//! DEP_TCH_LIBTORCH_LIB comes from torch-sys, a direct dependency for that reason.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=csrc/precision.cpp");
    println!("cargo:rerun-if-changed=csrc/optimizer.cpp");
    println!("cargo:rerun-if-changed=csrc/cpu_allocator.cpp");
    println!("cargo:rerun-if-changed=csrc/distributed.cpp");
    println!("cargo:rerun-if-changed=csrc/staging.cpp");
    println!("cargo:rerun-if-changed=csrc/fused_conv.cpp");
    println!("cargo:rerun-if-changed=csrc/nccl_backend.cpp");
    println!("cargo:rerun-if-changed=csrc/nccl_backend.h");
    println!("cargo:rerun-if-changed=csrc/guarded.h");
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    // The same ABI default as torch-sys (the PyPI wheels are built with the C++11 ABI).
    let cxx11_abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
    let lib = match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(lib) => std::path::PathBuf::from(lib),
        Err(_) => panic!("DEP_TCH_LIBTORCH_LIB is unset: torch-sys did not report its libtorch"),
    };
    let include = lib.parent().map(|root| root.join("include")).unwrap_or_default();
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .file("csrc/precision.cpp")
        .file("csrc/optimizer.cpp")
        .file("csrc/cpu_allocator.cpp")
        .file("csrc/distributed.cpp")
        .file("csrc/staging.cpp")
        .file("csrc/fused_conv.cpp")
        // ProcessGroupGloo.hpp is compiled only with this set, and includes gloo's headers
        // (from Debian's libgloo-dev; see csrc/distributed.cpp for why that is safe).
        .define("USE_C10D_GLOO", None)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .warnings(false)
        .compile("resnet_csrc");
    build_nccl_library(&lib, &include, &cxx11_abi);
    // The benchmark examples run on GPU machines too: rustc's --as-needed would drop
    // libtorch_cuda (nothing references it directly) and CUDA would read as unavailable.
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg-examples=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg-examples=-ltorch_cuda");
    }
}

/// libresnet_nccl.so (csrc/nccl_backend.cpp): c10d's NCCL backend, the only code of ours that
/// needs libtorch_cuda, as a library of its own so that the addon links nothing of CUDA and
/// loads with a CPU-only libtorch. Built when libtorch_cuda is there and so are the headers
/// ProcessGroupNCCL.hpp needs: nccl.h and CUDA's, which the CUDA wheel installs beside torch
/// (site-packages/nvidia/...). Written into the profile directory (target/release), from where
/// scripts/build-native.sh puts it beside the addon. Without it, Gloo moves CUDA tensors.
fn build_nccl_library(lib: &Path, include: &Path, cxx11_abi: &str) {
    let site = lib.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
    let found = |dirs: Vec<PathBuf>, file: &str| dirs.into_iter().find(|dir| dir.join(file).exists());
    let nccl = found(vec![site.join("nvidia/nccl/include")], "nccl.h");
    let cuda = found(["cu13", "cu12", "cuda_runtime"].iter().map(|name| site.join("nvidia").join(name).join("include")).collect(), "cuda_runtime_api.h");
    // CCCL (nv/target, for cuda_fp16.h), which scripts/setup-libtorch.sh installs beside torch.
    let cccl = found(vec![site.join("cccl/nvidia/cu13/include")], "nv/target");
    // cuda_runtime.h includes crt/host_config.h, which comes with nvcc, not the runtime wheel;
    // triton (a dependency of the torch wheel) carries nvcc's headers.
    let crt = found(vec![site.join("triton/backends/nvidia/include")], "crt/host_config.h");
    if site.join("cccl/.complete").exists() {
        println!("cargo:rerun-if-changed={}", site.join("cccl/.complete").display());
    }
    let (Some(nccl), Some(cuda), Some(cccl), Some(crt), true) = (nccl, cuda, cccl, crt, lib.join("libtorch_cuda.so").exists()) else {
        println!("cargo:warning=no NCCL for distributed runs on GPUs (libtorch_cuda, nccl.h or CUDA's headers not found): Gloo will move CUDA tensors");
        return;
    };
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .pic(true)
        .file("csrc/nccl_backend.cpp")
        .define("USE_C10D_NCCL", None)
        .include(include)
        .include(include.join("torch/csrc/api/include"))
        .include(nccl)
        .include(cuda)
        .include(cccl)
        .include(crt)
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .warnings(false);
    let objects = build.compile_intermediates();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
    let Some(profile_dir) = out_dir.ancestors().nth(3) else {
        panic!("unexpected OUT_DIR {}: cannot place libresnet_nccl.so", out_dir.display());
    };
    let output = profile_dir.join("libresnet_nccl.so");
    let status = build
        .get_compiler()
        .to_command()
        .arg("-shared")
        .arg("-o")
        .arg(&output)
        .args(&objects)
        .arg(format!("-L{}", lib.display()))
        .args(["-ltorch_cuda", "-lc10_cuda", "-ltorch_cpu", "-lc10"])
        .status();
    match status {
        Ok(status) if status.success() => {}
        other => panic!("linking {} failed: {other:?}", output.display()),
    }
}
