//! Reading and writing `model.safetensors`: float32 tensors named as torchvision's
//! `state_dict`. Loading checks every name, dtype and shape before copying, and never runs code.
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use safetensors::{Dtype, SafeTensors};
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

/// Copies the weights in `path` into `vs`. Extra entries such as `num_batches_tracked`
/// are ignored; a missing one, a wrong shape or a wrong dtype is an error.
pub fn load_into(vs: &VarStore, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|error| Error::model_file(path, format!("cannot read weights: {error}")))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|error| Error::model_file(path, format!("not a valid safetensors file: {error}")))?;
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    let _guard = tch::no_grad_guard();
    for (name, mut variable) in variables {
        let view = file
            .tensor(&name)
            .map_err(|_| Error::model_file(path, format!("expected a tensor named {name:?}, found none")))?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::model_file(path, format!("expected {name} as float32, found {:?}", view.dtype())));
        }
        let expected = variable.size();
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if expected != found {
            return Err(Error::model_file(
                path,
                format!("expected {name} with shape {expected:?} for this arch and class count, found {found:?}"),
            ));
        }
        let source = Tensor::f_from_data_size(view.data(), &found, Kind::Float)?;
        variable.f_copy_(&source)?;
    }
    Ok(())
}

/// Writes every variable of `vs` as float32 safetensors, atomically (temporary file, rename).
pub fn save(vs: &VarStore, path: &Path) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, tensor)| Ok((name, tensor.f_to_device(tch::Device::Cpu)?.f_contiguous()?)))
        .collect::<Result<_>>()?;
    named.sort_by(|a, b| a.0.cmp(&b.0));
    write_atomically(path, |temporary| {
        Tensor::write_safetensors(&named, temporary).map_err(Error::from)
    })
}
