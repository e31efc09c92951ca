//! Training options: the table of every option's rules (`spec`), the named choices
//! (`choice`), and the reading of an options object into a checked `TrainConfig`.
pub mod choice;
pub mod defaults;
pub mod message;
pub mod spec;
pub mod train_options;

pub(crate) use choice::choice;
pub use choice::Choice;
pub use spec::{OptionSpec, TRAIN_OPTIONS};
pub use train_options::{check_train_options, train_config};
