//! One rank's process group (csrc/distributed.cpp): Gloo (and NCCL for CUDA tensors) over a
//! TCPStore rendezvous, the collectives the training loop needs, and DDP's Reducer for the
//! gradients.
use super::topology::{CudaBackend, Topology};
use crate::error::{Error, Result};
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use tch::Tensor;

#[repr(C)]
struct RawGroup {
    _private: [u8; 0],
}

extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn resnet_dist_init(
        addr: *const c_char,
        port: c_int,
        rank: c_int,
        world: c_int,
        timeout_ms: i64,
        store_prefix: *const c_char,
        interface: *const c_char,
        nccl: c_int,
        out: *mut *mut RawGroup,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn resnet_dist_has_nccl() -> c_int;
    fn resnet_dist_free(group: *mut RawGroup);
    fn resnet_dist_broadcast(group: *mut RawGroup, tensors: *const *const torch_sys::C_tensor, count: usize, error: *mut c_char, error_len: usize) -> c_int;
    fn resnet_dist_all_reduce_sum(
        group: *mut RawGroup,
        tensors: *const *const torch_sys::C_tensor,
        count: usize,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn resnet_dist_attach_reducer(
        group: *mut RawGroup,
        params: *const *const torch_sys::C_tensor,
        count: usize,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn resnet_dist_prepare_step(group: *mut RawGroup, error: *mut c_char, error_len: usize) -> c_int;
}

/// This process's membership in a data-parallel run; leaving it (drop) closes its
/// connections.
pub struct ProcessGroup {
    raw: *mut RawGroup,
    rank: usize,
    world_size: usize,
    backend: &'static str,
}

impl ProcessGroup {
    /// Meets the other ranks at `topology`'s address, to train on `device`; fails with
    /// `ERR_DISTRIBUTED` when they do not all arrive within its timeout. CUDA tensors go
    /// through NCCL where this build has it, unless the topology asks for Gloo.
    pub fn join(topology: &Topology, device: tch::Device) -> Result<ProcessGroup> {
        topology.validate()?;
        // SAFETY: a constant answer from the C++ side.
        let nccl = device.is_cuda() && topology.cuda_backend == CudaBackend::Nccl && unsafe { resnet_dist_has_nccl() } != 0;
        let text = |value: &str, what: &str| {
            CString::new(value).map_err(|_| Error::InvalidOption(format!("Expected {what} without NUL characters but received {value:?}")))
        };
        let addr = text(&topology.master_addr, "MASTER_ADDR")?;
        let prefix = text(topology.agent_store_prefix.as_deref().unwrap_or(""), "the store prefix")?;
        let interface = text(topology.interface.as_deref().unwrap_or(""), "GLOO_SOCKET_IFNAME")?;
        let to_int = |value: usize| c_int::try_from(value).map_err(|_| Error::InvalidOption(format!("Expected a rank below 2^31 but received {value}")));
        let mut raw = std::ptr::null_mut();
        let mut message = [0 as c_char; 1024];
        // SAFETY: the strings are NUL-terminated and outlive the call; `raw` receives a group
        // that this struct frees once; the message buffer is bounded; the C++ side is noexcept.
        let status = unsafe {
            resnet_dist_init(
                addr.as_ptr(),
                c_int::from(topology.master_port),
                to_int(topology.rank)?,
                to_int(topology.world_size)?,
                i64::try_from(topology.timeout.as_millis()).unwrap_or(i64::MAX),
                prefix.as_ptr(),
                interface.as_ptr(),
                c_int::from(nccl),
                &mut raw,
                message.as_mut_ptr(),
                message.len(),
            )
        };
        if status != 0 || raw.is_null() {
            return Err(Error::Distributed {
                rank: topology.rank,
                reason: format!(
                    "cannot join the {} ranks at {}:{} within {} s: {}",
                    topology.world_size,
                    topology.master_addr,
                    topology.master_port,
                    topology.timeout.as_secs(),
                    message_text(&message)
                ),
            });
        }
        Ok(ProcessGroup { raw, rank: topology.rank, world_size: topology.world_size, backend: if nccl { "nccl" } else { "gloo" } })
    }

    /// The backend moving the model's tensors: "nccl" (CUDA) or "gloo".
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// Copies rank 0's values into every rank's `tensors` (the same shapes on every rank).
    pub fn broadcast_from_leader(&self, tensors: &[&Tensor]) -> Result<()> {
        let pointers: Vec<_> = tensors.iter().map(|tensor| tensor.as_ptr()).collect();
        let mut message = [0 as c_char; 1024];
        // SAFETY: live tensors borrowed for the call; a bounded message; noexcept C++.
        let status = unsafe { resnet_dist_broadcast(self.raw, pointers.as_ptr(), pointers.len(), message.as_mut_ptr(), message.len()) };
        self.check(status, &message, "broadcast from rank 0")
    }

    /// Rank 0's `decision`, on every rank (so that all stop together).
    pub fn leader_decides(&self, decision: bool) -> Result<bool> {
        let flag = Tensor::f_from_slice(&[i64::from(decision)])?;
        self.broadcast_from_leader(&[&flag])?;
        Ok(flag.f_int64_value(&[0])? != 0)
    }

    /// Replaces each of `tensors` with its sum over the ranks.
    pub fn all_reduce_sum(&self, tensors: &[&Tensor]) -> Result<()> {
        let pointers: Vec<_> = tensors.iter().map(|tensor| tensor.as_ptr()).collect();
        let mut message = [0 as c_char; 1024];
        // SAFETY: as in `broadcast_from_leader`.
        let status =
            unsafe { resnet_dist_all_reduce_sum(self.raw, pointers.as_ptr(), pointers.len(), message.as_mut_ptr(), message.len()) };
        self.check(status, &message, "all-reduce")
    }

    /// From now on, every backward pass averages the gradients of `params` (the parameters
    /// being trained, in the model's order) over the ranks, as DDP does.
    pub fn average_gradients_of(&mut self, params: &[&Tensor]) -> Result<()> {
        let pointers: Vec<_> = params.iter().map(|tensor| tensor.as_ptr()).collect();
        let mut message = [0 as c_char; 1024];
        // SAFETY: as in `broadcast_from_leader`; the Reducer keeps its own handles.
        let status =
            unsafe { resnet_dist_attach_reducer(self.raw, pointers.as_ptr(), pointers.len(), message.as_mut_ptr(), message.len()) };
        self.check(status, &message, "setting up gradient averaging")
    }

    /// Arms the gradient averaging for the next training forward and backward pass.
    pub fn prepare_step(&self) -> Result<()> {
        let mut message = [0 as c_char; 1024];
        // SAFETY: a bounded message; noexcept C++.
        let status = unsafe { resnet_dist_prepare_step(self.raw, message.as_mut_ptr(), message.len()) };
        self.check(status, &message, "preparing the step")
    }

    /// `error` as this rank's `ERR_DISTRIBUTED` when it came from the engine (a peer gone, a
    /// timeout), unchanged otherwise. Gradient averaging runs inside backward, so its
    /// failures surface as libtorch errors of the step.
    pub fn explain(&self, error: Error) -> Error {
        match error {
            Error::Libtorch(text) if is_engine_failure(&text) => Error::Distributed { rank: self.rank, reason: text },
            other => other,
        }
    }

    fn check(&self, status: c_int, message: &[c_char], what: &str) -> Result<()> {
        if status != 0 {
            return Err(Error::Distributed { rank: self.rank, reason: format!("{what} failed: {}", message_text(message)) });
        }
        Ok(())
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: `raw` came from resnet_dist_init and is freed only here.
        unsafe { resnet_dist_free(self.raw) }
    }
}

/// Whether a libtorch message comes from c10d or its transports.
fn is_engine_failure(text: &str) -> bool {
    ["Gloo", "gloo", "c10d", "Connection closed by peer", "Connection reset", "Timed out", "timed out"]
        .iter()
        .any(|marker| text.contains(marker))
}

fn message_text(message: &[c_char]) -> String {
    // SAFETY: the C++ side leaves `message` NUL-terminated (zeroed here beforehand).
    let text = unsafe { std::ffi::CStr::from_ptr(message.as_ptr()) }.to_string_lossy();
    crate::error::first_line(&text)
}
