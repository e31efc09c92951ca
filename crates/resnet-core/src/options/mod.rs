//! Training options: the table of every option's rules (`spec`), the defaults help shows
//! (`defaults`), and the reading of an options object into a checked `TrainConfig`.
pub mod defaults;
pub mod spec;
pub mod train_options;

pub use spec::{OptionSpec, TRAIN_OPTIONS};
pub use train_options::{check_train_options, train_config};
