//! From folders of image files to batches of uint8 pixels.
pub mod cache;
pub mod decode;
pub mod folder;
pub mod loader;
pub mod transform;
