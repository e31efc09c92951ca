//! Writing a trained network in formats other runtimes read.
pub mod onnx;
pub mod onnx_proto;
