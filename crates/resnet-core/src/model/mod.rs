//! The network, its saved form, and the loaded classifier.
pub mod arch;
pub mod blocks;
pub mod folded;
pub mod fused_conv;
pub mod layout;
pub mod meta;
pub mod resnet;
pub mod saved;
pub mod snapshot;
pub mod weights;
