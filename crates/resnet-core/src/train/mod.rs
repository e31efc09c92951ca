//! Training: the loop, its optimiser and the events it reports.
pub mod checkpoint;
pub mod events;
pub mod fine_tune;
pub mod libtorch_optim;
pub mod optimizer;
pub mod review;
pub mod run;
pub mod run_config;
pub mod schedule;
pub mod step;
