//! Training: the loop, its optimiser and the events it reports.
pub mod checkpoint;
pub mod class_weights;
pub mod events;
pub mod fine_tune;
pub mod libtorch_optim;
pub mod monitor;
pub mod optimizer;
pub mod recipe;
pub mod review;
pub mod run;
pub mod run_config;
pub mod schedule;
pub mod saver;
pub mod step;
pub mod timings;
