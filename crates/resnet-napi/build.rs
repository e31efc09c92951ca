//! Links the addon so that it finds and fully loads libtorch.
//!
//! rustc passes `--as-needed`, which drops `libtorch_cuda.so` (nothing references it
//! directly) and CUDA then reads as unavailable. torch-sys's own link flags do not reach
//! dependents, so this cdylib forces libtorch in itself and records an rpath to the libtorch
//! it was built against. DEP_TCH_LIBTORCH_LIB comes from torch-sys (a direct dependency).
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
            if std::path::Path::new(&lib_dir).join("libtorch_cuda.so").exists() {
                println!("cargo:rustc-link-arg=-ltorch_cuda");
            }
        }
        Err(_) => println!("cargo:warning=DEP_TCH_LIBTORCH_LIB is unset: CUDA may read as unavailable"),
    }
}
