//! Copies from the model's device to the host's memory. On a GPU each one makes the host wait
//! until the queued work is done, so the training loop reads only at progress intervals; every
//! such read goes through `to_host`, which counts them per thread so that a test can hold the
//! loop to its budget (tests/host_reads.rs).
use crate::error::Result;
use std::cell::Cell;
use tch::{Device, Tensor};

thread_local! {
    static READS: Cell<usize> = const { Cell::new(0) };
}

/// `tensor` in the host's memory (the tensor itself when it is there already); counted.
pub fn to_host(tensor: &Tensor) -> Result<Tensor> {
    READS.with(|reads| reads.set(reads.get() + 1));
    Ok(tensor.f_to_device(Device::Cpu)?)
}

/// Reads made through `to_host` on the calling thread so far.
pub fn reads_on_this_thread() -> usize {
    READS.with(Cell::get)
}
