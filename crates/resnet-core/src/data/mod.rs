//! From folders of image files to batches of uint8 pixels, and on to the model's device.
pub mod cache;
pub mod decode;
pub mod device_input;
pub mod folder;
pub mod loader;
pub mod preprocess;
pub mod source;
pub mod staging;
pub mod transform;
