//! From folders of image files to batches of uint8 pixels.
pub mod decode;
pub mod folder;
pub mod loader;
pub mod transform;
