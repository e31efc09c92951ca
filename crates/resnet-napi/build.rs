//! Links the addon so that it finds and fully loads libtorch.
//!
//! rustc passes `--as-needed`, which would drop `libtorch.so` (nothing references it directly),
//! and with it `libtorch_cuda.so`, which it names in the CUDA build: CUDA would then read as
//! unavailable. torch-sys's own link flags do not reach dependents, so this cdylib forces
//! libtorch in itself and records an rpath to the libtorch it was built against. The addon
//! names no CUDA library itself (NCCL is apart, in libresnet_nccl.so), so the same binary loads
//! with PyTorch's CPU-only libtorch, whose libtorch.so names none.
//! DEP_TCH_LIBTORCH_LIB comes from torch-sys (a direct dependency).
fn main() {
    napi_build::setup();
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    match std::env::var("DEP_TCH_LIBTORCH_LIB") {
        Ok(lib_dir) => {
            println!("cargo:rustc-link-search=native={lib_dir}");
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-ltorch");
            println!("cargo:rustc-link-arg=-ltorch_cpu");
            println!("cargo:rustc-link-arg=-lc10");
        }
        Err(_) => println!("cargo:warning=DEP_TCH_LIBTORCH_LIB is unset: CUDA may read as unavailable"),
    }
}
