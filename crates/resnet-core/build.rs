//! Compiles what tch lacks against the headers of the libtorch that torch-sys links:
//! csrc/precision.cpp (bf16 autocast and cuDNN benchmark switches) and csrc/optimizer.cpp
//! (libtorch's fused Adam kernels, unsetting gradients) and csrc/cpu_allocator.cpp (a CPU
//! allocator that keeps freed large blocks for reuse) and csrc/distributed.cpp (c10d's
//! process groups and DDP's Reducer) and csrc/staging.cpp (page-locked memory without the
//! deprecated device argument), and links the examples with
//! libtorch_cuda. DEP_TCH_LIBTORCH_LIB comes from torch-sys, a direct dependency for that reason.
fn main() {
    println!("cargo:rerun-if-changed=csrc/precision.cpp");
    println!("cargo:rerun-if-changed=csrc/optimizer.cpp");
    println!("cargo:rerun-if-changed=csrc/cpu_allocator.cpp");
    println!("cargo:rerun-if-changed=csrc/distributed.cpp");
    println!("cargo:rerun-if-changed=csrc/staging.cpp");
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
    // NCCL for CUDA tensors in distributed runs (csrc/distributed.cpp): ProcessGroupNCCL is in
    // libtorch_cuda, and its header needs nccl.h and CUDA's headers, which the CUDA wheel
    // installs beside torch (site-packages/nvidia/...). Without them, Gloo moves CUDA tensors.
    let site = lib.parent().and_then(std::path::Path::parent).map(std::path::Path::to_path_buf).unwrap_or_default();
    let found = |dirs: Vec<std::path::PathBuf>, file: &str| dirs.into_iter().find(|dir| dir.join(file).exists());
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
    if let (Some(nccl), Some(cuda), Some(cccl), Some(crt), true) = (nccl, cuda, cccl, crt, lib.join("libtorch_cuda.so").exists()) {
        build.define("RESNET_WITH_NCCL", None).define("USE_C10D_NCCL", None).include(nccl).include(cuda).include(cccl).include(crt);
        println!("cargo:rustc-link-search=native={}", lib.display());
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
    build
        .cpp(true)
        .std("c++17")
        .file("csrc/precision.cpp")
        .file("csrc/optimizer.cpp")
        .file("csrc/cpu_allocator.cpp")
        .file("csrc/distributed.cpp")
        .file("csrc/staging.cpp")
        // ProcessGroupGloo.hpp is compiled only with this set, and includes gloo's headers
        // (from Debian's libgloo-dev; see csrc/distributed.cpp for why that is safe).
        .define("USE_C10D_GLOO", None)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={cxx11_abi}"))
        .warnings(false)
        .compile("resnet_csrc");
    // The benchmark examples run on GPU machines too: rustc's --as-needed would drop
    // libtorch_cuda (nothing references it directly) and CUDA would read as unavailable.
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg-examples=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg-examples=-ltorch_cuda");
    }
}
