//! resnet-core's integration tests in one binary. Each test binary links libtorch (about 15 s
//! a link on 2 cores): sixteen files as binaries of their own took four of the six minutes
//! that compiling the tests took. `tests/memory.rs` and `tests/host_reads.rs` stay binaries of
//! their own, as they read process-global counters (the caching allocator's, the host-read
//! count) that other tests would move.
//!
//! One process now runs what sixteen did, on cargo's parallel test threads: libtorch's thread
//! pool and random generator are shared, so every test holds `common::alone()` (a test that
//! draws random tensors or trains would otherwise see another's threads or draws).
#[path = "../common.rs"]
mod common;

mod checkpoint;
mod data;
mod export;
mod fine_tune;
mod folded;
mod hostile_model_files;
mod images;
mod model;
mod optimizer;
mod parity;
mod pipeline;
mod recipe;
mod review;
mod saving;
mod train;
mod train_step;
mod weights;
