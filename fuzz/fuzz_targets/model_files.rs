//! Model-file parsing: the input is a model.json (its length in the first two bytes, little
//! endian) followed by the bytes of a model.safetensors. model.json is parsed and checked;
//! the weights are checked and copied into a resnet18 with two classes. Every outcome must
//! be `Ok` or an `ERR_MODEL_FILE`-style error, never a panic, hang or abort.
#![no_main]
use libfuzzer_sys::fuzz_target;
use resnet_core::model::meta::ModelMeta;
use resnet_core::model::resnet::ResNet;
use resnet_core::model::weights::load_bytes;
use resnet_core::Arch;
use std::path::Path;
use tch::nn::VarStore;

thread_local! {
    // Built once: a network per input would make each run take a second.
    static NETWORK: (VarStore, ResNet) = {
        let vs = VarStore::new(tch::Device::Cpu);
        let net = ResNet::new(&vs.root(), Arch::Resnet18, 2);
        (vs, net)
    };
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let json_length = u16::from_le_bytes([input[0], input[1]]) as usize;
    let rest = &input[2..];
    let (json, weights) = rest.split_at(json_length.min(rest.len()));
    let path = Path::new("fuzz/model");
    if let Ok(text) = std::str::from_utf8(json) {
        let _ = ModelMeta::parse(text, path);
    }
    NETWORK.with(|(vs, _)| {
        if let Err(error) = load_bytes(vs, weights, path) {
            assert_eq!(error.code(), "ERR_MODEL_FILE", "{error}");
        }
    });
});
