//! Data-parallel training on c10d, PyTorch's own distributed engine (csrc/distributed.cpp):
//! where the ranks meet (`topology`, torchrun's environment variables), the process group
//! and DDP's gradient Reducer (`group`), and which samples each rank trains on (`shard`).
pub mod group;
pub mod shard;
pub mod topology;

pub use group::ProcessGroup;
pub use shard::shard;
pub use topology::{CudaBackend, Topology};
