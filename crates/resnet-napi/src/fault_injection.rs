//! Internal, for the test suite only, built under the `test-hooks` feature into the test
//! addon (native/test-hooks/), never into the release addon:
//! deliberate panics and libtorch errors in each kind of native entry point, proving that
//! every one reaches JavaScript as an error with a code instead of aborting Node.
use crate::torch_thread::promise;
use crate::training::{run_on_own_thread, DoneCallback};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// `fault`: "panic" (in this synchronous call), "panic-in-task", "libtorch-error-in-task"
/// (returned by tch) or "libtorch-panic-in-task" (raised by tch as a panic), the last three on
/// the torch thread, as the model's calls run.
#[napi(catch_unwind, ts_return_type = "Promise<void>")]
pub fn internal_inject_fault(env: &Env, fault: String) -> Result<Object<'_>> {
    if fault == "panic" {
        panic!("injected fault: a panic in a synchronous entry point");
    }
    let work = move || match fault.as_str() {
        "panic-in-task" => panic!("injected fault: a panic in an async task"),
        "libtorch-error-in-task" => resnet_core::fault_injection::libtorch_error(),
        "libtorch-panic-in-task" => resnet_core::fault_injection::libtorch_panic(),
        other => Err(resnet_core::Error::InvalidOption(format!("Expected a known fault but received {other:?}"))),
    };
    promise(env, work, Ok)
}

/// A panic on the training thread, reported through `onDone` like a training's outcome.
#[napi(catch_unwind)]
pub fn internal_inject_training_thread_panic(
    #[napi(ts_arg_type = "(error: Error | null, result: NativeTrainResult) => void")] on_done: DoneCallback,
) -> Result<()> {
    run_on_own_thread(|| panic!("injected fault: a panic on the training thread"), on_done)
}

/// Makes the training run writing to `output` fail after `steps` successful training steps as
/// CUDA's allocator does when it runs out of memory (once), so that the out-of-memory path is
/// tested without a GPU.
#[napi(catch_unwind)]
pub fn internal_inject_out_of_memory(output: String, steps: u32) {
    resnet_core::fault_injection::fail_step_out_of_memory(std::path::Path::new(&output), steps as usize);
}
